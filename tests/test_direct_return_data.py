"""A contract sent back from 合同审签 for renegotiation (returnMode=direct) comes straight back to the legal
reviewer, and the project still carries what the stages after negotiation established: its class
(project_class, which tracking_plan's DMN reads at signing), the joint review's conditions
(contract_review) and the executive meeting's minutes number (the filing), so it can be signed, filed
and tracked, after one or several direct returns in a row. Driven over HTTP by the demo staff, as
people do (docs/process.md, "退回")."""

from __future__ import annotations

import pytest
from flow_support import all_departments_agree, login, project_page, ready_tasks, register_lead, step, steps
from sqlalchemy import select

from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS
from workflows.engine.runtime import ProcessRuntime
from workflows.models import Filing, ModelVersion, ProcessInstance, TaskRecord, User

AMOUNT = {"重大": "25000", "一般": "3000"}  # 万元, bpmn/project_class.dmn


def _to_contract_review(app, client, project_class: str, special_terms: bool) -> int:
    pid = register_lead(client, amount_wan=AMOUNT[project_class])
    step(app, client, pid, "screening", confirmed_class=project_class)
    step(
        app,
        client,
        pid,
        "negotiation",
        amount_wan=AMOUNT[project_class],
        **(
            {"special_terms": "true", "special_terms_detail": "固定资产投资奖励一事一议"}
            if special_terms
            else {}
        ),
    )
    step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid, {"sthj": "有条件同意"})
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting")
    if project_class == "重大" or special_terms:
        step(app, client, pid, "executive_meeting")
    assert [s for _t, s, _u in ready_tasks(app, pid)] == ["contract_review"]
    return pid


def _return_and_renegotiate(app, client, pid: int, reason: str, **negotiation) -> int:
    ((task_id, spec, _u),) = ready_tasks(app, pid)
    assert spec == "contract_review"
    login(client, "fazhi")
    client.post(f"/tasks/{task_id}/claim")
    response = client.post(f"/tasks/{task_id}/return", data={"target": "negotiation", "reason": reason})
    assert response.status_code == 302, response.data.decode()[:2000]
    assert [s for _t, s, _u in ready_tasks(app, pid)] == ["negotiation"]
    step(app, client, pid, "negotiation", **negotiation)
    ((back_id, spec, _u),) = ready_tasks(app, pid)
    assert spec == "contract_review"  # straight back, not through every stage again
    with transaction() as s:
        fazhi = s.scalar(select(User.id).where(User.username == "fazhi"))
        record = s.get(TaskRecord, back_id)
        assert record.assignee_id == fazhi and record.fixed_assignee
    # The legal reviewer still sees the joint review's conditions (contract_review's read-only field).
    login(client, "fazhi")
    assert "须先完成环评审批" in client.get(f"/tasks/{back_id}").data.decode()
    return back_id


def _data(pid: int) -> dict:
    """The project's current workflow data (the newest task's)."""
    with transaction() as s:
        instance = s.get(ProcessInstance, pid)
        runtime = ProcessRuntime(s.get(ModelVersion, instance.model_version_id), {})
        return runtime.data(runtime.load(instance.state))


@pytest.mark.parametrize(
    ("project_class", "special_terms", "returns"),
    [("重大", False, 1), ("一般", False, 1), ("重大", False, 3), ("一般", True, 2)],
)
def test_a_directly_returned_contract_is_signed_filed_and_tracked(
    app, client, project_class, special_terms, returns
):
    pid = _to_contract_review(app, client, project_class, special_terms)
    for n in range(returns):
        _return_and_renegotiate(
            app,
            client,
            pid,
            f"第{n + 1}次：违约责任条款不对等，请与企业重新商定",
            amount_wan=AMOUNT[project_class],
        )
    # The joint review's conditions still bind the approval (contract_review's form: if/then on them).
    step(app, client, pid, "contract_review", conditions_in_contract="true")
    steps(app, client, pid, "approve_filing", "prefecture_review", "signing")
    assert ready_tasks(app, pid) == []
    with transaction() as s:
        instance = s.get(ProcessInstance, pid)
        assert (instance.status, instance.stage, instance.outcome) == ("running", "履约跟踪", None)
        assert instance.project_class == project_class
        filing = s.scalar(select(Filing).where(Filing.instance_id == pid))
        assert filing.state == "已签约"
        # What the prefecture received: the class and, when the executive meeting decided, its minutes.
        assert filing.summary["project_class"] == project_class
        met = project_class == "重大" or special_terms
        assert filing.summary["exec_minutes_number"] == (
            DEMO_ANSWERS["executive_meeting"]["exec_minutes_number"] if met else None
        )
    # The class the stages after negotiation set holds through the direct return, and drives the cadence
    # (bpmn/tracking_cadence.dmn: 重大 weekly, others monthly).
    data = _data(pid)
    assert data["project_class"] == project_class
    assert (data["tracking_period"], data["tracking_cycle"]) == (
        ("P7D", "每周") if project_class == "重大" else ("P1M", "每月")
    )
    assert data["filing"]["number"]
    # The joint review's outcome is still the project's (the filing and the paper read it).
    assert data["review_departments"] and data["dept_opinions"]
    assert [c["conditions"] for c in data["review_conditions_all"]] == ["须先完成环评审批。"]
    assert data["returned_from"] is None and data["returned_by"] is None
    assert "履约跟踪" in project_page(client, pid)


def test_an_instance_moved_from_a_version_without_data_objects_gets_them_empty():
    """A project started before the model declared its data objects (joint_review_outcome, …) and moved to
    this version can still be returned directly: the objects exist, empty, as if it had started on it."""
    from types import SimpleNamespace

    from workflows.engine.model_store import content_hash, read_model_files

    files = read_model_files()
    runtime = ProcessRuntime(
        SimpleNamespace(content_hash=content_hash(files), files=files, process_id="investment_project")
    )
    wf = runtime.start()
    declared = set(runtime.spec.data_objects)
    assert declared  # the shipped model keeps outcomes in data objects
    del wf.data["data_objects"]  # as an instance started on an older version has it
    runtime.migrate(wf)
    assert wf.data["data_objects"] == dict.fromkeys(declared)
