"""加签 / 减签, the inbox's filters and tabs, and the head of office's approval page, in headless Chromium.

Each test has a fresh database (the inbox's tab counts are exact), served with CSRF on; projects are
brought to their stage through the service API (tests/service_support.py), then people click in the
browser. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from browser_support import SCREENSHOTS, serve, sign_in
from service_support import advance, ready, start
from sqlalchemy import select, update

from workflows.db import transaction
from workflows.demo import FULL_PATH, actor
from workflows.localtime import to_local
from workflows.models import TaskRecord, User
from workflows.models._types import utcnow
from workflows.services import project_service, stand_in_service

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(tmp_path):
    """A fresh database, served; creating the app also binds the service API to it."""
    with serve(f"sqlite:///{tmp_path / 'review_ops.sqlite3'}") as url:
        yield url


# --- helpers -------------------------------------------------------------------------------------


def _to_joint_review(name: str, **lead) -> int:
    pid = start(project_name=name, **lead)
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation")
    advance(pid, "approve_terms")
    assert {r.unit_code for r in ready(pid)} == {"fgj", "sthj", "zrzyj", "swj", "kgxj"}
    return pid


def _ready_task(pid: int, spec: str) -> TaskRecord:
    (record,) = [r for r in ready(pid) if r.spec_name == spec]
    return record


def _user_id(username: str) -> int:
    with transaction() as s:
        return s.scalar(select(User.id).where(User.username == username))


def sign_out(page, base: str) -> None:
    page.locator(".who").get_by_role("button", name="退出").click()
    page.wait_for_url(f"{base}/login")


def flash_text(page) -> str:
    return " ".join(page.locator("main .flash").all_inner_texts())


def history_rows(page, action: str):
    """Rows of the project page's 办理历史 whose 动作 column is exactly `action`."""
    return page.locator(
        "#history tbody tr", has=page.locator("td:nth-child(3)", has_text=re.compile(f"^{action}$"))
    )


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# --- 加签 / 减签 ----------------------------------------------------------------------------------


def test_add_a_department_which_then_answers_in_a_supplementary_round(page, live_server):
    name = "浏览器加签测试·稻虾深加工项目"
    reason = "项目新建厂房，需住建部门审查建设条件。"
    pid = _to_joint_review(name)

    sign_in(page, live_server, "shangwu")
    page.goto(f"{live_server}/projects/{pid}")
    section = page.locator("#review-change")
    assert "会审中的部门：发改局、科工信局、生态环境分局、商务局、自然资源局" in section.inner_text()
    page.select_option("#add-unit", label="住建局")
    page.click("#add-department-submit")  # no reason: refused, and said so next to the field
    assert "请填写理由" in page.locator("[data-error-for=review_reason]").inner_text()
    page.select_option("#add-unit", label="住建局")
    page.fill("#add-reason", reason)
    page.click("#add-department-submit")
    page.wait_for_url(f"{live_server}/projects/{pid}")
    assert "已加签" in flash_text(page)
    pending = page.locator("#pending-departments li")
    assert pending.count() == 1 and "住建局" in pending.inner_text()
    assert page.locator("#add-unit option", has_text="住建局").count() == 0  # cannot be added twice
    added = history_rows(page, "加签")
    assert added.count() == 1 and reason in added.inner_text() and "张强" in added.inner_text()
    shot(page, "review_add_department")

    # The five departments answer; then 住建局 is asked in a supplementary round of its own.
    advance(pid, "department_review")
    task_id = _ready_task(pid, "supplementary_review").id
    sign_out(page, live_server)
    sign_in(page, live_server, "rev_zjj")
    row = page.locator("#inbox tbody tr", has_text=name)
    assert row.count() == 1 and row.get_attribute("data-task-id") == str(task_id)
    assert "加签部门会审" in row.inner_text()
    row.locator("a").click()
    page.wait_for_url(f"{live_server}/tasks/{task_id}")
    assert page.locator("#sole-candidate").is_visible()  # 住建局's only reviewer acts without claiming
    page.check("input[name=review_decision][value='有条件同意']")
    page.fill("textarea[name=review_conditions]", "厂房须按抗震设防要求设计并办理施工许可。")
    page.fill("textarea[name=review_opinion]", "原则同意。")
    page.click("#submit")
    page.wait_for_url(f"{live_server}/projects/{pid}")
    assert "已提交" in flash_text(page)
    assert [r.spec_name for r in ready(pid)] == ["review_materials"]  # the review is over
    zjj = page.locator("#joint-review tbody tr", has_text="县住房和城乡建设局")
    assert zjj.get_attribute("class") == "conditional" and "抗震设防" in zjj.inner_text()
    assert history_rows(page, "加签").count() == 1
    shot(page, "review_supplementary_answered")


def test_remove_an_added_department_before_it_answers(page, live_server):
    name = "浏览器减签测试·稻虾深加工项目"
    pid = _to_joint_review(name)

    sign_in(page, live_server, "shangwu")
    page.goto(f"{live_server}/projects/{pid}")
    page.select_option("#add-unit", label="水利局")
    page.fill("#add-reason", "项目取水量较大。")
    page.click("#add-department-submit")
    page.wait_for_url(f"{live_server}/projects/{pid}")
    pending = page.locator("#pending-departments li", has_text="水利局")
    assert pending.count() == 1

    pending.locator("input[name=reason]").fill("经核实取水量未达许可标准，不需水利局会审。")
    pending.get_by_role("button", name="减签").click()
    page.wait_for_url(f"{live_server}/projects/{pid}")
    assert "已减签" in flash_text(page)
    assert page.locator("#pending-departments").count() == 0
    assert page.locator("#add-unit option", has_text="水利局").count() == 1  # may be added again
    removed = history_rows(page, "减签")
    assert removed.count() == 1 and "不需水利局会审" in removed.inner_text()
    shot(page, "review_remove_department")

    # No supplementary round: once the five departments answer, the project moves on.
    advance(pid, "department_review")
    assert [r.spec_name for r in ready(pid)] == ["review_materials"]


# --- the inbox ------------------------------------------------------------------------------------


def inbox_names(page) -> list[str]:
    """Project names of the visible 待办/已办 rows, top to bottom."""
    return page.locator("#inbox tbody tr td:first-child").all_inner_texts()


def apply_filters(
    page,
    q: str = "",
    stage: str = "",
    unit: str = "",
    project_class: str = "",
    overdue: bool = False,
    sort: str = "due",
) -> None:
    """Set every control of the filter bar (so that none is left over from before), then 筛选."""
    form = page.locator("#filters")
    form.locator("input[name=q]").fill(q)
    form.locator("select[name=stage]").select_option(value=stage)
    form.locator("select[name=unit]").select_option(value=unit)
    form.locator("select[name=class]").select_option(value=project_class)
    form.locator("input[name=overdue]").set_checked(overdue)
    form.locator("select[name=sort]").select_option(value=sort)
    with page.expect_navigation():
        page.click("#apply-filters")


def test_inbox_tabs_filters_search_and_sort(page, live_server):
    a = start(project_name="甲·稻虾深加工项目", investor="湖南洞庭食品有限公司", amount_wan="25000")
    b = start(project_name="乙·电池配件项目", investor="湖南锂晟新能源科技有限公司", amount_wan="3000")
    c = start(project_name="丙·冷链物流园项目", investor="益阳冷链物流有限公司", amount_wan="12000")
    for pid, project_class in ((a, "重大"), (b, "一般"), (c, "重点")):
        advance(pid, "screening", confirmed_class=project_class)
    advance(c, "negotiation", amount_wan="12000")  # done by 张强: his 已办
    advance(c, "approve_terms")
    # 请假代理: the 发改局 and 自然资源局 reviewers are on leave; their joint-review tasks reach 张强.
    shangwu = _user_id("shangwu")
    today = to_local(utcnow()).date()
    for absent in ("rev_fgj", "rev_zrzyj"):
        stand_in_service.stand_in_set(
            actor(absent), shangwu, today.isoformat(), (today + timedelta(days=7)).isoformat()
        )
    project_service.project_copy(actor("zhaoshang"), a, [shangwu], "请关注用地规模。")
    # Move 乙's negotiation deadline into the past, as tests/test_inbox.py does, rather than wait.
    with transaction() as s:
        s.execute(
            update(TaskRecord)
            .where(TaskRecord.instance_id == b, TaskRecord.state == "ready")
            .values(due_at=utcnow() - timedelta(days=1))
        )

    sign_in(page, live_server, "shangwu")
    counts = {
        tab: page.locator(f"[data-count={tab}]").inner_text() for tab in ("todo", "done", "started", "copied")
    }
    assert counts == {"todo": "4", "done": "1", "started": "0", "copied": "1"}
    assert "未读 1" in page.locator("#tab-copied").inner_text()
    every = ["乙·电池配件项目", "甲·稻虾深加工项目", "丙·冷链物流园项目", "丙·冷链物流园项目"]
    assert sorted(inbox_names(page)) == sorted(every)
    overdue_row = page.locator("#inbox tbody tr.overdue")
    assert overdue_row.count() == 1 and "乙·电池配件项目" in overdue_row.inner_text()
    assert "已超期" in overdue_row.inner_text()
    assert page.locator("select[name=unit] option").all_inner_texts() == [
        "全部部门",
        "县发展和改革局",
        "县自然资源局",
    ]
    shot(page, "inbox_filters")

    apply_filters(page, q="锂晟")  # an investor
    assert inbox_names(page) == ["乙·电池配件项目"]
    apply_filters(page, q="冷链物流园")  # a project name
    assert inbox_names(page) == ["丙·冷链物流园项目"] * 2
    apply_filters(page, q="不存在的项目")
    assert page.locator("#inbox").count() == 0 and "暂无待办任务" in page.locator("main").inner_text()

    apply_filters(page, project_class="重大")
    assert inbox_names(page) == ["甲·稻虾深加工项目"]
    apply_filters(page, project_class="一般")
    assert inbox_names(page) == ["乙·电池配件项目"]

    apply_filters(page, stage="项目洽谈")
    assert sorted(inbox_names(page)) == ["乙·电池配件项目", "甲·稻虾深加工项目"]
    apply_filters(page, stage="多部门联合会审")
    assert inbox_names(page) == ["丙·冷链物流园项目"] * 2
    apply_filters(page, stage="多部门联合会审", unit="zrzyj")
    (row,) = page.locator("#inbox tbody tr").all()
    assert "县自然资源局" in row.inner_text() and "县发展和改革局" not in row.inner_text()

    apply_filters(page, overdue=True)
    assert inbox_names(page) == ["乙·电池配件项目"]

    # By deadline, 乙 (overdue) comes first; by waiting time, the oldest arrival (甲's negotiation).
    apply_filters(page, sort="due")
    assert inbox_names(page)[0] == "乙·电池配件项目"
    apply_filters(page, sort="waiting")
    assert inbox_names(page) == [
        "甲·稻虾深加工项目",
        "乙·电池配件项目",
        "丙·冷链物流园项目",
        "丙·冷链物流园项目",
    ]

    page.click("#tab-done")
    assert page.locator("#tab-done").get_attribute("aria-selected") == "true"
    assert (
        inbox_names(page) == ["丙·冷链物流园项目"] and "项目洽谈" in page.locator("#inbox tbody").inner_text()
    )
    page.click("#tab-started")
    assert "暂无记录" in page.locator("main").inner_text()
    page.click("#tab-copied")
    assert page.locator("#inbox-projects tbody td:first-child").all_inner_texts() == ["甲·稻虾深加工项目"]


# --- the head of office's approval page ----------------------------------------------------------


def test_the_head_of_office_approval_page_shows_every_departments_opinion(page, live_server):
    name = "浏览器审批页测试·稻虾深加工项目"
    pid = _to_joint_review(name)
    opinions = {
        "fgj": "符合产业政策，同意。",
        "zrzyj": "用地符合国土空间规划。",
        "swj": "投资强度达标。",
        "kgxj": "符合园区产业定位。",
    }
    for unit, opinion in opinions.items():
        advance(pid, "department_review", only_units={unit}, review_opinion=opinion)
    condition = "须先完成环境影响评价审批，废水须达标排放。"
    advance(
        pid,
        "department_review",
        only_units={"sthj"},
        review_decision="有条件同意",
        review_conditions=condition,
        review_opinion="原则同意。",
    )
    for spec in FULL_PATH[FULL_PATH.index("review_materials") : FULL_PATH.index("approve_filing")]:
        advance(pid, spec, **({"conditions_in_contract": "true"} if spec == "contract_review" else {}))
    task_id = _ready_task(pid, "approve_filing").id

    sign_in(page, live_server, "zhuren")
    page.goto(f"{live_server}/tasks/{task_id}")
    assert "报备审批" in page.locator("h1").inner_text()
    assert page.locator("#sole-candidate").is_visible()  # the only head of office: the form at once
    assert page.locator("input[name=filing_approval]").count() >= 2
    summary = page.locator("#joint-review")
    assert "联合会审意见汇总" in summary.locator("h2").inner_text()
    rows = {r.locator("td").first.inner_text(): r for r in summary.locator("tbody tr").all()}
    assert set(rows) == {
        "县发展和改革局",
        "市生态环境局南县分局",
        "县自然资源局",
        "县商务局（县投资促进服务中心）",
        "县科学技术和工业信息化局",
    }
    for unit_name, opinion in (
        ("县发展和改革局", opinions["fgj"]),
        ("县自然资源局", opinions["zrzyj"]),
        ("县商务局（县投资促进服务中心）", opinions["swj"]),
        ("县科学技术和工业信息化局", opinions["kgxj"]),
    ):
        assert opinion in rows[unit_name].inner_text() and "同意" in rows[unit_name].inner_text()
    conditional = rows["市生态环境局南县分局"]
    assert conditional.get_attribute("class") == "conditional" and condition in conditional.inner_text()
    # The condition stands out: its row is coloured differently from the plain agreements.
    background = "el => getComputedStyle(el).backgroundColor"
    assert conditional.locator("td").first.evaluate(background) != rows["县发展和改革局"].locator(
        "td"
    ).first.evaluate(background)
    shot(page, "approval_page")
