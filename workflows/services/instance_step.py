"""One engine step lands in one transaction: load, change, run the engine, persist, index tasks, audit.

The engine may run in memory before the transaction (`run_engine`, `complete_ahead`: a task submit) or
inside it (`run_step`); the writing (`persist`) is the same, with the instance's version as the check and
the audit chain's lock taken last (docs/architecture.md, "The path of one request")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from workflows import audit, faults, personal_data
from workflows.actor import Actor
from workflows.deadlines import add_working_days
from workflows.engine.list_spec import ListSpec, list_spec, value_at
from workflows.engine.model_store import form_files
from workflows.engine.replay import StepJournal
from workflows.engine.runtime import ProcessRuntime, ReadyTask, model_errors
from workflows.errors import Conflict, ModelFailed, ServiceError
from workflows.models import ModelVersion, Organisation, ProcessInstance, TaskOwner, TaskRecord, Unit, User
from workflows.models._types import utcnow
from workflows.roles import ADMIN_ROLES, ROLES
from workflows.services import operator_registry, script_functions, warm


class NeedsTransaction(ServiceError):
    """The model called a service operator while the step ran ahead of its transaction: operators write
    (a filing, its number, a letter, the reward ledger) and their results flow on in the process, so
    the step runs again inside its write transaction (`run_step`)."""

    status = 500


def runtime_for(
    session: Session,
    instance: ProcessInstance,
    actor: Actor,
    journal: StepJournal | None = None,
    operators: bool = True,
) -> ProcessRuntime:
    """The instance's runtime with the operators and script functions bound to the session. Without
    `operators` (the engine runs ahead of the write transaction), calling one raises NeedsTransaction."""
    version = session.get_one(ModelVersion, instance.model_version_id)
    bound = operator_registry.bound(session, instance, actor)
    if not operators:
        bound = {name: _not_here for name in bound}
    operations = {**bound, **script_functions.bound(session, instance, actor)}
    if journal is not None:
        operations = journal.wrap_services(operations)  # their results are replayed from the record
    return ProcessRuntime(version, operations, instance.process_id)


def _not_here(data: dict, **params) -> dict:
    raise NeedsTransaction("该步骤调用了服务，须在事务内执行。")


@dataclass
class Ran:
    """An engine step run in memory (`run_engine`), waiting to be written (`persist`)."""

    instance_id: int
    runtime: ProcessRuntime
    wf: object
    journal: StepJournal
    removed: list[str]
    list_spec: ListSpec
    audit: list = field(default_factory=list)  # events noted while it ran, written with the step


def run_engine(
    session: Session,
    instance: ProcessInstance,
    actor: Actor,
    change: Callable[[ProcessRuntime, object], list[str] | None],
    operators: bool = True,
) -> Ran:
    """Apply `change(runtime, workflow)` to the instance's workflow in memory; nothing is written.

    The workflow comes from the warm cache when the instance's version is the one it was kept at
    (`warm.take`), else from the stored state. Without `operators` the session may be a read
    (`db.reading()`): a model that calls a service operator raises NeedsTransaction."""
    # Everything the step puts into the engine is written down, so the step can be replayed.
    journal = StepJournal()
    runtime = journal.runtime(runtime_for(session, instance, actor, journal, operators))
    with model_errors():  # a failing or runaway script rolls the whole step back, with a clear message
        if (
            instance.id is not None
            and (wf := warm.take(instance.id, instance.version, instance.state_hash)) is not None
        ):
            runtime.adopt(wf)
        else:
            wf = runtime.load(instance.state) if instance.state else runtime.start()
        removed = change(runtime, wf) or []
    # Test-only fault points (workflows/faults.py, ZS_FAULT_POINT); no-ops unless configured.
    faults.reached("after_engine")
    return Ran(
        instance.id,
        runtime,
        wf,
        journal,
        removed,
        list_spec_of(session, instance.model_version_id, instance.process_id),
        audit=list(session.info.get(audit.PENDING, [])),
    )


def run_step(
    session: Session,
    instance: ProcessInstance,
    actor: Actor,
    change: Callable[[ProcessRuntime, object], list[str] | None],
) -> list[TaskRecord]:
    """Apply `change(runtime, workflow)`, then persist everything; returns the newly offered tasks.

    `change` may return the ids of engine tasks it removed (a reset), whose records are superseded.
    The step's audit events (and any the caller noted since `audit.defer`) are chained last.
    """
    audit.defer(session)
    ran = run_engine(session, instance, actor, change)
    return persist(session, instance, ran, actor)


def persist(session: Session, instance: ProcessInstance, ran: Ran, actor: Actor) -> list[TaskRecord]:
    """Write a step run in memory: the state (UPDATE … WHERE version = the version it ran from: a step
    that landed meanwhile makes it a StaleDataError), the task index, then the audit events, the
    chain's lock taken last. The workflow is kept warm once the transaction commits."""
    runtime, wf, removed = ran.runtime, ran.wf, ran.removed
    session.info["engine_step"] = True
    audit.defer(session)
    if removed:
        # Steps undone by a return: kept as history, no longer the project's current answers.
        for row in session.scalars(
            select(TaskRecord).where(
                TaskRecord.instance_id == instance.id,
                TaskRecord.task_uuid.in_(removed),
                TaskRecord.state == "completed",
            )
        ):
            row.state = "superseded"
    list_spec = ran.list_spec  # read before the instance changed (a query after would flush it once more)
    state, state_hash = runtime.dump(wf)
    instance.state = state
    instance.state_hash = state_hash
    instance.next_timer_at = runtime.next_timer(wf)
    instance.updated_at = utcnow()
    data = runtime.data(wf)
    _copy_summary(instance, data, list_spec)
    ending = runtime.outcome(wf)  # (the end event, its stage) once the project has ended
    outcome = ending[0] if ending else None
    ready = runtime.ready_tasks(wf)
    if ending is not None:
        outcome, stage = ending
        instance.status = "cancelled" if outcome == "cancelled" else "completed"
        instance.outcome = outcome
        instance.stage = stage
    else:
        # Nothing to do now (e.g. 履约跟踪 between two reports): the stage of what the process waits for.
        instance.stage = "、".join(
            dict.fromkeys(t.properties.get("stage", t.title) for t in ready)
        ) or "、".join(dict.fromkeys(runtime.waiting_stages(wf)))
    session.flush()
    faults.reached("after_state_before_audit")
    # The step's record: its inputs for replay, and the hash of the state it stored (an edit of the
    # stored state behind the engine's back no longer matches it).
    audit.append(
        session,
        "engine_step",
        actor=actor.username,
        instance_id=instance.id,
        data=ran.journal.record(wf),
        state_hash=state_hash,
        address=actor.address,
    )
    created = sync_task_index(session, instance, ready, actor)
    if outcome:
        audit.append(
            session,
            "project_ended",
            actor=actor.username,
            instance_id=instance.id,
            outcome=outcome,
            state_hash=state_hash,
            address=actor.address,
        )
    audit.write_pending(session)
    warm.keep_after_commit(session, instance, wf)
    return created


@dataclass
class Completion:
    """One task being completed: by whom, which task, and how the values it stores come from what was
    submitted. `complete_task` (in a transaction) and `complete_ahead` + `write_ahead` (the engine run
    ahead of the transaction) are the one way every task is completed: on the task page, by the
    prefecture's decision over the filing API, and as the first task of a new instance."""

    actor: Actor
    task_uuid: str | None  # None: the instance's first ready task (an instance being started)
    spec_name: str
    lane: str | None
    values_of: Callable[[dict], dict]  # the task's data -> the values the task stores (validated, sealed)
    mi_index: int | None = None
    logged: Callable[[dict], dict] = dict  # the stored values -> the task_completed event's data
    outcome: Callable[[dict], str | None] = lambda stored: None
    stored: dict = field(default_factory=dict)
    uuid: str = ""  # the engine task completed, once known

    def change(self, session: Session, instance: ProcessInstance):
        def change(runtime, wf):
            self.uuid = self.task_uuid or runtime.ready_tasks(wf)[0].uuid
            task_data = runtime.task_data(wf, self.uuid)
            if task_data is None:
                raise Conflict("该任务已被处理，请刷新。")
            self.stored.clear()
            self.stored.update(self.values_of(task_data))
            # The cause before its effects: the completion is logged before what the engine does next
            # (services it calls, the tasks it offers); the engine step records the state hash.
            audit.append(
                session,
                "task_completed",
                actor=self.actor.username,
                role=self.lane,
                instance_id=instance.id,
                task_spec=self.spec_name,
                mi_index=self.mi_index,
                data=self.logged(self.stored),
                outcome=self.outcome(self.stored),
                address=self.actor.address,
            )
            runtime.complete(wf, self.uuid, self.stored)

        return change


def complete_task(session: Session, instance: ProcessInstance, completion: Completion) -> list[TaskRecord]:
    """Complete the task and run the engine on, all inside the caller's transaction (the caller has
    marked its task record completed); returns the newly offered tasks."""
    return run_step(session, instance, completion.actor, completion.change(session, instance))


def complete_ahead(read: Session, instance: ProcessInstance, completion: Completion) -> Ran:
    """Complete the task and run the engine on in memory, in a read (`db.reading()`): the model's scripts,
    conditions and decision tables run before any write transaction and hold no lock. A model that
    calls a service operator raises NeedsTransaction: `complete_task` then runs it in the transaction."""
    audit.defer(read)
    return run_engine(read, instance, completion.actor, completion.change(read, instance), operators=False)


def write_ahead(session: Session, instance: ProcessInstance, ran: Ran, actor: Actor) -> list[TaskRecord]:
    """Write a step run by `complete_ahead` in the write transaction: the instance read then is updated
    only if no step landed since (UPDATE … WHERE version = ?: otherwise StaleDataError, the 409 path)."""
    instance = session.merge(instance, load=False)  # no SELECT: the version read before is the check
    audit.defer(session, ran.audit)
    return persist(session, instance, ran, actor)


def list_spec_of(session: Session, version_id: int, process_id: str, digest: str | None = None) -> ListSpec:
    """What the instance's model declares for lists (workflows/engine/list_spec.py), per version; `digest`:
    the version's content hash when the caller read it with its rows."""
    cache = session.info.setdefault("list_specs", {})
    if (version_id, process_id) not in cache:
        # Versions never change: their files are read once per process, the hash checked once per session
        # (from the caller's rows or the version the session holds, if it does).
        if digest is None:
            held = session.identity_map.get(identity_key(ModelVersion, version_id))
            digest = (
                held.content_hash
                if held is not None
                else session.scalar(select(ModelVersion.content_hash).where(ModelVersion.id == version_id))
            )
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


def sync_task_index(
    session: Session, instance: ProcessInstance, ready: list[ReadyTask], actor: Actor
) -> list[TaskRecord]:
    """Make the ready rows of the index equal the engine's READY user tasks."""
    # One query: the rows offered now, and the rows of tasks the engine made ready again.
    found = session.scalars(
        select(TaskRecord).where(
            TaskRecord.instance_id == instance.id,
            (TaskRecord.state == "ready") | TaskRecord.task_uuid.in_([t.uuid for t in ready]),
        )
    ).all()
    rows = {r.task_uuid: r for r in found if r.state == "ready"}
    earlier = {r.task_uuid: r for r in found if r.state != "ready"}
    now = utcnow()
    created = []
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
            audit.append(
                session,
                "task_reopened",
                actor=actor.username,
                instance_id=instance.id,
                task_spec=task.spec_name,
                mi_index=task.mi_index,
                address=actor.address,
                data={"due_at": row.due_at.isoformat(), "assignee_id": row.assignee_id},
            )
            continue
        assignee_id = None
        if props.get("assigneeField"):
            username = task.data.get(props["assigneeField"])
            assignee_id = session.scalar(select(User.id).where(User.username == username))
        due_days = int(props.get("dueWorkingDays", 3))
        due_at = add_working_days(now, due_days)
        record = TaskRecord(
            instance_id=instance.id,
            task_uuid=task.uuid,
            spec_name=task.spec_name,
            title=task.title,
            stage=props.get("stage", task.title),
            form=task.form,
            lane=task.lane,
            unit_code=task.data.get(props["unitField"]) if props.get("unitField") else None,
            mi_index=task.mi_index,
            assignee_id=assignee_id,
            fixed_assignee=assignee_id is not None,
            created_at=now,
            due_at=due_at,
        )
        owners = lane_owners(session, instance, task)
        if owners is not None:
            record.owned = True
            record.owners = [TaskOwner(user_id=u.id) for u in owners]
        session.add(record)
        created.append(record)
        # A recurring task (the periodic tracking report) comes back by design, not as a loop back.
        if (
            not props.get("recurring")
            and session.scalar(
                select(TaskRecord.id)
                .where(
                    TaskRecord.instance_id == instance.id,
                    TaskRecord.spec_name == task.spec_name,
                    TaskRecord.state == "completed",
                )
                .limit(1)
            )
            is not None
        ):
            # The process came back to a stage it had passed: a loop (return, renegotiation, 暂缓 …).
            audit.append(
                session,
                "loop_back",
                actor=actor.username,
                instance_id=instance.id,
                task_spec=task.spec_name,
                mi_index=task.mi_index,
                address=actor.address,
            )
        audit.append(
            session,
            "task_offered",
            actor=actor.username,
            instance_id=instance.id,
            task_spec=task.spec_name,
            mi_index=task.mi_index,
            address=actor.address,
            data={
                "lane": task.lane,
                "unit": record.unit_code,
                "due_working_days": due_days,
                "due_at": due_at.isoformat(),
                **({"owners": [u.username for u in owners]} if owners is not None else {}),
            },
        )
    ready_ids = {t.uuid for t in ready}
    for uuid, row in rows.items():
        if uuid not in ready_ids:
            row.state = "cancelled"
            audit.append(
                session,
                "task_cancelled",
                actor=actor.username,
                instance_id=instance.id,
                task_spec=row.spec_name,
                mi_index=row.mi_index,
                address=actor.address,
            )
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

    def refuse(reason: str) -> NoReturn:
        raise ModelFailed(task.title, f"{LANE_OWNERS}[{task.lane!r}]：{reason}")

    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        refuse("须为非空的用户名列表")
    role = ROLES.get(task.lane)
    org_id = instance.county_id
    if role is not None and role.level == "prefecture":
        org_id = session.scalar(select(Organisation.parent_id).where(Organisation.id == instance.county_id))
    users = {
        u.username: u
        for u in session.scalars(
            select(User)
            .join(Unit, User.unit_id == Unit.id)
            .where(User.username.in_(set(names)), User.active.is_(True), Unit.organisation_id == org_id)
        )
    }
    owners: list[User] = []
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


def start_instance(
    session: Session,
    actor: Actor,
    version: ModelVersion,
    values: dict,
    submitted_data: dict,
    *,
    project_name: str | None = None,
    investor: str = "",
    amount_wan=None,
    action: str = "project_started",
    audit_data: dict | None = None,
    prepare: Callable[[ProcessInstance], dict] | None = None,
) -> ProcessInstance:
    """Start an instance and complete its first task with the registration form, in one step.

    The list columns are then filled from what the model declares (ListSpec); a model declaring no
    title is listed by its process name and the instance number. `prepare(instance)`, once the instance
    row exists and before the engine runs, may return more values of the first form (e.g. references to
    the files it took); they join `values` and `submitted_data`."""
    audit.defer(session)  # the step's events are chained last, once the engine has run
    first = first_task(version)
    process_id = version.process_id
    # Every instance starts with the stage it was imported at from a county's ledger, None when it was not
    # (workflows/project_import.py), so a model's import gateway can read it on any start path.
    submitted_data = {**submitted_data, "imported_stage": submitted_data.get("imported_stage")}
    now = utcnow()
    # Personal data (x-personal fields of the first form) is sealed before it reaches the engine, the
    # task record or the audit log; the caller validated it in clear.
    schema = form_files(version, first.form)[0] if first.form else {}
    values, submitted_data = (
        personal_data.seal_fields(schema, values),
        personal_data.seal_fields(schema, submitted_data),
    )
    instance = ProcessInstance(
        model_version_id=version.id,
        process_id=process_id,
        county_id=actor.org_id,
        started_by_id=actor.id,
        started_unit_id=actor.unit_id,
        project_name=project_name or version.name or process_id,
        investor=investor,
        amount_wan=amount_wan,
        state="",
        state_hash="",
        created_at=now,
        updated_at=now,
    )
    session.add(instance)
    session.flush()
    if not list_spec_of(session, version.id, process_id).title:
        instance.project_name = f"{version.name or process_id} #{instance.id}"[:200]
    if prepare is not None:
        extra = prepare(instance)
        values = {**values, **extra}
        submitted_data = {**submitted_data, **extra}
    audit.append(
        session,
        action,
        actor=actor.username,
        role=first.lane,
        instance_id=instance.id,
        data={"model_version": version.content_hash, "process": process_id, **(audit_data or {})},
        address=actor.address,
    )
    completion = Completion(
        actor, None, first.spec_name, first.lane, values_of=lambda task_data: submitted_data
    )
    complete_task(session, instance, completion)
    session.add(
        TaskRecord(
            instance_id=instance.id,
            task_uuid=completion.uuid,
            spec_name=first.spec_name,
            title=first.title,
            stage=first.properties.get("stage", first.title),
            form=first.form,
            lane=first.lane,
            assignee_id=actor.id,
            fixed_assignee=True,
            state="completed",
            created_at=now,
            completed_at=now,
            completed_by_id=actor.id,
            data=values,
        )
    )
    return instance
