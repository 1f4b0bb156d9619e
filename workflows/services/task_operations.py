"""The approval operations Chinese officials expect: 转办, 退回, 撤回, 撤销, 催办.

Each checks its permission first, runs in one transaction, and leaves an audit event and, where
someone must act, a notification.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import audit, auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine import model_store
from workflows.engine.model_store import form_files
from workflows.errors import Conflict, NotFound, ValidationFailed
from workflows.models import AuditEvent, ModelVersion, Notification, ProcessInstance, TaskRecord, User
from workflows.models._types import utcnow
from workflows.services.instance_step import run_step, runtime_for
from workflows.services.notifications import notify
from workflows.services.task_service import claim_if_sole, load_task, require_ready, review_rounds

REASON_MAX = 500


def _reason(text: str | None, field: str = "reason") -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed({field: "请填写理由"})
    if len(text) > REASON_MAX:
        raise ValidationFailed({field: f"不能超过 {REASON_MAX} 个字"})
    return text


def _holders(s: Session, record: TaskRecord, instance: ProcessInstance, county) -> list[int]:
    """Who holds a ready task: its assignee, or everyone it is offered to."""
    if record.assignee_id:
        return [record.assignee_id]
    users = s.scalars(select(User).where(User.active.is_(True))).all()
    return [u.id for u in users
            if auth.task_eligible(Actor.from_user(u), record, instance, county) and u.unit.active]


# --- 转办 --------------------------------------------------------------------------------------

def transfer_candidates(actor: Actor, task_id: int) -> list[tuple[int, str]]:
    """Colleagues who could take the task over for good (same role, organisation and department)."""
    with transaction() as s:
        record, instance, county = load_task(s, task_id)
        auth.require(auth.task_transfer(actor, record, instance, county))
        users = s.scalars(select(User).where(User.active.is_(True), User.id != actor.id)).all()
        return [(u.id, f"{u.unit.name} · {u.display_name}") for u in users
                if auth.task_eligible(Actor.from_user(u), _as_open(record), instance, county)]


def _as_open(record: TaskRecord) -> TaskRecord:
    """The task as offered to its group (to test who else could hold it)."""
    return record.as_open()


def task_transfer(actor: Actor, task_id: int, to_user_id: int, reason: str) -> None:
    """转办: hand my task for good to another user of the same role (and department)."""
    with transaction() as s:
        record, instance, county = load_task(s, task_id, lock=True)
        auth.require(auth.task_transfer(actor, record, instance, county), "只有任务的当前办理人可以转办。")
        require_ready(s, record)
        reason = _reason(reason)
        target = s.get(User, to_user_id)
        if target is None or not target.active or target.id == actor.id or not auth.task_eligible(
                Actor.from_user(target), _as_open(record), instance, county):
            raise ValidationFailed({"to_user_id": "只能转办给同一角色（及同一部门）的其他在岗用户"})
        record.assignee_id, record.fixed_assignee = target.id, True
        record.note = f"{actor.display_name} 转办：{reason}"
        audit.append(s, "task_transferred", actor=actor.username, role=record.lane, instance_id=instance.id,
                     task_spec=record.spec_name, mi_index=record.mi_index, address=actor.address,
                     data={"to": target.username, "reason": reason}, outcome=reason)
        notify(s, [target.id], f"{actor.display_name} 将「{instance.project_name}」的“{record.title}”转办给您：{reason}",
               "transfer", instance.id, record.id)


# --- 退回 --------------------------------------------------------------------------------------

def return_targets(actor: Actor, task_id: int) -> list[tuple[str, str]]:
    """(task id, title) of the earlier stages the model allows returning to from this task."""
    with transaction() as s:
        record, instance, county = load_task(s, task_id)
        auth.require(auth.task_complete(actor, record, instance, county))
        return _return_targets(s, record)


def _return_targets(s: Session, record: TaskRecord) -> list[tuple[str, str]]:
    instance = s.get(ProcessInstance, record.instance_id)
    runtime = runtime_for(s, instance, _system_actor())
    wf = runtime.load(instance.state)
    allowed = [t.strip() for t in _property(runtime, wf, record, "returnTargets").split(",") if t.strip()]
    titles = dict(s.execute(select(TaskRecord.spec_name, TaskRecord.title)
                            .where(TaskRecord.instance_id == instance.id)).all())
    return [(spec, titles.get(spec, spec)) for spec in allowed if runtime.latest_completed(wf, spec)]


def _property(runtime, wf, record: TaskRecord, name: str) -> str:
    for task in runtime.ready_tasks(wf):
        if task.uuid == record.task_uuid:
            return task.properties.get(name, "")
    return ""


def _system_actor() -> Actor:
    return Actor(id=0, username="system", display_name="系统", unit_id=0, unit_code="", unit_name="",
                 org_id=0, org_name="", org_kind="county", roles=frozenset())


def task_return(actor: Actor, task_id: int, target: str, reason: str) -> int:
    """退回: send the project back to an earlier stage the model allows from here, with a reason.

    The engine is reset to the latest completion of that stage; the steps after it are undone
    (kept in history as superseded) and the stage goes back to whoever completed it.
    """
    with transaction() as s:
        audit.defer(s)  # the chain's lock is taken last, once the engine has run
        record, instance, county = load_task(s, task_id, lock=True)
        auth.require(auth.task_complete(actor, record, instance, county))
        require_ready(s, record)
        claim_if_sole(s, actor, record, instance, county)
        if record.assignee_id != actor.id:
            raise Conflict("请先认领该任务再退回。")
        reason = _reason(reason)
        if target not in dict(_return_targets(s, record)):
            raise ValidationFailed({"target": "流程模型不允许从此环节退回到所选环节"})

        # The model says where the resubmitted project goes (BPMN property returnMode): "direct"
        # straight back to this step and its returner, else through every stage again. The marks
        # below are what the BPMN's resubmission gateway reads.
        runtime = runtime_for(s, instance, actor)
        direct = _property(runtime, runtime.load(instance.state), record, "returnMode") == "direct"
        marks = {"returned_from": record.spec_name if direct else None,
                 "returned_by": actor.username if direct else None}

        def change(runtime, wf):
            return runtime.reset_to(wf, runtime.latest_completed(wf, target), marks)

        audit.append(s, "task_returned", actor=actor.username, role=record.lane, instance_id=instance.id,
                     task_spec=record.spec_name, mi_index=record.mi_index, address=actor.address,
                     data={"to": target, "reason": reason, "resubmit": "direct" if direct else "restart"},
                     outcome=reason)
        reopened = run_step(s, instance, actor, change)
        for row in reopened:
            row.note = f"{actor.display_name}（{record.title}）退回：{reason}" + (
                f"。重新提交后直接回到“{record.title}”，由 {actor.display_name} 办理" if direct else "")
        notify(s, [r.assignee_id for r in reopened if r.assignee_id],
               f"「{instance.project_name}」被退回至“{reopened[0].title if reopened else target}”：{reason}",
               "return", instance.id)
        return instance.id


# --- 撤回 --------------------------------------------------------------------------------------

def task_withdraw(actor: Actor, task_id: int) -> int:
    """撤回: the one who completed a step takes it back while the next step is still untouched."""
    with transaction() as s:
        audit.defer(s)  # the chain's lock is taken last, once the engine has run
        record, instance, _ = load_task(s, task_id, lock=True)
        auth.require(auth.task_withdraw(actor, record), "只能撤回自己办理的环节。")
        if instance.status != "running":
            raise Conflict("项目已办结，不能撤回。")
        runtime = runtime_for(s, instance, actor)
        wf = runtime.load(instance.state)
        if runtime.is_multi_instance_child(wf, record.task_uuid):
            raise Conflict("会签意见已汇入联合会审，不能撤回；如需修改请由县商务局退回。")
        _require_untouched(s, record)

        def change(runtime, wf):
            return runtime.reset_to(wf, record.task_uuid)

        audit.append(s, "task_withdrawn", actor=actor.username, role=record.lane, instance_id=instance.id,
                     task_spec=record.spec_name, mi_index=record.mi_index, address=actor.address)
        for row in run_step(s, instance, actor, change):
            row.note = f"{actor.display_name} 撤回了已提交的意见"
        return record.id


def _require_untouched(s: Session, record: TaskRecord) -> None:
    if touched_since(s, record):
        raise Conflict("下一环节已开始办理，不能撤回。")


def touched_since(s: Session, record: TaskRecord) -> bool:
    """Whether anything happened after the step that 撤回 could not undo (a later step taken up or
    done, or the prefecture told by a filing service task)."""
    later = s.scalars(select(TaskRecord).where(TaskRecord.instance_id == record.instance_id,
                                               TaskRecord.id != record.id)).all()
    touched = any(
        (r.state == "completed" and r.completed_at and r.completed_at > record.completed_at) or
        (r.state == "ready" and r.assignee_id is not None and not r.fixed_assignee)
        for r in later)
    # Service tasks (filing) after the step have told the prefecture: it can no longer be taken back.
    filed = s.scalar(select(AuditEvent.id).where(
        AuditEvent.instance_id == record.instance_id, AuditEvent.at >= record.completed_at,
        AuditEvent.action.in_(("filing_submitted", "filing_accepted", "filing_returned",
                               "signing_reported"))).limit(1))
    return touched or filed is not None


# --- 撤销 --------------------------------------------------------------------------------------

def project_cancel(actor: Actor, instance_id: int, reason: str) -> None:
    """撤销: the one who started a project cancels it while it runs, with a reason."""
    with transaction() as s:
        audit.defer(s)  # the chain's lock is taken last, once the engine has run
        instance = s.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound("项目不存在。")
        auth.require(auth.project_cancel(actor, instance), "只有项目发起人可以撤销。")
        if instance.status != "running":
            raise Conflict("项目已办结，不能撤销。")
        reason = _reason(reason)
        audit.append(s, "project_cancelled", actor=actor.username, instance_id=instance.id,
                     data={"reason": reason}, outcome=reason, address=actor.address)
        holders = [r.assignee_id for r in s.scalars(select(TaskRecord).where(
            TaskRecord.instance_id == instance.id, TaskRecord.state == "ready")) if r.assignee_id]
        run_step(s, instance, actor, lambda runtime, wf: runtime.cancel(wf))
        instance.notes = f"撤销理由：{reason}"
        notify(s, holders, f"「{instance.project_name}」已由发起人撤销：{reason}", "cancel", instance.id)


# --- 催办 --------------------------------------------------------------------------------------

def task_urge(actor: Actor, task_id: int, message: str = "") -> int:
    """催办: remind whoever holds a task; returns the project's id."""
    with transaction() as s:
        record, instance, county = load_task(s, task_id)
        auth.require(auth.task_urge(s, actor, instance), "只有项目发起人、县商务局或投资办主任可以催办。")
        require_ready(s, record)
        message = (message or "").strip()[:REASON_MAX]
        holders = _holders(s, record, instance, county)
        if not holders:
            raise Conflict("该任务当前没有可催办的办理人。")
        notify(s, holders, f"{actor.display_name} 催办「{instance.project_name}」的“{record.title}”"
               + (f"：{message}" if message else ""), "urge", instance.id, record.id)
        audit.append(s, "task_urged", actor=actor.username, instance_id=instance.id, task_spec=record.spec_name,
                     mi_index=record.mi_index, data={"message": message, "notified": len(holders)},
                     address=actor.address)
        return instance.id


# --- notifications -----------------------------------------------------------------------------

def notifications(actor: Actor, limit: int = 100) -> list[dict]:
    """The user's notifications, newest first; opening the list marks them read."""
    with transaction() as s:
        rows = s.scalars(select(Notification).where(Notification.user_id == actor.id)
                         .order_by(Notification.id.desc()).limit(limit)).all()
        result = [{"id": n.id, "text": n.text, "kind": n.kind, "at": n.created_at, "read": n.read_at is not None,
                   "instance_id": n.instance_id, "task_id": n.task_id} for n in rows]
        now = utcnow()
        for n in rows:
            n.read_at = n.read_at or now
        return result


def unread_count(actor: Actor) -> int:
    with transaction() as s:
        return len(s.scalars(select(Notification.id).where(Notification.user_id == actor.id,
                                                           Notification.read_at.is_(None))).all())


# --- 加签 / 减签 ---------------------------------------------------------------------------------

def review_state(s: Session, actor: Actor, instance: ProcessInstance) -> dict | None:
    """What the commerce bureau may change in a joint review under way, or None."""
    if instance.status != "running" or not auth.review_change(actor, instance):
        return None
    runtime = runtime_for(s, instance, actor)
    wf = runtime.load(instance.state)
    version = s.get(ModelVersion, instance.model_version_id)
    running = runtime.running_rounds(wf, review_rounds(version))
    if not running:
        return None
    data = dict(running[0].data)
    # The departments offered: the unit field (unitField) of the round's own form.
    spec = running[0].task_spec
    props = model_store.task_properties(version).get(spec.bpmn_id or spec.name, {})
    schema, _ = form_files(version, (props.get("formJsonSchemaFilename") or "") or None)
    unit_prop = schema.get("properties", {}).get(props.get("unitField") or "", {})
    options = {o["const"]: o.get("title", o["const"]) for o in unit_prop.get("oneOf", [])}
    in_review = set(data.get("review_departments") or []) | set(data.get("supplementary_departments") or [])
    pending = list(data.get("added_departments") or [])
    return {"in_review": [(c, options.get(c, c)) for c in sorted(in_review)],
            "pending": [(c, options.get(c, c)) for c in pending],
            "addable": [(c, t) for c, t in options.items() if c not in in_review and c not in pending]}


def review_add_department(actor: Actor, instance_id: int, unit_code: str, reason: str) -> None:
    """加签: add a department to the joint review under way; it answers in a supplementary round
    before the opinions are summarized (bpmn: gw_supplementary → supplementary_review)."""
    _change_review(actor, instance_id, unit_code, reason, add=True)


def review_remove_department(actor: Actor, instance_id: int, unit_code: str, reason: str) -> None:
    """减签: remove a department added earlier, before its supplementary round has started."""
    _change_review(actor, instance_id, unit_code, reason, add=False)


def _change_review(actor: Actor, instance_id: int, unit_code: str, reason: str, add: bool) -> None:
    with transaction() as s:
        instance = s.get(ProcessInstance, instance_id, with_for_update=s.get_bind().dialect.name == "postgresql")
        if instance is None:
            raise NotFound("项目不存在。")
        auth.require(auth.review_change(actor, instance), "只有县商务局可以加签或减签。")
        state = review_state(s, actor, instance)
        if state is None:
            raise Conflict("当前没有进行中的联合会审。")
        reason = _reason(reason)
        pending = [c for c, _ in state["pending"]]
        if add:
            if unit_code not in dict(state["addable"]):
                raise ValidationFailed({"unit_code": "该部门已在会审中或不是可选的会审部门"})
            pending.append(unit_code)
        else:
            if unit_code not in pending:
                raise Conflict("只能减签尚未开始会审的加签部门。")
            pending.remove(unit_code)
        rounds = review_rounds(s.get(ModelVersion, instance.model_version_id))
        run_step(s, instance, actor,
                 lambda runtime, wf: runtime.set_round_value(wf, rounds, "added_departments", pending))
        audit.append(s, "department_added" if add else "department_removed", actor=actor.username,
                     instance_id=instance.id, data={"department": unit_code, "reason": reason,
                                                    "pending": pending}, outcome=reason, address=actor.address)
