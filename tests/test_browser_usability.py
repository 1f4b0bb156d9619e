"""Page usability in headless Chromium: nothing typed is lost when a file is uploaded on a task, a
failed submit shows its errors at the top and puts the cursor in the first wrong field, destructive
actions ask first, and the inbox, task, project and dashboard pages fit a 390 px phone and a
1,366 px laptop in both languages. Screenshots go to test-output/screenshots/; with ZS_UPDATE_SCREENSHOTS=1
they replace the ones in docs/screenshots/ (so a test run leaves the tree clean)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_support import preparing_app, serve, sign_in
from flow_support import all_departments_agree, ready_tasks, register_lead, step

pytestmark = pytest.mark.browser

SHOTS = (
    Path(__file__).resolve().parents[1]
    / ("docs" if os.environ.get("ZS_UPDATE_SCREENSHOTS") == "1" else "test-output")
    / "screenshots"
)
PROJECT = "可用性测试·稻虾深加工项目"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('usability') / 'usability.sqlite3'}"


@pytest.fixture(scope="module")
def prep(database_url):
    """A second app on the same database (CSRF off) to bring projects forward as flow_support does."""
    app = preparing_app(database_url)
    return app, app.test_client()


@pytest.fixture(scope="module")
def live_server(database_url, prep):
    with serve(database_url) as url:
        yield url


def _task(app, pid: int, spec: str) -> int:
    return next(t for t, s, _ in ready_tasks(app, pid) if s == spec)


def _sign_out(page, base: str) -> None:
    page.click("form[action='/logout'] button[type=submit]")
    page.wait_for_url(f"{base}/login")


def test_uploading_a_file_keeps_everything_typed_in_the_task_form(page, live_server, prep, tmp_path):
    app, client = prep
    pid = register_lead(client, project_name=PROJECT + "·附件")
    task_id = _task(app, pid, "screening")
    base = live_server
    sign_in(page, base, "yanpan")
    page.goto(f"{base}/tasks/{task_id}")
    # yanpan is the only screening officer: the form is there at once, no 认领 first.
    assert page.locator("#claim").count() == 0 and page.locator("#sole-candidate").is_visible()
    opinion = "产业链契合度高，建议进入洽谈。\n需补充环评初步意见。"
    page.fill("#in-screening_opinion", opinion)
    page.check("input[name=negative_list_ok]")
    page.select_option("#attachment-kind", index=1)
    document = tmp_path / "研判材料.txt"
    document.write_text("研判材料：投资方资信证明。", encoding="utf-8")
    page.set_input_files("#attachment-file", str(document))
    page.click("#attachment-submit")
    page.wait_for_url(f"{base}/tasks/{task_id}*")
    assert "附件已上传" in page.locator("main").inner_text()
    assert page.locator("#attachments tbody tr", has_text="研判材料.txt").count() == 1
    assert page.input_value("#in-screening_opinion") == opinion  # nothing typed is lost
    assert page.is_checked("input[name=negative_list_ok]")
    # A refused upload (no file chosen) keeps the form too, and says why.
    page.fill("#in-screening_opinion", opinion + "（补充）")
    page.click("#attachment-submit")
    page.wait_for_load_state()
    assert page.input_value("#in-screening_opinion") == opinion + "（补充）"
    assert page.locator("#attachments tbody tr").count() == 1
    page.screenshot(path=str(SHOTS / "task-upload-keeps-form.png"), full_page=True)


def test_a_failed_submit_shows_the_errors_on_top_and_focuses_the_first_wrong_field(page, live_server, prep):
    app, client = prep
    pid = register_lead(client, project_name=PROJECT + "·校验")
    task_id = _task(app, pid, "screening")
    base = live_server
    sign_in(page, base, "yanpan")
    page.goto(f"{base}/tasks/{task_id}")
    page.click("#submit")
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    assert summary.bounding_box()["y"] < 400  # at the top of the page, in view
    links = summary.locator("a[data-field]")
    assert links.count() >= 2
    assert "研判意见" in summary.inner_text()
    first_wrong = page.locator(".field.has-error").first.get_attribute("id")
    _wait_for_focus_in_a_field(page)
    focused = page.evaluate("document.activeElement.closest('.field').id")
    assert focused == first_wrong
    # A link of the summary takes the cursor to its field.
    summary.locator("a[data-field=screening_opinion]").click()
    assert page.evaluate("document.activeElement.id") == "in-screening_opinion"
    page.screenshot(path=str(SHOTS / "task-error-summary.png"))
    _sign_out(page, base)

    # The lead registration page does the same.
    sign_in(page, base, "zhaoshang")
    page.goto(f"{base}/projects/new")
    page.fill("#in-project_name", "只填了名称的线索")
    page.click("#submit")
    assert page.locator("#error-summary").is_visible()
    assert page.input_value("#in-project_name") == "只填了名称的线索"
    _wait_for_focus_in_a_field(page)
    focused = page.evaluate("document.activeElement.closest('.field').id")
    assert focused == page.locator(".field.has-error").first.get_attribute("id")


def test_sending_back_asks_for_confirmation_first(page, live_server, prep):
    app, client = prep
    pid = register_lead(client, project_name=PROJECT + "·退回")
    for spec, extra in (
        ("screening", {"confirmed_class": "重大"}),
        ("negotiation", {}),
        ("approve_terms", {}),
    ):
        step(app, client, pid, spec, **extra)
    task_id = next(t for t, s, unit in ready_tasks(app, pid) if s == "department_review" and unit == "zrzyj")
    base = live_server
    sign_in(page, base, "rev_zrzyj")
    page.goto(f"{base}/tasks/{task_id}")
    if page.locator("#claim").count():
        page.click("#claim")
    page.select_option("#return-target", index=1)
    page.fill("#return-reason", "材料不全")
    questions = []
    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    page.click("#return-submit")
    assert questions and "退回" in questions[0]
    assert page.url.endswith(f"/tasks/{task_id}")  # dismissed: nothing was sent back
    assert any(t == task_id for t, _, _ in ready_tasks(app, pid))
    # Confirmed, the only reviewer of the department sends it back without having claimed it first.
    page.once("dialog", lambda d: d.accept())
    page.click("#return-submit")
    page.wait_for_url(f"{base}/projects/{pid}")
    assert "已退回" in page.locator("main .flash").inner_text()


def _fits(page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} is {width[0]} px wide in a {width[1]} px window"


@pytest.fixture(scope="module")
def reviewed(prep):
    """A project whose joint review has begun (opinions, history, a department task)."""
    app, client = prep
    pid = register_lead(client, project_name=PROJECT + "·版式")
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid, {"zrzyj": "有条件同意"})
    return pid


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("width", [390, 1366])
def test_inbox_task_project_and_dashboard_fit_the_window(browser, live_server, prep, reviewed, width, lang):
    app, _ = prep
    base = live_server
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        task_id = next(t for t, s, _ in ready_tasks(app, reviewed) if s == "review_materials")
        # The host site's inbox, task and project pages; the head of office's dashboard.
        for user, pages in (
            ("luohu", {"inbox": "/", "task": f"/tasks/{task_id}", "project": f"/projects/{reviewed}"}),
            ("zhuren", {"dashboard": "/dashboard/"}),
        ):
            sign_in(page, base, user)
            if lang == "en":
                page.locator("form.lang button").click()
                page.wait_for_load_state()
                assert page.locator("form.lang button").inner_text() == "中文"
            for name, path in pages.items():
                assert page.goto(base + path).status == 200
                page.screenshot(path=str(SHOTS / f"{name}-{width}-{lang}.png"), full_page=True)
                _fits(page)
                if name == "inbox":
                    assert page.locator("#inbox tbody tr", has_text=PROJECT).count() == 1
                    if lang == "en":
                        text = page.locator("main").inner_text()
                        assert "To do" in text and "待办" not in text
                if name == "project":
                    assert page.locator("#open-stages .holder-role").first.inner_text() != ""
            _sign_out(page, base)
    finally:
        context.close()


def _wait_for_focus_in_a_field(page) -> None:
    # Polled from the test side: wait_for_function compiles its text in the page, which the CSP forbids.
    for _ in range(100):
        if page.evaluate("() => !!(document.activeElement && document.activeElement.closest('.field'))"):
            return
        page.wait_for_timeout(100)
    raise AssertionError("no field received the focus")


def test_the_project_list_pages_on_a_phone_keeping_its_filters(browser, live_server, prep):
    """下一页 / 上一页 on a 390 px phone: the links fit, are large enough to tap, and keep the search."""
    from service_support import start

    for i in range(23):
        start(project_name=f"{PROJECT}·分页{i}", investor=f"分页公司{i}")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        base = live_server
        sign_in(page, base, "zhuren")
        page.goto(f"{base}/projects/")
        page.fill("#project-filters input[name=q]", "分页")
        page.click("#apply-project-filters")
        page.wait_for_load_state()
        first = page.locator("#projects tbody tr").count()
        assert first == 20 and page.locator("#prev-page").count() == 0
        _fits(page)
        box = page.locator("#next-page").bounding_box()
        assert box["height"] >= 40 and box["width"] >= 120  # a thumb's target
        page.click("#next-page")
        page.wait_for_url("**page=2**")
        assert "q=" in page.url and page.locator("#projects tbody tr").count() == 3
        assert page.locator("#project-filters input[name=q]").input_value() == "分页"
        assert page.locator("#next-page").count() == 0 and "第 2 页" in page.locator(".pager").inner_text()
        _fits(page)
        page.click("#prev-page")
        page.wait_for_load_state()
        assert page.locator("#projects tbody tr").count() == 20 and "q=" in page.url
    finally:
        context.close()
