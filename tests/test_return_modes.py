"""退回 and resubmission: the model decides whether a resubmitted project goes straight back to the
step (and person) that returned it, or through every stage again (BPMN property returnMode)."""

from __future__ import annotations

from service_support import advance, instance, ready, start
from sqlalchemy import select

from workflows import audit
from workflows.db import transaction
from workflows.demo import actor
from workflows.models import AuditEvent, User
from workflows.services import task_operations, task_service


def _user_id(username: str) -> int:
    with transaction() as s:
        return s.scalar(select(User.id).where(User.username == username))


def _to(spec: str) -> int:
    """A 重大 project brought to `spec` along the main path."""
    pid = start()
    for step in (
        "screening",
        "negotiation",
        "approve_terms",
        "department_review",
        "review_materials",
        "pre_review",
        "review_meeting",
        "executive_meeting",
        "contract_review",
    ):
        if step == spec:
            break
        advance(pid, step, **({"confirmed_class": "重大"} if step == "screening" else {}))
    assert [r.spec_name for r in ready(pid)] == [spec]
    return pid


def _return(pid: int, username: str, target: str, reason: str) -> None:
    (record,) = ready(pid)
    task_service.task_claim(actor(username), record.id)
    task_operations.task_return(actor(username), record.id, target, reason)


def test_a_contract_returned_for_renegotiation_comes_straight_back_to_the_legal_reviewer(database):
    pid = _to("contract_review")
    _return(pid, "fazhi", "negotiation", "违约责任条款不对等，请与企业重新商定")
    advance(pid, "negotiation")
    # Not through approval of terms, joint review and the meetings again: back to the returner.
    (back,) = ready(pid)
    assert back.spec_name == "contract_review"
    assert back.assignee_id == _user_id("fazhi") and back.fixed_assignee
    advance(pid, "contract_review")
    assert [r.spec_name for r in ready(pid)] == ["approve_filing"]
    with transaction() as s:
        returned = s.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == pid, AuditEvent.action == "task_returned")
        ).one()
        assert returned.data["resubmit"] == "direct"
        assert audit.first_broken(s) is None


def test_a_direct_resubmission_happens_once_then_the_normal_path_holds(database):
    """The marks are cleared on the way back, so a later renegotiation goes through every stage."""
    pid = _to("contract_review")
    _return(pid, "fazhi", "negotiation", "请修改违约条款")
    advance(pid, "negotiation")
    advance(pid, "contract_review", contract_decision="修改", contract_opinion="补充履约保证金条款")
    assert [r.spec_name for r in ready(pid)] == ["negotiation"]
    advance(pid, "negotiation")
    (nxt,) = ready(pid)
    assert nxt.spec_name == "approve_terms" and nxt.assignee_id is None


def test_a_return_from_the_executive_meeting_goes_through_every_stage_again(database):
    pid = _to("executive_meeting")
    _return(pid, "mishu", "negotiation", "投资强度不足，请重新洽谈")
    advance(pid, "negotiation")
    assert [r.spec_name for r in ready(pid)] == ["approve_terms"]
    with transaction() as s:
        returned = s.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == pid, AuditEvent.action == "task_returned")
        ).one()
        assert returned.data["resubmit"] == "restart"
    assert instance(pid).status == "running"


def test_the_return_form_tells_where_a_resubmission_will_go(app, client):
    from flow_support import login

    pid = _to("contract_review")
    (record,) = ready(pid)
    login(client, "fazhi")
    client.post(f"/tasks/{record.id}/claim")
    page = client.get(f"/tasks/{record.id}").data.decode()
    assert "重新提交后将直接回到本环节" in page
    assert (
        client.post(
            f"/tasks/{record.id}/return", data={"target": "negotiation", "reason": "请修改违约条款"}
        ).status_code
        == 302
    )
    login(client, "shangwu")
    (negotiation,) = ready(pid)
    client.post(f"/tasks/{negotiation.id}/claim")
    page = client.get(f"/tasks/{negotiation.id}").data.decode()
    assert "请修改违约条款" in page and "重新提交后直接回到“合同审签”" in page
