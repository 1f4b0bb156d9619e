from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base
from workflows.models._types import utcnow
from workflows.models.organisation import Organisation, Unit
from workflows.models.user import User


class ProcessInstance(Base):
    """One running process (an investment project or an investor complaint); `version` guards
    against concurrent steps."""

    __tablename__ = "process_instance"
    __table_args__ = (
        # A county's projects newest first (the project list's pages), its offer rule's join, an initiator's.
        Index("ix_instance_county_updated", "county_id", "updated_at", "id"),
        Index(
            "ix_instance_county",
            "county_id",
            "id",
            postgresql_include=["started_by_id", "project_class", "amount_wan"],
        ),
        Index("ix_instance_started_by", "started_by_id", "updated_at", "id"),
        Index(
            "ix_instance_county_class", "county_id", "project_class", "amount_wan"
        ),  # the class filter's choices
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    # The BPMN process of the version it runs (the model's process id).
    process_id: Mapped[str] = mapped_column(String(60), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    started_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    # Copied from task data after each step so lists and searches are plain SQL.
    project_name: Mapped[str] = mapped_column(String(200))
    investor: Mapped[str] = mapped_column(String(200), index=True)
    amount_wan: Mapped[float | None] = mapped_column(Numeric(14, 2))
    project_class: Mapped[str | None] = mapped_column(String(10))
    stage: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | completed
    outcome: Mapped[str | None] = mapped_column(String(60))  # end event name when completed
    # Serialized workflow JSON without its spec (text keeps task order). Deferred: lists and inboxes
    # never need it, and it is tens to hundreds of KB per project (BENCHMARKS.md).
    state: Mapped[str] = mapped_column(Text, deferred=True)
    state_hash: Mapped[str] = mapped_column(String(64))
    # When the earliest BPMN timer of the instance is due: the scheduler's index (naive UTC).
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    # A stale or concurrent step fails its UPDATE … WHERE version = ? and becomes a 409.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    county: Mapped[Organisation] = relationship()
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    started_unit: Mapped[Unit] = relationship(foreign_keys=[started_unit_id])
    notes: Mapped[str | None] = mapped_column(Text)
