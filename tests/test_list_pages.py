"""The inbox and the project list as the database sees them: how many SQL statements a page sends (counted
with SQLAlchemy's before_cursor_execute, so the figures are exact, not timings), the project list paged in
SQL with every project on exactly one page, the filters kept from page to page, and the SQL visibility
rule saying what workflows.auth.project_view says — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime

import pytest
from flow_support import login
from service_support import advance, start
from sqlalchemy import event, select, update

from workflows import auth, db
from workflows.db import transaction
from workflows.demo import DEMO_LEAD, actor
from workflows.models import ProcessInstance, User
from workflows.services import project_service

INBOX_MOST = 6  # statements of an inbox page, session and sign-in lookups not counted


@pytest.fixture
def app(database):
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


@pytest.fixture
def client(app):
    return app.test_client()


@contextmanager
def statements(monkeypatch):
    """The SQL statements sent meanwhile, less the session's and sign-in's lookups (made inside
    session_service.actor_for), the once-a-minute refresh of the business roles and the working-day calendar
    (at most one a minute per worker, whatever the page) and transaction control (BEGIN on SQLite)."""
    from workflows.services import calendar_service, role_service, session_service

    seen: list[str] = []
    paused = [False]

    def not_counted(real):
        def call(*args, **kwargs):
            paused[0] = True
            try:
                return real(*args, **kwargs)
            finally:
                paused[0] = False

        return call

    def record(conn, cursor, statement, parameters, context, executemany):
        if not paused[0] and not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(" ".join(statement.split()))

    monkeypatch.setattr(session_service, "actor_for", not_counted(session_service.actor_for))
    monkeypatch.setattr(role_service, "refresh_roles", not_counted(role_service.refresh_roles))
    monkeypatch.setattr(calendar_service, "refresh_calendar", not_counted(calendar_service.refresh_calendar))
    event.listen(db.engine(), "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine(), "before_cursor_execute", record)


def _count(client, monkeypatch, path: str) -> tuple[int, list[str], str]:
    assert client.get(path).status_code == 200  # the first request of a worker reads roles and calendar
    with statements(monkeypatch) as seen:
        response = client.get(path)
    assert response.status_code == 200
    return len(seen), seen, response.data.decode()


def _projects_in_review(n: int) -> list[int]:
    pids = []
    for i in range(n):
        pid = start(project_name=f"会审项目{i}", investor=f"会审公司{i}")
        advance(pid, "screening", confirmed_class="重大")
        for spec in ("negotiation", "approve_terms"):
            advance(pid, spec)
        pids.append(pid)
    return pids


def test_an_inbox_page_sends_at_most_six_statements(app, client, monkeypatch):
    _projects_in_review(3)
    start(project_name="待初审项目", investor="初审公司")
    cases = {  # user, page: statements
        ("rev_fgj", "/"): None,
        ("zhuren", "/"): None,
        ("yanpan", "/"): None,
        ("yanpan", "/?tab=done"): None,
        ("rev_fgj", "/?q=会审&stage=部门会审&sort=waiting"): None,
        ("zhaoshang", "/?tab=started"): None,
        ("zhaoshang", "/?tab=started&class=重大&page=2"): None,
        ("rev_fgj", "/?tab=copied"): None,
    }
    for user, path in cases:
        login(client, user)
        count, seen, html = _count(client, monkeypatch, path)
        cases[(user, path)] = count
        assert count <= INBOX_MOST, (user, path, seen)
    # The reviewer's page lists three tasks with their department's name, read in the same statements.
    login(client, "rev_fgj")
    count, seen, html = _count(client, monkeypatch, "/")
    assert len(re.findall(r'data-task-id="\d+"', html)) == 3 and "县发展和改革局" in html
    assert count == 5, seen  # stand-ins, counts, filter choices, the page, the notifications badge
    assert not any("FROM unit WHERE" in s or "FROM app_user WHERE" in s for s in seen), seen


def test_the_head_of_office_project_list_sends_three_statements_whatever_the_number_of_projects(
    app, client, monkeypatch
):
    for i in range(3):
        start(project_name=f"项目{i}", investor=f"公司{i}")
    login(client, "zhuren")
    few, seen, _ = _count(client, monkeypatch, "/projects/")
    for i in range(25):
        start(project_name=f"更多项目{i}", investor=f"更多公司{i}")
    many, seen, html = _count(client, monkeypatch, "/projects/")
    assert few == many == 3, seen  # the page (names joined), the class choices, the notifications badge
    assert len(re.findall(r'data-project-id="\d+"', html)) == project_service.PER_PAGE


def _walk(client, path: str) -> tuple[list[int], list[str]]:
    """Follow 下一页 from `path` to the last page: the project ids in order, and the links followed."""
    ids, links = [], [path]
    while True:
        html = client.get(links[-1]).data.decode()
        ids += [int(i) for i in re.findall(r'data-project-id="(\d+)"', html)]
        following = re.search(r'<a href="([^"]+)" id="next-page"', html)
        if not following:
            return ids, links
        links.append(following.group(1).replace("&amp;", "&"))
        assert len(links) < 20


def test_paging_shows_every_project_exactly_once_even_when_they_were_updated_at_the_same_moment(app, client):
    pids = [start(project_name=f"分页项目{i}", investor=f"分页公司{i}") for i in range(47)]
    with transaction() as s:  # a bulk import: many rows with the same updated_at
        s.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id.in_(pids[10:40]))
            .values(updated_at=datetime(2026, 3, 1, 8, 0))
        )
    login(client, "zhuren")
    ids, links = _walk(client, "/projects/")
    assert sorted(ids) == sorted(pids) and len(ids) == len(set(ids))
    assert len(links) == 3  # 20 + 20 + 7
    last = client.get(links[-1]).data.decode()
    assert (
        'id="prev-page"' in last and "上一页" in last and 'id="next-page"' not in last and "第 3 页" in last
    )
    first = client.get("/projects/").data.decode()
    assert "下一页" in first and 'id="prev-page"' not in first
    # Newest first, ties by id: the order is total, so a page boundary never repeats or skips a row.
    with transaction() as s:
        order = list(
            s.scalars(
                select(ProcessInstance.id).order_by(
                    ProcessInstance.updated_at.desc(), ProcessInstance.id.desc()
                )
            )
        )
    assert ids == order


def test_filters_are_kept_across_pages(app, client):
    wanted = [start(project_name=f"稻虾项目{i}", investor=f"洞庭食品{i}") for i in range(23)]
    for i in range(5):
        start(project_name=f"电池项目{i}", investor=f"锂晟科技{i}", amount_wan="3000")
    login(client, "zhuren")
    # The class filter offers the classes the county's projects have, smaller projects' first.
    assert re.findall(
        r'<option value="([^"]+)"',
        client.get("/projects/").data.decode().split('name="class"')[1].split("</select>")[0],
    ) == ["一般", "重大"]
    assert len(_walk(client, "/projects/?class=一般")[0]) == 5
    ids, links = _walk(client, "/projects/?q=稻虾&status=running")
    assert sorted(ids) == sorted(wanted)
    assert len(links) == 2 and "q=" in links[1] and "status=running" in links[1] and "page=2" in links[1]
    page = client.get(links[1]).data.decode()
    assert 'value="稻虾"' in page and re.search(r'<option value="running"\s+selected', page)
    assert _walk(client, "/projects/?status=completed")[0] == []
    # Bad paging input is a page, never an error.
    for bad in (
        "/projects/?page=0",
        "/projects/?page=-3",
        "/projects/?page=abc",
        "/projects/?page=99999",
        "/projects/?status=nonsense&class=" + "x" * 300,
    ):
        assert client.get(bad).status_code == 200


def test_the_sql_visibility_rule_agrees_with_the_permission_check(database):
    _projects_in_review(2)
    start(project_name="只登记的项目", investor="登记公司")
    other = project_service.project_start(
        actor("zhaoshang2"), {**DEMO_LEAD, "project_name": "另一专员的项目", "investor": "另一公司"}
    )
    with transaction() as s:
        lyj = s.scalar(select(User.id).where(User.username == "rev_lyj"))
    project_service.project_copy(actor("zhaoshang2"), other, [lyj], "请阅")  # 抄送
    seen = {}
    for username in (
        "zhuren",
        "zhaoshang",
        "zhaoshang2",
        "yanpan",
        "rev_fgj",
        "rev_lyj",
        "shangwu",
        "shenji",
        "shishangwu",
        "tj_zhuren",
        "admin",
    ):
        who = actor(username)
        with transaction() as s:
            expected = sorted(
                i.id for i in s.scalars(select(ProcessInstance)) if auth.project_view(s, who, i)
            )
        listed = sorted(p.id for p in project_service.project_list(who, None))
        assert listed == expected, username
        seen[username] = len(listed)
    # 林业局 is not in these reviews: it sees only the project copied to it.
    assert seen["zhuren"] == 4 and seen["rev_fgj"] == 2 and seen["rev_lyj"] == 1 and seen["tj_zhuren"] == 0
