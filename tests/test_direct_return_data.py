"""A contract sent back from 合同审签 for renegotiation (returnMode=direct) comes straight back to the legal
reviewer, and the project still carries what the stages after negotiation established: its class
(project_class, which tracking_plan's DMN reads at signing), so it can be signed, filed and tracked.
Driven over HTTP by the demo staff, as people do."""
from __future__ import annotations

import pytest
from flow_support import all_departments_agree, login, project_page, ready_tasks, register_lead, step, steps
from sqlalchemy import select

from workflows.db import transaction
from workflows.engine.runtime import ProcessRuntime
from workflows.models import Filing, ModelVersion, ProcessInstance, TaskRecord, User


def _to_contract_review(app, client, project_class: str, special_terms: bool) -> int:
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class=project_class)
    step(app, client, pid, "negotiation", **({"special_terms": "true", "special_terms_detail": "固定资产投资奖励一事一议"} if special_terms else {}))
    step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting")
    if project_class == "重大" or special_terms:
        step(app, client, pid, "executive_meeting")
    assert [s for _t, s, _u in ready_tasks(app, pid)] == ["contract_review"]
    return pid


def _return_and_renegotiate(app, client, pid: int, reason: str) -> int:
    (task_id, spec, _u), = ready_tasks(app, pid)
    assert spec == "contract_review"
    login(client, "fazhi")
    client.post(f"/tasks/{task_id}/claim")
    response = client.post(f"/tasks/{task_id}/return", data={"target": "negotiation", "reason": reason})
    assert response.status_code == 302, response.data.decode()[:2000]
    assert [s for _t, s, _u in ready_tasks(app, pid)] == ["negotiation"]
    step(app, client, pid, "negotiation")
    (back_id, spec, _u), = ready_tasks(app, pid)
    assert spec == "contract_review"  # straight back, not through every stage again
    with transaction() as s:
        fazhi = s.scalar(select(User.id).where(User.username == "fazhi"))
        record = s.get(TaskRecord, back_id)
        assert record.assignee_id == fazhi and record.fixed_assignee
    return back_id


def _data(pid: int) -> dict:
    """The project's current workflow data (the newest task's)."""
    with transaction() as s:
        instance = s.get(ProcessInstance, pid)
        runtime = ProcessRuntime(s.get(ModelVersion, instance.model_version_id), {})
        return runtime.data(runtime.load(instance.state))


@pytest.mark.parametrize(("project_class", "special_terms", "returns"),
                         [("重大", False, 1), ("一般", False, 1), ("重大", False, 3), ("一般", True, 2)])
def test_a_directly_returned_contract_is_signed_filed_and_tracked(app, client, project_class, special_terms,
                                                                 returns):
    pid = _to_contract_review(app, client, project_class, special_terms)
    for n in range(returns):
        _return_and_renegotiate(app, client, pid, f"第{n + 1}次：违约责任条款不对等，请与企业重新商定")
    steps(app, client, pid, "contract_review", "approve_filing", "prefecture_review", "signing")
    assert ready_tasks(app, pid) == []
    with transaction() as s:
        instance = s.get(ProcessInstance, pid)
        assert (instance.status, instance.stage, instance.outcome) == ("running", "履约跟踪", None)
        assert instance.project_class == project_class
        assert s.scalar(select(Filing.state).where(Filing.instance_id == pid)) == "已签约"
    # The class the stages after negotiation set holds through the direct return, and drives the cadence
    # (bpmn/tracking_cadence.dmn: 重大 weekly, others monthly).
    data = _data(pid)
    assert data["project_class"] == project_class
    assert (data["tracking_period"], data["tracking_cycle"]) == (("P7D", "每周") if project_class == "重大"
                                                                 else ("P1M", "每月"))
    assert data["filing"]["number"]
    # The joint review's outcome is still the project's (the filing and the paper read it).
    assert data["review_departments"] and data["dept_opinions"]
    assert data["resubmit_to"] is None and data["returned_from"] is None and data["returned_by"] is None
    assert "履约跟踪" in project_page(client, pid)
