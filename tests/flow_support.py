"""Drive projects through the browser's HTTP requests, one signed-in user at a time."""
from __future__ import annotations

import re
from datetime import date

PASSWORD = "Demo@2026"

LEAD = {
    "project_name": "年产10万吨稻虾深加工项目", "investor": "湖南洞庭食品有限公司", "industry": "农产品加工·稻虾产业链",
    "amount_wan": "25000", "currency": "CNY", "host_site": "jkq", "source_channel": "商协会",
    "source_org": "南县湖北商会", "contact_name": "王建国", "contact_phone": "13800138000",
    "plan_summary": "建设稻虾精深加工生产线及冷链仓储。",
}

# Valid default answers per form; tests override the decision fields.
ANSWERS = {
    "screening": {"screening_decision": "通过", "confirmed_class": None, "negative_list_ok": "true",
                  "industry_policy_ok": "true", "eco_redline_ok": "true", "land_plan_ok": "true",
                  "energy_ok": "true", "screening_opinion": "无准入障碍，同意进入洽谈。"},
    "supplement_lead": {"supplement_note": "已补充投资计划书及资金证明。"},
    "negotiation": {"negotiation_decision": "达成一致", "amount_wan": "25000", "currency": "CNY",
                    "land_mu": "120", "tax_per_mu_wan": "25", "annual_output_wan": "60000", "jobs": "300",
                    "incentives": "按县现行政策执行", "negotiation_minutes": "双方就投资规模、用地和进度达成一致。",
                    "negotiation_opinion": "建议提交联合会审。"},
    "approve_terms": {"terms_decision": "同意", "terms_opinion": "同意洽谈条件。"},
    "department_review": {"review_decision": "同意", "review_opinion": "符合本部门要求。"},
    "objection_decision": {"objection_decision": "重新洽谈", "objection_opinion": "按部门意见重新洽谈。"},
    "review_materials": {"materials_summary": "评审材料齐全。", "land_guarantee": "已落实用地指标",
                         "power_guarantee": "可保障", "water_guarantee": "可保障",
                         "factor_guarantee_opinion": "要素保障到位。"},
    "pre_review": {"pre_review_decision": "通过", "pre_review_opinion": "材料齐全，提交评审会。"},
    "review_meeting": {"meeting_decision": "通过", "meeting_date": date.today().isoformat(),
                       "meeting_opinion": "评审通过。"},
    "supplement_materials": {"supplement_materials_note": "已按评审会要求补充材料。"},
    "executive_meeting": {"exec_decision": "同意", "exec_meeting_type": "县政府常务会议",
                          "exec_minutes_number": "南府阅〔2026〕12号", "exec_meeting_date": date.today().isoformat(),
                          "exec_opinion": "同意签约。"},
    "contract_review": {"contract_decision": "通过", "legality_ok": "true", "fair_competition_ok": "true",
                        "contract_opinion": "合同条款合法，优惠条款经公平竞争审查。"},
    "approve_filing": {"filing_approval": "同意报备", "filing_approval_opinion": "同意报市商务局备案。"},
    "prefecture_review": {"prefecture_decision": "受理", "prefecture_opinion": "准予备案。"},
    "revise_filing": {"revise_note": "已按退回意见修改备案材料。"},
    "signing": {"contract_number": "NX-2026-001", "sign_date": date.today().isoformat(),
                "signatories": "南县人民政府；湖南洞庭食品有限公司", "signing_place": "南县", "signing_opinion": "签约完成。"},
}

# Who does each task in the demo data (department tasks: by unit code).
DOER = {
    "screening": "yanpan", "supplement_lead": "zhaoshang", "negotiation": "shangwu", "approve_terms": "zhuren",
    "objection_decision": "shangwu", "review_materials": "luohu", "pre_review": "yushen",
    "review_meeting": "fuxianzhang", "supplement_materials": "shangwu", "executive_meeting": "mishu",
    "contract_review": "fazhi", "approve_filing": "zhuren", "prefecture_review": "shishangwu",
    "revise_filing": "shangwu", "signing": "shangwu",
}
DEPT_REVIEWER = {"fgj": "rev_fgj", "sthj": "rev_sthj", "zrzyj": "rev_zrzyj", "swj": "rev_swj", "kgxj": "rev_kgxj",
                 "zjj": "rev_zjj", "slj": "rev_slj", "yjglj": "rev_yjglj", "lyj": "rev_lyj"}


def login(client, username: str, password: str = PASSWORD):
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, f"{username} could not sign in"
    return response


def register_lead(client, **overrides) -> int:
    login(client, "zhaoshang")
    data = {**LEAD, **overrides}
    response = client.post("/projects/new", data={k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302, response.data.decode()[:3000]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def inbox_task_ids(client, project_name: str) -> list[int]:
    html = client.get("/").data.decode()
    ids = []
    for row in re.findall(r'<tr class="[^"]*" data-task-id="(\d+)">(.*?)</tr>', html, re.DOTALL):
        if project_name in row[1]:
            ids.append(int(row[0]))
    return ids


def ready_tasks(app, instance_id: int) -> list[tuple[int, str, str | None]]:
    """(task id, spec name, unit) of the ready tasks — read from the index, as an observer."""
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import TaskRecord

    with transaction() as s:
        rows = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance_id,
                                                  TaskRecord.state == "ready").order_by(TaskRecord.id))
        return [(r.id, r.spec_name, r.unit_code) for r in rows]


def do_task(client, username: str, task_id: int, answers: dict, expect: int = 302):
    """Sign in, claim (if needed) and submit a task, as a person does."""
    login(client, username)
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200, page.data.decode()[:2000]
    if 'id="claim"' in page.data.decode():
        assert client.post(f"/tasks/{task_id}/claim").status_code == 302
    response = client.post(f"/tasks/{task_id}", data={k: v for k, v in answers.items() if v is not None})
    assert response.status_code == expect, response.data.decode()[:3000]
    return response


def step(app, client, instance_id: int, spec: str, **overrides) -> None:
    """Complete the one ready task `spec` of the project as its demo doer."""
    tasks = [t for t in ready_tasks(app, instance_id) if t[1] == spec]
    assert tasks, f"{spec} is not ready; ready: {ready_tasks(app, instance_id)}"
    task_id, _, unit = tasks[0]
    username = DEPT_REVIEWER[unit] if spec == "department_review" else DOER[spec]
    if spec == "review_materials":
        username = {"jkq": "luohu", "nykjyq": "luohu_nyq", "nzz": "luohu_nzz", "mcjz": "luohu_mcj"}[unit]
    do_task(client, username, task_id, {**ANSWERS[spec], **overrides})


def all_departments_agree(app, client, instance_id: int, objections: dict[str, str] | None = None) -> list[str]:
    """Every department answers the joint review; `objections` maps unit code → decision."""
    objections = objections or {}
    units = []
    for task_id, spec, unit in ready_tasks(app, instance_id):
        if spec != "department_review":
            continue
        units.append(unit)
        answers = dict(ANSWERS["department_review"])
        decision = objections.get(unit)
        if decision == "不同意":
            answers |= {"review_decision": "不同意", "review_reasons": "用地不符合国土空间规划。"}
        elif decision == "有条件同意":
            answers |= {"review_decision": "有条件同意", "review_conditions": "须先完成环评审批。"}
        do_task(client, DEPT_REVIEWER[unit], task_id, answers)
    return units


def project_page(client, instance_id: int, username: str = "shangwu") -> str:
    login(client, username)
    response = client.get(f"/projects/{instance_id}")
    assert response.status_code == 200
    return response.data.decode()


def status_of(app, instance_id: int) -> tuple[str, str | None]:
    from workflows.db import transaction
    from workflows.models import ProcessInstance

    with transaction() as s:
        instance = s.get(ProcessInstance, instance_id)
        return instance.status, instance.outcome
