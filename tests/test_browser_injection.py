"""Script payloads in every name a user can type (projects, investors, industries, units, users,
counties) never run, and the pages' own scripts all pass the Content-Security-Policy: the pages that show them
— dashboard with its charts and heatmap, ledgers, inbox, project list and page, audit pages with the replay
diagram, administration — are opened in headless Chromium with a dialog listener, and no alert ever opens."""

from __future__ import annotations

import pytest
from browser_support import serve, sign_in

pytestmark = pytest.mark.browser

PAYLOADS = [
    '"><script>alert(1)</script>',
    '" onload="alert(2)',
    "'><svg onload=alert(3)>",
    "<img src=x onerror=alert(4)>",
    '"><svg onload=alert(5)>',
    '" onmouseover="alert(6)',
    "' onfocus='alert(7)' tabindex='1",
]
# Every element of the page gets these events (dispatched from the page), so an injected handler
# attribute (onload on an SVG group never fires by itself) would run.
SWEEP = """() => { for (const el of document.querySelectorAll('body *'))
  for (const kind of ['load', 'error', 'mouseover', 'focus']) el.dispatchEvent(new Event(kind)); }"""


def _payload(i: int) -> str:
    return PAYLOADS[i % len(PAYLOADS)]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('browser_injection') / 'xss.sqlite3'}"
    from sqlalchemy import select

    from workflows import db
    from workflows.db import transaction
    from workflows.demo import seed_organisations, seed_projects
    from workflows.models import Organisation, ProcessInstance, TaskRecord, Unit, User

    db.init(url)
    db.upgrade()
    seed_organisations()
    seed_projects()
    with transaction() as s:
        for i, instance in enumerate(s.scalars(select(ProcessInstance))):
            instance.project_name = f"项目{i}{_payload(i)}"
            instance.investor = f"公司{i}{_payload(i + 1)}"
        for i, record in enumerate(s.scalars(select(TaskRecord))):
            if record.data and "industry" in record.data:
                record.data = {**record.data, "industry": f"产业{_payload(i)}"}
        for i, unit in enumerate(s.scalars(select(Unit))):
            unit.name = f"{unit.name}{_payload(i)}"
        for i, user in enumerate(s.scalars(select(User))):
            user.display_name = f"{user.display_name[:20]}{_payload(i)}"
        for i, org in enumerate(s.scalars(select(Organisation))):
            org.name = f"{org.name}{_payload(i + 2)}"
    db.engine().dispose()
    return url


@pytest.fixture(scope="module")
def live_server(database_url):
    with serve(database_url) as url:
        yield url


def _visit_all(page, base: str, paths: list[str], dialogs: list[str]) -> None:
    for path in paths:
        response = page.goto(f"{base}{path}")
        assert response.status < 400, (path, response.status)
        page.wait_for_load_state("load")
        page.evaluate(SWEEP)
        assert not dialogs, (path, dialogs)


def _links(page, base: str, selector: str) -> list[str]:
    return [h.replace(base, "") for h in page.eval_on_selector_all(selector, "els => els.map(e => e.href)")]


@pytest.mark.parametrize("username", ["zhuren", "zhaoshang", "shenji", "admin", "shishangwu"])
def test_no_script_payload_in_a_name_ever_runs(page, live_server, username):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    refused: list[str] = []  # the page's own scripts and styles must all be allowed by the CSP
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, live_server, username)
    paths = ["/", "/projects/", "/notifications", "/me/stand-ins/"]
    if username == "shishangwu":
        paths += ["/filings/"]
    if username in ("zhuren", "shishangwu"):
        paths += [
            "/dashboard/",
            "/dashboard/?period=2026",
            "/ledgers/projects",
            "/ledgers/signed",
            "/ledgers/overdue",
        ]
    if username == "shenji":
        paths += ["/audit/", "/audit/versions"]
    if username == "admin":
        paths += ["/admin/", "/admin/versions"]
    _visit_all(page, live_server, paths, dialogs)
    page.goto(f"{live_server}/projects/")
    projects = sorted(set(_links(page, live_server, 'a[href*="/projects/"]')))
    projects = [p for p in projects if p.rstrip("/").split("/")[-1].isdigit()][:6]
    tasks = []
    page.goto(f"{live_server}/")
    tasks = sorted(set(_links(page, live_server, 'a[href*="/tasks/"]')))[:4]
    replays = []
    if username == "shenji":
        page.goto(f"{live_server}/audit/")
        replays = sorted(set(_links(page, live_server, "a.replay-link")))[:4]
        assert replays
    _visit_all(page, live_server, projects + tasks + replays, dialogs)
    assert dialogs == []
    assert refused == []
