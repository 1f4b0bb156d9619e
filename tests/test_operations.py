"""The approval operations (转办, 退回, 撤回, 撤销, 催办): each one's effect and its refusals."""

from __future__ import annotations

import re

from flow_support import (
    ANSWERS,
    LEAD,
    all_departments_agree,
    do_task,
    login,
    project_page,
    ready_tasks,
    register_lead,
    status_of,
    step,
)
from sqlalchemy import select

from workflows import audit
from workflows.db import transaction
from workflows.models import TaskRecord, User


def _user_id(username: str) -> int:
    with transaction() as s:
        return s.scalar(select(User.id).where(User.username == username))


def _record(task_id: int) -> TaskRecord:
    with transaction() as s:
        return s.get(TaskRecord, task_id)


def _to_joint_review(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms")
    return pid, {unit: tid for tid, spec, unit in ready_tasks(app, pid) if spec == "department_review"}


def _chain_intact() -> bool:
    with transaction() as s:
        return audit.first_broken(s) is None


def test_transfer_hands_the_task_for_good_to_a_colleague_of_the_same_department(app, client):
    _, tasks = _to_joint_review(app, client)
    login(client, "rev_fgj")
    client.post(f"/tasks/{tasks['fgj']}/claim")
    page = client.get(f"/tasks/{tasks['fgj']}").data.decode()
    assert "赵磊" in page.split('id="transfer-to"')[1].split("</select>")[0]  # rev_fgj2 offered
    assert "孙丽" not in page.split('id="transfer-to"')[1].split("</select>")[0]  # not another department
    # Refused: no reason; a user of another department. Nothing changes.
    assert (
        client.post(f"/tasks/{tasks['fgj']}/transfer", data={"to_user_id": _user_id("rev_fgj2")}).status_code
        == 422
    )
    assert (
        client.post(
            f"/tasks/{tasks['fgj']}/transfer", data={"to_user_id": _user_id("rev_sthj"), "reason": "出差"}
        ).status_code
        == 422
    )
    assert _record(tasks["fgj"]).assignee_id == _user_id("rev_fgj")
    assert (
        client.post(
            f"/tasks/{tasks['fgj']}/transfer",
            data={"to_user_id": _user_id("rev_fgj2"), "reason": "本人出差，由赵磊办理"},
        ).status_code
        == 302
    )
    record = _record(tasks["fgj"])
    assert (record.assignee_id, record.fixed_assignee) == (_user_id("rev_fgj2"), True)
    assert client.get(f"/tasks/{tasks['fgj']}").status_code == 403  # it is no longer mine
    login(client, "rev_fgj2")
    assert 'id="unread-count"' in client.get("/").data.decode()
    page = client.get(f"/tasks/{tasks['fgj']}").data.decode()
    assert "本人出差，由赵磊办理" in page
    do_task(client, "rev_fgj2", tasks["fgj"], {"review_decision": "同意", "review_opinion": "同意"})
    assert _chain_intact()


def test_only_the_holder_may_transfer(app, client):
    _, tasks = _to_joint_review(app, client)
    login(client, "rev_fgj2")
    response = client.post(
        f"/tasks/{tasks['fgj']}/transfer", data={"to_user_id": _user_id("rev_fgj"), "reason": "x"}
    )
    assert response.status_code == 403


def test_return_from_the_joint_review_to_negotiation(app, client):
    pid, tasks = _to_joint_review(app, client)
    do_task(client, "rev_sthj", tasks["sthj"], {"review_decision": "同意", "review_opinion": "同意"})
    login(client, "rev_zrzyj")
    client.post(f"/tasks/{tasks['zrzyj']}/claim")
    page = client.get(f"/tasks/{tasks['zrzyj']}").data.decode()
    assert re.search(r'<option value="negotiation">项目洽谈</option>', page)
    before = ready_tasks(app, pid)
    assert (
        client.post(
            f"/tasks/{tasks['zrzyj']}/return", data={"target": "negotiation", "reason": ""}
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/tasks/{tasks['zrzyj']}/return", data={"target": "screening", "reason": "x"}
        ).status_code
        == 422
    )
    assert ready_tasks(app, pid) == before
    response = client.post(
        f"/tasks/{tasks['zrzyj']}/return",
        data={"target": "negotiation", "reason": "用地面积与规划不符，请重新洽谈"},
    )
    assert response.status_code == 302
    ((negotiation, spec, _),) = ready_tasks(app, pid)
    assert spec == "negotiation"
    record = _record(negotiation)
    assert record.assignee_id == _user_id("shangwu") and "用地面积与规划不符" in record.note
    # The earlier answers come back prefilled; the undone opinion is history, not a current opinion.
    login(client, "shangwu")
    page = client.get(f"/tasks/{negotiation}").data.decode()
    assert "用地面积与规划不符" in page and 'value="120' in page
    assert _record(tasks["sthj"]).state == "superseded"
    history = client.get(f"/projects/{pid}").data.decode()
    assert "退回" in history.split("办理历史")[1]
    # Renegotiated, the joint review starts afresh.
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms")
    assert len([t for t in ready_tasks(app, pid) if t[1] == "department_review"]) == 5
    assert _chain_intact()


def test_withdraw_while_the_next_step_is_untouched(app, client):
    pid = register_lead(client)
    ((screening, _, _),) = ready_tasks(app, pid)
    do_task(
        client,
        "yanpan",
        screening,
        {**ANSWERS["screening"], "confirmed_class": "重大", "screening_opinion": "初审意见第一稿"},
    )
    login(client, "shangwu")
    assert client.post(f"/tasks/{screening}/withdraw").status_code == 403  # not theirs
    login(client, "yanpan")
    page = client.get(f"/projects/{pid}").data.decode()
    assert f'action="/tasks/{screening}/withdraw"' in page
    assert client.post(f"/tasks/{screening}/withdraw").status_code == 302
    assert [t[1] for t in ready_tasks(app, pid)] == ["screening"]
    form = client.get(f"/tasks/{screening}").data.decode()
    assert "初审意见第一稿" in form  # what was submitted comes back to edit
    do_task(client, "yanpan", screening, {**ANSWERS["screening"], "confirmed_class": "重大"})
    # Once the commerce bureau has claimed the negotiation, it can no longer be withdrawn.
    ((negotiation, _, _),) = ready_tasks(app, pid)
    login(client, "shangwu")
    client.post(f"/tasks/{negotiation}/claim")
    login(client, "yanpan")
    assert client.post(f"/tasks/{screening}/withdraw").status_code == 409
    assert [t[1] for t in ready_tasks(app, pid)] == ["negotiation"]
    assert _chain_intact()


def test_a_department_opinion_cannot_be_withdrawn_once_merged(app, client):
    _, tasks = _to_joint_review(app, client)
    do_task(client, "rev_fgj", tasks["fgj"], {"review_decision": "同意", "review_opinion": "同意"})
    assert client.post(f"/tasks/{tasks['fgj']}/withdraw").status_code == 409


def test_the_starter_cancels_a_running_project_and_can_register_it_again(app, client):
    pid = register_lead(client)
    login(client, "yanpan")
    assert client.post(f"/projects/{pid}/cancel", data={"reason": "x"}).status_code == 403
    login(client, "zhaoshang")
    refused = client.post(f"/projects/{pid}/cancel", data={"reason": ""})
    assert refused.status_code == 422 and 'data-error-for="cancel_reason"' in refused.data.decode()
    assert client.post(f"/projects/{pid}/cancel", data={"reason": "投资方暂缓投资计划"}).status_code == 302
    assert status_of(app, pid) == ("cancelled", "cancelled")
    assert ready_tasks(app, pid) == []
    page = client.get(f"/projects/{pid}").data.decode()
    assert "已撤销" in page and "投资方暂缓投资计划" in page.split("办理历史")[1]
    assert client.post(f"/projects/{pid}/cancel", data={"reason": "again"}).status_code == 409
    copy = client.get(f"/projects/new?copy_of={pid}").data.decode()
    assert f'value="{LEAD["project_name"]}"' in copy and f'value="{LEAD["contact_phone"]}"' in copy
    assert _chain_intact()


def test_urging_notifies_the_holders_and_is_logged(app, client):
    pid = register_lead(client)
    ((screening, _, _),) = ready_tasks(app, pid)
    login(client, "rev_fgj")
    assert client.post(f"/tasks/{screening}/urge").status_code == 403
    login(client, "zhaoshang")
    assert client.post(f"/tasks/{screening}/urge", data={"message": "投资方催问进度"}).status_code == 302
    login(client, "yanpan")
    inbox = client.get("/").data.decode()
    assert re.search(r'id="unread-count">1<', inbox)
    notes = client.get("/notifications").data.decode()
    assert "投资方催问进度" in notes and "年产10万吨稻虾深加工项目" in notes
    assert 'id="unread-count"' not in client.get("/").data.decode()  # read once opened
    login(client, "shangwu")
    assert "催办" in client.get(f"/projects/{pid}").data.decode().split("办理历史")[1]


PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAj"
    "CB0C8AAAAASUVORK5CYII="
)


def test_a_draft_is_kept_without_completing_and_restored_next_time(app, client):
    pid = register_lead(client)
    ((screening, _, _),) = ready_tasks(app, pid)
    login(client, "shangwu")
    assert (
        client.post(f"/tasks/{screening}", data={"action": "draft", "screening_opinion": "x"}).status_code
        == 403
    )
    login(client, "yanpan")
    client.post(f"/tasks/{screening}/claim")
    saved = client.post(
        f"/tasks/{screening}",
        data={"action": "draft", "screening_opinion": "初审意见（未完稿）", "class_reason": ""},
    )
    assert saved.status_code == 302
    assert [t[1] for t in ready_tasks(app, pid)] == ["screening"]  # not completed
    page = client.get(f"/tasks/{screening}").data.decode()
    assert "初审意见（未完稿）" in page and 'id="draft-note"' in page
    do_task(client, "yanpan", screening, {**ANSWERS["screening"], "confirmed_class": "重大"})
    assert _record(screening).draft is None


def test_delegation_lets_a_colleague_prepare_the_opinion_that_comes_back_to_the_holder(app, client):
    _, tasks = _to_joint_review(app, client)
    fgj = tasks["fgj"]
    login(client, "rev_fgj")
    client.post(f"/tasks/{fgj}/claim")
    refused = client.post(f"/tasks/{fgj}/delegate", data={"to_user_id": _user_id("rev_sthj")})
    assert refused.status_code == 422
    assert (
        client.post(
            f"/tasks/{fgj}/delegate", data={"to_user_id": _user_id("rev_fgj2"), "note": "请起草发改局意见"}
        ).status_code
        == 302
    )
    login(client, "rev_fgj2")
    assert f'data-task-id="{fgj}"' in client.get("/").data.decode()
    page = client.get(f"/tasks/{fgj}").data.decode()
    assert 'id="delegated-to-me"' in page and 'id="hand-back"' in page and 'id="submit"' not in page
    # The delegate prepares but cannot submit the department's opinion.
    assert (
        client.post(f"/tasks/{fgj}", data={"review_decision": "同意", "review_opinion": "x"}).status_code
        == 409
    )
    assert (
        client.post(
            f"/tasks/{fgj}",
            data={
                "action": "hand_back",
                "review_decision": "有条件同意",
                "review_conditions": "须符合园区产业规划",
                "review_opinion": "赵磊起草",
            },
        ).status_code
        == 302
    )
    assert 'id="hand-back"' not in client.get(f"/tasks/{fgj}").data.decode()  # handed back: no longer theirs
    login(client, "rev_fgj")
    page = client.get(f"/tasks/{fgj}").data.decode()
    assert "赵磊起草" in page and "须符合园区产业规划" in page
    assert (
        client.post(
            f"/tasks/{fgj}",
            data={
                "review_decision": "有条件同意",
                "review_conditions": "须符合园区产业规划",
                "review_opinion": "赵磊起草，陈静审核",
            },
        ).status_code
        == 302
    )
    assert _record(fgj).state == "completed"


def test_a_leader_signs_a_decision_by_hand(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    ((approve, spec, _),) = ready_tasks(app, pid)
    assert spec == "approve_terms"
    login(client, "zhuren")
    client.post(f"/tasks/{approve}/claim")
    assert 'id="signature-pad"' in client.get(f"/tasks/{approve}").data.decode()
    bad = client.post(
        f"/tasks/{approve}", data={**ANSWERS["approve_terms"], "signature": "data:image/png;base64,AAAA"}
    )
    assert bad.status_code == 422 and [t[1] for t in ready_tasks(app, pid)] == ["approve_terms"]
    assert (
        client.post(f"/tasks/{approve}", data={**ANSWERS["approve_terms"], "signature": PNG_1PX}).status_code
        == 302
    )
    login(client, "shangwu")
    assert f"/tasks/{approve}/signature.png" in client.get(f"/projects/{pid}").data.decode()
    image = client.get(f"/tasks/{approve}/signature.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG") and image.mimetype == "image/png"
    login(client, "tj_shangwu")
    assert client.get(f"/tasks/{approve}/signature.png").status_code == 403


def test_a_stand_in_acts_for_a_colleague_on_leave_and_the_record_says_so(app, client):
    from datetime import date, timedelta

    pid = register_lead(client)
    ((screening, _, _),) = ready_tasks(app, pid)
    login(client, "zhaoshang2")  # a lead officer: not on the screening team
    assert client.get(f"/tasks/{screening}").status_code == 403
    login(client, "yanpan")
    today = date.today()
    refused = client.post(
        "/me/stand-ins/",
        data={
            "stand_in_id": _user_id("zhaoshang2"),
            "starts_on": today.isoformat(),
            "ends_on": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert refused.status_code == 422 and 'data-error-for="ends_on"' in refused.data.decode()
    assert (
        client.post(
            "/me/stand-ins/",
            data={
                "stand_in_id": _user_id("zhaoshang2"),
                "starts_on": (today - timedelta(days=1)).isoformat(),
                "ends_on": (today + timedelta(days=1)).isoformat(),
            },
        ).status_code
        == 302
    )
    login(client, "zhaoshang2")
    assert f'data-task-id="{screening}"' in client.get("/").data.decode()
    assert 'id="acting-for"' in client.get(f"/tasks/{screening}").data.decode()
    do_task(client, "zhaoshang2", screening, {**ANSWERS["screening"], "confirmed_class": "重大"})
    record = _record(screening)
    assert (record.completed_by_id, record.acted_for_id) == (_user_id("zhaoshang2"), _user_id("yanpan"))
    assert "代 研判专班 王芳 办理" in client.get(f"/projects/{pid}").data.decode()


def test_admin_hands_a_leavers_open_tasks_to_a_successor(app, client):
    _, tasks = _to_joint_review(app, client)
    login(client, "rev_fgj")
    client.post(f"/tasks/{tasks['fgj']}/claim")
    login(client, "admin")
    assert (
        client.post(f"/admin/users/{_user_id('rev_fgj')}/reassign", data={"to_user_id": ""}).status_code
        == 422
    )
    assert (
        client.post(
            f"/admin/users/{_user_id('rev_fgj')}/reassign", data={"to_user_id": _user_id("rev_fgj2")}
        ).status_code
        == 302
    )
    assert _record(tasks["fgj"]).assignee_id == _user_id("rev_fgj2")


def test_add_a_department_to_a_joint_review_under_way_then_remove_another(app, client):
    """加签 / 减签: added departments answer in a supplementary round before the opinions are summarized."""
    pid, _ = _to_joint_review(app, client)
    login(client, "rev_fgj")
    assert (
        client.post(f"/projects/{pid}/review/add", data={"unit_code": "slj", "reason": "x"}).status_code
        == 403
    )
    login(client, "shangwu")
    page = client.get(f"/projects/{pid}").data.decode()
    assert (
        'id="add-department"' in page
        and '<option value="slj">' in page
        and '<option value="fgj">' not in page
    )
    assert (
        client.post(f"/projects/{pid}/review/add", data={"unit_code": "slj", "reason": ""}).status_code == 422
    )
    assert (
        client.post(f"/projects/{pid}/review/add", data={"unit_code": "fgj", "reason": "x"}).status_code
        == 422
    )
    assert (
        client.post(
            f"/projects/{pid}/review/add", data={"unit_code": "slj", "reason": "项目取水量较大"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/projects/{pid}/review/add", data={"unit_code": "lyj", "reason": "涉及林地"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/projects/{pid}/review/remove", data={"unit_code": "lyj", "reason": "经核实不涉及林地"}
        ).status_code
        == 302
    )
    assert "项目取水量较大" in client.get(f"/projects/{pid}").data.decode().split("办理历史")[1]
    # The five departments of the first round answer; then only 水利局 gets a supplementary round.
    all_departments_agree(app, client, pid)
    assert [(spec, unit) for _, spec, unit in ready_tasks(app, pid)] == [("supplementary_review", "slj")]
    step(
        app,
        client,
        pid,
        "supplementary_review",
        review_decision="有条件同意",
        review_conditions="取水许可先行",
    )
    assert [t[1] for t in ready_tasks(app, pid)] == ["review_materials"]
    page = project_page(client, pid)
    summary = page.split('id="joint-review"')[1].split("</section>")[0]
    assert summary.count("<tr") == 7 and "取水许可先行" in summary  # header + 5 + 水利局
    # Removing a department whose round has started is refused; outside a review nothing can change.
    assert (
        client.post(f"/projects/{pid}/review/remove", data={"unit_code": "slj", "reason": "x"}).status_code
        == 409
    )
    assert _chain_intact()
