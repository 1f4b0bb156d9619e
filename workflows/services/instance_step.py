"""One engine step = one transaction: load, change, run the engine, persist, index tasks, audit."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import audit, faults, personal_data
from workflows.actor import Actor
from workflows.deadlines import add_working_days
from workflows.engine.list_spec import ListSpec, list_spec, value_at
from workflows.engine.model_store import form_files
from workflows.engine.replay import StepJournal
from workflows.engine.runtime import ProcessRuntime, ReadyTask, model_errors
from workflows.errors import ModelFailed
from workflows.models import ModelVersion, Organisation, ProcessInstance, TaskOwner, TaskRecord, Unit, User
from workflows.models._types import utcnow
from workflows.roles import ADMIN_ROLES, ROLES
from workflows.services import operator_registry, script_functions


def runtime_for(session: Session, instance: ProcessInstance, actor: Actor,
                journal: StepJournal | None = None) -> ProcessRuntime:
    version = session.get(ModelVersion, instance.model_version_id)
    operations = {**operator_registry.bound(session, instance, actor),
                  **script_functions.bound(session, instance, actor)}
    if journal is not None:
        operations = journal.wrap_services(operations)  # their results are replayed from the record
    return ProcessRuntime(version, operations, instance.process_id)


def run_step(session: Session, instance: ProcessInstance, actor: Actor,
             change: Callable[[ProcessRuntime, object], list[str] | None]) -> list[TaskRecord]:
    """Apply `change(runtime, workflow)`, then persist everything; returns the newly offered tasks.

    `change` may return the ids of engine tasks it removed (a reset), whose records are superseded.
    """
    # Everything the step puts into the engine is written down, so the step can be replayed.
    journal = StepJournal()
    runtime = journal.runtime(runtime_for(session, instance, actor, journal))
    with model_errors():  # a failing or runaway script rolls the whole step back, with a clear message
        wf = runtime.load(instance.state) if instance.state else runtime.start()
        removed = change(runtime, wf) or []
    # Test-only fault points (workflows/faults.py, ZS_FAULT_POINT); no-ops unless configured.
    session.info["engine_step"] = True
    faults.reached("after_engine")
    if removed:
        # Steps undone by a return: kept as history, no longer the project's current answers.
        for row in session.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id,
                                                            TaskRecord.task_uuid.in_(removed),
                                                            TaskRecord.state == "completed")):
            row.state = "superseded"
    # Read before the instance changes: a query after it would flush the row once more (one UPDATE a step).
    list_spec = list_spec_of(session, instance.model_version_id, instance.process_id)
    state, state_hash = runtime.dump(wf)
    instance.state = state
    instance.state_hash = state_hash
    instance.next_timer_at = runtime.next_timer(wf)
    instance.updated_at = utcnow()
    data = runtime.data(wf)
    _copy_summary(instance, data, list_spec)
    ending = runtime.outcome(wf)
    outcome = ending[0] if ending else None
    ready = runtime.ready_tasks(wf)
    if outcome:
        instance.status = "cancelled" if outcome == "cancelled" else "completed"
        instance.outcome = outcome
        instance.stage = ending[1]
    else:
        # Nothing to do now (e.g. 履约跟踪 between two reports): the stage of what the process waits for.
        instance.stage = "、".join(dict.fromkeys(t.properties.get("stage", t.title) for t in ready)) or \
            "、".join(dict.fromkeys(runtime.waiting_stages(wf)))
    session.flush()
    faults.reached("after_state_before_audit")
    # The step's record: its inputs for replay, and the hash of the state it stored (an edit of the
    # stored state behind the engine's back no longer matches it).
    audit.append(session, "engine_step", actor=actor.username, instance_id=instance.id,
                 data=journal.record(wf), state_hash=state_hash, address=actor.address)
    created = sync_task_index(session, instance, ready, actor)
    if outcome:
        audit.append(session, "project_ended", actor=actor.username, instance_id=instance.id,
                     outcome=outcome, state_hash=state_hash, address=actor.address)
    return created


def list_spec_of(session: Session, version_id: int, process_id: str, digest: str | None = None) -> ListSpec:
    """What the instance's model declares for lists (workflows/engine/list_spec.py), per version; `digest`:
    the version's content hash when the caller read it with its rows."""
    cache = session.info.setdefault("list_specs", {})
    if (version_id, process_id) not in cache:
        # Versions never change: their files are read once per process, the hash checked once per session.
        if digest is None:
            digest = session.scalar(select(ModelVersion.content_hash).where(ModelVersion.id == version_id))
        key = (version_id, digest, process_id)
        if key not in _LIST_SPECS:
            version = session.get(ModelVersion, version_id)
            _LIST_SPECS[key] = list_spec(version.files, process_id) if version is not None else ListSpec()
        cache[(version_id, process_id)] = _LIST_SPECS[key]
    return cache[(version_id, process_id)]


_LIST_SPECS: dict[tuple, ListSpec] = {}


def _text(value, size: int) -> str | None:
    if value in (None, "") or isinstance(value, (dict, list)):
        return None
    return str(value).strip()[:size] or None


def _copy_summary(instance: ProcessInstance, data: dict, spec: ListSpec) -> None:
    """Copy what the model declares for lists into the instance's index columns (ListSpec)."""
    instance.project_name = _text(value_at(data, spec.title), 200) or instance.project_name
    instance.investor = _text(value_at(data, spec.party), 200) or instance.investor
    amount = value_at(data, spec.amount)
    try:
        if amount is not None and not isinstance(amount, bool) and abs(float(amount)) < 1e12:
            instance.amount_wan = float(amount)
    except (TypeError, ValueError):
        pass  # not a number: the column keeps what it had
    instance.project_class = _text(value_at(data, spec.klass), 10) or instance.project_class


def sync_task_index(session: Session, instance: ProcessInstance, ready: list[ReadyTask],
                    actor: Actor) -> list[TaskRecord]:
    """Make the ready rows of the index equal the engine's READY user tasks."""
    rows = {r.task_uuid: r for r in session.scalars(select(TaskRecord).where(
        TaskRecord.instance_id == instance.id, TaskRecord.state == "ready"))}
    now = utcnow()
    created = []
    earlier = {r.task_uuid: r for r in session.scalars(select(TaskRecord).where(
        TaskRecord.instance_id == instance.id, TaskRecord.state != "ready",
        TaskRecord.task_uuid.in_([t.uuid for t in ready])))}
    for task in ready:
        if task.uuid in rows:
            continue
        props = task.properties
        if task.uuid in earlier:
            # A completed step made ready again (撤回 / 退回): it goes back to whoever completed it.
            row = earlier[task.uuid]
            row.state, row.assignee_id, row.fixed_assignee = "ready", row.completed_by_id, True
            row.completed_at, row.completed_by_id, row.data = None, None, None
            row.created_at, row.due_at = now, add_working_days(now, int(props.get("dueWorkingDays", 3)))
            created.append(row)
            audit.append(session, "task_reopened", actor=actor.username, instance_id=instance.id,
                         task_spec=task.spec_name, mi_index=task.mi_index, address=actor.address,
                         data={"due_at": row.due_at.isoformat(), "assignee_id": row.assignee_id})
            continue
        assignee_id = None
        if props.get("assigneeField"):
            username = task.data.get(props["assigneeField"])
            assignee_id = session.scalar(select(User.id).where(User.username == username))
        due_days = int(props.get("dueWorkingDays", 3))
        record = TaskRecord(
            instance_id=instance.id, task_uuid=task.uuid, spec_name=task.spec_name, title=task.title,
            stage=props.get("stage", task.title), form=task.form, lane=task.lane,
            unit_code=task.data.get(props["unitField"]) if props.get("unitField") else None,
            mi_index=task.mi_index, assignee_id=assignee_id, fixed_assignee=assignee_id is not None,
            created_at=now, due_at=add_working_days(now, due_days),
        )
        owners = lane_owners(session, instance, task)
        if owners is not None:
            record.owned = True
            record.owners = [TaskOwner(user_id=u.id) for u in owners]
        session.add(record)
        created.append(record)
        # A recurring task (the periodic tracking report) comes back by design, not as a loop back.
        if not props.get("recurring") and session.scalar(select(TaskRecord.id).where(
                TaskRecord.instance_id == instance.id, TaskRecord.spec_name == task.spec_name,
                TaskRecord.state == "completed").limit(1)) is not None:
            # The process came back to a stage it had passed: a loop (return, renegotiation, 暂缓 …).
            audit.append(session, "loop_back", actor=actor.username, instance_id=instance.id,
                         task_spec=task.spec_name, mi_index=task.mi_index, address=actor.address)
        audit.append(session, "task_offered", actor=actor.username, instance_id=instance.id,
                     task_spec=task.spec_name, mi_index=task.mi_index, address=actor.address,
                     data={"lane": task.lane, "unit": record.unit_code, "due_working_days": due_days,
                           "due_at": record.due_at.isoformat(),
                           **({"owners": [u.username for u in owners]} if owners is not None else {})})
    ready_ids = {t.uuid for t in ready}
    for uuid, row in rows.items():
        if uuid not in ready_ids:
            row.state = "cancelled"
            audit.append(session, "task_cancelled", actor=actor.username, instance_id=instance.id,
                         task_spec=row.spec_name, mi_index=row.mi_index, address=actor.address)
    session.flush()
    return created


LANE_OWNERS = "lane_owners"  # SpiffArena's task-data key: {lane name: [username, …]}


def lane_owners(session: Session, instance: ProcessInstance, task: ReadyTask) -> list[User] | None:
    """The users the task data's `lane_owners` names for the task's lane, or None when it
    names none. Each must be an active user of the organisation the lane's role sits in (the
    instance's county, or its prefecture) holding a business role; anything else is the model's
    error (ModelFailed: 422, the step does not land)."""
    table = task.data.get(LANE_OWNERS)
    if not task.lane or not isinstance(table, dict) or task.lane not in table:
        return None
    names = table[task.lane]

    def refuse(reason: str):
        raise ModelFailed(task.title, f"{LANE_OWNERS}[{task.lane!r}]：{reason}")

    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        refuse("须为非空的用户名列表")
    role = ROLES.get(task.lane)
    org_id = instance.county_id
    if role is not None and role.level == "prefecture":
        org_id = session.scalar(select(Organisation.parent_id).where(Organisation.id == instance.county_id))
    users = {u.username: u for u in session.scalars(
        select(User).join(Unit, User.unit_id == Unit.id)
        .where(User.username.in_(set(names)), User.active.is_(True), Unit.organisation_id == org_id))}
    owners = []
    for name in dict.fromkeys(names):
        user = users.get(name)
        if user is None or not user.role_codes - set(ADMIN_ROLES):
            refuse(f"用户“{name[:60]}”不是本单位在岗的业务人员")
        owners.append(user)
    return owners


def first_task(version: ModelVersion) -> ReadyTask:
    """The user task a new instance of the version's process opens with; its lane says who may
    start one and its form is the registration form."""
    runtime = ProcessRuntime(version, {})
    return runtime.ready_tasks(runtime.start())[0]


def start_instance(session: Session, actor: Actor, version: ModelVersion, values: dict,
                   submitted_data: dict, *, project_name: str | None = None, investor: str = "", amount_wan=None,
                   action: str = "project_started", audit_data: dict | None = None,
                   prepare: Callable[[ProcessInstance], dict] | None = None) -> ProcessInstance:
    """Start an instance and complete its first task with the registration form, in one step.

    The list columns are then filled from what the model declares (ListSpec); a model declaring no
    title is listed by its process name and the instance number. `prepare(instance)`, once the instance
    row exists and before the engine runs, may return more values of the first form (e.g. references to
    the files it took); they join `values` and `submitted_data`."""
    first = first_task(version)
    process_id = version.process_id
    # Every instance starts with the stage it was imported at from a county's ledger, None when it was not
    # (workflows/project_import.py), so a model's import gateway can read it on any start path.
    submitted_data = {**submitted_data, "imported_stage": submitted_data.get("imported_stage")}
    now = utcnow()
    # Personal data (x-personal fields of the first form) is sealed before it reaches the engine, the
    # task record or the audit log; the caller validated it in clear.
    schema = form_files(version, first.form)[0] if first.form else {}
    values, submitted_data = personal_data.seal_fields(schema, values), personal_data.seal_fields(schema, submitted_data)
    instance = ProcessInstance(
        model_version_id=version.id, process_id=process_id, county_id=actor.org_id, started_by_id=actor.id,
        started_unit_id=actor.unit_id, project_name=project_name or version.name or process_id,
        investor=investor, amount_wan=amount_wan, state="", state_hash="", created_at=now, updated_at=now)
    session.add(instance)
    session.flush()
    if not list_spec_of(session, version.id, process_id).title:
        instance.project_name = f"{version.name or process_id} #{instance.id}"[:200]
    if prepare is not None:
        extra = prepare(instance)
        values = {**values, **extra}
        submitted_data = {**submitted_data, **extra}
    audit.append(session, action, actor=actor.username, role=first.lane, instance_id=instance.id,
                 data={"model_version": version.content_hash, "process": process_id, **(audit_data or {})},
                 address=actor.address)
    first_uuid = ""

    def change(runtime, wf):
        nonlocal first_uuid
        first_uuid = runtime.ready_tasks(wf)[0].uuid
        # Logged before the engine runs on, so the history reads cause then effect.
        audit.append(session, "task_completed", actor=actor.username, role=first.lane, instance_id=instance.id,
                     task_spec=first.spec_name, data=submitted_data, address=actor.address)
        runtime.complete(wf, first_uuid, submitted_data)

    run_step(session, instance, actor, change)
    session.add(TaskRecord(instance_id=instance.id, task_uuid=first_uuid, spec_name=first.spec_name,
                           title=first.title, stage=first.properties.get("stage", first.title), form=first.form,
                           lane=first.lane, assignee_id=actor.id, fixed_assignee=True, state="completed",
                           created_at=now, completed_at=now, completed_by_id=actor.id, data=values))
    return instance
