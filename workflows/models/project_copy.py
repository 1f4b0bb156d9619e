from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class ProjectCopy(Base):
    """抄送: a project copied to a user, who may then read it."""

    __tablename__ = "project_copy"
    __table_args__ = (UniqueConstraint("instance_id", "to_user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
