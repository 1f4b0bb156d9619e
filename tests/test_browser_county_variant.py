"""Each demo county's own staff take a 一般 project through the process variant their county runs, in the
browser: 南县 the full route of 南政发〔2022〕6号 §(九), 桃江县 its county variant (docs/process.md "County
variants": filing with the prefecture right after the joint review, 《湘西自治州优势产业精准招商行动计划
（2023—2025年）》 §(十三); no review meeting for a 一般 project, 衡政办发〔2025〕11号 §19) in headless
Chromium, with CSRF protection on: each person signs in, finds the task in their inbox, claims it when it is
offered to several, fills the form and submits it, until the project is signed and waits for its first
tracking report."""

from __future__ import annotations

import pytest
from browser_support import SCREENSHOTS, serve, sign_in
from sqlalchemy import select

from workflows.demo import DEMO_ANSWERS, DEMO_LEAD, DEPT_REVIEWER, DOER, HOSTS, SECOND_COUNTY_USERS

pytestmark = pytest.mark.browser

PROJECT = "浏览器·{county}竹木精深加工项目"
STAFF = {roles[0]: u for u, _n, _c, roles in SECOND_COUNTY_USERS if roles[0] != "dept_reviewer"}
REVIEWERS = {c: u for u, _n, c, roles in SECOND_COUNTY_USERS if roles == ["dept_reviewer"]}

NANXIAN_STAFF = {
    "lead_officer": "zhaoshang",
    **{
        k: DOER[t]
        for k, t in (
            ("screening_team", "screening"),
            ("commerce_bureau", "negotiation"),
            ("head_of_office", "approve_terms"),
            ("leading_group_office", "pre_review"),
            ("vice_county_head", "review_meeting"),
            ("legal_reviewer", "contract_review"),
        )
    },
    "host_site": HOSTS["jkq"],
}
SIGNING = {**DEMO_ANSWERS["signing"], "contract_number": "XB-2026-001"}
SCREEN = {**DEMO_ANSWERS["screening"], "confirmed_class": "一般"}
NEGOTIATE = {**DEMO_ANSWERS["negotiation"], "amount_wan": "3000"}

# (who, task name shown in the inbox, answers) in the order each county's process offers them for a 一般
# project.
ROUTES = {
    "桃江县": [  # the county variant: the filing right after the joint review, three departments, no meeting
        (STAFF["screening_team"], "研判专班初审", SCREEN),
        (STAFF["commerce_bureau"], "项目洽谈", NEGOTIATE),
        (STAFF["head_of_office"], "洽谈条件审批", DEMO_ANSWERS["approve_terms"]),
        *[
            (REVIEWERS[unit], "多部门联合会审", DEMO_ANSWERS["department_review"])
            for unit in ("fgj", "sthj", "zrzyj")
        ],
        (STAFF["head_of_office"], "报备审批", DEMO_ANSWERS["approve_filing"]),
        ("shishangwu", "备案审查", DEMO_ANSWERS["prefecture_review"]),
        (STAFF["host_site"], "评审材料与要素保障", DEMO_ANSWERS["review_materials"]),
        (STAFF["leading_group_office"], "领导小组办公室预审", DEMO_ANSWERS["pre_review"]),
        (STAFF["legal_reviewer"], "合同审签", DEMO_ANSWERS["contract_review"]),
        (STAFF["commerce_bureau"], "项目签约", SIGNING),
    ],
    "南县": [  # the full route: five departments, the review meeting, the filing after contract review
        (NANXIAN_STAFF["screening_team"], "研判专班初审", SCREEN),
        (NANXIAN_STAFF["commerce_bureau"], "项目洽谈", NEGOTIATE),
        (NANXIAN_STAFF["head_of_office"], "洽谈条件审批", DEMO_ANSWERS["approve_terms"]),
        *[
            (DEPT_REVIEWER[unit], "多部门联合会审", DEMO_ANSWERS["department_review"])
            for unit in ("fgj", "sthj", "zrzyj", "swj", "kgxj")
        ],
        (NANXIAN_STAFF["host_site"], "评审材料与要素保障", DEMO_ANSWERS["review_materials"]),
        (NANXIAN_STAFF["leading_group_office"], "领导小组办公室预审", DEMO_ANSWERS["pre_review"]),
        (NANXIAN_STAFF["vice_county_head"], "项目评审会", DEMO_ANSWERS["review_meeting"]),
        (NANXIAN_STAFF["legal_reviewer"], "合同审签", DEMO_ANSWERS["contract_review"]),
        (NANXIAN_STAFF["head_of_office"], "报备审批", DEMO_ANSWERS["approve_filing"]),
        ("shishangwu", "备案审查", DEMO_ANSWERS["prefecture_review"]),
        (NANXIAN_STAFF["commerce_bureau"], "项目签约", SIGNING),
    ],
}
ORDER = {  # the user tasks after the joint review, as docs/process.md "County variants" documents them
    "桃江县": [
        "approve_filing",
        "prefecture_review",
        "review_materials",
        "pre_review",
        "contract_review",
        "signing",
    ],
    "南县": [
        "review_materials",
        "pre_review",
        "review_meeting",
        "contract_review",
        "approve_filing",
        "prefecture_review",
        "signing",
    ],
}
LEAD = {"桃江县": STAFF["lead_officer"], "南县": NANXIAN_STAFF["lead_officer"]}


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


@pytest.mark.parametrize("county", ["桃江县", "南县"])
def test_county_staff_take_a_general_project_through_their_variant(page, live_server, county):
    base, project = live_server, PROJECT.format(county=county)
    sign_in(page, base, LEAD[county])
    page.goto(f"{base}/projects/new")
    fill(
        page,
        {
            **DEMO_LEAD,
            "project_name": project,
            "investor": f"{county}乙竹业有限公司",
            "amount_wan": "3000",
            "industry": "竹木加工",
            "source_org": "桃江县湖北商会",
        },
    )
    page.click("#submit")
    page.wait_for_url(f"{base}/projects/*")
    pid = int(page.url.rstrip("/").split("/")[-1])
    sign_out(page, base)

    for username, task_name, answers in ROUTES[county]:
        sign_in(page, base, username)
        row = page.locator("#inbox tbody tr", has_text=project)
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
        assert "已提交" in page.locator(".flash").inner_text(), (
            f"{task_name}: {page.locator('.flash').inner_text()}"
        )
        sign_out(page, base)

    # Signed and filed; the project now waits for its first tracking report.
    sign_in(page, base, ROUTES[county][-1][0])
    page.goto(f"{base}/projects/{pid}")
    body = page.locator("main").inner_text()
    assert "履约跟踪" in body and "XB-2026-001" in body
    page.screenshot(path=str(SCREENSHOTS / f"county-variant-signed-{county}.png"), full_page=True)

    from workflows.db import transaction
    from workflows.models import Filing, ProcessInstance, TaskRecord

    with transaction() as s:
        instance = s.get(ProcessInstance, pid)
        done = [
            r.spec_name
            for r in s.scalars(
                select(TaskRecord)
                .where(
                    TaskRecord.instance_id == pid,
                    TaskRecord.state == "completed",
                    TaskRecord.lane.is_not(None),
                )
                .order_by(TaskRecord.completed_at, TaskRecord.id)
            )
        ]
        filing = s.scalar(select(Filing).where(Filing.instance_id == pid))
    assert (instance.status, instance.stage, instance.project_class) == ("running", "履约跟踪", "一般")
    assert filing.state == "已签约" and filing.number
    after_review = [d for d in done if d in ORDER["南县"]]
    assert after_review == ORDER[county]
