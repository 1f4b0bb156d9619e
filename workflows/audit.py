"""The append-only, hash-chained audit log.

Every event's hash covers its own fields and the previous event's hash, so an edited, deleted,
reordered or inserted row breaks the chain. SM3 (GB/T 32905) is the default; SHA-256 an option.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from workflows.models import AuditEvent
from workflows.models._types import utcnow

GENESIS = "0" * 64
ALGORITHMS = {"SM3": hashes.SM3, "SHA256": hashes.SHA256}
DEFAULT_ALGORITHM = "SM3"


def _digest(algorithm: str, payload: bytes) -> str:
    h = hashes.Hash(ALGORITHMS[algorithm]())
    h.update(payload)
    return h.finalize().hex()


def _payload(event: AuditEvent) -> bytes:
    fields = {
        "instance_id": event.instance_id, "at": event.at.isoformat(), "actor": event.actor,
        "role": event.role, "action": event.action, "task_spec": event.task_spec,
        "mi_index": event.mi_index, "data": event.data, "outcome": event.outcome,
        "address": event.address, "state_hash": event.state_hash, "algorithm": event.algorithm,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")


def append(session: Session, action: str, *, actor: str | None = None, role: str | None = None,
           instance_id: int | None = None, task_spec: str | None = None, mi_index: int | None = None,
           data: dict[str, Any] | None = None, outcome: str | None = None, address: str | None = None,
           state_hash: str | None = None, algorithm: str = DEFAULT_ALGORITHM,
           at: datetime | None = None) -> AuditEvent:
    """Add one event at the head of the chain, inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        # One writer at a time at the head of the chain; released at commit.
        session.execute(text("SELECT pg_advisory_xact_lock(734501)"))
    head = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
    event = AuditEvent(
        instance_id=instance_id, at=at or utcnow(), actor=actor, role=role, action=action,
        task_spec=task_spec, mi_index=mi_index, data=data, outcome=outcome, address=address,
        state_hash=state_hash, algorithm=algorithm, prev_hash=head.hash if head else GENESIS,
    )
    event.hash = _digest(algorithm, _payload(event))
    session.add(event)
    session.flush()
    return event


def first_broken(session: Session) -> AuditEvent | None:
    """The first event whose hash or link does not hold, or None if the whole chain is intact."""
    prev = GENESIS
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != prev or event.hash != _digest(event.algorithm, _payload(event)):
            return event
        prev = event.hash
    return None
