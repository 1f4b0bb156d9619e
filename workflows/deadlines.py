"""Deadlines in working days: Chinese public holidays and adjusted working days (调休) from `holidays`."""
from __future__ import annotations

from datetime import datetime, timedelta

import holidays

from workflows.localtime import to_local, to_utc_naive


def add_working_days(start: datetime, days: int) -> datetime:
    """The moment `days` working days after `start` (naive UTC), counted on China's calendar days."""
    local = to_local(start)
    calendar = holidays.China(years=range(local.year, local.year + 2))
    current = local
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if calendar.is_working_day(current.date()):
            remaining -= 1
    return to_utc_naive(current)
