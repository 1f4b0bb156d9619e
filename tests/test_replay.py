"""Verifiable replay: the recorded steps re-run on the pinned model version in a fresh
engine give the recorded states, step by step — for every demo project, across a model-version
change, through returns, withdrawals, 加签, timers and cancellation; a record the model contradicts
is reported at its step."""

from __future__ import annotations

import shutil
from datetime import timedelta

from service_support import advance, instance, ready, start
from sqlalchemy import select

from workflows.db import transaction
from workflows.demo import actor
from workflows.engine import model_store
from workflows.engine.replay import replay
from workflows.models import AuditEvent, ModelVersion, ProcessInstance
from workflows.services import audit_service, model_service, task_operations, task_service
from workflows.services.timer_service import fire_due_timers


def _replay(instance_id: int):
    with transaction() as s:
        return audit_service.replay_instance(s, s.get(ProcessInstance, instance_id))


def _steps(instance_id: int) -> list[tuple[int, dict]]:
    with transaction() as s:
        return [
            (e.id, e.data)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == instance_id, AuditEvent.action == "engine_step")
                .order_by(AuditEvent.id)
            )
        ]


def test_every_demo_project_replays_consistently(tmp_path):
    from webapp import create_app

    create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "t",
            "DEMO_PROJECTS": True,
        }
    )
    with transaction() as s:
        projects = s.scalars(select(ProcessInstance).order_by(ProcessInstance.id)).all()
        assert len(projects) >= 6
        reports = [audit_service.replay_instance(s, project) for project in projects]
    for project, report in zip(projects, reports, strict=True):
        assert report.consistent, (project.project_name, report)
        assert report.steps == len(_steps(project.id)) >= 1


def _model_with_higher_threshold(tmp_path) -> None:
    """A county raises the 重大 threshold to 3 亿元 (a DMN edit) and deploys it."""
    root = tmp_path / "model"
    shutil.copytree(model_store.ROOT / "bpmn", root / "bpmn")
    shutil.copytree(model_store.ROOT / "forms", root / "forms")
    dmn = root / "bpmn" / "project_class.dmn"
    dmn.write_text(dmn.read_text(encoding="utf-8").replace("&gt;= 20000", "&gt;= 30000"), encoding="utf-8")
    uploads = [
        (p.name, p.read_bytes())
        for p in sorted((root / "bpmn").iterdir()) + sorted((root / "forms").iterdir())
    ]
    model_service.version_deploy(
        actor("admin"), uploads, "重大项目门槛提高到 3 亿元", [actor("zhaoshang").org_id]
    )


def test_a_project_replays_on_its_own_version_across_a_model_change(database, tmp_path):
    old = start(amount_wan="3000", project_name="旧版本项目", investor="甲公司")
    advance(old, "screening", confirmed_class="一般")
    _model_with_higher_threshold(tmp_path)
    new = start(amount_wan="3000", project_name="新版本项目", investor="乙公司")
    advance(new, "screening", confirmed_class="一般")
    for pid in (old, new):
        advance(pid, "negotiation", amount_wan="25000")
    assert (instance(old).project_class, instance(new).project_class) == ("重大", "重点")
    assert instance(old).model_version_id != instance(new).model_version_id
    assert _replay(old).consistent and _replay(new).consistent

    # Against the other version the record does not hold: the negotiation step is where they part.
    new_version = instance(new).model_version_id
    with transaction() as s:
        other = s.get(ModelVersion, new_version)
        stored = s.get(ProcessInstance, old).state  # deferred column: read inside the session
    outcome = replay(other, "investment_project", _steps(old), stored)
    negotiation_step = next(
        n
        for n, (_, data) in enumerate(_steps(old), start=1)
        if any(op.get("task", {}).get("spec") == "negotiation" for op in data["ops"])
    )
    assert not outcome.consistent and outcome.step == negotiation_step


def test_returns_withdrawals_additions_and_cancellation_replay_consistently(database):
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation")
    # 撤回: the commerce bureau takes its negotiation back, then submits it again.
    record = next(r for r in _records(pid) if r.spec_name == "negotiation" and r.state == "completed")
    task_operations.task_withdraw(actor("shangwu"), record.id)
    advance(pid, "negotiation", jobs="320")
    advance(pid, "approve_terms")
    # 加签 in the joint review, some departments answer, then 退回 from the review to negotiation.
    task_operations.review_add_department(actor("shangwu"), pid, "lyj", "项目涉及林地")
    advance(pid, "department_review", only_units={"fgj", "sthj"})
    open_review = next(r for r in ready(pid) if r.unit_code == "zrzyj")
    task_service.task_claim(actor("rev_zrzyj"), open_review.id)
    task_operations.task_return(actor("rev_zrzyj"), open_review.id, "negotiation", "用地规模需重新核定")
    assert [r.spec_name for r in ready(pid)] == ["negotiation"]
    report = _replay(pid)
    assert report.consistent, report
    task_operations.project_cancel(actor("zhaoshang"), pid, "投资方决定暂缓")
    assert instance(pid).status == "cancelled"
    assert _replay(pid).consistent


def _records(pid: int):
    from workflows.models import TaskRecord

    with transaction() as s:
        return s.scalars(select(TaskRecord).where(TaskRecord.instance_id == pid)).all()


def test_timers_replay_at_the_recorded_clock(database, clock, monkeypatch):
    move = clock
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    due = instance(pid).next_timer_at
    assert fire_due_timers(move(due + timedelta(minutes=1))) == 1  # the reminder
    later = instance(pid).next_timer_at
    assert fire_due_timers(move(later + timedelta(minutes=1))) == 1  # the escalation
    monkeypatch.undo()  # back to the real clock: the replay sets each step's recorded moment itself
    advance(pid, "negotiation")
    with transaction() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.instance_id == pid))]
    assert "task_overdue_reminded" in actions and "task_overdue_escalated" in actions
    report = _replay(pid)
    assert report.consistent, report
    assert sum(any(op["op"] == "fire_timers" for op in data["ops"]) for _, data in _steps(pid)) == 2


def test_a_record_the_model_contradicts_is_reported_at_its_step(database):
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation")
    steps = _steps(pid)
    # The recorded screening decision says 不予通过, yet the record goes on to negotiation.
    forged = [
        (
            i,
            {
                **d,
                "ops": [
                    {**op, "data": {**op["data"], "screening_decision": "不予通过"}}
                    if op.get("task", {}).get("spec") == "screening"
                    else op
                    for op in d["ops"]
                ],
            },
        )
        for i, d in steps
    ]
    version_id = instance(pid).model_version_id
    with transaction() as s:
        version = s.get(ModelVersion, version_id)
    outcome = replay(version, "investment_project", forged)
    screening_step = next(
        n
        for n, (_, d) in enumerate(steps, start=1)
        if any(op.get("task", {}).get("spec") == "screening" for op in d["ops"])
    )
    assert (outcome.consistent, outcome.step, outcome.event_id) == (
        False,
        screening_step,
        steps[screening_step - 1][0],
    )
    assert outcome.recorded_active == ["negotiation"] and outcome.replayed_active != ["negotiation"]
