from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class StandIn(Base):
    """请假代理: while `user` is away (dates inclusive, China time), `stand_in` acts on their tasks."""

    __tablename__ = "stand_in"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    stand_in_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled: Mapped[bool] = mapped_column(default=False)
