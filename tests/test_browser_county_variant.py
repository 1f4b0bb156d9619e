"""桃江县's own staff take a 一般 project through their county's process variant (docs/process.md "County
variants": filing with the prefecture right after the joint review, 《湘西自治州优势产业精准招商行动计划（2023—2025年）》
§(十三); no review meeting for a 一般 project, 衡政办发〔2025〕11号 §19) in headless Chromium, with CSRF protection on:
each person signs in, finds the task in their inbox, claims it when it is offered to several, fills the form
and submits it, until the project is signed and waits for its first tracking report."""
from __future__ import annotations

import pytest
from browser_support import SCREENSHOTS, serve, sign_in
from sqlalchemy import select

from workflows.demo import DEMO_ANSWERS, DEMO_LEAD, SECOND_COUNTY_USERS

pytestmark = pytest.mark.browser

PROJECT = "浏览器·桃江竹木精深加工项目"
STAFF = {roles[0]: u for u, _n, _c, roles in SECOND_COUNTY_USERS if roles[0] != "dept_reviewer"}
REVIEWERS = {c: u for u, _n, c, roles in SECOND_COUNTY_USERS if roles == ["dept_reviewer"]}

# (who, task name shown in the inbox, answers) — the 湘西州-style order for a 一般 project.
ROUTE = [
    (STAFF["screening_team"], "研判专班初审", {**DEMO_ANSWERS["screening"], "confirmed_class": "一般"}),
    (STAFF["commerce_bureau"], "项目洽谈", {**DEMO_ANSWERS["negotiation"], "amount_wan": "3000"}),
    (STAFF["head_of_office"], "洽谈条件审批", DEMO_ANSWERS["approve_terms"]),
    (REVIEWERS["fgj"], "多部门联合会审", DEMO_ANSWERS["department_review"]),
    (REVIEWERS["sthj"], "多部门联合会审", DEMO_ANSWERS["department_review"]),
    (REVIEWERS["zrzyj"], "多部门联合会审", DEMO_ANSWERS["department_review"]),
    (STAFF["head_of_office"], "报备审批", DEMO_ANSWERS["approve_filing"]),
    ("shishangwu", "备案审查", DEMO_ANSWERS["prefecture_review"]),
    (STAFF["host_site"], "评审材料与要素保障", DEMO_ANSWERS["review_materials"]),
    (STAFF["leading_group_office"], "领导小组办公室预审", DEMO_ANSWERS["pre_review"]),
    (STAFF["legal_reviewer"], "合同审签", DEMO_ANSWERS["contract_review"]),
    (STAFF["commerce_bureau"], "项目签约", {**DEMO_ANSWERS["signing"], "signatories": "桃江县人民政府；乙竹业公司",
                                        "signing_place": "桃江县", "contract_number": "TJ-2026-001"}),
]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('variant') / 'variant.sqlite3'}"


@pytest.fixture(scope="module")
def live_server(database_url):
    with serve(database_url) as url:
        yield url


def fill(page, answers: dict) -> None:
    """Answer the form's fields by name, whatever control the form renders for each."""
    for name, value in answers.items():
        controls = page.locator(f"form [name='{name}']")
        if value is None or controls.count() == 0:
            continue
        first = controls.first
        kind = (first.get_attribute("type") or first.evaluate("e => e.tagName")).lower()
        if kind == "radio":
            page.check(f"form input[name='{name}'][value='{value}']")
        elif kind == "checkbox":
            first.set_checked(value in (True, "true"))
        elif kind == "select":
            first.select_option(str(value))
        elif kind != "hidden":
            first.fill(str(value))


def sign_out(page, base: str) -> None:
    page.click("form[action='/logout'] button[type=submit]")
    page.wait_for_url(f"{base}/login")


def test_taojiang_staff_take_a_general_project_through_their_variant(page, live_server):
    base = live_server
    sign_in(page, base, STAFF["lead_officer"])
    page.goto(f"{base}/projects/new")
    fill(page, {**DEMO_LEAD, "project_name": PROJECT, "investor": "乙竹业公司", "amount_wan": "3000",
                "industry": "竹木加工", "source_org": "桃江县湖北商会"})
    page.click("#submit")
    page.wait_for_url(f"{base}/projects/*")
    pid = int(page.url.rstrip("/").split("/")[-1])
    sign_out(page, base)

    for username, task_name, answers in ROUTE:
        sign_in(page, base, username)
        row = page.locator("#inbox tbody tr", has_text=PROJECT)
        assert row.count() == 1, f"{username} has no {task_name} for the project"
        assert task_name in row.first.inner_text()
        row.first.locator("a").first.click()
        page.wait_for_url(f"{base}/tasks/*")
        if page.locator("#claim").count():
            page.click("#claim")
            page.wait_for_load_state()
        fill(page, answers)
        page.click("#submit")
        page.wait_for_url(f"{base}/projects/{pid}")
        assert "已提交" in page.locator(".flash").inner_text(), f"{task_name}: {page.locator('.flash').inner_text()}"
        sign_out(page, base)

    # Signed and filed; the project now waits for its first tracking report.
    sign_in(page, base, STAFF["commerce_bureau"])
    page.goto(f"{base}/projects/{pid}")
    body = page.locator("main").inner_text()
    assert "履约跟踪" in body and "TJ-2026-001" in body
    page.screenshot(path=str(SCREENSHOTS / "county-variant-signed.png"), full_page=True)

    from workflows.db import transaction
    from workflows.models import Filing, ProcessInstance, TaskRecord

    with transaction() as s:
        instance = s.get(ProcessInstance, pid)
        done = [r.spec_name for r in s.scalars(select(TaskRecord).where(
            TaskRecord.instance_id == pid, TaskRecord.state == "completed", TaskRecord.lane.is_not(None))
            .order_by(TaskRecord.completed_at, TaskRecord.id))]
        filing = s.scalar(select(Filing).where(Filing.instance_id == pid))
    assert (instance.status, instance.stage, instance.project_class) == ("running", "履约跟踪", "一般")
    assert filing.state == "已签约" and filing.number
    users = [d for d in done if d in {"approve_filing", "prefecture_review", "review_materials", "pre_review",
                                      "review_meeting", "contract_review", "signing"}]
    # The filing before the host site's materials; no review meeting for a 一般 project.
    assert users == ["approve_filing", "prefecture_review", "review_materials", "pre_review", "contract_review",
                     "signing"]
