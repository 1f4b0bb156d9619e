"""Each responsible user signs in and takes a project through its stages, over HTTP."""

from __future__ import annotations

import re

from flow_support import (
    all_departments_agree,
    login,
    project_page,
    ready_tasks,
    register_lead,
    status_of,
    step,
    steps,
)


def _through_joint_review(app, client, pid, screening_class="重大"):
    step(app, client, pid, "screening", confirmed_class=screening_class)
    steps(app, client, pid, "negotiation", "approve_terms")
    return all_departments_agree(app, client, pid)


def _specs(app, pid):
    return [spec for _, spec, _ in ready_tasks(app, pid)]


def test_major_project_goes_through_every_stage_to_signing(app, client):
    pid = register_lead(client)
    assert _specs(app, pid) == ["screening"]
    units = _through_joint_review(app, client, pid)
    # 《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三): 发改、生态环境、自然资源、商务、工信
    # review every project.
    assert {"fgj", "sthj", "zrzyj", "swj", "kgxj"} <= set(units)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting")
    # 重大 (≥ 2 亿元, 《郴州市关于进一步加强招商引资工作的实施意见》 §9) goes to the county executive meeting
    # (南政发〔2022〕6号 §(九)).
    assert _specs(app, pid) == ["executive_meeting"]
    steps(app, client, pid, "executive_meeting", "contract_review", "approve_filing", "prefecture_review")
    assert _specs(app, pid) == ["signing"]
    page = project_page(client, pid)
    number = re.search(r'id="filing-number">([^<]+)<', page).group(1)
    assert re.fullmatch(r"益商备〔\d{4}〕0001号", number)
    step(app, client, pid, "signing")
    assert status_of(app, pid) == ("running", None)  # signed; tracked after signing
    login(client, "shishangwu")
    filings = client.get("/filings/").data.decode()
    assert "年产10万吨稻虾深加工项目" in filings and number in filings and "NX-2026-001" in filings


def test_general_project_skips_the_executive_meeting(app, client):
    pid = register_lead(client, amount_wan="3000", project_name="小型农机配件项目", investor="南县农机配件厂")
    step(app, client, pid, "screening", confirmed_class="一般")
    step(app, client, pid, "negotiation", amount_wan="3000")
    step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting")
    assert _specs(app, pid) == ["contract_review"]
    steps(app, client, pid, "contract_review", "approve_filing", "prefecture_review", "signing")
    assert status_of(app, pid) == ("running", None)  # signed; tracked after signing


def test_special_terms_send_a_general_project_to_the_executive_meeting(app, client):
    pid = register_lead(client, amount_wan="3000", project_name="一事一议项目", investor="某一事一议公司")
    step(app, client, pid, "screening", confirmed_class="一般")
    step(
        app,
        client,
        pid,
        "negotiation",
        amount_wan="3000",
        special_terms="true",
        special_terms_detail="申请额外三年租金减免",
    )
    step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting")
    assert _specs(app, pid) == ["executive_meeting"]


def test_a_department_objection_loops_back_to_negotiation_and_then_passes(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    steps(app, client, pid, "negotiation", "approve_terms")
    all_departments_agree(app, client, pid, objections={"zrzyj": "不同意", "sthj": "有条件同意"})
    assert _specs(app, pid) == ["objection_decision"]
    step(app, client, pid, "objection_decision")
    assert _specs(app, pid) == ["negotiation"]
    steps(app, client, pid, "negotiation", "approve_terms")
    all_departments_agree(app, client, pid)
    assert _specs(app, pid) == ["review_materials"]


def test_screening_return_goes_back_to_the_registering_officer_and_resubmits(app, client):
    pid = register_lead(client)
    step(
        app,
        client,
        pid,
        "screening",
        screening_decision="退回补充",
        confirmed_class="重大",
        screening_opinion="请补充资金来源证明。",
    )
    tasks = ready_tasks(app, pid)
    assert [t[1] for t in tasks] == ["supplement_lead"]
    # Assigned to the one who registered it, not to every lead officer.
    login(client, "zhaoshang2")
    assert client.get(f"/tasks/{tasks[0][0]}").status_code == 403
    step(app, client, pid, "supplement_lead", **{k: v for k, v in __import__("flow_support").LEAD.items()})
    assert _specs(app, pid) == ["screening"]
    step(app, client, pid, "screening", confirmed_class="重大")
    assert _specs(app, pid) == ["negotiation"]


def test_review_meeting_postponement_goes_through_supplement_and_pre_review_again(app, client):
    pid = register_lead(client)
    _through_joint_review(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review")
    step(app, client, pid, "review_meeting", meeting_decision="暂缓", meeting_opinion="补充能耗评估。")
    assert _specs(app, pid) == ["supplement_materials"]
    step(app, client, pid, "supplement_materials")
    assert _specs(app, pid) == ["pre_review"]
    steps(app, client, pid, "pre_review", "review_meeting")
    assert _specs(app, pid) == ["executive_meeting"]


def test_pre_review_can_send_materials_back_to_the_host_site(app, client):
    pid = register_lead(client)
    _through_joint_review(app, client, pid)
    step(app, client, pid, "review_materials")
    step(app, client, pid, "pre_review", pre_review_decision="退回落户地")
    assert _specs(app, pid) == ["review_materials"]


def test_prefecture_return_and_refiling(app, client):
    pid = register_lead(client, amount_wan="3000", project_name="退回备案项目", investor="退回备案公司")
    step(app, client, pid, "screening", confirmed_class="一般")
    step(app, client, pid, "negotiation", amount_wan="3000")
    step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid)
    steps(
        app,
        client,
        pid,
        "review_materials",
        "pre_review",
        "review_meeting",
        "contract_review",
        "approve_filing",
    )
    step(
        app,
        client,
        pid,
        "prefecture_review",
        prefecture_decision="退回",
        prefecture_opinion="缺少用地预审意见。",
    )
    assert _specs(app, pid) == ["revise_filing"]
    assert "缺少用地预审意见" in project_page(client, pid)
    steps(app, client, pid, "revise_filing", "approve_filing", "prefecture_review")
    assert _specs(app, pid) == ["signing"]
    login(client, "shishangwu")
    assert "第2次报送" in client.get("/filings/").data.decode()


def _ending(app, client, pid, outcome):
    assert status_of(app, pid) == ("completed", outcome)
    assert ready_tasks(app, pid) == []


def test_screening_rejection_ends_the_project_and_keeps_the_reason(app, client):
    pid = register_lead(client)
    step(
        app,
        client,
        pid,
        "screening",
        screening_decision="不予通过",
        confirmed_class="重大",
        screening_opinion="属于产业政策淘汰类。",
    )
    _ending(app, client, pid, "end_rejected")
    assert "属于产业政策淘汰类" in project_page(client, pid, "yanpan")


def test_abandoned_negotiation_ends_the_project(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation", negotiation_decision="放弃")
    _ending(app, client, pid, "end_abandoned")


def test_ending_after_an_objection(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    steps(app, client, pid, "negotiation", "approve_terms")
    all_departments_agree(app, client, pid, objections={"fgj": "不同意"})
    step(app, client, pid, "objection_decision", objection_decision="终止项目")
    _ending(app, client, pid, "end_terminated")


def test_review_meeting_rejection_ends_the_project(app, client):
    pid = register_lead(client)
    _through_joint_review(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review")
    step(app, client, pid, "review_meeting", meeting_decision="不通过")
    _ending(app, client, pid, "end_meeting_rejected")


def test_executive_meeting_outcomes(app, client):
    pid = register_lead(client)
    _through_joint_review(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting")
    step(app, client, pid, "executive_meeting", exec_decision="修改后再议")
    assert _specs(app, pid) == ["negotiation"]
    steps(app, client, pid, "negotiation", "approve_terms")
    all_departments_agree(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting")
    step(app, client, pid, "executive_meeting", exec_decision="不同意")
    _ending(app, client, pid, "end_exec_rejected")


def test_contract_review_rejection_and_modification(app, client):
    pid = register_lead(client)
    _through_joint_review(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting", "executive_meeting")
    step(app, client, pid, "contract_review", contract_decision="修改")
    assert _specs(app, pid) == ["negotiation"]
    steps(app, client, pid, "negotiation", "approve_terms")
    all_departments_agree(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting", "executive_meeting")
    step(app, client, pid, "contract_review", contract_decision="不予通过")
    _ending(app, client, pid, "end_contract_rejected")


def test_head_of_office_can_send_terms_back_to_negotiation(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms", terms_decision="退回洽谈")
    assert _specs(app, pid) == ["negotiation"]


def test_conditions_of_a_conditional_approval_reach_the_contract_review(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    steps(app, client, pid, "negotiation", "approve_terms")
    all_departments_agree(app, client, pid, objections={"sthj": "有条件同意"})
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting", "executive_meeting")
    ((task_id, spec, _),) = ready_tasks(app, pid)
    assert spec == "contract_review"
    login(client, "fazhi")
    client.post(f"/tasks/{task_id}/claim")
    page = client.get(f"/tasks/{task_id}").data.decode()
    shown = re.search(r'data-field="review_conditions_all">(.*?)</div>', page, re.DOTALL).group(1)
    assert "须先完成环评审批" in shown and "生态环境" in shown
    refused = client.post(
        f"/tasks/{task_id}",
        data={"contract_decision": "通过", "legality_ok": "true", "fair_competition_ok": "true"},
    )
    assert refused.status_code == 422 and 'data-error-for="conditions_in_contract"' in refused.data.decode()
    step(app, client, pid, "contract_review", conditions_in_contract="true")
    assert _specs(app, pid) == ["approve_filing"]


def test_a_field_cleared_in_a_later_round_is_cleared_on_the_project_page(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation", special_terms="true", special_terms_detail="额外租金减免条款")
    step(app, client, pid, "approve_terms", terms_decision="退回洽谈")
    step(app, client, pid, "negotiation")
    page = project_page(client, pid)
    assert "额外租金减免条款" not in page.split("项目信息")[1].split("已有意见")[0]


def test_the_head_of_office_sees_the_joint_review_opinions_side_by_side(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid, objections={"sthj": "有条件同意"})
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting", "executive_meeting")
    step(app, client, pid, "contract_review", conditions_in_contract="true")
    ((task_id, spec, _),) = ready_tasks(app, pid)
    assert spec == "approve_filing"
    login(client, "zhuren")
    client.post(f"/tasks/{task_id}/claim")
    page = client.get(f"/tasks/{task_id}").data.decode()
    summary = page.split('id="joint-review"')[1].split("</section>")[0]
    assert summary.count("<tr") == 6  # header + five departments
    assert re.search(r'<tr class="conditional">\s*<td>市生态环境局南县分局</td>', summary)
    assert "须先完成环评审批" in summary
