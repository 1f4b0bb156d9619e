"""A task submit runs the model ahead of its write transaction and writes with UPDATE … WHERE version = ?
(workflows/services/instance_step.py, docs/architecture.md "The path of one request"): a model's code
holds no lock, two submits of one task give one success and one 409, a failed step changes nothing, a
warm step skips deserialising, and a submit's SQL stays within its count."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from service_support import advance, instance, ready, start
from sqlalchemy import func, select, text, update

from workflows import audit, db
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, DEMO_PASSWORD, actor
from workflows.engine.runtime import ProcessRuntime
from workflows.errors import Conflict, ModelFailed
from workflows.models import AuditEvent, ProcessInstance, TaskRecord
from workflows.services import instance_step, model_service, process_service, task_service, user_service, warm
from workflows.sql_count import SqlCount

MODELS = Path(__file__).parent / "models"
SCREENING = {k: v for k, v in DEMO_ANSWERS["screening"].items() if v is not None} | {"confirmed_class": "重大"}


def _screening(pid: int) -> int:
    record = next(r for r in ready(pid) if r.spec_name == "screening")
    task_service.task_claim(actor("yanpan"), record.id)
    return record.id


def _events(instance_id: int | None = None) -> int:
    with transaction() as s:
        query = select(func.count()).select_from(AuditEvent)
        if instance_id is not None:
            query = query.where(AuditEvent.instance_id == instance_id)
        return s.scalar(query)


def _deploy_runaway() -> None:
    uploads = [(p.name, p.read_bytes()) for p in sorted((MODELS / "runaway").glob("*/*")) if p.is_file()]
    model_service.version_deploy(actor("admin"), uploads, "runaway", [actor("shangwu").org_id])


@pytest.mark.postgres
def test_a_runaway_script_holds_no_lock_a_sign_in_and_another_projects_step_land_meanwhile(
        postgres_url, monkeypatch):
    db.init(postgres_url)
    db.upgrade()
    from workflows.demo import seed_organisations
    seed_organisations()
    _deploy_runaway()
    monkeypatch.setenv("ZS_SCRIPT_SECONDS", "20")  # `while True` runs until the budget stops it
    runaway = process_service.process_start(actor("shangwu"), "runaway", {"route": "loop"})
    with transaction() as s:
        task_id = s.scalar(select(TaskRecord.id).where(TaskRecord.instance_id == runaway,
                                                       TaskRecord.spec_name == "ra_next", TaskRecord.state == "ready"))
    other = start()
    other_task = _screening(other)
    before = instance(runaway)
    events_before = _events(runaway)
    in_engine = threading.Event()
    real_complete = ProcessRuntime.complete

    def complete(wf, task_uuid, data):
        if wf.spec.name == "runaway":
            in_engine.set()  # the gateway and the looping script run next, inside this call
        return real_complete(wf, task_uuid, data)

    monkeypatch.setattr(ProcessRuntime, "complete", staticmethod(complete))
    outcome: list = []

    def run_away():
        try:
            task_service.task_complete(actor("shangwu"), task_id, {})
            outcome.append("landed")
        except Exception as err:  # noqa: BLE001 - the test looks at what it was
            outcome.append(err)

    thread = threading.Thread(target=run_away)
    thread.start()
    assert in_engine.wait(60), outcome
    # While the script loops: a sign-in (audited) and a step of another project land.
    user_service.authenticate("zhaoshang", DEMO_PASSWORD, "127.0.0.1")
    task_service.task_complete(actor("yanpan"), other_task, SCREENING)
    assert thread.is_alive(), outcome
    with transaction() as s:
        # No session of the database waits for a lock while the script loops.
        assert s.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")) == 0
    thread.join(120)
    assert isinstance(outcome[0], ModelFailed)
    # The failed step changed nothing: same state, same version, task still ready, no event.
    after = instance(runaway)
    assert (after.state_hash, after.version, after.stage) == (before.state_hash, before.version, before.stage)
    assert [r.spec_name for r in ready(runaway)] == ["ra_next"] and _events(runaway) == events_before
    assert [r.spec_name for r in ready(other)] == ["negotiation"]
    with transaction() as s:
        assert audit.check_chain(s) is None


def test_two_submits_of_one_task_at_once_one_lands_the_other_is_a_409(database, monkeypatch):
    pid = start()
    task_id = _screening(pid)
    # Both submits run their engine before either writes; then both write.
    both_ran = threading.Barrier(2, timeout=60)
    first_try = threading.local()
    real = instance_step.complete_ahead

    def complete_ahead(*args, **kwargs):
        ran = real(*args, **kwargs)
        if not getattr(first_try, "done", False):
            first_try.done = True
            both_ran.wait()
        return ran

    monkeypatch.setattr(instance_step, "complete_ahead", complete_ahead)
    results: list = []

    def submit():
        try:
            results.append(task_service.task_complete(actor("yanpan"), task_id, SCREENING))
        except Exception as err:  # noqa: BLE001
            results.append(err)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    landed = [r for r in results if r == pid]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(landed) == 1 and len(refused) == 1, results
    assert "该任务已由" in refused[0].message
    with transaction() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == pid, AuditEvent.action == "task_completed",
            AuditEvent.task_spec == "screening")) == 1
        assert audit.check_chain(s) is None
    assert [r.spec_name for r in ready(pid)] == ["negotiation"]


def test_a_step_that_finds_the_row_moved_on_when_it_writes_changes_nothing_and_is_a_409(database, monkeypatch):
    pid = start()
    task_id = _screening(pid)
    real = instance_step.write_ahead

    def moved_on(session, inst, ran, who):
        # Another process writes the row between the engine run and the write (its version moves on),
        # on every attempt: the submit ends as a 409.
        with db.engine().begin() as conn:
            conn.execute(update(ProcessInstance).where(ProcessInstance.id == inst.id)
                         .values(version=ProcessInstance.version + 1))
        return real(session, inst, ran, who)

    monkeypatch.setattr(instance_step, "write_ahead", moved_on)
    stored, events = instance(pid), _events()
    with pytest.raises(Conflict):
        task_service.task_complete(actor("yanpan"), task_id, SCREENING)
    after = instance(pid)
    assert (after.state_hash, after.stage) == (stored.state_hash, stored.stage) and _events() == events
    assert [r.spec_name for r in ready(pid)] == ["screening"]
    with transaction() as s:
        assert s.get(TaskRecord, task_id).state == "ready"


def test_a_warm_step_skips_deserialising_and_a_moved_version_loads_again(database, monkeypatch):
    loads = []
    real_load = ProcessRuntime.load

    def load(self, state):
        loads.append(1)
        return real_load(self, state)

    monkeypatch.setattr(ProcessRuntime, "load", load)
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    loads.clear()
    advance(pid, "negotiation")  # the workflow the last step kept: no load
    assert loads == []
    with db.engine().begin() as conn:  # another process wrote the row: the kept workflow is not used
        conn.execute(update(ProcessInstance).where(ProcessInstance.id == pid)
                     .values(version=ProcessInstance.version + 1))
    advance(pid, "approve_terms")
    assert loads == [1]
    monkeypatch.setenv("ZS_WARM_WORKFLOWS", "0")
    warm.clear()
    advance(pid, "department_review", only_units={"fgj"})
    assert len(loads) == 2  # nothing kept: every step loads


def test_a_submit_sends_few_statements_and_commits_once(database):
    task_id = _screening(start())  # warm: the start kept its workflow, as a project's last step mostly has
    who = actor("yanpan")
    with SqlCount(db.engine()) as count:
        task_service.task_complete(who, task_id, SCREENING)
    assert count.commits == 1, count.sql
    assert count.statements <= 13, count.sql  # 11 on SQLite, 12 on PostgreSQL; 20 and 23 before (BENCHMARKS.md)
