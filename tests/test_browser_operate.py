"""The system administrator moves a running instance to a new version of its process in headless
Chromium: 实例运维 → the instance → target version and reason → 迁移; the page then shows the new
version and the operation with its reason. Screenshot: test-output/screenshots/operate-migrate.png."""
from __future__ import annotations

import re

import pytest
from browser_support import SCREENSHOTS, preparing_app, serve, sign_in
from test_operate_instances import VISIT, _deploy, _files, _start, _visit_v2

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('browser_operate') / 'operate.sqlite3'}"


@pytest.fixture(scope="module")
def running(database_url):
    """A visit request waiting at 审定接待方案 on v1, and a v2 with a step after it (CSRF off here)."""
    app = preparing_app(database_url)
    client = app.test_client()
    v1 = _deploy(client, _files("visit_request"))
    pid = _start(client, "visit_request", VISIT)
    v2 = _deploy(client, _visit_v2(), bind=False)
    return pid, v1, v2


@pytest.fixture(scope="module")
def live_server(database_url, running):
    with serve(database_url) as url:
        yield url


def test_the_administrator_moves_a_running_instance_to_the_new_version(page, live_server, running):
    pid, _, v2 = running
    base = live_server
    sign_in(page, base, "admin")
    page.click("#operate-link")
    page.locator(f'#instances tr[data-instance="{pid}"] a').click()
    page.wait_for_url(re.compile(rf".*/admin/instances/{pid}$"))
    assert page.locator("#current-version").inner_text() == "v1"
    assert page.locator(f'#targets tr[data-version-id="{v2}"]').get_attribute("data-compatible") == "yes"

    # Without a reason the page comes back with the message and the choice kept.
    page.select_option("#version_id", str(v2))
    page.click("#migrate-submit")
    assert "请填写操作原因" in page.locator("#errors").inner_text()

    page.select_option("#version_id", str(v2))
    page.fill("#migrate-reason", "接待流程增加落实环节")
    page.click("#migrate-submit")
    page.wait_for_url(re.compile(rf".*/admin/instances/{pid}$"))
    assert page.locator("#current-version").inner_text() == "v2"
    assert "已将流程实例迁移到新版本" in page.content()
    operation = page.locator('#operations tr[data-action="instance_migrated"]')
    assert "v1 → v2" in operation.inner_text() and "接待流程增加落实环节" in operation.inner_text()
    page.locator('.open-task[data-spec="visit_approve"]').scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "operate-migrate.png"), full_page=True)
