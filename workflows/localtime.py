"""China Standard Time for everything people read (deadlines, filing years, dates on screen);
the database stores naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def to_local(utc_naive: datetime) -> datetime:
    return utc_naive.replace(tzinfo=UTC).astimezone(CHINA)


def to_utc_naive(local: datetime) -> datetime:
    return local.astimezone(UTC).replace(tzinfo=None)


def china_today():
    """Today's date in China: the date an official writes on a form (UTC is a day behind from 16:00)."""
    return datetime.now(CHINA).date()
