"""Long-lived projects: a process whose loops make the task tree deeper than SpiffWorkflow's default walk
(1,000 levels) neither ends silently nor gets stuck, and survives being stored and loaded."""

from __future__ import annotations

from pathlib import Path

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

import workflows.engine  # noqa: F401 - what the application imports before it runs a workflow
from workflows.engine.runtime import ProcessRuntime
from workflows.engine.script_engine import restricted_engine

MODEL = Path(__file__).parent / "models" / "loop_until_done.bpmn"


def _workflow() -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(MODEL))
    wf = BpmnWorkflow(parser.get_spec("loop"), script_engine=restricted_engine())
    wf.do_engine_steps()
    return wf


def _answer(wf: BpmnWorkflow, again: bool) -> None:
    (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
    task.set_data(again=again, round=task.data.get("round", 0) + 1)
    task.run()
    wf.do_engine_steps()


def test_a_loop_deeper_than_a_thousand_tasks_keeps_its_live_task():
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    wf = _workflow()
    for done in range(1, 401):  # three tasks a round: the tree is 1,200 deep at the end
        _answer(wf, again=True)
        if done % 100 == 0:  # stored and loaded as the application does between steps
            wf = serializer.deserialize_json(serializer.serialize_json(wf))
            wf.script_engine = restricted_engine()
        assert not wf.is_completed(), f"the workflow ended by itself after {done} rounds"
        assert len(wf.get_tasks(state=TaskState.READY, manual=True)) == 1
    _answer(wf, again=False)
    assert wf.is_completed() and wf.data["round"] == 401


# --- pruning the finished past (workflows/engine/pruning.py) ---------------------------------------

ROUNDS = Path(__file__).parent / "models" / "rounds_in_parallel.bpmn"


def _ready(wf: BpmnWorkflow) -> list[tuple[str, str]]:
    return sorted(
        (t.task_spec.name, repr(sorted(t.data.items())))
        for t in wf.get_tasks(state=TaskState.READY, manual=True)
    )


def _finish(wf: BpmnWorkflow, name: str, data: dict) -> None:
    task = next(t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.name == name)
    ProcessRuntime.complete(wf, str(task.id), data)


def test_rounds_through_a_parallel_join_hold_the_same_data_pruned_or_not():
    """A loop through a parallel split and join, beside a branch that ends early (the end join waits):
    the pruned workflow offers the same tasks with the same data after every step, and ends the same."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(ROUNDS))
    spec = parser.get_spec("rounds")
    whole, pruned = (BpmnWorkflow(spec, script_engine=restricted_engine()) for _ in range(2))
    for wf in (whole, pruned):
        wf.do_engine_steps()
    removed = 0
    for step in range(400):
        offered = _ready(whole)
        assert offered == _ready(pruned), f"step {step}"
        if not offered:
            break
        names = [name for name, _ in offered]
        name = "note" if step == 60 else next(n for n in names if n != "note")
        data = (
            {"checked": step}
            if name == "check"
            else {"again": step < 150}
            if name == "decide"
            else {"step": step}
        )
        for wf in (whole, pruned):
            _finish(wf, name, data)
        if step == 100:  # a return (reset) to the newest preparation, after many prunings
            for wf in (whole, pruned):
                ProcessRuntime.reset_to(
                    wf, ProcessRuntime.latest_completed(wf, "prepare"), {"returned": True}
                )
        removed += ProcessRuntime.prune(pruned)
        assert ProcessRuntime.data(whole) == ProcessRuntime.data(pruned), f"step {step}"
    assert whole.is_completed() and pruned.is_completed()
    assert whole.data == pruned.data and ProcessRuntime.outcome(whole) == ProcessRuntime.outcome(pruned)
    assert removed > 100 and len(pruned.tasks) < len(whole.tasks)


def test_a_pruned_loop_stays_shallow_and_ends_when_asked():
    wf = _workflow()
    sizes = []
    for done in range(1, 1201):
        _answer(wf, again=True)
        ProcessRuntime.prune(wf)
        if done % 300 == 0:
            text, _ = ProcessRuntime.dump(wf)
            sizes.append(len(text))
        assert len(wf.tasks) < 20
    assert max(sizes) < 1.1 * min(sizes)
    _answer(wf, again=False)
    assert wf.is_completed() and wf.data["round"] == 1201


# --- one project through the service: returns, withdrawals and years of tracking reports -----------


def _state(pid: int) -> str:
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import ProcessInstance

    with transaction() as s:
        return s.scalar(select(ProcessInstance.state).where(ProcessInstance.id == pid))


def _workflow_of(pid: int):
    from workflows.db import transaction
    from workflows.models import ModelVersion, ProcessInstance

    with transaction() as s:
        inst = s.get(ProcessInstance, pid)
        runtime = ProcessRuntime(s.get(ModelVersion, inst.model_version_id), {}, inst.process_id)
        return runtime.load(inst.state)


def _depth(wf: BpmnWorkflow) -> int:
    deepest, stack = 0, [(wf.task_tree, 0)]
    while stack:
        task, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in task.children)
    return deepest


def _return_for_material(pid: int) -> None:
    from service_support import advance

    from workflows.demo import DEMO_LEAD

    advance(
        pid,
        "screening",
        screening_decision="退回补充",
        confirmed_class="重大",
        screening_opinion="请补充资金证明。",
    )
    advance(pid, "supplement_lead", **DEMO_LEAD)


def _completed(pid: int, spec: str):
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import TaskRecord

    with transaction() as s:
        return s.scalars(
            select(TaskRecord)
            .where(
                TaskRecord.instance_id == pid, TaskRecord.spec_name == spec, TaskRecord.state == "completed"
            )
            .order_by(TaskRecord.id.desc())
        ).first()


def _report(pid: int, clock) -> None:
    """Fire the project's timers until a tracking report is asked for (answering the 项目推进提醒函 on
    the way when it comes), and file the report."""
    from datetime import timedelta

    from service_support import advance, instance, ready

    from workflows.services.timer_service import fire_due_timers

    while True:
        assert fire_due_timers(clock(instance(pid).next_timer_at + timedelta(minutes=1))) == 1
        offered = [r.spec_name for r in ready(pid)]
        if "reply_reminder" in offered:
            advance(pid, "reply_reminder")
        if "track_progress" in offered:
            advance(pid, "track_progress")
            return


def _replays(pid: int) -> bool:
    from workflows.db import transaction
    from workflows.models import ProcessInstance
    from workflows.services import audit_service

    with transaction() as s:
        report = audit_service.replay_instance(s, s.get(ProcessInstance, pid))
    assert report.consistent, (report.step, report.problem)
    return True


LOOPS, REPORTS = 1000, 300
SIGNING_PATH = (
    "screening",
    "negotiation",
    "approve_terms",
    "department_review",
    "review_materials",
    "pre_review",
    "review_meeting",
    "executive_meeting",
    "contract_review",
    "approve_filing",
    "prefecture_review",
    "signing",
)


def test_a_thousand_returns_and_three_hundred_reports_leave_one_project_running_and_replayable(
    sqlite_database, clock, monkeypatch
):
    """衡政办发〔2025〕11号 §19's weekly reports for six years after a thousand returns for more material: the
    project neither ends by itself nor gets stuck, its stored state stays the size of what is running,
    and its whole history replays to the stored state."""
    from service_support import advance, instance, ready, start

    from workflows.demo import DOER, actor
    from workflows.services import task_operations, task_service

    pid = start()
    sizes = {}
    for loop in range(1, LOOPS + 1):
        _return_for_material(pid)
        if (
            loop == LOOPS // 2
        ):  # 撤回 after hundreds of prunings: the screening decision is taken back and made again
            advance(
                pid,
                "screening",
                screening_decision="退回补充",
                confirmed_class="重大",
                screening_opinion="再补充",
            )
            task_operations.task_withdraw(actor("yanpan"), _completed(pid, "screening").id)
            assert [r.spec_name for r in ready(pid)] == ["screening"]
        if loop in (10, LOOPS):
            sizes[loop] = len(_state(pid))
        assert [r.spec_name for r in ready(pid)] == ["screening"], f"loop {loop}"
    assert sizes[LOOPS] < 2 * sizes[10], sizes
    assert _depth(_workflow_of(pid)) < 60
    for spec in SIGNING_PATH:
        if (
            spec == "approve_filing"
        ):  # 退回 to the contract review, three times: resets to a task pruning kept
            for _ in range(3):
                (record,) = ready(pid)
                task_service.task_claim(actor(DOER[spec]), record.id)
                task_operations.task_return(actor(DOER[spec]), record.id, "contract_review", "合同条款需再审")
                advance(pid, "contract_review")
                assert [r.spec_name for r in ready(pid)] == [spec]
        advance(pid, spec, **({"confirmed_class": "重大"} if spec == "screening" else {}))
    reports = {}
    for report in range(1, REPORTS + 1):
        _report(pid, clock)
        if report in (10, REPORTS):
            reports[report] = len(_state(pid))
    assert reports[REPORTS] < 2 * reports[10], reports
    done = instance(pid)
    assert (done.status, done.outcome, done.stage) == ("running", None, "履约跟踪")
    assert done.next_timer_at is not None  # the next report is waited for: not stuck
    wf = _workflow_of(pid)
    assert not wf.is_completed() and _depth(wf) < 80 and len(wf.tasks) < 200
    monkeypatch.undo()  # the replay sets each step's recorded clock itself
    assert _replays(pid)


def _engine_steps(pid: int) -> list[dict]:
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import AuditEvent

    with transaction() as s:
        return [
            e.data
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == pid, AuditEvent.action == "engine_step")
                .order_by(AuditEvent.id)
            )
        ]


def _same_task(pruned_wf, whole_wf, ref: dict) -> str:
    """The task of the unpruned workflow an operation recorded on the pruned one meant: the open task of
    that spec and multi-instance key, or (a reset) its newest completion."""
    from uuid import UUID

    from workflows.engine.replay import _resolve

    meant = pruned_wf.get_task_from_id(UUID(_resolve(pruned_wf, ref)))
    candidates = [
        t
        for t in whole_wf.get_tasks(state=meant.state)
        if t.task_spec.name == meant.task_spec.name
        and t.internal_data.get("key_or_index") == meant.internal_data.get("key_or_index")
    ]
    return str(max(candidates, key=lambda t: t.last_state_change).id)


def _observed(wf) -> dict:
    """What the engine offers and holds, as the application reads it."""
    return {
        "ready": sorted(
            (t.spec_name, t.mi_index, repr(sorted(t.data.items()))) for t in ProcessRuntime.ready_tasks(wf)
        ),
        "data": ProcessRuntime.data(wf),
        "timer": ProcessRuntime.next_timer(wf),
        "waiting": sorted(ProcessRuntime.waiting_stages(wf)),
        "outcome": ProcessRuntime.outcome(wf),
        "workflow": wf.data,
        "latest": {spec: bool(ProcessRuntime.latest_completed(wf, spec)) for spec in SIGNING_PATH},
    }


def test_the_shipped_model_pruned_and_unpruned_agree_on_every_recorded_step(
    sqlite_database, clock, monkeypatch
):
    """The recorded steps of a project (returns for material, a withdrawal, 退回, the 提醒函 and tracking
    reports) re-run on the model twice, pruning as recorded and never pruning: after every step both
    offer the same tasks with the same data, wait for the same timers and hold the same project data."""
    from workflows.db import transaction
    from workflows.models import ModelVersion, ProcessInstance

    pid = _record_a_long_history(clock)
    monkeypatch.undo()
    with transaction() as s:
        inst = s.get(ProcessInstance, pid)
        version, process_id = s.get(ModelVersion, inst.model_version_id), inst.process_id
    pruned = whole = None
    prunings = 0
    for number, step in enumerate(_engine_steps(pid), start=1):
        pruned, whole, pruned_here = _replay_both_ways(version, process_id, step, pruned, whole)
        prunings += pruned_here
        assert _observed(pruned) == _observed(whole), f"step {number}: {step['ops']}"
    assert prunings > 50 and len(whole.tasks) > 3 * len(pruned.tasks)


def _record_a_long_history(clock) -> int:
    """A project through 8 returns for material, a screening sent back and withdrawn (撤回), a 退回 on the
    signing path, then 30 tracking reports; its id."""
    from service_support import advance, ready, start

    from workflows.demo import DOER, actor
    from workflows.services import task_operations, task_service

    pid = start()
    for _ in range(8):
        _return_for_material(pid)
    advance(
        pid, "screening", screening_decision="退回补充", confirmed_class="重大", screening_opinion="再补充"
    )
    task_operations.task_withdraw(actor("yanpan"), _completed(pid, "screening").id)
    for spec in SIGNING_PATH:
        if spec == "approve_filing":
            (record,) = ready(pid)
            task_service.task_claim(actor(DOER[spec]), record.id)
            task_operations.task_return(actor(DOER[spec]), record.id, "contract_review", "合同条款需再审")
            advance(pid, "contract_review")
        advance(pid, spec, **({"confirmed_class": "重大"} if spec == "screening" else {}))
    for _ in range(30):
        _report(pid, clock)
    return pid


def _replay_both_ways(version, process_id: str, step: dict, pruned, whole) -> tuple:
    """Apply one recorded step to the pruned workflow as recorded and to the whole one without pruning;
    (the pruned one, stored and loaded as between two steps, the whole one, how many prunings it held)."""
    from datetime import datetime

    from workflows.engine.clock import frozen_at
    from workflows.engine.replay import _apply, _stubs

    on_pruned = ProcessRuntime(version, _stubs(step["services"]), process_id)
    on_whole = ProcessRuntime(version, _stubs(step["services"]), process_id)
    for wf, runtime in ((pruned, on_pruned), (whole, on_whole)):
        if wf is not None:  # this step's service results answer this step's service tasks
            wf.script_engine = runtime.script_engine
    prunings = 0
    with frozen_at(datetime.fromisoformat(step["clock"])):
        for op in step["ops"]:
            if op["op"] == "prune":
                prunings += 1
            elif op["op"] == "start":
                whole = on_whole.start()
            else:
                mirrored = {**op, "task": _same_task(pruned, whole, op["task"])} if "task" in op else op
                _whole_apply(on_whole, whole, mirrored)
            pruned = _apply(on_pruned, pruned, op)
    return on_pruned.load(on_pruned.dump(pruned)[0]), whole, prunings


def _whole_apply(runtime: ProcessRuntime, wf, op: dict) -> None:
    """Apply a recorded operation whose task is already the unpruned workflow's task id."""
    kind, task = op["op"], op.get("task")
    if kind == "complete":
        runtime.complete(wf, task, op["data"])
    elif kind == "reset_to":
        runtime.reset_to(wf, task, *op.get("args", []), **op.get("kwargs", {}))
    elif kind == "fire_timers":
        runtime.fire_timers(wf)
    else:
        raise AssertionError(f"not expected in this history: {kind}")


def test_a_project_stored_before_pruning_prunes_on_its_next_step_and_replays(database, monkeypatch):
    """A project whose state was stored whole (before pruning existed: no step recorded op prune) keeps
    working: its next step prunes it, and its history replays, the old steps without pruning."""
    from service_support import advance, ready, start

    with monkeypatch.context() as before_pruning:
        before_pruning.setattr(ProcessRuntime, "prune", staticmethod(lambda wf: 0))
        pid = start()
        for _ in range(12):
            _return_for_material(pid)
        whole = len(_state(pid))
    assert not any(op["op"] == "prune" for step in _engine_steps(pid) for op in step["ops"])
    assert _replays(pid)
    _return_for_material(pid)
    assert any(op["op"] == "prune" for op in _engine_steps(pid)[-1]["ops"])
    assert len(_state(pid)) < whole / 2
    assert [r.spec_name for r in ready(pid)] == ["screening"]
    assert _replays(pid)
    advance(pid, "screening", confirmed_class="重大")
    assert [r.spec_name for r in ready(pid)] == ["negotiation"]
    assert _replays(pid)


def test_a_worker_that_parsed_the_model_afresh_finishes_a_joint_review_begun_elsewhere(database):
    """Loads build the workflow on the version's parsed specs; a worker whose specs never created a
    multi-instance child (parsed after the review began) still merges each department's opinion."""
    from service_support import advance, ready, start

    from workflows.engine import model_store

    pid = start()
    for spec in ("screening", "negotiation", "approve_terms"):
        advance(pid, spec, **({"confirmed_class": "重大"} if spec == "screening" else {}))
    units = [r.unit_code for r in ready(pid) if r.spec_name == "department_review"]
    assert len(units) > 1
    for unit in units:
        model_store.parse_specs.cache_clear()  # as in a worker that has not run this version yet
        advance(pid, "department_review", only_units={unit})
    assert [r.spec_name for r in ready(pid)] == ["review_materials"]
    assert _replays(pid)
