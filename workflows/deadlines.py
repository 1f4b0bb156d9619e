"""Deadlines in working days. A day is a working day by the system administrator's calendar entry
(放假 / 调休上班, kept in the database by workflows/services/calendar_service.py) when there is one, else by
the `holidays` package's China calendar (public holidays and the 调休 of the years its release knows).

This module stays free of the database: the entries reach it through `set_entries`, an in-process cache
the calendar service fills (at start, after a change in this process, and at most every 60 s otherwise)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta

import holidays

from workflows.localtime import to_local, to_utc_naive

_lock = threading.Lock()
_china: dict[int, holidays.HolidayBase] = {}  # one holidays.China per year, built once
_entries: dict[date, bool] = {}  # the administrator's entries: day → is a working day
_entries_loaded_at = 0.0  # time.monotonic() of the last set_entries (0: never)
# Derived from the entries and `holidays`, so emptied whenever the entries are set: day → is a working day,
# and (day, n) → how many calendar days its n-th working day is after it. A step asks for the same few due
# dates again and again.
_days: dict[date, bool] = {}
_added: dict[tuple[date, int], int] = {}  # (local day, working days) → calendar days
_ADDED_MAX = 20_000


def set_entries(working: dict[date, bool]) -> None:
    """Replace the administrator's entries (day → True for 调休上班, False for 放假)."""
    global _entries, _entries_loaded_at
    with _lock:
        _entries, _entries_loaded_at = dict(working), time.monotonic()
        _days.clear()
        _added.clear()


def entries_age() -> float | None:
    """Seconds since the entries were last set, None when never."""
    return None if not _entries_loaded_at else time.monotonic() - _entries_loaded_at


def _china_year(year: int) -> holidays.HolidayBase:
    calendar = _china.get(year)
    if calendar is None:
        with _lock:
            calendar = _china.setdefault(year, holidays.China(years=year))
    return calendar


def is_working_day(day: date, entries: dict[date, bool] | None = None) -> bool:
    """By the administrator's entry when there is one (`entries`, default the cached ones), else by
    `holidays`."""
    if entries is None:
        known = _days.get(day)
        if known is None:
            current = _entries
            entry = current.get(day)
            known = entry if entry is not None else _china_year(day.year).is_working_day(day)
            if current is _entries:  # not replaced meanwhile
                _days[day] = known
        return known
    entry = entries.get(day)
    if entry is not None:
        return entry
    return _china_year(day.year).is_working_day(day)


def add_working_days(start: datetime, days: int, entries: dict[date, bool] | None = None) -> datetime:
    """The moment `days` working days after `start` (naive UTC), counted on China's calendar days
    (with the administrator's `entries`, default the cached ones)."""
    local = to_local(start)
    return to_utc_naive(local + timedelta(days=_offset(local.date(), days, entries)))


def _offset(day: date, days: int, entries: dict[date, bool] | None) -> int:
    """How many calendar days after `day` its `days`-th working day comes (cached for the cached entries)."""
    if entries is None:
        known = _added.get((day, days))
        if known is not None:
            return known
    current, offset, remaining = _entries, 0, days
    while remaining > 0:
        offset += 1
        if is_working_day(day + timedelta(days=offset), entries):
            remaining -= 1
    if entries is None and current is _entries:  # not replaced meanwhile
        if len(_added) >= _ADDED_MAX:
            _added.clear()
        _added[(day, days)] = offset
    return offset


def working_days_between(start: datetime, end: datetime, entries: dict[date, bool] | None = None) -> int:
    """How many working days lie after `start`'s local day up to and including `end`'s (naive UTC both):
    the allowance `add_working_days(start, n)` counted to reach `end`."""
    day, last, count = to_local(start).date(), to_local(end).date(), 0
    while day < last:
        day += timedelta(days=1)
        count += is_working_day(day, entries)
    return count


# 签约到开工原则上不超过6个月 (《郴州市关于进一步加强招商引资工作的实施意见》 §3): the start-of-construction
# limit after signing.
START_WITHIN_MONTHS = 6


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, clamped to the month's end (01-31 + 1 → 02-28)."""
    month = day.month - 1 + int(months)
    year, month = day.year + month // 12, month % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))
