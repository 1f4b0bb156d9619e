"""Anchors of the audit chain outside the database.

A hash chain shows an edited, deleted or inserted event, but not its own tail cut off or rewritten
whole: whoever can write the database can build a new consistent chain. So the chain is anchored
where the database cannot rewrite it:

- a checkpoint file (JSON lines, appended by the scheduler or `python -m workflows.commands.verify
  --checkpoint`): each line holds the hashes of the events since the line before and the head,
  signed with an HMAC key the database never sees (ZS_AUDIT_HMAC_KEY). Keep the file on other
  storage than the database (another host, WORM storage, a log shipper);
- the prefecture's filing receipts: each submission carries the county's audit head (id, hash) at
  that moment (filing.audit_head_id / audit_head_hash), which the prefecture keeps.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.localtime import to_local
from workflows.models import AuditEvent, Filing
from workflows.models._types import utcnow

_settings: dict[str, str | None] = {"path": None, "key": None}
DEFAULT_FILE = Path(__file__).resolve().parents[1] / "instance" / "audit-checkpoints.jsonl"


def configure(path: str | Path | None, key: str | None) -> None:
    """Where checkpoints go and the HMAC key that signs them (no key: no checkpoints); every entry point
    calls it through workflows.config.bind."""
    _settings["path"] = str(path) if path else str(DEFAULT_FILE)
    _settings["key"] = key or None


def enabled() -> bool:
    return bool(_settings["key"])


def _path() -> Path:
    return Path(_settings["path"] or DEFAULT_FILE)


def sign(body: dict) -> str | None:
    """The HMAC of a body with the anchors' key, None without a key (the chain's checkpoints use it)."""
    return _sign(body) if enabled() else None


def _sign(body: dict) -> str:
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hmac.new(str(_settings["key"]).encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class Checkpoint:
    line: int
    at: str
    head_id: int
    hashes: dict[int, str]  # event id → hash, for the events since the checkpoint before
    valid: bool  # the signature holds


def read_checkpoints() -> list[Checkpoint]:
    path = _path()
    if not path.exists():
        return []
    result = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            line = json.loads(text)
            body = {k: v for k, v in line.items() if k != "hmac"}
            valid = enabled() and hmac.compare_digest(_sign(body), str(line.get("hmac")))
            result.append(
                Checkpoint(
                    number,
                    body["at"],
                    int(body["head_id"]),
                    {int(k): v for k, v in body["hashes"].items()},
                    valid,
                )
            )
        except (ValueError, KeyError, TypeError):
            result.append(Checkpoint(number, "", 0, {}, False))
    return result


def write_checkpoint(session: Session) -> Checkpoint | None:
    """Append a signed line with the events since the last checkpoint; None if nothing is new or no key."""
    if not enabled():
        return None
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # several schedulers may run; one writer at a time
        handle.seek(0)
        lines = handle.read().splitlines()
        last = 0
        if lines:
            try:
                last = int(json.loads(lines[-1])["head_id"])
            except (ValueError, KeyError):
                last = 0
        rows = session.execute(
            select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.id > last).order_by(AuditEvent.id)
        ).all()
        if not rows:
            return None
        body = {
            "at": utcnow().isoformat(),
            "head_id": rows[-1][0],
            "head_hash": rows[-1][1],
            "hashes": {str(i): h for i, h in rows},
        }
        handle.write(json.dumps({**body, "hmac": _sign(body)}, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return Checkpoint(len(lines) + 1, body["at"], rows[-1][0], {i: h for i, h in rows}, True)


@dataclass
class AnchorBreak:
    event_id: int
    kind: str  # missing (the tail was cut off) | rewritten | forged (a checkpoint line does not verify)
    detail: str


def check_anchors(session: Session) -> tuple[AnchorBreak | None, dict]:
    """The first event that differs from what an anchor outside the chain holds, and what was checked."""
    anchors: list[tuple[int, str, str]] = []  # (event id, hash, where it is anchored)
    checkpoints = read_checkpoints() if enabled() else []
    for c in checkpoints:
        if c.valid:
            where = f"{to_local(datetime.fromisoformat(c.at)):%Y-%m-%d %H:%M} 的签名检查点"
            anchors += [(event_id, digest, where) for event_id, digest in c.hashes.items()]
    filings = session.scalars(select(Filing).where(Filing.audit_head_id.is_not(None))).all()
    anchors += [(f.audit_head_id, f.audit_head_hash, f"备案回执（备案 #{f.id}）") for f in filings]
    checked = {
        "enabled": enabled(),
        "checkpoints": sum(c.valid for c in checkpoints),
        "filings": len(filings),
        "anchored_events": len({a[0] for a in anchors}),
    }
    ids = list({a[0] for a in anchors})
    stored = (
        dict(session.execute(select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.id.in_(ids))).all())
        if ids
        else {}
    )
    for event_id, digest, where in sorted(anchors):
        if event_id not in stored:
            return AnchorBreak(
                event_id, "missing", f"{where}记录了事件 #{event_id}，数据库中已没有该事件（链尾被截断）"
            ), checked
        if stored[event_id] != digest:
            return AnchorBreak(
                event_id, "rewritten", f"事件 #{event_id} 的哈希与{where}不符（链被改写）"
            ), checked
    forged = next((c for c in checkpoints if not c.valid), None)
    if forged is not None:
        return AnchorBreak(0, "forged", f"检查点文件第 {forged.line} 行的签名无效"), checked
    return None, checked
