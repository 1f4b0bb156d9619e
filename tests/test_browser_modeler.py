"""The browser process editor, used by the system administrator in headless Chromium (1,366 px wide).

流程版本 → 在线编辑 opens the investment process; the administrator changes a form field's title in the
form editor (the preview is the server's own form rendering) and a gateway condition in the properties
panel, validates, saves a draft (it survives a reload), and deploys a new version bound to the county.
A project registered afterwards runs on the new version and shows the new title; one that was running
before stays on the old version with the old title. Screenshots: test-output/screenshots/modeler_*.png.
"""
from __future__ import annotations

import pytest
from browser_support import SCREENSHOTS, launch_chromium, preparing_app, serve, sign_in
from flow_support import ready_tasks, register_lead, step

pytestmark = pytest.mark.browser

OLD_TITLE = "研判结论"
NEW_TITLE = "研判结论（专班意见）"
FLOW = "flow_gw_screening_to_negotiation"
OLD_CONDITION = "screening_decision == '通过'"
NEW_CONDITION = "screening_decision in ('通过',)"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('browser_modeler') / 'modeler.sqlite3'}"


@pytest.fixture(scope="module")
def prep(database_url):
    app = preparing_app(database_url)
    return app, app.test_client()


@pytest.fixture(scope="module")
def live_server(database_url, prep):
    with serve(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as chromium:
        yield chromium


def _version_of(instance_id: int) -> tuple[int, dict]:
    """(version id, files) the instance runs on — read from the database, as an observer."""
    from workflows.db import transaction
    from workflows.models import ModelVersion, ProcessInstance

    with transaction() as s:
        version = s.get(ModelVersion, s.get(ProcessInstance, instance_id).model_version_id)
        return version.id, dict(version.files)


def _messages(page, expected: str) -> str:
    page.wait_for_function(
        "t => document.getElementById('modeler-messages').innerText.includes(t)", arg=expected, timeout=60_000)
    return page.inner_text("#modeler-messages")


def _screening_title_seen_by_screener(page, base, app, instance_id) -> str:
    (task_id, spec, _), = ready_tasks(app, instance_id)
    assert spec == "screening"
    page.goto(f"{base}/tasks/{task_id}")
    return page.inner_text("#task-form")


def test_edit_validate_draft_deploy_and_run_on_the_new_version(live_server, prep, browser):
    app, client = prep
    running = register_lead(client, project_name="编辑前已在办的项目")
    old_version, old_files = _version_of(running)
    assert OLD_CONDITION in old_files["bpmn/investment_project.bpmn"]

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, live_server, "admin")
    page.click("#versions-link")
    page.click(f"tr[data-version-id='{old_version}'] a.edit-version")
    page.wait_for_selector("#modeler[data-ready='1']", timeout=60_000)
    assert page.locator("#bpmn-canvas .djs-container").is_visible()
    assert page.locator(".bjs-powered-by").is_visible()  # the bpmn.io watermark stays
    page.screenshot(path=str(SCREENSHOTS / "modeler_opened.png"))

    # A form field's title, in the form editor; the preview is the task page's own rendering.
    page.select_option("#modeler-file", "forms/screening-schema.json")
    schema = page.input_value("#form-schema")
    assert f'"title": "{OLD_TITLE}"' in schema
    page.fill("#form-schema", schema.replace(f'"title": "{OLD_TITLE}"', f'"title": "{NEW_TITLE}"'))
    page.wait_for_function("t => document.getElementById('form-preview').innerText.includes(t)", arg=NEW_TITLE)
    page.screenshot(path=str(SCREENSHOTS / "modeler_form.png"))

    # A gateway condition, in the properties panel of the sequence flow.
    page.select_option("#modeler-file", "bpmn/investment_project.bpmn")
    page.wait_for_selector(f"#bpmn-canvas [data-element-id='{FLOW}']")
    page.fill("#element-search", FLOW)
    page.click("#element-go")
    page.click("[data-group-id='group-spiff-condition'] .bio-properties-panel-group-header")
    condition = page.locator("#bio-properties-panel-spiff-condition-expression")
    assert condition.input_value() == OLD_CONDITION
    condition.fill(NEW_CONDITION)
    condition.press("Tab")
    page.screenshot(path=str(SCREENSHOTS / "modeler_condition.png"))

    page.click("#validate")
    _messages(page, "校验通过")

    page.click("#save-draft")
    _messages(page, "草稿已保存")
    page.reload()
    page.wait_for_selector("#modeler[data-ready='1']", timeout=60_000)
    assert "草稿" in _messages(page, "草稿")
    page.select_option("#modeler-file", "forms/screening-schema.json")
    assert f'"title": "{NEW_TITLE}"' in page.input_value("#form-schema")

    for box in page.locator("input[name='bind']").all():
        box.check()
    page.fill("#deploy-note", "研判结论标题与通过条件")
    page.click("#deploy")
    deployed = _messages(page, "已部署流程版本")
    page.screenshot(path=str(SCREENSHOTS / "modeler_deployed.png"))
    assert "进行中的流程实例继续使用原版本" in deployed
    assert errors == []

    # A project registered now runs on the new version; the running one stays on the old.
    new = register_lead(client, project_name="编辑后登记的项目")
    new_version, new_files = _version_of(new)
    assert new_version != old_version
    assert _version_of(running)[0] == old_version
    assert NEW_CONDITION in new_files["bpmn/investment_project.bpmn"]
    assert OLD_CONDITION not in new_files["bpmn/investment_project.bpmn"]
    assert NEW_TITLE in new_files["forms/screening-schema.json"]
    # the rest of the process is as it was: only the two edited files differ
    assert {n for n in new_files if new_files[n] != old_files.get(n)} == {
        "bpmn/investment_project.bpmn", "forms/screening-schema.json"}

    screener = context.new_page()
    sign_in(screener, live_server, "yanpan")
    assert NEW_TITLE in _screening_title_seen_by_screener(screener, live_server, app, new)
    old_form = _screening_title_seen_by_screener(screener, live_server, app, running)
    assert OLD_TITLE in old_form and NEW_TITLE not in old_form
    screener.screenshot(path=str(SCREENSHOTS / "modeler_old_version_task.png"))

    # Both run on: the edited condition still takes 通过 to negotiation on the new version.
    step(app, client, new, "screening", confirmed_class="重大")
    step(app, client, running, "screening", confirmed_class="重大")
    assert [spec for _, spec, _ in ready_tasks(app, new)] == ["negotiation"]
    assert [spec for _, spec, _ in ready_tasks(app, running)] == ["negotiation"]
    context.close()


def test_the_editor_refuses_a_model_that_fails_the_deploy_checks(live_server, prep, browser):
    """A condition that is not Python: 校验 lists the reason and 部署 deploys nothing."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/admin/versions")
    page.locator("tr[data-process-id='investment_project'] a.edit-version").first.click()
    page.wait_for_selector("#modeler[data-ready='1']", timeout=60_000)
    page.fill("#element-search", FLOW)
    page.click("#element-go")
    page.click("[data-group-id='group-spiff-condition'] .bio-properties-panel-group-header")
    condition = page.locator("#bio-properties-panel-spiff-condition-expression")
    condition.fill("screening_decision ==")
    condition.press("Tab")
    page.click("#validate")
    shown = _messages(page, "无法")
    assert "screening_decision ==" in shown or "编译" in shown or "解析" in shown, shown
    rows_before = page.evaluate("fetch('/admin/versions').then(r => r.text()).then(t => (t.match(/data-version-id=/g) || []).length)")
    page.click("#deploy")
    _messages(page, "无法")
    rows_after = page.evaluate("fetch('/admin/versions').then(r => r.text()).then(t => (t.match(/data-version-id=/g) || []).length)")
    assert rows_after == rows_before
    context.close()


def test_the_editor_page_scrolls_in_its_frame_on_a_phone(live_server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/admin/versions")
    page.locator("tr[data-process-id='investment_project'] a.edit-version").first.click()
    page.wait_for_selector("#modeler[data-ready='1']", timeout=60_000)
    # the page itself does not scroll sideways; the editor's frame does
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    assert page.evaluate("(() => { const f = document.querySelector('.modeler-frame'); "
                         "return f.scrollWidth > f.clientWidth; })()")
    page.screenshot(path=str(SCREENSHOTS / "modeler_phone.png"))
    context.close()


def test_decision_tables_lanes_and_task_forms_in_the_editor(live_server, browser):
    """The DMN opens as a decision table in dmn-js; a lane shows its business role; a user task shows
    its form files; the properties panel speaks Chinese."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/admin/versions")
    page.locator("tr[data-process-id='investment_project'] a.edit-version").first.click()
    page.wait_for_selector("#modeler[data-ready='1']", timeout=60_000)

    page.fill("#element-search", "lane_screening_team")
    page.click("#element-go")
    page.click("[data-group-id='group-spiff-lane'] .bio-properties-panel-group-header")
    assert page.locator("#bio-properties-panel-spiff-lane-role").input_value() == "screening_team"
    assert page.locator("[data-group-id='group-general'] .bio-properties-panel-group-header-title").inner_text() == "常规"

    page.fill("#element-search", "screening")
    page.click("#element-go")
    page.click("[data-group-id='group-spiff-form'] .bio-properties-panel-group-header")
    assert page.locator("#bio-properties-panel-spiff-form-schema").input_value() == "screening-schema.json"

    page.select_option("#modeler-file", "bpmn/project_class.dmn")
    page.wait_for_selector("#dmn-container .tjs-table", timeout=30_000)
    assert page.locator("#dmn-container .tjs-table tbody tr").count() == 5  # the table's five rules
    page.screenshot(path=str(SCREENSHOTS / "modeler_dmn.png"))
    assert errors == []
    context.close()
