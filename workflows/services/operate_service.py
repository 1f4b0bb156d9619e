"""Operate running instances (the system administrator): move an instance to a newer version of its
process, skip a stuck task, correct a variable of an open task's data, retry a step that failed.

Each action checks its own permission (workflows/auth.py), needs a reason, guards against a stale
page (the instance's version column: 409), runs as one engine step (so the journal records it and
replay still verifies) and appends an audit event with the reason, shown in the project's history
and in 审计回放.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import audit, auth, personal_data
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine import model_store
from workflows.engine.runtime import OpenTask, ProcessRuntime, model_errors
from workflows.errors import Conflict, ModelFailed, NotFound, ValidationFailed
from workflows.models import AuditEvent, ModelVersion, Organisation, ProcessInstance, TaskRecord
from workflows.services.instance_step import run_step, runtime_for

REASON_MAX = 500
VALUE_MAX = 20000
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
ACTIONS = ("instance_migrated", "instance_task_skipped", "instance_data_corrected", "instance_step_retried",
           "step_failed")


@dataclass
class TargetVersion:
    id: int
    number: int
    note: str
    missing: list[str]  # tasks of the instance the version lacks ("名称（id）"); empty: compatible
    open_missing: list[str]


@dataclass
class Failure:
    at: datetime
    actor: str
    element: str
    reason: str


@dataclass
class OperateView:
    instance_id: int
    project_name: str
    county: str
    process_id: str
    status: str
    stage: str
    version_id: int
    version_number: int
    row_version: int  # the instance's version column, sent back by every form (409 when stale)
    tasks: list[OpenTask]
    data_json: dict[str, str]  # task uuid → its data as indented JSON
    targets: list[TargetVersion]
    failure: Failure | None
    operations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class InstanceRow:
    id: int
    project_name: str
    county: str
    process_id: str
    version_number: int
    stage: str
    updated_at: datetime
    failed: bool


# --- reading ----------------------------------------------------------------------------------------

def instance_list(actor: Actor) -> list[InstanceRow]:
    """Running instances, those with a failed step first."""
    auth.require(auth.instance_operate_view(actor), "只有系统管理员可以运维流程实例。")
    with transaction() as s:
        counties = {o.id: o.name for o in s.scalars(select(Organisation))}
        numbers = dict(s.execute(select(ModelVersion.id, ModelVersion.number)).all())
        rows = s.scalars(select(ProcessInstance).where(ProcessInstance.status == "running")
                         .order_by(ProcessInstance.updated_at.desc()).limit(500)).all()
        failed = _failed_ids(s, [r.id for r in rows])
        result = [InstanceRow(r.id, r.project_name, counties.get(r.county_id, ""), r.process_id,
                              numbers.get(r.model_version_id, 0), r.stage, r.updated_at, r.id in failed) for r in rows]
        return sorted(result, key=lambda r: not r.failed)


def _pending(events) -> AuditEvent | None:
    """The failed step still waiting for a retry: a `step_failed` event with no engine step after it
    other than data corrections (which prepare the retry, not replace it; the engine's pruning at the end of
    a step does not count either). Events newest first."""
    for event in events:
        if event.action == "step_failed":
            return event
        if {op.get("op") for op in (event.data or {}).get("ops", [])} - {"set_data", "prune"}:
            return None
    return None


def _failed_ids(s: Session, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    by_instance: dict[int, list[AuditEvent]] = {}
    for event in s.scalars(select(AuditEvent).where(AuditEvent.instance_id.in_(ids),
                                                    AuditEvent.action.in_(("engine_step", "step_failed")))
                           .order_by(AuditEvent.id.desc())):
        by_instance.setdefault(event.instance_id, []).append(event)
    return {i for i, events in by_instance.items() if _pending(events)}


def _failure(s: Session, instance: ProcessInstance) -> Failure | None:
    events = s.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance.id,
                                                AuditEvent.action.in_(("engine_step", "step_failed")))
                       .order_by(AuditEvent.id.desc()).limit(200))
    event = _pending(events)
    if event is None:
        return None
    data = event.data or {}
    return Failure(event.at, event.actor or "", data.get("element", ""), data.get("reason", ""))


def operate_page(actor: Actor, instance_id: int) -> OperateView:
    auth.require(auth.instance_operate_view(actor), "只有系统管理员可以运维流程实例。")
    with transaction() as s:
        instance = _instance(s, instance_id)
        version = s.get(ModelVersion, instance.model_version_id)
        runtime = runtime_for(s, instance, actor)
        tasks, targets = [], []
        if instance.status == "running" and instance.state:
            with model_errors():
                wf = runtime.load(instance.state)
            tasks = runtime.open_tasks(wf)
            for v in s.scalars(select(ModelVersion).where(ModelVersion.process_id == instance.process_id,
                                                          ModelVersion.id != version.id)
                               .order_by(ModelVersion.number.desc())):
                missing = ProcessRuntime(v, {}, instance.process_id).missing_in(wf)
                targets.append(TargetVersion(v.id, v.number, v.note or "",
                                             [f"{title}（{bid}）" for bid, title, _ in missing],
                                             [f"{title}（{bid}）" for bid, title, is_open in missing if is_open]))
        operations = [{"at": e.at, "actor": e.actor, "action": e.action, "outcome": e.outcome,
                       "task_spec": e.task_spec}
                      for e in s.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance.id,
                                                                   AuditEvent.action.in_(ACTIONS))
                                         .order_by(AuditEvent.id.desc()).limit(50))]
        return OperateView(instance.id, instance.project_name, s.get(Organisation, instance.county_id).name,
                           instance.process_id, instance.status, instance.stage, version.id, version.number,
                           instance.version, tasks,
                           {t.uuid: json.dumps(personal_data.mask_all(t.data), ensure_ascii=False, indent=2,
                                               sort_keys=True, default=str)
                            for t in tasks},
                           targets, _failure(s, instance), operations)


# --- the actions ---------------------------------------------------------------------------------------

def _instance(s: Session, instance_id: int) -> ProcessInstance:
    instance = s.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("流程实例不存在。")
    return instance


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed({"reason": "请填写操作原因"})
    if len(text) > REASON_MAX:
        raise ValidationFailed({"reason": f"操作原因不能超过 {REASON_MAX} 个字"})
    return text


def _running(s: Session, instance_id: int, expected_version: int | None) -> ProcessInstance:
    """The instance, locked for the step; refused when it ended or changed since the page was shown."""
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    if s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    instance = s.scalar(query)
    if instance is None:
        raise NotFound("流程实例不存在。")
    if expected_version is None or expected_version != instance.version:
        raise Conflict("该流程实例在您打开页面后已有变化，请刷新页面后重新操作。")
    if instance.status != "running":
        raise Conflict("该流程实例已结束，不能再操作。")
    return instance


def _open_task(runtime, wf, task_uuid: str) -> OpenTask:
    task = next((t for t in runtime.open_tasks(wf) if t.uuid == task_uuid), None)
    if task is None:
        raise ValidationFailed({"task": "所选环节不在办理或等待中"})
    return task


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def instance_migrate(actor: Actor, instance_id: int, version_id: int, reason: str,
                     expected_version: int | None) -> int:
    """Move a running instance to another version of its process. Refused (422, naming the tasks)
    when the instance is at, or went through, tasks the version does not have."""
    auth.require(auth.instance_migrate(actor), "只有系统管理员可以迁移流程实例。")
    why = _reason(reason)
    with transaction() as s:
        instance = _running(s, instance_id, expected_version)
        target = s.get(ModelVersion, version_id)
        if target is None or target.process_id != instance.process_id:
            raise ValidationFailed({"version_id": "请选择本流程的另一个版本"})
        if target.id == instance.model_version_id:
            raise ValidationFailed({"version_id": "流程实例已在该版本上"})
        old = s.get(ModelVersion, instance.model_version_id)
        target_runtime = ProcessRuntime(target, {}, instance.process_id)  # nothing runs on it in this step
        moved = {}

        def change(runtime, wf):
            missing = target_runtime.missing_in(wf)
            open_missing = [f"{title}（{bid}）" for bid, title, is_open in missing if is_open]
            if open_missing:
                raise ValidationFailed({"version_id": "新版本中没有流程实例正在办理或等待的环节："
                                        + "、".join(open_missing) + "，不能迁移"})
            if missing:
                raise ValidationFailed({"version_id": "新版本中没有流程实例已经过的环节："
                                        + "、".join(f"{title}（{bid}）" for bid, title, _ in missing) + "，不能迁移"})
            moved["tasks"] = [t.spec_name for t in runtime.open_tasks(wf)]
            runtime.migrate(wf, target_runtime)

        run_step(s, instance, actor, change)
        instance.model_version_id = target.id
        # The open tasks keep their ids; their titles, forms and lanes are now the new version's.
        ready = {t.uuid: t for t in ProcessRuntime.ready_tasks(target_runtime.load(instance.state))}
        for row in s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id,
                                                      TaskRecord.state == "ready")):
            task = ready.get(row.task_uuid)
            if task is not None:
                row.title, row.form, row.lane = task.title, task.form, task.lane
                row.stage = task.properties.get("stage", task.title)
        audit.append(s, "instance_migrated", actor=actor.username, role="admin", instance_id=instance.id,
                     data={"reason": why, "from_version_id": old.id, "from_number": old.number,
                           "to_version_id": target.id, "to_number": target.number,
                           "to_hash": target.content_hash, "open_tasks": moved.get("tasks", [])},
                     outcome=f"v{old.number} → v{target.number}；原因：{why}", address=actor.address)
        return target.id


def instance_skip(actor: Actor, instance_id: int, task_uuid: str, reason: str, expected_version: int | None) -> None:
    """Move the token past a stuck task (a ready user task completes with no data; a waiting event
    completes as if it had fired)."""
    auth.require(auth.instance_skip(actor), "只有系统管理员可以跳过环节。")
    why = _reason(reason)
    with transaction() as s:
        instance = _running(s, instance_id, expected_version)
        skipped = {}

        def change(runtime, wf):
            task = _open_task(runtime, wf, task_uuid)
            if not task.skippable:
                raise ValidationFailed({"task": "只能跳过待办的用户任务或等待中的中间事件"})
            skipped["task"] = task
            runtime.skip(wf, task_uuid)

        run_step(s, instance, actor, change)
        task = skipped["task"]
        audit.append(s, "instance_task_skipped", actor=actor.username, role="admin", instance_id=instance.id,
                     task_spec=task.spec_name, data={"reason": why, "task": task.spec_name, "state": task.state},
                     outcome=f"跳过“{task.title}”；原因：{why}", address=actor.address)


def instance_data_set(actor: Actor, instance_id: int, task_uuid: str, key: str, value_text: str, reason: str,
                      expected_version: int | None) -> None:
    """Correct one variable of an open task's data: the value is JSON; where a form of the version
    declares the variable, the value must fit that field's schema. Old and new values are audited."""
    auth.require(auth.instance_data_correct(actor), "只有系统管理员可以更正流程数据。")
    why = _reason(reason)
    key = (key or "").strip()
    if not KEY.match(key):
        raise ValidationFailed({"key": "变量名须以字母或下划线开头，只含字母、数字和下划线（不超过 64 个字符）"})
    if len(value_text or "") > VALUE_MAX:
        raise ValidationFailed({"value": f"值不能超过 {VALUE_MAX} 个字符"})
    try:
        value = json.loads(value_text or "")
    except (ValueError, RecursionError) as err:
        raise ValidationFailed({"value": "值不是有效的 JSON（字符串须加双引号，如 \"甲公司\"）"}) from err
    with transaction() as s:
        instance = _running(s, instance_id, expected_version)
        version = s.get(ModelVersion, instance.model_version_id)
        personal = False
        for schema in model_store.all_form_schemas(version):
            field_schema = (schema.get("properties") or {}).get(key)
            if isinstance(field_schema, dict):
                # Validated in clear, like a form's answer; sealed below when a form declares it personal.
                problems = [e.message for e in Draft202012Validator(field_schema).iter_errors(value)]
                if problems:
                    raise ValidationFailed({"value": f"值不符合表单对“{field_schema.get('title') or key}”的要求："
                                            + problems[0][:200]})
                personal = personal or key in personal_data.personal_fields(schema)
        stored = personal_data.seal(value) if personal else value
        changed = {}

        def change(runtime, wf):
            task = _open_task(runtime, wf, task_uuid)
            changed["task"], changed["had"] = task, key in task.data
            changed["old"] = _plain(task.data.get(key))
            runtime.set_task_data(wf, task_uuid, key, stored)

        run_step(s, instance, actor, change)
        task = changed["task"]
        # A personal field: the audit event keeps the new value sealed and an old value that was still in
        # clear (stored before sealing) masked; the outcome line shows both masked.
        old = changed["old"]
        if personal and not personal_data.is_sealed(old) and old not in (None, ""):
            old = personal_data.mask(old)
        shown_old, shown_new = (personal_data.masked(old), personal_data.mask(value)) if personal else (old, value)
        audit.append(s, "instance_data_corrected", actor=actor.username, role="admin", instance_id=instance.id,
                     task_spec=task.spec_name,
                     data={"reason": why, "task": task.spec_name, "key": key, "existed": changed["had"],
                           "old": old, "new": stored, **({"personal": True} if personal else {})},
                     outcome=f"{key}：{json.dumps(shown_old, ensure_ascii=False)[:80]} → "
                             f"{json.dumps(shown_new, ensure_ascii=False)[:80]}；原因：{why}",
                     address=actor.address)


def instance_retry(actor: Actor, instance_id: int, reason: str, expected_version: int | None) -> None:
    """Run again the step that failed (a script or service task that raised, a timer whose step
    failed): the engine runs on from where it stopped. A failure again is recorded and answered 422."""
    auth.require(auth.instance_retry(actor), "只有系统管理员可以重试失败的步骤。")
    why = _reason(reason)
    try:
        with transaction() as s:
            instance = _running(s, instance_id, expected_version)
            failure = _failure(s, instance)
            if failure is None:
                raise Conflict("该流程实例没有待重试的失败步骤。")
            run_step(s, instance, actor, lambda runtime, wf: runtime.fire_timers(wf))
            audit.append(s, "instance_step_retried", actor=actor.username, role="admin", instance_id=instance.id,
                         data={"reason": why, "element": failure.element, "failed_at": failure.at.isoformat()},
                         outcome=f"重试“{failure.element}”成功；原因：{why}", address=actor.address)
    except ModelFailed as failed:
        record_failure(instance_id, actor, failed, retry_reason=why)
        raise


def record_failure(instance_id: int, actor: Actor, failed: ModelFailed, retry_reason: str | None = None) -> None:
    """Write down a step that failed outside a user's request (a timer's step, a retry), and stop
    the scheduler from trying it again until an administrator retries it."""
    with transaction() as s:
        instance = s.get(ProcessInstance, instance_id)
        if instance is None:
            return
        instance.next_timer_at = None
        data = {"element": failed.params.get("element", ""), "reason": failed.params.get("reason", "")}
        if retry_reason:
            data["retry_reason"] = retry_reason
        audit.append(s, "step_failed", actor=actor.username, role="admin" if retry_reason else None,
                     instance_id=instance.id, data=data,
                     outcome=f"“{data['element']}”执行出错：{data['reason']}"[:300], address=actor.address)
