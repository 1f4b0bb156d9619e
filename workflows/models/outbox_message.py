from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import JsonType, utcnow


class OutboxMessage(Base):
    """A message to the other side of the filing exchange, kept until it is acknowledged (2xx).

    Written in the same transaction as the change it reports; `python -m workflows.commands.scheduler` sends
    what is due, in order per filing, and retries with backoff (a peer that is down loses nothing).
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # filing | decision | signing | special
    filing_id: Mapped[int] = mapped_column(ForeignKey("filing.id"), index=True)
    county: Mapped[str] = mapped_column(String(100))  # whose key signs it
    peer: Mapped[str] = mapped_column(String(20))  # 'prefecture' or 'county' (where it goes)
    path: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict] = mapped_column(JsonType)
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)  # the 备案表 PDF, made at the first send
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    response: Mapped[dict | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
