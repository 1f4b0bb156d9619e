"""Checkpoints of the audit chain, so one project's check does not walk the whole chain.

The chain is one for the database: an event's hash covers the hash of the event before it, whatever its
project. Checking one project's events used to mean walking the chain from the first event of the database
up to the project's last one: 2.5 s at 10,000 projects, and growing with the database.

A checkpoint records the hash of every CHECKPOINT_EVERY-th event, sealed only after the stretch before it
was verified (`seal`, run by the scheduler beside the signed checkpoint file and by `verify --checkpoint`).
A project's check (`check_project`) then walks only the stretches between two checkpoints that hold one of
its events: from the checkpoint before (its hash must be the first event's `prev_hash`) to the checkpoint
after (the walked hash must be the one sealed there, and the event after it must link to it). Its cost is
(the project's stretches) × CHECKPOINT_EVERY events, whatever the size of the database.

What it finds: an event of the project edited (its hash no longer covers it), edited and rehashed (the next
event's link breaks, or the sealed hash at the stretch's end differs), deleted, inserted or reordered within
its stretches. Whoever rewrites the chain from the project's event to the head, checkpoints included, is
found by the signature of the checkpoints (HMAC with the anchors' key, which the database never sees, when
one is configured) and by the full check (`python -m workflows.commands.verify`: the whole chain, the
signed checkpoint file and the filing receipts). A tamper in another project's stretch is the full check's
to find, not this one's. With a key configured, every checkpoint must carry its signature: configure the
key before checkpoints are sealed.
"""

from __future__ import annotations

import hmac
from bisect import bisect_left
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import anchors, audit
from workflows.models import AuditCheckpoint, AuditEvent

CHECKPOINT_EVERY = 1000


def _body(event_id: int, event_hash: str) -> dict:
    return {"audit_checkpoint": event_id, "hash": event_hash}


def signature(event_id: int, event_hash: str) -> str | None:
    return anchors.sign(_body(event_id, event_hash))


def seal(session: Session, every: int | None = None) -> int:
    """Verify the events since the last checkpoint and seal a checkpoint at every `every`-th; stops at the
    first break (nothing past it is sealed). Returns how many checkpoints were added."""
    every = every or CHECKPOINT_EVERY
    last = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.event_id.desc()).limit(1)).first()
    after_id, prev = (last.event_id, last.event_hash) if last else (0, audit.GENESIS)
    if last is not None:
        stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == last.event_id))
        if stored != last.event_hash:
            return 0  # the chain was changed under the last checkpoint: the full check reports it
    added, since = 0, 0
    query = (
        select(AuditEvent)
        .where(AuditEvent.id > after_id)
        .order_by(AuditEvent.id)
        .execution_options(yield_per=2000)
    )
    for event in session.scalars(query):
        if event.prev_hash != prev or event.hash != audit._digest(event.algorithm, audit._payload(event)):
            break
        prev, since = event.hash, since + 1
        if since == every:
            session.add(
                AuditCheckpoint(
                    event_id=event.id, event_hash=event.hash, signature=signature(event.id, event.hash)
                )
            )
            added, since = added + 1, 0
    session.flush()
    return added


@dataclass
class Stretch:
    after_id: int  # the checkpoint before (0: the start of the chain)
    after_hash: str
    after_signature: str | None
    up_to_id: int | None  # the checkpoint after (None: the head)
    sealed_hash: str | None
    sealed_signature: str | None


def stretches(session: Session, event_ids: list[int]) -> list[Stretch]:
    """The stretches between checkpoints holding these events, each once, in chain order."""
    if not event_ids:
        return []
    first, last = min(event_ids), max(event_ids)
    low = (
        session.scalar(select(func.max(AuditCheckpoint.event_id)).where(AuditCheckpoint.event_id < first))
        or 0
    )
    high = session.scalar(select(func.min(AuditCheckpoint.event_id)).where(AuditCheckpoint.event_id >= last))
    query = select(AuditCheckpoint).where(AuditCheckpoint.event_id >= low)
    if high is not None:
        query = query.where(AuditCheckpoint.event_id <= high)
    points = session.scalars(query.order_by(AuditCheckpoint.event_id)).all()
    ids = [p.event_id for p in points]
    found: dict[int, Stretch] = {}
    for event_id in event_ids:
        at = bisect_left(ids, event_id)  # the first checkpoint at or after the event
        before = points[at - 1] if at and ids[at - 1] < event_id else None
        after = points[at] if at < len(points) else None
        key = before.event_id if before else 0
        if key not in found:
            found[key] = Stretch(
                key,
                before.event_hash if before else audit.GENESIS,
                before.signature if before else None,
                after.event_id if after else None,
                after.event_hash if after else None,
                after.signature if after else None,
            )
    return [found[k] for k in sorted(found)]


def check_project(session: Session, instance_id: int) -> tuple[audit.ChainBreak | None, int]:
    """The first break in the stretches holding the project's events, and how many events were walked."""
    event_ids = list(session.scalars(select(AuditEvent.id).where(AuditEvent.instance_id == instance_id)))
    walked = 0
    for stretch in stretches(session, event_ids):
        if anchors.enabled():  # with a key, every checkpoint a stretch starts or ends at must be signed
            for event_id, digest, signed in (
                (stretch.after_id, stretch.after_hash, stretch.after_signature),
                (stretch.up_to_id, stretch.sealed_hash, stretch.sealed_signature),
            ):
                if event_id and not hmac.compare_digest(str(signature(event_id, digest)), str(signed)):
                    return audit.ChainBreak(
                        event_id, "forged", f"检查点（事件 #{event_id}）的签名无效：检查点被改写或未签名"
                    ), walked
        broken = audit.check_chain(session, stretch.up_to_id, stretch.after_id, stretch.after_hash)
        walked += (
            session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.id > stretch.after_id,
                    *([AuditEvent.id <= stretch.up_to_id] if stretch.up_to_id is not None else []),
                )
            )
            or 0
        )
        if broken:
            return broken, walked
        if stretch.up_to_id is None:
            continue
        sealed = session.execute(
            select(AuditEvent.id, AuditEvent.hash)
            .where(AuditEvent.id <= stretch.up_to_id)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        ).first()
        if sealed is None or sealed[0] != stretch.up_to_id or sealed[1] != stretch.sealed_hash:
            return audit.ChainBreak(
                stretch.up_to_id,
                "rewritten",
                f"事件 #{stretch.up_to_id} 的哈希与检查点记录的不符（链被改写）",
            ), walked
        following = session.scalars(
            select(AuditEvent).where(AuditEvent.id > stretch.up_to_id).order_by(AuditEvent.id).limit(1)
        ).first()
        if following is not None and following.prev_hash != stretch.sealed_hash:
            return audit.ChainBreak(
                following.id, "rehashed", f"事件 #{following.id} 的前序哈希与检查点 #{stretch.up_to_id} 不符"
            ), walked
    return None, walked


def check_all(session: Session) -> audit.ChainBreak | None:
    """The database's check: every checkpoint still matches the event it sealed (and its signature holds,
    with a key)."""
    points = session.execute(
        select(
            AuditCheckpoint.event_id, AuditCheckpoint.event_hash, AuditCheckpoint.signature, AuditEvent.hash
        )
        .outerjoin(AuditEvent, AuditEvent.id == AuditCheckpoint.event_id)
        .order_by(AuditCheckpoint.event_id)
    ).all()
    for event_id, digest, signed, stored in points:
        if anchors.enabled() and not hmac.compare_digest(str(signature(event_id, digest)), str(signed)):
            return audit.ChainBreak(
                event_id, "forged", f"检查点（事件 #{event_id}）的签名无效：检查点被改写或未签名"
            )
        if stored is None:
            return audit.ChainBreak(
                event_id, "missing", f"检查点记录了事件 #{event_id}，数据库中已没有该事件"
            )
        if stored != digest:
            return audit.ChainBreak(
                event_id, "rewritten", f"事件 #{event_id} 的哈希与检查点记录的不符（链被改写）"
            )
    return None


def resign(session: Session) -> int | None:
    """After the anchors' key was changed: sign every checkpoint again with the current key, but only if the
    whole chain holds and every checkpoint still matches the event it sealed. The number signed, or None
    (nothing signed) when the chain or a checkpoint does not hold, or there is no key."""
    if not anchors.enabled() or audit.check_chain(session) is not None:
        return None
    points = session.execute(
        select(AuditCheckpoint, AuditEvent.hash).outerjoin(
            AuditEvent, AuditEvent.id == AuditCheckpoint.event_id
        )
    ).all()
    if any(stored != point.event_hash for point, stored in points):
        return None
    for point, _ in points:
        point.signature = signature(point.event_id, point.event_hash)
    session.flush()
    return len(points)
