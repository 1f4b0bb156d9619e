"""The append-only, hash-chained audit log.

Every event's hash covers its own fields and the previous event's hash, so an edited, deleted,
reordered or inserted row breaks the chain. SM3 (GB/T 32905) is the default; SHA-256 an option.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import insert, select, text
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
        "instance_id": event.instance_id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "task_spec": event.task_spec,
        "mi_index": event.mi_index,
        "data": event.data,
        "outcome": event.outcome,
        "address": event.address,
        "state_hash": event.state_hash,
        "algorithm": event.algorithm,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")


def append(
    session: Session,
    action: str,
    *,
    actor: str | None = None,
    role: str | None = None,
    instance_id: int | None = None,
    task_spec: str | None = None,
    mi_index: int | None = None,
    data: dict[str, Any] | None = None,
    outcome: str | None = None,
    address: str | None = None,
    state_hash: str | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one event at the head of the chain, inside the caller's transaction.

    In a session that defers its events (`defer`, every engine step), the event waits in order and is
    chained with the others at `write_pending` (or at commit): the chain's lock is then taken last and
    held only for those inserts, never while the model's code runs."""
    event = AuditEvent(
        instance_id=instance_id,
        at=at or utcnow(),
        actor=actor,
        role=role,
        action=action,
        task_spec=task_spec,
        mi_index=mi_index,
        data=data,
        outcome=outcome,
        address=address,
        state_hash=state_hash,
        algorithm=algorithm,
    )
    pending = session.info.get(PENDING)
    if pending is not None:
        pending.append(event)
        return event
    _chain(session, [event])
    return event


PENDING = "audit_pending"


def defer(session: Session, carried: list[AuditEvent] | None = None) -> list[AuditEvent]:
    """From now on the session's events wait for `write_pending` (or the commit); `carried` are events
    of the same step noted before (in the read that ran the engine), kept first and in order."""
    pending = session.info.setdefault(PENDING, [])
    pending.extend(carried or [])
    return pending


def write_pending(session: Session) -> None:
    """Chain and insert the events waiting in the session, in the order they were noted."""
    pending = session.info.get(PENDING)
    if pending:
        events = list(pending)
        pending.clear()
        _chain(session, events)


def _chain(session: Session, events: list[AuditEvent]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # One writer at a time at the head of the chain; released at commit.
        session.execute(text("SELECT pg_advisory_xact_lock(734501)"))
    head = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    for event in events:
        event.prev_hash = head or GENESIS
        event.hash = head = _digest(event.algorithm, _payload(event))
    if len(events) == 1:
        session.add(events[0])
        session.flush()
        return
    # A step's events go in one statement (executemany); nothing reads their ids back.
    columns = [c.key for c in AuditEvent.__table__.columns if c.key != "id"]
    session.execute(insert(AuditEvent), [{c: getattr(e, c) for c in columns} for e in events])


@sqlalchemy_event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    """Events noted after a step wrote its own (a deferring session) land with the commit."""
    write_pending(session)


def first_broken(session: Session) -> AuditEvent | None:
    """The first event whose hash or link does not hold, or None if the whole chain is intact."""
    prev = GENESIS
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != prev or event.hash != _digest(event.algorithm, _payload(event)):
            return event
        prev = event.hash
    return None


def head(session: Session) -> tuple[int, str] | None:
    """(id, hash) of the newest event: what anchors outside the database hold on to."""
    row = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else None


@dataclass
class ChainBreak:
    """The first place the chain does not hold: the event to name, what happened, and details."""

    event_id: int
    kind: str  # altered | rehashed | deleted | reordered | inserted
    detail: str


def _misplaced(events: list, i: int, pointed: int | None) -> ChainBreak | None:
    """Event `i` links to the event at `pointed`, not to the one just before it: events were inserted
    between them (it points further back) or the order was changed (it points forward)."""
    event = events[i]
    if pointed is not None and pointed < i - 1:
        return ChainBreak(
            events[pointed + 1].id,
            "inserted",
            f"事件 #{event.id} 的前序哈希指向 #{events[pointed].id}，其间的事件是插入的",
        )
    if pointed is not None and pointed > i:
        return ChainBreak(
            event.id,
            "reordered",
            f"事件 #{event.id} 的前序哈希指向其后的事件 #{events[pointed].id}（顺序被调换）",
        )
    return None


def check_chain(
    session: Session, up_to_id: int | None = None, after_id: int = 0, start_hash: str = GENESIS
) -> ChainBreak | None:
    """Walk the chain from the first event (or from the event after `after_id`, whose hash is
    `start_hash`: a stretch between checkpoints) up to `up_to_id`, and say where and how it first breaks.

    An event's own hash covers its content; its `prev_hash` ties it to the event before. Which link
    broke, and where the hash it points to is found, tells the kinds of tampering apart.
    """
    query = select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id)
    if up_to_id is not None:
        query = query.where(AuditEvent.id <= up_to_id)
    events = session.scalars(query).all()
    position = {e.hash: i for i, e in enumerate(events)}
    for i, event in enumerate(events):
        if event.hash != _digest(event.algorithm, _payload(event)):
            return ChainBreak(event.id, "altered", "事件内容与其哈希不符（被修改）")
        expected = events[i - 1].hash if i else start_hash
        if event.prev_hash == expected:
            continue
        misplaced = _misplaced(events, i, position.get(event.prev_hash))
        if misplaced is not None:
            return misplaced
        previous_id = events[i - 1].id if i else after_id
        if i and any(e.prev_hash == events[i - 1].hash for e in events[i + 1 :]):
            # The event before is still linked to from later on: this one does not belong.
            return ChainBreak(
                event.id, "inserted", f"事件 #{event.id} 的前序哈希不指向链中任何事件（插入的）"
            )
        if event.id - previous_id > 1:
            return ChainBreak(
                event.id,
                "deleted",
                f"事件 #{previous_id + 1}–#{event.id - 1} 已被删除（#{event.id} 的前序哈希无对应事件）",
            )
        if i:
            return ChainBreak(
                events[i - 1].id,
                "rehashed",
                f"事件 #{events[i - 1].id} 被修改并重新计算了哈希（与 #{event.id} 记录的前序哈希不符）",
            )
        if after_id:
            return ChainBreak(
                event.id, "rehashed", f"事件 #{event.id} 的前序哈希与检查点 #{after_id} 记录的哈希不符"
            )
        return ChainBreak(event.id, "altered", "首个事件的前序哈希不是创世值")
    return None
