"""The engine's clock, and a way to set it for one thread while a recorded history is replayed.

SpiffWorkflow's timers read `datetime.now(timezone.utc)` from their own module, so the only way to
replay "the clock at each step" is to give that module a datetime whose `now()` answers a moment
set for the current thread. With no moment set it is the real clock: nothing changes for live work,
and other threads (other requests, the scheduler) never see a replay's moment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer

_local = threading.local()


class _EngineDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        moment = getattr(_local, "moment", None)  # naive UTC
        if moment is None:
            return datetime.now(tz)
        return moment.replace(tzinfo=UTC).astimezone(tz) if tz else moment


_spiff_timer.datetime = _EngineDatetime


def replay_moment() -> datetime | None:
    """The moment a replay set for this thread (naive UTC), or None during live work."""
    return getattr(_local, "moment", None)


def engine_now() -> datetime:
    """Now as SpiffWorkflow's timers see it (naive UTC): what a step records to be replayed with."""
    return _spiff_timer.datetime.now(UTC).astimezone(UTC).replace(tzinfo=None)


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Run the engine in this thread as if it were `moment` (naive UTC)."""
    previous = getattr(_local, "moment", None)
    _local.moment = moment
    try:
        yield
    finally:
        _local.moment = previous
