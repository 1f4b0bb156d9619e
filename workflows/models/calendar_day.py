from datetime import date, datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class CalendarDay(Base):
    """The administrator's entry for one day of the working-day calendar: 放假 (a holiday) or 调休上班
    (a weekend day worked). Days without an entry follow the `holidays` package (workflows/deadlines.py)."""

    __tablename__ = "calendar_day"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # holiday | workday
    name: Mapped[str] = mapped_column(String(60))  # 春节, 国庆节 …
    entered_by: Mapped[str] = mapped_column(String(60))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
