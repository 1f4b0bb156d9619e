"""BPMN overdue timers: a reminder when a task passes its deadline, escalation to the head of the
investment office if it stays overdue; the scheduler fires each timer once. Time is moved, never slept."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
from service_support import advance, instance, ready, start
from sqlalchemy import select

from workflows.db import transaction
from workflows.models import AuditEvent, Notification, User
from workflows.models._types import utcnow
from workflows.services.timer_service import fire_due_timers


@pytest.fixture
def clock(monkeypatch):
    """Move the engine's clock: clock(moment) makes SpiffWorkflow's timers see `moment` (naive UTC)."""
    def move(moment: datetime) -> datetime:
        aware = moment.replace(tzinfo=UTC)

        class Moved(datetime):
            @classmethod
            def now(cls, tz=None):
                return aware if tz else moment

        monkeypatch.setattr(spiff_timer, "datetime", Moved)
        return moment
    return move


def _notified(kind: str) -> list[str]:
    with transaction() as s:
        rows = s.scalars(select(Notification).where(Notification.kind == kind)).all()
        return sorted(s.get(User, n.user_id).username for n in rows)


def _at_negotiation() -> int:
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    assert [r.spec_name for r in ready(pid)] == ["negotiation"]
    return pid


def test_a_task_past_its_deadline_reminds_its_holders_then_escalates(database, clock):
    pid = _at_negotiation()
    first_due = instance(pid).next_timer_at
    # The BPMN timer and the inbox deadline are the same 3 working days (dueWorkingDays).
    assert first_due is not None and abs(first_due - ready(pid)[0].due_at) < timedelta(minutes=1)
    assert fire_due_timers(clock(first_due - timedelta(minutes=1))) == 0  # not yet
    assert fire_due_timers(clock(first_due + timedelta(minutes=1))) == 1
    assert _notified("overdue") == ["shangwu"] and _notified("escalation") == []
    later = instance(pid).next_timer_at
    assert later is not None and later > first_due
    assert fire_due_timers(clock(later + timedelta(minutes=1))) == 1
    assert _notified("escalation") == ["zhuren"]
    # Each timer fires once.
    assert fire_due_timers(clock(later + timedelta(days=30))) == 0
    assert _notified("overdue") == ["shangwu"] and _notified("escalation") == ["zhuren"]
    assert instance(pid).next_timer_at is None and [r.spec_name for r in ready(pid)] == ["negotiation"]


def test_a_task_done_in_time_sets_off_nothing(database, clock):
    pid = _at_negotiation()
    advance(pid, "negotiation")
    assert fire_due_timers(clock(utcnow() + timedelta(days=60))) == 0
    assert _notified("overdue") == [] and _notified("escalation") == []


def test_reminders_do_not_change_how_the_project_ends(database, clock):
    pid = _at_negotiation()
    fire_due_timers(clock(utcnow() + timedelta(days=30)))
    for spec in ("negotiation", "approve_terms", "department_review", "review_materials", "pre_review",
                 "review_meeting", "executive_meeting", "contract_review", "approve_filing",
                 "prefecture_review", "signing"):
        advance(pid, spec)
    done = instance(pid)
    assert (done.status, done.outcome) == ("completed", "end_signed")


def test_two_schedulers_at_once_fire_each_timer_once(database, clock):
    pid = _at_negotiation()
    moment = clock(instance(pid).next_timer_at + timedelta(minutes=1))
    barrier = threading.Barrier(2)
    results = []

    def run():
        barrier.wait()
        results.append(fire_due_timers(moment))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]
    assert _notified("overdue") == ["shangwu"]
    with transaction() as s:
        assert len(s.scalars(select(AuditEvent).where(AuditEvent.action == "task_overdue_reminded")).all()) == 1


def test_the_scheduler_command_runs_once(sqlite_database):
    env = {**os.environ, "DATABASE_URL": sqlite_database}
    result = subprocess.run([sys.executable, "-m", "workflows.scheduler", "--once"], capture_output=True,
                            text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "timers fired on 0 instance(s)" in result.stdout
