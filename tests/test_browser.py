"""A department reviewer uses the real pages in headless Chromium, with CSRF protection on.

The app is served by werkzeug in a background thread on a random port. The project is brought to the
joint review (多部门联合会审) through the app's HTTP with a second app object on the same database
(CSRF off there, as flow_support's helpers expect). Screenshots go to test-output/screenshots/.
"""
from __future__ import annotations

import pytest
from browser_support import SCREENSHOTS, preparing_app, serve, sign_in
from flow_support import ready_tasks, register_lead, step

pytestmark = pytest.mark.browser

PROJECT = "浏览器会审测试·稻虾深加工项目"  # unique: the demo data may hold the default name



@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('browser') / 'browser.sqlite3'}"


@pytest.fixture(scope="module")
def project(database_url):
    """A 重大 project waiting for the joint review; returns (instance id, {unit: task id})."""
    prep = preparing_app(database_url)
    client = prep.test_client()
    pid = register_lead(client, project_name=PROJECT)
    step(prep, client, pid, "screening", confirmed_class="重大")
    step(prep, client, pid, "negotiation")
    step(prep, client, pid, "approve_terms")
    tasks = {unit: task_id for task_id, spec, unit in ready_tasks(prep, pid) if spec == "department_review"}
    assert {"fgj", "zrzyj"} <= set(tasks), tasks
    return pid, tasks


@pytest.fixture(scope="module")
def live_server(database_url, project):
    with serve(database_url) as url:
        yield url


def sign_out(page, base: str) -> None:
    page.click("form[action='/logout'] button[type=submit]")
    page.wait_for_url(f"{base}/login")


def inbox_rows(page, project_name: str):
    """The inbox rows of `project_name` (there is no #inbox table when the inbox is empty)."""
    return page.locator("#inbox tbody tr", has_text=project_name)


def test_department_reviewer_claims_and_agrees(page, live_server, project):
    pid, tasks = project
    task_id = tasks["fgj"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # rev_fgj2 is the second 发改局 reviewer: the department's task is offered to both of them.
    sign_in(page, live_server, "rev_fgj2")
    row = inbox_rows(page, PROJECT)
    assert row.count() == 1
    assert row.first.get_attribute("data-task-id") == str(task_id)
    assert "多部门联合会审" in row.first.inner_text()
    assert "待认领" in row.first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "inbox.png"))

    row.first.locator("a").click()
    page.wait_for_url(f"{live_server}/tasks/{task_id}")
    assert PROJECT in page.locator("h1").inner_text()
    page.click("#claim")  # a POST with the page's CSRF token
    page.wait_for_url(f"{live_server}/tasks/{task_id}")
    assert "已认领" in page.locator(".flash").inner_text()

    page.check("input[name=review_decision][value='同意']")
    page.fill("textarea[name=review_opinion]", "符合国家和省产业政策，同意该项目。")
    page.screenshot(path=str(SCREENSHOTS / "task.png"), full_page=True)
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/{pid}")
    assert "已提交" in page.locator(".flash").inner_text()

    page.goto(f"{live_server}/")
    assert inbox_rows(page, PROJECT).count() == 0
    assert page.locator(f"#inbox tr[data-task-id='{task_id}']").count() == 0

    # The other 发改局 reviewer no longer has the department's task either.
    sign_out(page, live_server)
    sign_in(page, live_server, "rev_fgj")
    assert page.locator(f"#inbox tr[data-task-id='{task_id}']").count() == 0
    assert inbox_rows(page, PROJECT).count() == 0


def test_disagreeing_without_reasons_shows_the_error_and_keeps_the_opinion(page, live_server, project):
    _, tasks = project
    task_id = tasks["zrzyj"]
    opinion = "项目选址涉及永久基本农田，需进一步核实。"

    sign_in(page, live_server, "rev_zrzyj")
    # CSRF protection is really on: a signed-in POST without the form's token is refused.
    forged = page.request.post(f"{live_server}/tasks/{task_id}/claim", max_redirects=0)
    assert forged.status == 400 and "CSRF" in forged.text()

    inbox_rows(page, PROJECT).first.locator("a").click()
    page.wait_for_url(f"{live_server}/tasks/{task_id}")
    # rev_zrzyj is 自然资源局's only reviewer: the form is there at once, submitting claims it.
    assert page.locator("#claim").count() == 0 and page.locator("#sole-candidate").is_visible()

    page.check("input[name=review_decision][value='不同意']")
    page.fill("textarea[name=review_opinion]", opinion)
    page.click("#submit")
    page.wait_for_load_state()

    error = page.locator("[data-error-for='review_reasons']")
    assert error.count() == 1 and error.is_visible()
    assert error.inner_text().strip()
    # The message sits in the reasons field's own block, beside the textarea.
    field = page.locator("#field-review_reasons")
    assert field.locator("[data-error-for='review_reasons']").count() == 1
    assert "has-error" in (field.get_attribute("class") or "")
    assert field.locator("textarea[name=review_reasons]").count() == 1
    # What was typed is kept.
    assert page.locator("textarea[name=review_opinion]").input_value() == opinion
    assert page.locator("input[name=review_decision][value='不同意']").is_checked()
    # Nothing was submitted: the task is still in the inbox.
    page.goto(f"{live_server}/")
    assert page.locator(f"#inbox tr[data-task-id='{task_id}']").count() == 1
