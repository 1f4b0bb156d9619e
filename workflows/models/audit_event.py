from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import JsonType, utcnow


class AuditEvent(Base):
    """Append-only, hash-chained: never updated, never deleted (see workflows/audit.py)."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(60))
    role: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    task_spec: Mapped[str | None] = mapped_column(String(100))
    mi_index: Mapped[int | None]
    data: Mapped[dict | None] = mapped_column(JsonType)
    outcome: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(60))
    state_hash: Mapped[str | None] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(10))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """The chain's hash at every CHECKPOINT_EVERY-th event, sealed after the events up to it were verified
    (workflows/audit_checkpoints.py): a project's check walks only the stretches between checkpoints that
    hold its events. Signed with the anchors' HMAC key when one is configured."""

    __tablename__ = "audit_checkpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(unique=True)
    event_hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(default=utcnow)
    signature: Mapped[str | None] = mapped_column(String(64))
