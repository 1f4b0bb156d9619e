"""The working-day calendar is data: the system administrator enters the 放假 and 调休上班 days the State
Council announces; due dates count them, open tasks whose allowance spans a changed day are re-dated, and
each change is in the audit log."""

from __future__ import annotations

import html
import re
from datetime import datetime

import pytest
from flow_support import login, ready_tasks, register_lead

from workflows.localtime import to_utc_naive


@pytest.fixture
def app(database):
    """The web app on SQLite and on PostgreSQL (the re-dating runs in one transaction on both)."""
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "SERVER_NAME": "localhost",
        }
    )


@pytest.fixture(autouse=True)
def _forget_entries():
    """The entries are an in-process cache: the next module's app reads its own database's."""
    yield
    from workflows import deadlines

    deadlines.set_entries({})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def at_moment(monkeypatch):
    """Tasks created at a chosen local (China) moment: the moment the engine step stamps on new tasks."""

    def move(local: datetime) -> None:
        monkeypatch.setattr("workflows.services.instance_step.utcnow", lambda: to_utc_naive(local))

    return move


def _due(client, task_id: int) -> str:
    """The 办理期限 shown on the (screening) task page to the screening team."""
    login(client, "yanpan")
    page = client.get(f"/tasks/{task_id}").data.decode()
    return re.search(r"<dt>办理期限</dt><dd>(\d{4}-\d\d-\d\d)", page).group(1)


def _screening(app, client) -> int:
    instance_id = register_lead(client)
    ((task_id, spec, _),) = ready_tasks(app, instance_id)
    assert spec == "screening"
    return task_id


def _enter(client, day: str, kind: str, name: str):
    login(client, "admin")
    return client.post("/admin/calendar/", data={"day": day, "kind": kind, "name": name})


def _audit(action: str) -> list[dict]:
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import AuditEvent

    with transaction() as s:
        return [e.data for e in s.scalars(select(AuditEvent).where(AuditEvent.action == action))]


def test_admin_entering_a_saturday_as_workday_makes_due_dates_count_it(app, client, at_moment):
    # Thursday 2027-02-04: three working days on the built-in table skip the Spring Festival to 02-15.
    at_moment(datetime(2027, 2, 4, 10, 0))
    before = _screening(app, client)
    assert _due(client, before) == "2027-02-15"

    entered = _enter(client, "2027-02-06", "workday", "春节调休")
    assert entered.status_code == 302
    page = client.get(entered.headers["Location"]).data.decode()
    assert "2027-02-06" in page and "调休上班" in page and "春节调休" in page
    # The open task is re-dated (02-06, 02-11, 02-12), and a task created now counts the day too.
    assert _due(client, before) == "2027-02-12"
    after = _screening(app, client)
    assert _due(client, after) == "2027-02-12"


def test_admin_entering_a_weekday_as_holiday_pushes_an_open_task_by_one_working_day(app, client, at_moment):
    at_moment(datetime(2027, 3, 1, 10, 0))  # Monday: due Thursday 03-04
    task_id = _screening(app, client)
    assert _due(client, task_id) == "2027-03-04"

    assert _enter(client, "2027-03-03", "holiday", "临时放假").status_code == 302
    assert _due(client, task_id) == "2027-03-05"
    (event,) = _audit("calendar_day_added")
    assert event == {"day": "2027-03-03", "kind": "holiday", "name": "临时放假", "tasks_redated": 1}

    # Removing the entry gives the day back: the task is due on Thursday again, and that is audited too.
    login(client, "admin")
    page = client.get("/admin/calendar/?year=2027").data.decode()
    row_id = re.search(r'action="/admin/calendar/(\d+)/delete"', page).group(1)
    assert 'data-confirm="确定删除 2027-03-03 的登记' in page
    assert client.post(f"/admin/calendar/{row_id}/delete").status_code == 302
    assert _due(client, task_id) == "2027-03-04"
    (removed,) = _audit("calendar_day_removed")
    assert removed["day"] == "2027-03-03" and removed["tasks_redated"] == 1


def test_a_task_due_before_the_changed_day_keeps_its_due_date(app, client, at_moment):
    at_moment(datetime(2027, 3, 1, 10, 0))
    task_id = _screening(app, client)
    assert _enter(client, "2027-03-10", "holiday", "临时放假").status_code == 302
    assert _due(client, task_id) == "2027-03-04"
    assert _audit("calendar_day_added")[0]["tasks_redated"] == 0


@pytest.mark.parametrize("username", ["zhaoshang", "shangwu", "shenji"])
def test_non_admin_cannot_see_or_change_the_calendar(client, username):
    login(client, username)
    assert client.get("/admin/calendar/").status_code == 403
    assert (
        client.post(
            "/admin/calendar/", data={"day": "2027-03-03", "kind": "holiday", "name": "临时放假"}
        ).status_code
        == 403
    )
    assert _audit("calendar_day_added") == []


def test_a_bad_date_keeps_what_was_typed_with_the_error_on_the_field(client):
    response = _enter(client, "2027-02-30", "workday", "春节调休")
    assert response.status_code == 422
    page = response.data.decode()
    assert re.search(r'class="field has-error"><label class="label" for="day">.*?YYYY-MM-DD', page, re.DOTALL)
    assert 'value="2027-02-30"' in page and 'value="春节调休"' in page
    assert re.search(r'<option value="workday" selected>', page)
    assert _audit("calendar_day_added") == []


def test_the_admin_page_links_to_the_calendar(client):
    login(client, "admin")
    assert 'href="/admin/calendar/" id="calendar-link"' in client.get("/admin/").data.decode()


def test_the_same_day_cannot_be_entered_twice(client):
    assert _enter(client, "2027-10-09", "workday", "国庆调休").status_code == 302
    again = _enter(client, "2027-10-09", "holiday", "国庆节")
    assert again.status_code == 422 and "该日期已有登记" in again.data.decode()


def test_the_calendar_page_and_its_errors_read_in_english(client):
    login(client, "admin")
    assert client.post("/lang/en", data={"next": "/admin/calendar/"}).status_code == 302
    page = client.get("/admin/calendar/").data.decode()
    assert "Working-day calendar" in page and "Adjusted working day" in page
    refused = html.unescape(
        client.post("/admin/calendar/", data={"day": "", "kind": "holiday", "name": ""}).data.decode()
    )
    assert "Enter a date as YYYY-MM-DD" in refused and "Enter the holiday's name" in refused


def test_due_dates_are_counted_once_and_recounted_after_a_change_made_by_another_worker(app, monkeypatch):
    """The working days are cached in the process (a step asks for the same due dates again and again);
    an entry another worker made reaches this one when it refreshes the calendar, and the cache follows."""
    from workflows import deadlines
    from workflows.db import transaction
    from workflows.models import CalendarDay
    from workflows.services import calendar_service

    calendar_service.refresh_calendar()
    thursday = to_utc_naive(datetime(2027, 2, 4, 10, 0))
    assert f"{deadlines.add_working_days(thursday, 3):%m-%d}" == "02-15"  # local 18:00 → still 02-15 in UTC
    asked = []
    real = deadlines._china_year
    monkeypatch.setattr(deadlines, "_china_year", lambda year: asked.append(year) or real(year))
    for _ in range(5):
        assert f"{deadlines.add_working_days(thursday, 3):%m-%d}" == "02-15"
    assert asked == []  # answered from the cache
    with transaction() as s:  # another worker's change, behind this process's back
        s.add(
            CalendarDay(day=datetime(2027, 2, 6).date(), kind="workday", name="春节调休", entered_by="admin")
        )
    calendar_service.refresh_calendar()
    assert f"{deadlines.add_working_days(thursday, 3):%m-%d}" == "02-12"
    assert asked  # counted again
