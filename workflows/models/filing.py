from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base
from workflows.models._types import JsonType, utcnow
from workflows.models.instance import ProcessInstance


class Filing(Base):
    """A county project filed with its prefecture commerce bureau before signing (seed 002 §(十三))."""

    __tablename__ = "filing"
    __table_args__ = (UniqueConstraint("prefecture_id", "year", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    prefecture_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    state: Mapped[str] = mapped_column(String(20))  # 待受理 | 已退回 | 已受理 | 已签约
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    times_submitted: Mapped[int] = mapped_column(default=1)
    summary: Mapped[dict] = mapped_column(JsonType)  # the structured data sent to the prefecture
    year: Mapped[int | None]
    seq: Mapped[int | None]
    number: Mapped[str | None] = mapped_column(String(60), unique=True)
    accepted_at: Mapped[datetime | None]
    return_reason: Mapped[str | None] = mapped_column(String(2000))
    signing: Mapped[dict | None] = mapped_column(JsonType)  # contract number, date, signatories
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An anchor of the audit chain outside the county's control: the newest audit event (id, hash)
    # when the filing was last submitted, kept by the prefecture with the filing.
    audit_head_id: Mapped[int | None]
    audit_head_hash: Mapped[str | None] = mapped_column(String(64))

    instance: Mapped[ProcessInstance] = relationship()
