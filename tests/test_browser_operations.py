"""The approval operations (退回, 转办, 暂存, 手写签名, 撤回) done by people clicking in headless Chromium.

Same set-up as test_browser.py: the app is served by werkzeug in a background thread with CSRF protection
on; each test brings its own project to the stage it needs through a second app object on the same
database (CSRF off there, as flow_support's helpers expect). One browser for the module, a fresh context
per test. Every test saves a full-page screenshot to test-output/screenshots/op_*.png.
"""
from __future__ import annotations

import re

import pytest
from browser_support import SCREENSHOTS, preparing_app, serve, sign_in
from flow_support import ready_tasks, register_lead, step

pytestmark = pytest.mark.browser




# --- fixtures -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('browser_ops') / 'browser_ops.sqlite3'}"


@pytest.fixture(scope="module")
def prep(database_url):
    """(app, client) with CSRF off, for bringing projects to a stage as the demo users would."""
    app = preparing_app(database_url)
    return app, app.test_client()


@pytest.fixture(scope="module")
def live_server(database_url, prep):
    with serve(database_url) as url:
        yield url


# --- preparing projects (CSRF off, through the app's HTTP) -----------------------------------------------

def _new_project(prep, name: str) -> int:
    _, client = prep
    return register_lead(client, project_name=name)


def _to_joint_review(prep, name: str) -> tuple[int, dict[str, int]]:
    app, client = prep
    pid = _new_project(prep, name)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms")
    tasks = {unit: tid for tid, spec, unit in ready_tasks(app, pid) if spec == "department_review"}
    assert {"fgj", "zrzyj"} <= set(tasks), tasks
    return pid, tasks


def _only_ready(prep, pid: int, spec: str) -> int:
    app, _ = prep
    (task_id, ready_spec, _), = ready_tasks(app, pid)
    assert ready_spec == spec
    return task_id


# --- what a person does in the browser ----------------------------------------------------------------

def sign_out(page, base: str) -> None:
    """The header's 退出 button: a form POST carrying the page's CSRF token."""
    page.locator(".who").get_by_role("button", name="退出").click()
    page.wait_for_url(f"{base}/login")


def inbox_row(page, project_name: str):
    """The one inbox row of `project_name` (there is no #inbox table when the inbox is empty)."""
    rows = page.locator("#inbox tbody tr", has_text=project_name)
    assert rows.count() == 1, f"{project_name!r}: {rows.count()} inbox rows"
    return rows.first


def open_from_inbox(page, base: str, project_name: str, task_id: int) -> None:
    page.goto(f"{base}/")
    row = inbox_row(page, project_name)
    assert row.get_attribute("data-task-id") == str(task_id)
    row.locator("a").click()
    page.wait_for_url(f"{base}/tasks/{task_id}")
    assert project_name in page.locator("h1").inner_text()


def claim(page, base: str, task_id: int) -> None:
    """Claim the task, or — when the user is the only one it is offered to — see its form at once
    (acting on it claims it)."""
    if page.locator("#sole-candidate").count():
        assert page.locator("#claim").count() == 0 and page.locator("#task-form").is_visible()
        return
    page.click("#claim")  # a POST with the page's CSRF token
    page.wait_for_url(f"{base}/tasks/{task_id}")
    assert "已认领" in page.locator(".flash").inner_text()


def flash_text(page) -> str:
    return " ".join(page.locator("main .flash").all_inner_texts())


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# --- the operations -------------------------------------------------------------------------------------

def test_return_from_the_joint_review_to_negotiation(page, live_server, prep):
    name = "浏览器退回测试·稻虾深加工项目"
    reason = "用地面积与国土空间规划不符，请重新洽谈用地规模。"
    pid, tasks = _to_joint_review(prep, name)
    task_id = tasks["zrzyj"]

    sign_in(page, live_server, "rev_zrzyj")
    open_from_inbox(page, live_server, name, task_id)
    assert "多部门联合会审" in page.locator("h1").inner_text()
    claim(page, live_server, task_id)

    target = page.locator("#return-target")
    assert target.locator("option", has_text="项目洽谈").count() == 1
    target.select_option(label="项目洽谈")
    page.fill("#return-reason", reason)
    questions = []
    page.once("dialog", lambda d: (questions.append(d.message), d.accept()))  # 退回 asks first
    page.click("#return-submit")
    page.wait_for_url(f"{live_server}/projects/{pid}")
    assert questions and "退回" in questions[0]
    assert "已退回" in flash_text(page)
    assert page.locator("#stage").inner_text().strip() == "项目洽谈"
    returned = page.locator("#history tbody tr", has=page.locator("td:nth-child(3)", has_text=re.compile(r"^退回办理$")))
    assert returned.count() == 1
    assert "吴刚" in returned.first.inner_text()
    shot(page, "op_return_project")

    sign_out(page, live_server)
    sign_in(page, live_server, "shangwu")
    negotiation = _only_ready(prep, pid, "negotiation")
    row = inbox_row(page, name)
    assert "项目洽谈" in row.inner_text()
    open_from_inbox(page, live_server, name, negotiation)
    note = page.locator("#task-note")
    assert note.is_visible() and reason in note.inner_text()
    # The earlier negotiation answers come back to edit.
    assert float(page.locator("input[name=land_mu]").input_value()) == 120
    shot(page, "op_return_negotiation_task")


def test_transfer_to_a_colleague_of_the_same_department(page, live_server, prep):
    name = "浏览器转办测试·稻虾深加工项目"
    reason = "本人下周出差，由赵磊同志办理。"
    _, tasks = _to_joint_review(prep, name)
    task_id = tasks["fgj"]

    sign_in(page, live_server, "rev_fgj")
    open_from_inbox(page, live_server, name, task_id)
    claim(page, live_server, task_id)
    colleague = page.locator("#transfer-to option", has_text="赵磊")
    assert colleague.count() == 1
    assert page.locator("#transfer-to option", has_text="孙丽").count() == 0  # not another department
    page.select_option("#transfer-to", value=colleague.get_attribute("value"))
    page.fill("#transfer-reason", reason)
    page.click("#transfer-submit")
    page.wait_for_url(f"{live_server}/")
    assert "已转办" in flash_text(page)
    assert page.locator(f"#inbox tr[data-task-id='{task_id}']").count() == 0  # no longer mine

    sign_out(page, live_server)
    sign_in(page, live_server, "rev_fgj2")
    unread = page.locator("#unread-count")
    assert unread.is_visible() and int(unread.inner_text()) >= 1
    page.click("#notifications-link")
    page.wait_for_url(f"{live_server}/notifications")
    message = page.locator("#notifications tbody tr", has_text=reason)
    assert message.count() == 1
    text = message.first.inner_text()
    assert "转办给您" in text and name in text and "陈静" in text
    shot(page, "op_transfer_notifications")

    open_from_inbox(page, live_server, name, task_id)
    assert page.locator("#unread-count").count() == 0  # read once the messages were opened
    note = page.locator("#task-note")
    assert note.is_visible() and reason in note.inner_text()
    assert page.locator("#claim").count() == 0  # transferred to them personally: nothing to claim
    assert page.locator("#submit").is_visible()
    assert page.locator("input[name=review_decision]").count() >= 2
    shot(page, "op_transfer_task")


def test_a_draft_is_kept_and_restored(page, live_server, prep):
    name = "浏览器暂存测试·稻虾深加工项目"
    opinion = "初审意见（未完稿）：投资方资信待核实。"
    pid = _new_project(prep, name)
    task_id = _only_ready(prep, pid, "screening")

    sign_in(page, live_server, "yanpan")
    open_from_inbox(page, live_server, name, task_id)
    claim(page, live_server, task_id)
    page.fill("textarea[name=screening_opinion]", opinion)
    page.click("#save-draft")
    page.wait_for_url(f"{live_server}/tasks/{task_id}")
    assert "已暂存" in flash_text(page)

    page.reload()
    assert page.locator("textarea[name=screening_opinion]").input_value() == opinion
    draft_note = page.locator("#draft-note")
    assert draft_note.is_visible() and "王芳" in draft_note.inner_text()
    shot(page, "op_draft_restored")

    page.goto(f"{live_server}/")
    assert inbox_row(page, name).get_attribute("data-task-id") == str(task_id)
    assert _only_ready(prep, pid, "screening") == task_id  # not completed


def test_a_leader_signs_the_approval_by_hand(page, live_server, prep):
    name = "浏览器手写签名测试·稻虾深加工项目"
    app, client = prep
    pid = _new_project(prep, name)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    task_id = _only_ready(prep, pid, "approve_terms")

    sign_in(page, live_server, "zhuren")
    open_from_inbox(page, live_server, name, task_id)
    claim(page, live_server, task_id)
    page.check("input[name=terms_decision][value='同意']")
    page.fill("textarea[name=terms_opinion]", "同意洽谈条件，提交联合会审。")

    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box and box["width"] > 100
    x0, y0 = box["x"], box["y"]
    points = [(0.10, 0.70), (0.20, 0.25), (0.30, 0.75), (0.42, 0.30), (0.55, 0.70), (0.68, 0.35),
              (0.80, 0.65), (0.90, 0.40)]
    page.mouse.move(x0 + points[0][0] * box["width"], y0 + points[0][1] * box["height"])
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(x0 + fx * box["width"], y0 + fy * box["height"], steps=4)
    page.mouse.up()
    assert page.locator("#signature-data").input_value().startswith("data:image/png;base64,")
    shot(page, "op_signature_task")

    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/{pid}")
    assert "已提交" in flash_text(page)

    row = page.locator("table.opinions tbody tr", has_text="洽谈条件审批")
    assert row.count() == 1
    image = row.locator("img.signature-img")
    assert image.count() == 1
    assert image.get_attribute("src") == f"/tasks/{task_id}/signature.png"
    image.scroll_into_view_if_needed()
    image.evaluate("img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })")
    assert image.evaluate("img => img.naturalWidth") > 0
    # What was drawn is in the image: count the inked pixels.
    inked = image.evaluate("""img => {
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
    }""")
    assert inked > 200, inked
    shot(page, "op_signature_project")


def test_withdraw_a_submitted_screening_opinion(page, live_server, prep):
    name = "浏览器撤回测试·稻虾深加工项目"
    opinion = "初审意见第一稿：无准入障碍，同意进入洽谈。"
    pid = _new_project(prep, name)
    task_id = _only_ready(prep, pid, "screening")

    sign_in(page, live_server, "yanpan")
    open_from_inbox(page, live_server, name, task_id)
    claim(page, live_server, task_id)
    for box in ("negative_list_ok", "industry_policy_ok", "eco_redline_ok", "land_plan_ok", "energy_ok"):
        page.check(f"input[name={box}]")
    page.check("input[name=confirmed_class][value='重大']")
    page.check("input[name=screening_decision][value='通过']")
    page.fill("textarea[name=screening_opinion]", opinion)
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/{pid}")
    assert "已提交" in flash_text(page)
    assert page.locator("#stage").inner_text().strip() == "项目洽谈"
    _only_ready(prep, pid, "negotiation")

    withdraw = page.locator("#withdraw")
    assert withdraw.is_visible()
    page.once("dialog", lambda d: d.accept())  # 撤回 asks first
    withdraw.click()
    page.wait_for_url(f"{live_server}/tasks/{task_id}")
    assert "已撤回" in flash_text(page)
    assert page.locator("textarea[name=screening_opinion]").input_value() == opinion
    assert page.locator("input[name=screening_decision][value='通过']").is_checked()
    assert page.locator("input[name=confirmed_class][value='重大']").is_checked()
    assert page.locator("#submit").is_visible()
    shot(page, "op_withdraw_task")
    assert _only_ready(prep, pid, "screening") == task_id
