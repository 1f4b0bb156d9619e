"""Deadlines in working days: Chinese public holidays and adjusted working days (调休) from `holidays`."""
from __future__ import annotations

from datetime import datetime, timedelta

import holidays


def add_working_days(start: datetime, days: int) -> datetime:
    """The moment `days` working days after `start` (same clock time)."""
    calendar = holidays.China(years=range(start.year, start.year + 2))
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if calendar.is_working_day(current.date()):
            remaining -= 1
    return current
