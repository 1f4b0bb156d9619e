"""Deadlines in working days: Chinese public holidays and adjusted working days (调休) from `holidays`."""
from __future__ import annotations

from datetime import date, datetime, timedelta

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


# 签约到开工原则上不超过6个月 (《郴州市关于进一步加强招商引资工作的实施意见》 §3): the start-of-construction limit after signing.
START_WITHIN_MONTHS = 6


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, clamped to the month's end (01-31 + 1 → 02-28)."""
    month = day.month - 1 + int(months)
    year, month = day.year + month // 12, month % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))
