"""What auditors do: verify the record was not altered, step through a history, replay it against
its pinned model version, and export it. Auditors read; every look they take is itself audited."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import anchors, audit, audit_checkpoints, auth, forms, personal_data
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine.model_store import all_form_schemas, form_files
from workflows.engine.replay import first_version_id, replay
from workflows.errors import NotFound
from workflows.localtime import CHINA, to_local, to_utc_naive
from workflows.models import AuditEvent, ModelVersion, Organisation, ProcessInstance, TaskRecord, Unit, User
from workflows.rendering.cells import csv_row
from workflows.rendering.diagram import bpmn_file_for, render_svg
from workflows.roles import ROLES
from workflows.services.audit_value_objects import (
    Finding,
    ReplayReport,
    ReplayStep,
    ReplayStepView,
    VerifyReport,
)

# Events that record someone looking, or the engine's own bookkeeping: not steps of the history.
LOOKS = (
    "project_viewed",
    "replay_viewed",
    "replay_checked",
    "audit_verified",
    "history_exported",
    "events_exported",
    "attachment_downloaded",
    "document_generated",
)
NOT_STEPS = (*LOOKS, "engine_step")


# --- tamper evidence -------------------------------------------------------------------------------


def verify(actor: Actor, instance_id: int | None = None) -> VerifyReport:
    """Check the chain, its anchors outside the database and the stored states (one project or all)."""
    with transaction() as s:
        if instance_id is None:
            auth.require(auth.audit_database(actor), "只有审计人员可以校验审计记录。")
        else:
            auth.require(
                auth.audit_project(actor, _instance(s, instance_id)), "只有本县审计人员可以校验该项目。"
            )
        report = verify_database(s, instance_id)
        audit.append(
            s,
            "audit_verified",
            actor=actor.username,
            role="auditor",
            instance_id=instance_id,
            outcome="完整" if report.first is None else f"#{report.first.event_id} {report.first.kind}",
            address=actor.address,
        )
        return report


def verify_database(s: Session, instance_id: int | None = None) -> VerifyReport:
    """The checks themselves, for the command and the auditor's page.

    The database's check walks the whole chain and checks its anchors (the signed checkpoint file, the
    filing receipts). A project's check walks only the stretches between the chain's checkpoints that hold
    its events (workflows/audit_checkpoints.py), so its cost does not grow with the database; a tamper in
    another project's stretch is the database check's to find.
    """
    findings: list[Finding] = []
    if instance_id is None:
        broken = audit.check_chain(s) or audit_checkpoints.check_all(s)
        events_checked = s.scalar(select(func.count(AuditEvent.id))) or 0
        anchor_break, checked = anchors.check_anchors(s)
        if anchor_break:
            findings.append(Finding(anchor_break.event_id, anchor_break.kind, anchor_break.detail))
    else:
        broken, events_checked = audit_checkpoints.check_project(s, instance_id)
        checked = {
            "enabled": anchors.enabled(),
            "checkpoints": 0,
            "filings": 0,
            "anchored_events": 0,
            "scope": "project",
        }
    if broken:
        findings.append(Finding(broken.event_id, broken.kind, broken.detail))
    query = select(ProcessInstance).order_by(ProcessInstance.id)
    if instance_id is not None:
        query = query.where(ProcessInstance.id == instance_id)
    instances = s.scalars(query).all()
    for instance in instances:
        finding = _state_finding(s, instance)
        if finding:
            findings.append(finding)
    for f in findings:  # say which project an event belongs to, and when it happened
        event = s.get(AuditEvent, f.event_id) if f.event_id else None
        if event is not None:
            f.instance_id = f.instance_id or event.instance_id
            f.at = event.at
    return VerifyReport(
        scope="project" if instance_id else "database",
        instance_id=instance_id,
        events_checked=events_checked,
        findings=findings,
        anchors=checked,
        instances_checked=len(instances),
    )


def _state_finding(s: Session, instance: ProcessInstance) -> Finding | None:
    """The stored workflow state must be the one the last engine step recorded (by hash)."""
    if not instance.state:
        return None
    recorded = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id == instance.id, AuditEvent.state_hash.is_not(None))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    actual = hashlib.sha256(instance.state.encode("utf-8")).hexdigest()
    if recorded is None:
        return Finding(0, "state", f"项目 #{instance.id} 的流程状态没有任何审计记录", instance.id)
    if actual != instance.state_hash or actual != recorded.state_hash:
        return Finding(
            recorded.id,
            "state",
            f"项目 #{instance.id} 存储的流程状态已被改动：与事件 #{recorded.id} 记录的状态哈希不符",
            instance.id,
        )
    return None


def checkpoint() -> int | None:
    """Seal the chain's checkpoints in the database (workflows/audit_checkpoints.py) and write a signed
    checkpoint line of the new events to the checkpoint file (scheduler, command); the file's head id or
    None."""
    with transaction() as s:
        audit_checkpoints.seal(s)
    with transaction() as s:
        written = anchors.write_checkpoint(s)
        return written.head_id if written else None


# --- verifiable replay -----------------------------------------------------------------------------


def replay_check(actor: Actor, instance_id: int) -> ReplayReport:
    """Re-run the recorded steps against the pinned model version and compare, step by step."""
    with transaction() as s:
        instance = _instance(s, instance_id)
        auth.require(auth.audit_project(actor, instance), "只有本县审计人员可以重放该项目。")
        report = replay_instance(s, instance)
        audit.append(
            s,
            "replay_checked",
            actor=actor.username,
            role="auditor",
            instance_id=instance.id,
            outcome="一致" if report.consistent else f"第 {report.step} 步不一致",
            address=actor.address,
        )
        return report


def replay_instance(s: Session, instance: ProcessInstance) -> ReplayReport:
    version = s.get_one(ModelVersion, instance.model_version_id)
    events = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id == instance.id, AuditEvent.action == "engine_step")
        .order_by(AuditEvent.id)
    ).all()
    steps = [(e.id, e.data or {}) for e in events]
    # An instance moved to a newer version replays from the version it started on (op `migrate`).
    moved_from = first_version_id(steps)
    start = s.get(ModelVersion, moved_from) if moved_from else version
    outcome = replay(
        start or version,
        instance.process_id,
        steps,
        instance.state,
        versions=lambda vid: s.get(ModelVersion, vid),
    )
    report = ReplayReport(
        instance.id,
        instance.project_name,
        version.content_hash[:12],
        outcome.consistent,
        outcome.steps,
        outcome.step,
        outcome.event_id,
        problem=outcome.problem,
        recorded_active=outcome.recorded_active,
        replayed_active=outcome.replayed_active,
    )
    if outcome.event_id:
        event = s.get_one(AuditEvent, outcome.event_id)
        report.at = event.at
        report.what = _step_words(s, event)
    return report


OP_WORDS = {
    "start": "启动流程",
    "complete": "完成",
    "reset_to": "重置到",
    "cancel": "撤销流程",
    "set_round_value": "调整会审部门",
    "fire_timers": "触发定时器",
    "skip": "跳过",
    "set_data": "更正数据",
    "migrate": "迁移到新版本",
}
HOUSEKEEPING_OPS = {"prune"}  # the engine's own tidying at the end of a step (workflows/engine/pruning.py)


def _step_words(s: Session, step: AuditEvent) -> str:
    """What an engine step did, in words: who, and the engine operations it applied."""
    who = s.scalar(select(User.display_name).where(User.username == step.actor)) or step.actor
    ops = [
        f"{OP_WORDS.get(op['op'], op['op'])}{' ' + op['task']['spec'] if 'task' in op else ''}"
        for op in (step.data or {}).get("ops", [])
        if op["op"] not in HOUSEKEEPING_OPS
    ]
    return f"{who}：{'，'.join(ops)}"


# --- step-through ----------------------------------------------------------------------------------


def replay_view(
    actor: Actor, instance_id: int, step: int | None = None, on: date | None = None
) -> ReplayStepView:
    """One step of a project's history: who did what, what was submitted, what changed, the diagram."""
    with transaction() as s:
        instance = _instance(s, instance_id)
        auth.require(auth.audit_project(actor, instance), "只有本县审计人员可以回放该项目。")
        version = s.get_one(ModelVersion, instance.model_version_id)
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.id)
        ).all()
        history = [e for e in events if e.action not in NOT_STEPS]
        if not history:
            raise NotFound("该项目没有可回放的记录。")
        if on is not None:  # the last step on or before that day (China time), else the first
            end = to_utc_naive(datetime.combine(on + timedelta(days=1), time.min, CHINA))
            earlier = [i for i, e in enumerate(history, start=1) if e.at < end]
            step = earlier[-1] if earlier else 1
        number = min(max(step or 1, 1), len(history))
        current = history[number - 1]
        titles: dict[str | None, str | None] = dict(
            s.execute(
                select(TaskRecord.spec_name, TaskRecord.title).where(TaskRecord.instance_id == instance.id)
            ).all()
        )
        names: dict[str | None, str | None] = dict(s.execute(select(User.username, User.display_name)).all())
        steps = [
            ReplayStep(
                i,
                e.id,
                e.at,
                names.get(e.actor, e.actor),
                _role(e.role),
                e.action,
                titles.get(e.task_spec, e.task_spec),
                e.outcome,
            )
            for i, e in enumerate(history, start=1)
        ]
        # The engine's state as recorded at this moment: the newest engine step before the next step of
        # the history (a completion is logged just before the engine step it causes).
        upto = history[number].id if number < len(history) else None
        engine = next(
            (e for e in reversed(events) if e.action == "engine_step" and (upto is None or e.id < upto)), None
        )
        recorded = (engine.data if engine else None) or {}
        done, active = recorded.get("done", []), recorded.get("active", [])
        # Labels from the forms this project's tasks use (another process may name a key differently).
        used = list(
            dict.fromkeys(
                s.scalars(
                    select(TaskRecord.form)
                    .where(TaskRecord.instance_id == instance.id, TaskRecord.form.is_not(None))
                    .order_by(TaskRecord.id)
                )
            )
        )
        schemas = [form_files(version, f)[0] for f in used] or all_form_schemas(version)
        step_form = s.scalar(
            select(TaskRecord.form)
            .where(TaskRecord.instance_id == instance.id, TaskRecord.spec_name == current.task_spec)
            .limit(1)
        )
        before, after = _project_data(history[: number - 1]), _project_data(history[:number])
        changes = []
        for key in [*after, *(k for k in before if k not in after)]:
            if before.get(key) != after.get(key):
                changes.append(
                    (
                        _label(schemas, key),
                        _shown(schemas, key, before.get(key)),
                        _shown(schemas, key, after.get(key)),
                    )
                )
        submitted = (
            {k: v for k, v in (current.data or {}).items()} if current.action == "task_completed" else {}
        )
        svg = render_svg(
            bpmn_file_for(version.files, instance.process_id),
            instance.process_id,
            set(done),
            set(active),
            width=3600,
        )
        audit.append(
            s,
            "replay_viewed",
            actor=actor.username,
            role="auditor",
            instance_id=instance.id,
            data={"step": number},
            address=actor.address,
        )
        return ReplayStepView(
            instance_id=instance.id,
            project_name=instance.project_name,
            county=s.get_one(Organisation, instance.county_id).name,
            model_version=version.content_hash[:12],
            model_version_id=version.id,
            steps=steps,
            current=steps[number - 1],
            form_data=forms.display_fields(
                [form_files(version, step_form)[0]] if step_form else schemas, submitted
            )
            if submitted
            else _event_fields(s, instance, schemas, current.data),
            changes=changes,
            svg=svg,
            active=list(active),
            done=list(done),
        )


def _project_data(events: list[AuditEvent]) -> dict:
    """The project's data as its forms answered it up to these events (each completed form replaces
    its fields; department opinions are per department and stay on their step)."""
    data: dict = {}
    for e in events:
        if e.action == "task_completed" and e.mi_index is None:
            data.update({k: v for k, v in (e.data or {}).items() if k not in ("on_behalf_of", "signature")})
    return {k: v for k, v in data.items() if v not in (None, "")}


# What the other events record, named for people (a form's own fields take their form titles).
EVENT_LABELS = {
    "model_version": "流程版本",
    "process": "流程",
    "filing_id": "备案记录编号",
    "audit_head_hash": "报送时审计链头哈希",
    "lane": "办理岗位",
    "unit": "办理部门",
    "due_working_days": "办理时限（工作日）",
    "due_at": "办理期限",
    "assignee_id": "办理人",
    "reason": "理由",
    "note": "附言",
    "to": "对象",
    "filename": "文件名",
    "kind": "类型",
    "size": "大小（字节）",
    "sha256": "SHA-256",
    "version": "版本",
    "number": "备案号",
    "round": "报送轮次",
    "state": "状态",
    "reference": "文号",
    "target": "退回至",
    "addressee": "主送",
    "step": "步骤",
    "on_behalf_of": "代为办理",
    "decided_by": "决定人",
    "via": "途径",
    "from": "原办理人",
    "unit_code": "部门",
    "decision": "接口传来的结论",
    "signature": "市/州签名",
}


def _event_fields(
    s: Session, instance: ProcessInstance, schemas: list[dict], data
) -> list[tuple[str, object]]:
    """(label, value) of an event's record: known keys by their names, form fields by their titles,
    a unit code by its department's name, a short hash shortened no further."""
    if not isinstance(data, dict):
        return []
    units = dict(
        s.execute(select(Unit.code, Unit.name).where(Unit.organisation_id == instance.county_id)).all()
    )
    users = dict(s.execute(select(User.id, User.display_name)).all())
    rows: list[tuple[str, object]] = []
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        if key in ("unit", "unit_code") and value in units:
            value = units[value]
        elif key == "lane" and value in ROLES:
            value = ROLES[value].name
        elif key == "assignee_id" and value in users:
            value = users[value]
        elif key == "signature" and isinstance(
            value, dict
        ):  # a received decision's (zhaoshang verify checks it)
            value = f"{str(value.get('algorithm', '')).upper()}，公钥编号 {value.get('key_id') or '—'}"
        label = EVENT_LABELS.get(key) or _label(schemas, key)
        rows.append(
            (label, value if isinstance(value, (str, int, float)) else json.dumps(value, ensure_ascii=False))
        )
    return rows


def _label(schemas: list[dict], key: str) -> str:
    for schema in schemas:
        prop = schema.get("properties", {}).get(key)
        if prop and prop.get("title"):
            return prop["title"]
    return key


def _shown(schemas: list[dict], key: str, value):
    if value in (None, ""):
        return None
    rows = forms.display_fields(schemas, {key: value})
    return rows[0][1] if rows else personal_data.masked(value)


def _role(code: str | None) -> str | None:
    return ROLES[code].name if code is not None and code in ROLES else code


# --- exports ---------------------------------------------------------------------------------------

FIELDS = (
    "id",
    "at",
    "instance_id",
    "actor",
    "role",
    "action",
    "task_spec",
    "mi_index",
    "data",
    "outcome",
    "address",
    "state_hash",
    "algorithm",
    "prev_hash",
    "hash",
)


def _event_dict(e: AuditEvent) -> dict:
    row = {name: getattr(e, name) for name in FIELDS}
    row["at"] = e.at.isoformat()  # UTC, as hashed
    return row


def export_jsonl(actor: Actor, instance_id: int) -> str:
    """Every event of the project, one JSON object a line, with the hashes to check them offline."""
    with transaction() as s:
        instance = _instance(s, instance_id)
        auth.require(auth.audit_project(actor, instance), "只有本县审计人员可以导出该项目。")
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.id)
        ).all()
        text = "".join(json.dumps(_event_dict(e), ensure_ascii=False, sort_keys=True) + "\n" for e in events)
        audit.append(
            s,
            "history_exported",
            actor=actor.username,
            role="auditor",
            instance_id=instance.id,
            data={"format": "jsonl", "events": len(events)},
            address=actor.address,
        )
        return text


def export_csv(actor: Actor, date_from: date, date_to: date) -> str:
    """The events of the auditor's county's projects between two dates (China time, inclusive)."""
    with transaction() as s:
        auth.require(auth.audit_database(actor), "只有审计人员可以导出审计记录。")
        start = to_utc_naive(datetime.combine(date_from, time.min, CHINA))
        end = to_utc_naive(datetime.combine(date_to + timedelta(days=1), time.min, CHINA))
        rows = s.execute(
            select(AuditEvent, ProcessInstance.project_name)
            .join(ProcessInstance, AuditEvent.instance_id == ProcessInstance.id)
            .where(ProcessInstance.county_id == actor.org_id, AuditEvent.at >= start, AuditEvent.at < end)
            .order_by(AuditEvent.id)
        ).all()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "事件号",
                "时间（北京时间）",
                "项目号",
                "项目名称",
                "操作人",
                "角色",
                "动作",
                "环节",
                "会签序号",
                "结论",
                "数据",
                "地址",
                "状态哈希",
                "算法",
                "前序哈希",
                "哈希",
            ]
        )
        for e, name in rows:
            writer.writerow(
                csv_row(
                    [
                        e.id,
                        to_local(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                        e.instance_id,
                        name,
                        e.actor,
                        e.role,
                        e.action,
                        e.task_spec,
                        e.mi_index,
                        e.outcome,
                        json.dumps(e.data, ensure_ascii=False, sort_keys=True) if e.data is not None else "",
                        e.address,
                        e.state_hash,
                        e.algorithm,
                        e.prev_hash,
                        e.hash,
                    ]
                )
            )
        audit.append(
            s,
            "events_exported",
            actor=actor.username,
            role="auditor",
            data={
                "format": "csv",
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                "events": len(rows),
            },
            address=actor.address,
        )
        # A BOM so spreadsheet programs on Chinese Windows open the UTF-8 text as such.
        return "\ufeff" + out.getvalue()


def audit_projects(actor: Actor) -> list[dict]:
    """The projects (and complaints) of the auditor's county, newest first."""
    with transaction() as s:
        auth.require(auth.audit_database(actor), "只有审计人员可以查看。")
        rows = s.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.county_id == actor.org_id)
            .order_by(ProcessInstance.id.desc())
        ).all()
        versions = {v.id: v for v in s.scalars(select(ModelVersion))}
        return [
            {
                "id": i.id,
                "project_name": i.project_name,
                "investor": i.investor,
                "stage": i.stage,
                "status": i.status,
                "process_id": i.process_id,
                "purpose": versions[i.model_version_id].purpose if i.model_version_id in versions else None,
                "model_version": versions[i.model_version_id].content_hash[:12]
                if i.model_version_id in versions
                else None,
                "model_version_id": i.model_version_id,
                "updated_at": i.updated_at,
            }
            for i in rows
        ]


def _instance(s: Session, instance_id: int) -> ProcessInstance:
    instance = s.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("项目不存在。")
    return instance
