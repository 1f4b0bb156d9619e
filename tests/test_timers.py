"""BPMN overdue timers: a reminder when a task passes its deadline, escalation to the head of the
investment office if it stays overdue; the scheduler fires each timer once. Time is moved, never slept."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta

from service_support import advance, instance, ready, start
from sqlalchemy import select

from workflows.db import transaction
from workflows.models import AuditEvent, Notification, User
from workflows.models._types import utcnow
from workflows.services.timer_service import fire_due_timers


def _notified(kind: str) -> list[str]:
    with transaction() as s:
        rows = s.scalars(select(Notification).where(Notification.kind == kind)).all()
        return sorted(s.get(User, n.user_id).username for n in rows)


def _at_negotiation() -> int:
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    assert [r.spec_name for r in ready(pid)] == ["negotiation"]
    return pid


def _at_joint_review() -> int:
    pid = _at_negotiation()
    advance(pid, "negotiation")
    advance(pid, "approve_terms")
    assert {r.spec_name for r in ready(pid)} == {"department_review"}
    return pid


def _audited(action: str) -> list[tuple[str, int | None]]:
    with transaction() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [(e.task_spec, e.mi_index) for e in rows]


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


def test_the_joint_review_reminds_once_then_escalates_to_the_head_of_office(database, clock):
    """Every task with a deadline has the timers; here the multi-instance joint review (5 working days)."""
    pid = _at_joint_review()
    records = ready(pid)
    assert len(records) == 5  # one per department
    first_due = instance(pid).next_timer_at
    assert first_due is not None and all(abs(first_due - r.due_at) < timedelta(minutes=1) for r in records)
    assert fire_due_timers(clock(first_due - timedelta(minutes=1))) == 0
    assert fire_due_timers(clock(first_due + timedelta(minutes=1))) == 1
    reviewers, county = set(), instance(pid).county_id
    with transaction() as s:
        for user in s.scalars(select(User).where(User.active.is_(True))):
            if (
                "dept_reviewer" in user.role_codes
                and user.unit.code in {r.unit_code for r in records}
                and user.unit.organisation_id == county
            ):  # 桃江县 has units of the same codes
                reviewers.add(user.username)
    reminded = _notified("overdue")
    assert set(reminded) == reviewers and len(set(reminded)) == len(reminded)  # every department's, once
    assert sorted(_audited("task_overdue_reminded")) == [("department_review", r.mi_index) for r in records]
    assert _notified("escalation") == []
    later = instance(pid).next_timer_at
    assert later is not None and later - first_due >= timedelta(days=2)  # two working days more
    assert fire_due_timers(clock(later + timedelta(minutes=1))) == 1
    assert _notified("escalation") == ["zhuren"]
    # Each timer fires once; the reviews stay open.
    assert fire_due_timers(clock(later + timedelta(days=30))) == 0
    assert _notified("overdue") == reminded and _notified("escalation") == ["zhuren"]
    assert len(_audited("task_overdue_reminded")) == 5 and len(_audited("task_overdue_escalated")) == 1
    assert instance(pid).next_timer_at is None and len(ready(pid)) == 5


def test_the_joint_review_reminder_reaches_every_department(sqlite_database, clock):
    pid = _at_joint_review()
    units = {r.unit_code for r in ready(pid)}
    fire_due_timers(clock(instance(pid).next_timer_at + timedelta(minutes=1)))
    with transaction() as s:
        notified_units = {
            s.get(User, n.user_id).unit.code
            for n in s.scalars(select(Notification).where(Notification.kind == "overdue"))
        }
    assert notified_units == units


def test_a_task_done_in_time_sets_off_nothing(database, clock):
    pid = _at_negotiation()
    advance(pid, "negotiation")
    assert [r.spec_name for r in ready(pid)] == ["approve_terms"]
    # The negotiation's timers went with it: all that fires later is the open approval's own pair.
    assert fire_due_timers(clock(utcnow() + timedelta(days=60))) == 1
    assert _audited("task_overdue_reminded") == [("approve_terms", None)]
    assert _audited("task_overdue_escalated") == [("approve_terms", None)]
    assert _notified("overdue") == ["zhuren"] and _notified("escalation") == ["zhuren"]


def test_a_project_that_ended_sets_off_nothing(database, clock):
    pid = _at_negotiation()
    advance(pid, "negotiation", negotiation_decision="放弃")
    assert instance(pid).status == "completed" and instance(pid).next_timer_at is None
    assert fire_due_timers(clock(utcnow() + timedelta(days=60))) == 0
    assert _notified("overdue") == [] and _notified("escalation") == []


def test_reminders_do_not_change_how_the_project_ends(database, clock):
    pid = _at_negotiation()
    fire_due_timers(clock(utcnow() + timedelta(days=30)))
    for spec in (
        "negotiation",
        "approve_terms",
        "department_review",
        "review_materials",
        "pre_review",
        "review_meeting",
        "executive_meeting",
        "contract_review",
        "approve_filing",
        "prefecture_review",
        "signing",
    ):
        advance(pid, spec)
    done = instance(pid)
    assert (done.status, done.stage) == ("running", "履约跟踪")  # signed: tracking after signing


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
        assert (
            len(s.scalars(select(AuditEvent).where(AuditEvent.action == "task_overdue_reminded")).all()) == 1
        )


def test_the_scheduler_command_runs_once(sqlite_database):
    env = {**os.environ, "DATABASE_URL": sqlite_database}
    result = subprocess.run(
        [sys.executable, "-m", "workflows.commands.scheduler", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "timers fired on 0 instance(s)" in result.stdout
