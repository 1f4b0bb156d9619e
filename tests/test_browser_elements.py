"""In headless Chromium: a SpiffArena-style model (tests/models/site_visit) deployed at 流程版本 is started
from the 发起 page (its manual first task's instructions shown there), and its form of repeating rows is
filled with 添加一行 (webapp/static/form-rows.js), the nested 带队人 fieldset and checkboxes; the
form-less next task is done with 完成. A model's file field (tests/models/expert_review) takes a file
chosen in the browser: a wrong one is refused on its field with the rest kept, a right one is stored.
tests/models/joint_inspection (DMN, parallel multi-instance, call activity) is run to its end."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from browser_support import SCREENSHOTS, preparing_app, serve, sign_in
from flow_support import login, ready_tasks, status_of

pytestmark = pytest.mark.browser
MODEL = Path(__file__).parent / "models" / "site_visit"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('browser_elements') / 'elements.sqlite3'}"


@pytest.fixture(scope="module")
def prep(database_url):
    """The model deployed and bound to the first demo county, through the admin page."""
    from workflows.demo import actor

    app = preparing_app(database_url)
    client = app.test_client()
    login(client, "admin")
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(MODEL.glob("*/*"))]
    response = client.post("/admin/versions", content_type="multipart/form-data",
                           data={"files": files, "note": "考察接待", "bind": [str(actor("shangwu").org_id)]})
    assert response.status_code == 302, response.data.decode()[:2000]
    return app


@pytest.fixture(scope="module")
def live_server(database_url, prep):
    with serve(database_url) as url:
        yield url


def test_a_visit_is_started_and_its_repeating_rows_are_filled_in_the_browser(page, live_server, prep):
    sign_in(page, live_server, "shangwu")
    page.goto(f"{live_server}/start/")
    page.click("[data-process-id='site_visit'] a")
    assert page.locator("#instructions strong").inner_text() == "园区简介"
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/*")
    instance_id = int(page.url.rstrip("/").split("/")[-1])

    register = next(t for t in ready_tasks(prep, instance_id) if t[1] == "sv_register")[0]
    page.goto(f"{live_server}/tasks/{register}")
    assert page.is_checked("input[type=checkbox][name=needs_interpreter]")  # the schema's default
    page.fill("input[name=company]", "湖南锂晟新能源科技有限公司")
    page.fill("input[name=leader-name]", "王建国")
    page.fill("input[name=members-0-name]", "李明")
    page.fill("input[name=members-0-position]", "总经理")
    page.click("button[data-add-row=members]")  # a copy of the row, emptied and renumbered
    assert page.locator("input[name=members-1-name]").input_value() == ""
    page.fill("input[name=members-1-name]", "赵敏")
    page.check("input[name=interests][value=labour]")
    page.uncheck("input[type=checkbox][name=needs_interpreter]")
    page.screenshot(path=str(SCREENSHOTS / "repeating-rows.png"), full_page=True)
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/{instance_id}")

    confirm = next(t for t in ready_tasks(prep, instance_id) if t[1] == "sv_confirm_arrival")[0]
    page.goto(f"{live_server}/tasks/{confirm}")
    assert "湖南锂晟新能源科技有限公司 一行 2 人" in page.locator("#instructions").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "form-less-task.png"))
    page.click("#submit")  # 完成
    page.wait_for_url(f"{live_server}/projects/{instance_id}")
    assert ready_tasks(prep, instance_id) == []  # waiting at the timer after the message


@pytest.fixture(scope="module")
def expert_review(prep):
    """tests/models/expert_review deployed too, with the business role its second lane names."""
    from workflows.demo import actor

    client = prep.test_client()
    login(client, "admin")
    assert client.post("/admin/roles", data={"role_code": "expert_panel", "role_name": "评审专家组",
                                             "role_level": "county"}).status_code == 302
    model = MODEL.parent / "expert_review"
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(model.glob("*/*"))]
    response = client.post("/admin/versions", content_type="multipart/form-data",
                           data={"files": files, "note": "专家评审", "bind": [str(actor("shangwu").org_id)]})
    assert response.status_code == 302, response.data.decode()[:2000]
    return prep


def test_a_file_chosen_in_the_browser_is_checked_and_kept_as_an_attachment(page, live_server, expert_review):
    from test_lane_owners_and_files import PDF

    sign_in(page, live_server, "shangwu")
    page.goto(f"{live_server}/start/expert_review")
    page.fill("input[name=topic]", "锂电池隔膜项目能耗评审")
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/*")
    instance_id = int(page.url.rstrip("/").split("/")[-1])
    choose = next(t for t in ready_tasks(expert_review, instance_id) if t[1] == "er_choose")[0]

    page.goto(f"{live_server}/tasks/{choose}")
    page.fill("input[name=experts]", "fazhi")
    page.fill("textarea[name=note]", "请于三日内出具意见")
    page.set_input_files("input[type=file][name=material]", files=[
        {"name": "能耗评估.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00 an executable"}])
    page.click("#submit")
    assert page.locator("[data-error-for=material]").inner_text().startswith("文件内容与扩展名不符")
    assert page.input_value("input[name=experts]") == "fazhi"  # everything else as typed
    assert page.input_value("textarea[name=note]") == "请于三日内出具意见"
    assert ready_tasks(expert_review, instance_id)[0][1] == "er_choose"

    page.set_input_files("input[type=file][name=material]", files=[
        {"name": "能耗评估.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.screenshot(path=str(SCREENSHOTS / "file-field.png"), full_page=True)
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/{instance_id}")
    assert "能耗评估.pdf" in page.locator("#attachments").inner_text()
    review = next(t for t in ready_tasks(expert_review, instance_id) if t[1] == "er_review")[0]

    sign_in(page, live_server, "fazhi")  # the one expert the model named for its lane
    page.goto(f"{live_server}/tasks/{review}")
    assert page.locator("[data-field=material] a").inner_text() == "能耗评估.pdf"
    assert page.locator("input[type=file][name=signed_opinion]").count() == 1


def test_an_inspection_with_a_decision_table_parallel_tasks_and_a_call_activity_runs_in_the_browser(page, live_server, prep):
    """tests/models/joint_inspection: the DMN table picks three departments, each gets its own task
    (parallel multi-instance), and the called process's report task ends it — all through the inbox."""
    from workflows.demo import actor

    client = prep.test_client()
    login(client, "admin")
    model = MODEL.parent / "joint_inspection"
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(model.glob("*/*"))]
    response = client.post("/admin/versions", content_type="multipart/form-data",
                           data={"files": files, "note": "联合踏勘", "bind": [str(actor("shangwu").org_id)]})
    assert response.status_code == 302, response.data.decode()[:2000]

    sign_in(page, live_server, "shangwu")
    page.goto(f"{live_server}/start/joint_inspection")
    page.fill("input[name=sites-0-name]", "经开区 A-12 地块")
    page.fill("input[name=sites-0-area]", "60")
    page.click("button[data-add-row=sites]")
    page.fill("input[name=sites-1-name]", "经开区 B-3 地块")
    page.fill("input[name=sites-1-area]", "25")
    page.fill("input[name=area_mu]", "85")
    page.check("input[type=checkbox][name=hazardous]")
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/*")
    instance_id = int(page.url.rstrip("/").split("/")[-1])

    findings = [t[0] for t in ready_tasks(prep, instance_id) if t[1] == "ji_finding"]
    assert len(findings) == 3
    page.goto(f"{live_server}/")
    for task_id in findings:  # each in the initiator's inbox
        assert page.locator(f"a[href='/tasks/{task_id}']").count() >= 1
    for task_id in findings:
        page.goto(f"{live_server}/tasks/{task_id}")
        page.fill("[name=remark]", "同意")
        page.click("#submit")
        page.wait_for_url(f"{live_server}/projects/{instance_id}")

    report = next(t for t in ready_tasks(prep, instance_id) if t[1] == "ir_write")[0]
    page.goto(f"{live_server}/tasks/{report}")
    page.select_option("select[name=conclusion]", "pass")
    page.fill("[name=report]", "三个部门均同意")
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/{instance_id}")
    assert ready_tasks(prep, instance_id) == []
    assert status_of(prep, instance_id)[0] == "completed"
