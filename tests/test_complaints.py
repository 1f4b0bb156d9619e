"""The second process: investor complaints (《郴州市关于进一步加强招商引资工作的实施意见》 §15), driven
through the same inbox, deadlines and operations as the investment projects."""

from __future__ import annotations

from flow_support import do_task, login, project_page, ready_tasks, status_of
from sqlalchemy import select

from workflows import audit
from workflows.capabilities import complaint_service
from workflows.db import transaction
from workflows.deadlines import add_working_days
from workflows.demo import actor
from workflows.models import ProcessInstance, TaskRecord
from workflows.services import project_service

COMPLAINT = {
    "investor": "湖南洞庭食品有限公司",
    "contact_name": "李明",
    "contact_phone": "13800000000",
    "channel": "投诉电话",
    "subject": "用地手续办理迟缓",
    "content": "材料已提交两个月，未获任何答复。",
    "related_project": "洞庭食品深加工项目",
    "responsible_unit": "zrzyj",
    "routing_note": "请核实后答复",
}
ANSWER = {
    "facts": "经核查，材料缺少土地权属证明。",
    "answer": "已一次性告知需补正材料，补正后5个工作日内办结。",
    "measures": "指定专人跟踪办理",
}


def _register(client, **overrides) -> int:
    login(client, "shangwu")
    response = client.post("/complaints/new", data={**COMPLAINT, **overrides})
    assert response.status_code == 302, response.data.decode()[:3000]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def _only(app, pid: int, spec: str) -> tuple[int, str | None]:
    tasks = [(tid, unit) for tid, s, unit in ready_tasks(app, pid) if s == spec]
    assert len(tasks) == 1, ready_tasks(app, pid)
    return tasks[0]


def test_the_commerce_bureau_registers_a_complaint_for_the_responsible_department(app, client):
    pid = _register(client)
    task_id, unit = _only(app, pid, "answer_complaint")
    assert unit == "zrzyj"
    with transaction() as s:
        record = s.get(TaskRecord, task_id)
        instance = s.get(ProcessInstance, pid)
        # Seed 003 §15: a clear answer within 7 working days.
        assert record.due_at == add_working_days(record.created_at, 7)
        assert (instance.process_id, instance.project_name, instance.stage) == (
            "investor_complaint",
            "用地手续办理迟缓",
            "责任部门答复",
        )
    # The department's reviewer has it in the inbox; another department's does not.
    login(client, "rev_zrzyj")
    assert "用地手续办理迟缓" in client.get("/").data.decode()
    login(client, "rev_fgj")
    assert "用地手续办理迟缓" not in client.get("/").data.decode()
    assert client.get(f"/tasks/{task_id}").status_code == 403
    # Listed with the complaints, not with the projects.
    login(client, "shangwu")
    assert "用地手续办理迟缓" in client.get("/complaints/").data.decode()
    assert "用地手续办理迟缓" not in client.get("/projects/").data.decode()
    page = project_page(client, pid)
    assert "投资者投诉" in page and "登记投诉并交办" in page


def test_a_wrong_field_keeps_what_was_typed_and_starts_nothing(app, client):
    login(client, "shangwu")
    response = client.post("/complaints/new", data={**COMPLAINT, "contact_phone": "电话", "subject": ""})
    page = response.data.decode()
    assert response.status_code == 422
    assert 'data-error-for="contact_phone"' in page and 'data-error-for="subject"' in page
    assert "材料已提交两个月" in page
    with transaction() as s:
        assert s.scalar(select(ProcessInstance.id)) is None


def test_only_the_commerce_bureau_registers_complaints(app, client):
    for username in ("zhaoshang", "rev_zrzyj", "zhuren", "shishangwu"):
        login(client, username)
        assert client.get("/complaints/new").status_code == 403, username
        assert client.post("/complaints/new", data=COMPLAINT).status_code == 403, username
    with transaction() as s:
        assert s.scalar(select(ProcessInstance.id)) is None


def test_a_satisfied_investor_closes_the_complaint(app, client):
    pid = _register(client)
    do_task(client, "rev_zrzyj", _only(app, pid, "answer_complaint")[0], ANSWER)
    task_id, _ = _only(app, pid, "confirm_answer")
    login(client, "shangwu")
    client.post(f"/tasks/{task_id}/claim")
    page = client.get(f"/tasks/{task_id}").data.decode()
    assert "已一次性告知需补正材料" in page  # the answer is shown read-only to the one who calls the investor
    # 不满意 needs the investor's reasons; nothing moves without them.
    do_task(client, "shangwu", task_id, {"investor_feedback": "不满意"}, expect=422)
    do_task(client, "shangwu", task_id, {"investor_feedback": "满意"})
    assert status_of(app, pid) == ("completed", "end_resolved")
    assert "投诉已办结" in project_page(client, pid)


def test_an_unsatisfied_investor_gets_a_second_round_then_the_head_of_office_coordinates(app, client):
    pid = _register(client)
    do_task(client, "rev_zrzyj", _only(app, pid, "answer_complaint")[0], ANSWER)
    # Second round, handed to another department.
    do_task(
        client,
        "shangwu",
        _only(app, pid, "confirm_answer")[0],
        {
            "investor_feedback": "不满意",
            "feedback_note": "补正材料清单前后不一致",
            "second_round_unit": "kgxj",
        },
    )
    task_id, unit = _only(app, pid, "answer_complaint")
    assert unit == "kgxj"
    login(client, "rev_kgxj")
    client.post(f"/tasks/{task_id}/claim")
    page = client.get(f"/tasks/{task_id}").data.decode()
    assert "补正材料清单前后不一致" in page  # the investor's objection reaches the second round
    do_task(client, "rev_kgxj", task_id, ANSWER)
    do_task(
        client,
        "shangwu",
        _only(app, pid, "confirm_answer")[0],
        {"investor_feedback": "不满意", "feedback_note": "仍未解决"},
    )
    do_task(
        client,
        "zhuren",
        _only(app, pid, "coordinate_complaint")[0],
        {"coordination_result": "召集自然资源局、科工信局现场办公，当场办结。"},
    )
    assert status_of(app, pid) == ("completed", "end_coordinated")
    with transaction() as s:
        answered = s.scalars(
            select(TaskRecord.unit_code)
            .where(
                TaskRecord.instance_id == pid,
                TaskRecord.spec_name == "answer_complaint",
                TaskRecord.state == "completed",
            )
            .order_by(TaskRecord.id)
        ).all()
        assert answered == ["zrzyj", "kgxj"]
        assert audit.first_broken(s) is None


def test_a_department_returns_a_complaint_that_is_not_its_duty(app, client):
    """退回 works for this process too: its returnTargets property allows only the registration."""
    pid = _register(client)
    task_id, _ = _only(app, pid, "answer_complaint")
    login(client, "rev_zrzyj")
    client.post(f"/tasks/{task_id}/claim")
    assert (
        client.post(f"/tasks/{task_id}/return", data={"target": "negotiation", "reason": "x"}).status_code
        == 422
    )
    response = client.post(
        f"/tasks/{task_id}/return",
        data={"target": "register_complaint", "reason": "属住建局职责，请重新交办"},
    )
    assert response.status_code == 302
    register_id, _ = _only(app, pid, "register_complaint")
    login(client, "shangwu")
    page = client.get(f"/tasks/{register_id}").data.decode()
    assert "属住建局职责" in page and "材料已提交两个月" in page  # the reason, and what was registered
    do_task(client, "shangwu", register_id, {**COMPLAINT, "responsible_unit": "zjj"})
    assert _only(app, pid, "answer_complaint")[1] == "zjj"
    assert "退回" in project_page(client, pid).split("办理历史")[1]


def test_complaints_run_on_both_databases(database):
    """The service path on SQLite and PostgreSQL: register, answer, confirm."""
    from workflows.demo import DEPT_REVIEWER
    from workflows.services import task_service

    pid = complaint_service.complaint_start(actor("shangwu"), COMPLAINT)
    for spec, answers in (
        ("answer_complaint", ANSWER),
        ("confirm_answer", {"investor_feedback": "基本满意"}),
    ):
        with transaction() as s:
            record = s.scalars(
                select(TaskRecord).where(TaskRecord.instance_id == pid, TaskRecord.state == "ready")
            ).one()
            assert record.spec_name == spec
        who = actor(DEPT_REVIEWER[record.unit_code] if record.unit_code else "shangwu")
        task_service.task_claim(who, record.id)
        task_service.task_complete(who, record.id, answers)
    summary = project_service.project_detail(actor("zhuren"), pid).summary
    assert (summary.status, summary.outcome, summary.stage) == ("completed", "end_resolved", "投诉已办结")
    assert [c.id for c in project_service.project_list(actor("zhuren"), complaint_service.PURPOSE)] == [pid]
    assert project_service.project_list(actor("zhuren")) == []
