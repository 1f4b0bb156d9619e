"""The investor-complaint process in headless Chromium: the commerce bureau registers and routes a
complaint (a wrong field keeps what was typed), the responsible department answers it from its inbox,
and the bureau records the investor's view. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import pytest
from browser_support import SCREENSHOTS, serve, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(tmp_path):
    with serve(f"sqlite:///{tmp_path / 'complaints.sqlite3'}") as url:
        yield url


def _sign_out(page, base: str) -> None:
    page.locator(".who").get_by_role("button", name="退出").click()
    page.wait_for_url(f"{base}/login")


def test_a_complaint_is_registered_answered_and_closed_in_the_browser(page, live_server):
    base = live_server
    sign_in(page, base, "shangwu")
    page.get_by_role("link", name="投资者投诉").click()
    page.click("#new-complaint")
    page.fill("#in-investor", "湖南洞庭食品有限公司")
    page.fill("#in-contact_name", "李明")
    page.fill("#in-contact_phone", "电话号码")  # wrong on purpose
    page.check("input[name=channel][value=投诉电话]")
    page.fill("#in-subject", "用地手续办理迟缓")
    page.fill("#in-content", "材料已提交两个月，未获任何答复。")
    page.select_option("select[name=responsible_unit]", "zrzyj")
    page.click("#submit")
    assert page.locator('[data-error-for="contact_phone"]').is_visible()
    assert page.input_value("#in-content") == "材料已提交两个月，未获任何答复。"  # nothing typed is lost
    page.fill("#in-contact_phone", "13800000000")
    page.click("#submit")
    assert "投诉已登记" in page.locator("main .flash").inner_text()
    assert page.locator("#stage").inner_text() == "责任部门答复"
    _sign_out(page, base)

    sign_in(page, base, "rev_zrzyj")
    page.get_by_role("link", name="用地手续办理迟缓").first.click()
    assert page.locator("#sole-candidate").is_visible()  # the only reviewer: no 认领 first
    assert "材料已提交两个月" in page.locator("main").inner_text()
    page.fill("#in-facts", "经核查，材料缺少土地权属证明。")
    page.fill("#in-answer", "已一次性告知需补正材料，补正后5个工作日内办结。")
    page.click("#submit")
    _sign_out(page, base)

    sign_in(page, base, "shangwu")
    page.get_by_role("link", name="用地手续办理迟缓").first.click()
    assert page.locator("#sole-candidate").is_visible()
    assert "已一次性告知需补正材料" in page.locator("main").inner_text()
    page.check("input[name=investor_feedback][value=满意]")
    page.click("#submit")
    page.goto(f"{base}/complaints/")
    row = page.locator("#complaints tbody tr", has_text="用地手续办理迟缓")
    assert "投诉已办结" in row.inner_text() and "已办结" in row.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "complaints.png"), full_page=True)
