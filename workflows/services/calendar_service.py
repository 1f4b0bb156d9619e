"""The working-day calendar is data: the system administrator enters a year's 放假 and 调休上班 days as the
State Council announces them; deadlines (workflows/deadlines.py) count them, the `holidays` package fills
in every day without an entry. A change re-dates the open tasks whose allowance spans the changed day."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import audit, auth, deadlines
from workflows.actor import Actor
from workflows.db import transaction
from workflows.errors import NotFound, ValidationFailed
from workflows.localtime import CHINA, to_utc_naive
from workflows.models import CalendarDay, TaskRecord

KINDS = {"holiday": "放假", "workday": "调休上班"}
REFRESH_SECONDS = 60.0
DENIED = "只有系统管理员可以维护工作日历。"


def _load(session: Session) -> None:
    deadlines.set_entries(_entries(session))


def refresh_calendar(max_age: float = 0.0) -> None:
    """Read the entries into the deadlines cache (outside any transaction); skipped when they were read
    less than `max_age` seconds ago, so several workers agree within that time."""
    age = deadlines.entries_age()
    if max_age and age is not None and age < max_age:
        return
    with transaction() as s:
        _load(s)


def calendar_list(actor: Actor, year: int) -> list[dict]:
    with transaction() as s:
        auth.require(auth.calendar_manage(actor), DENIED)
        rows = s.scalars(
            select(CalendarDay)
            .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
            .order_by(CalendarDay.day)
        )
        return [
            {
                "id": r.id,
                "day": r.day,
                "kind": r.kind,
                "kind_name": KINDS.get(r.kind, r.kind),
                "name": r.name,
                "entered_by": r.entered_by,
                "entered_at": r.entered_at,
            }
            for r in rows
        ]


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def calendar_add(actor: Actor, day_text: str, kind: str, name: str) -> tuple[date, int]:
    """Enter one day (放假 or 调休上班); returns the day and how many open tasks were re-dated."""
    auth.require(auth.calendar_manage(actor), DENIED)
    day, name = _parse_day(day_text), (name or "").strip()
    errors = {}
    if day is None or not 2000 <= day.year <= 2100:
        errors["day"] = "请填写日期，格式为 YYYY-MM-DD（如 2027-02-06）"
    if kind not in KINDS:
        errors["kind"] = "请选择放假或调休上班"
    if not name or len(name) > 60:
        errors["name"] = "请填写节日名称（如 春节，不超过 60 字）"
    with transaction() as s:
        if not errors and s.scalar(select(CalendarDay.id).where(CalendarDay.day == day)) is not None:
            errors["day"] = "该日期已有登记，请先删除原登记"
        if errors:
            raise ValidationFailed(errors)
        assert day is not None  # else errors["day"]
        before = _entries(s)
        s.add(CalendarDay(day=day, kind=kind, name=name, entered_by=actor.username))
        redated, after = _redate(s, day, before)
        audit.append(
            s,
            "calendar_day_added",
            actor=actor.username,
            role="admin",
            address=actor.address,
            data={"day": day.isoformat(), "kind": kind, "name": name, "tasks_redated": redated},
        )
    deadlines.set_entries(after)  # this process counts the change at once; the others within 60 s
    return day, redated


def calendar_remove(actor: Actor, row_id: int) -> tuple[date, int]:
    """Remove one entry (the day follows the `holidays` package again); returns it and the tasks re-dated."""
    auth.require(auth.calendar_manage(actor), DENIED)
    with transaction() as s:
        row = s.get(CalendarDay, row_id)
        if row is None:
            raise NotFound("没有这条工作日历登记。")
        day, kind, name = row.day, row.kind, row.name
        before = _entries(s)
        s.delete(row)
        redated, after = _redate(s, day, before)
        audit.append(
            s,
            "calendar_day_removed",
            actor=actor.username,
            role="admin",
            address=actor.address,
            data={"day": day.isoformat(), "kind": kind, "name": name, "tasks_redated": redated},
        )
    deadlines.set_entries(after)
    return day, redated


def _entries(session: Session) -> dict[date, bool]:
    return {r.day: r.kind == "workday" for r in session.scalars(select(CalendarDay))}


def _redate(session: Session, day: date, before: dict[date, bool]) -> tuple[int, dict[date, bool]]:
    """Recompute the due dates of the open tasks whose allowance spans `day`: each keeps its allowance of
    working days (counted on the calendar before the change) from its creation, on the calendar after it.
    A task due before `day` is left alone: the change cannot move it. Returns the number re-dated and the
    entries after the change (the cache is updated only once they are committed)."""
    midnight = to_utc_naive(datetime.combine(day, time(), tzinfo=CHINA))  # the day's start, as stored (UTC)
    open_tasks = session.scalars(
        select(TaskRecord).where(
            TaskRecord.state == "ready", TaskRecord.due_at >= midnight, TaskRecord.created_at < midnight
        )
    ).all()
    allowance = {
        t.id: deadlines.working_days_between(t.created_at, t.due_at, before)
        for t in open_tasks
        if t.due_at is not None
    }
    session.flush()
    after = _entries(session)  # the calendar after the change (this transaction's view)
    redated = 0
    for task in open_tasks:
        due = deadlines.add_working_days(task.created_at, allowance[task.id], after)
        if due != task.due_at:
            task.due_at = due
            redated += 1
    return redated, after
