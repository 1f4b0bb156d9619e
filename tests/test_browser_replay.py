"""The auditor steps through a project's history in headless Chromium: first / previous /
next / last, jump to a date, the diagram marked at each step, then the replay against the model.
Screenshot: test-output/screenshots/replay.png."""
from __future__ import annotations

import re

import pytest
from browser_support import SCREENSHOTS, preparing_app, serve, sign_in
from flow_support import register_lead, step, steps

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('browser_replay') / 'replay.sqlite3'}"


@pytest.fixture(scope="module")
def project(database_url):
    """A 重大 project in its joint review, brought there by the demo users (CSRF off)."""
    app = preparing_app(database_url)
    client = app.test_client()
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    steps(app, client, pid, "negotiation", "approve_terms")
    return pid


@pytest.fixture(scope="module")
def live_server(database_url, project):
    with serve(database_url) as url:
        yield url


def _position(page) -> tuple[int, int]:
    number, total = re.search(r"第 (\d+) / (\d+) 步", page.locator("#step-position").inner_text()).groups()
    return int(number), int(total)


def test_the_auditor_steps_through_a_history_and_replays_it(page, live_server, project):
    base = live_server
    sign_in(page, base, "shenji")
    page.click("#audit-link")
    page.locator("#audit-projects tr", has_text="年产10万吨稻虾深加工项目").locator("a.replay-link").click()
    page.wait_for_url(re.compile(rf".*/audit/projects/{project}/replay"))
    assert _position(page)[0] == 1
    assert "登记线索" in page.locator("#step-action").inner_text()
    assert page.locator('#diagram g[data-element="register_lead"]').get_attribute("data-state") == "pending"

    page.click("#step-next")
    assert _position(page)[0] == 2
    page.click("#step-last")
    number, total = _position(page)
    assert number == total > 5
    last_day = page.input_value("#jump-date input[name=date]")  # the step's date, China time
    assert page.locator('#diagram g[data-element="department_review"]').get_attribute("data-state") == "active"
    assert page.locator('#diagram g[data-element="screening"]').get_attribute("data-state") == "done"

    # Back to the screening team's decision: who acted, what they submitted, what changed.
    while "研判专班 王芳" not in page.locator("#step-actor").inner_text() or \
            "办理完成" not in page.locator("#step-action").inner_text():
        page.click("#step-prev")
    assert "无准入障碍，同意进入洽谈。" in page.locator("#form-data").inner_text()
    assert page.locator("#data-changes tbody tr").count() >= 3
    assert page.locator('#diagram g[data-element="negotiation"]').get_attribute("data-state") == "active"
    assert page.locator("#diagram g.active").first.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "replay.png"), full_page=True)

    page.click("#step-first")
    assert _position(page)[0] == 1
    page.fill("#jump-date input[name=date]", last_day)
    page.click("#jump-date button")
    assert _position(page) == (total, total)  # the last step of that day
    page.fill("#jump-date input[name=date]", "2020-01-01")
    page.click("#jump-date button")
    assert _position(page)[0] == 1  # before the project: its first step

    page.click("#replay-check")
    assert "一致" in page.locator("#replay-consistent").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "replay_check.png"), full_page=True)
