"""The work on one task: claim, release, open the form, save a draft, delegate, complete."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflows import audit, auth, forms, personal_data
from workflows.actor import Actor
from workflows.db import is_postgres, reading, transaction
from workflows.engine import model_store
from workflows.engine.model_store import form_files
from workflows.errors import Conflict, NotFound, ServiceError, ValidationFailed
from workflows.localtime import to_local
from workflows.models import (
    ModelVersion,
    Notification,
    Organisation,
    ProcessInstance,
    TaskRecord,
    User,
    UserRole,
)
from workflows.models._types import utcnow
from workflows.rendering.instructions import render_instructions
from workflows.roles import ROLES
from workflows.services import attachment_service, instance_step
from workflows.services.instance_step import list_spec_of, runtime_for
from workflows.services.lookups import unit_name
from workflows.services.value_objects import Opinion, TaskForm, TaskItem

ATTEMPTS = 3
JOINT_REVIEW = "joint-review"  # the capability of the joint review's rounds (and its 加签 rounds)


def review_rounds(version: ModelVersion) -> tuple[str, ...]:
    """The task ids of the version's joint-review rounds (capability joint-review)."""
    return model_store.tasks_with(version, JOINT_REVIEW)


def task_claim(actor: Actor, task_id: int) -> None:
    with transaction() as s:
        record, instance, county = load_task(s, task_id, lock=True)
        absent = auth.acting_for(s, actor, record, instance, county)
        auth.require(auth.task_claim(actor, record, instance, county) or absent is not None)
        require_ready(s, record)
        if record.assignee_id == actor.id or (absent and record.assignee_id == absent.id):
            return
        if record.assignee_id is not None:
            raise Conflict("该任务已由 %(name)s 认领。", name=record.assignee.display_name)
        record.assignee_id = actor.id
        audit.append(
            s,
            "task_claimed",
            actor=actor.username,
            role=record.lane,
            instance_id=instance.id,
            task_spec=record.spec_name,
            mi_index=record.mi_index,
            address=actor.address,
        )


def task_release(actor: Actor, task_id: int) -> None:
    with transaction() as s:
        record, instance, county = load_task(s, task_id, lock=True)
        auth.require(auth.task_claim(actor, record, instance, county))
        require_ready(s, record)
        if record.fixed_assignee or record.assignee_id != actor.id:
            raise Conflict("只能释放自己认领的任务。")
        record.assignee_id = None
        audit.append(
            s,
            "task_released",
            actor=actor.username,
            role=record.lane,
            instance_id=instance.id,
            task_spec=record.spec_name,
            mi_index=record.mi_index,
            address=actor.address,
        )


def task_form(actor: Actor, task_id: int) -> TaskForm:
    """Everything the task page shows: the form (or its saved draft), the project summary and
    earlier opinions. Open to those the task is offered to, and to a colleague it is delegated to."""
    with transaction() as s:
        record, instance, county = load_task(s, task_id)
        absent = auth.acting_for(s, actor, record, instance, county)
        auth.require(auth.task_view(actor, record, instance, county) or absent is not None)
        require_ready(s, record)
        version = s.get_one(ModelVersion, instance.model_version_id)
        schema, uischema = form_files(version, record.form)
        runtime = runtime_for(s, instance, actor)
        wf = runtime.load(instance.state)
        # Whoever may open the task sees earlier personal data in clear (prefill, summary, instructions).
        task_data = personal_data.reveal_all(dict(runtime.task_data(wf, record.task_uuid) or {}))
        ready = next((t for t in runtime.ready_tasks(wf) if t.uuid == record.task_uuid), None)
        properties = ready.properties if ready else {}
        readonly = {k: task_data.get(k) for k in forms.readonly_fields(schema)}
        values = {k: task_data.get(k) for k in forms.editable_fields(schema) if task_data.get(k) is not None}
        if record.draft:
            values = forms.as_typed(schema, personal_data.reveal_all(record.draft))
        delegate = s.get(User, record.delegate_id) if record.delegate_id else None
        draft_by = s.get(User, record.draft_by_id) if record.draft_by_id else None
        return TaskForm(
            task=task_item(s, record, instance),
            schema=schema,
            uischema=uischema,
            values=values,
            readonly=readonly,
            project=task_data,
            opinions=opinions(s, instance.id),
            joint_review=joint_review_summary(s, instance.id),
            claimed_by_me=record.assignee_id == actor.id or bool(absent and record.assignee_id == absent.id),
            can_claim=record.assignee_id is None
            and (auth.task_eligible(actor, record, instance, county) or absent is not None),
            acting_for=absent.display_name if absent else None,
            is_delegate=record.delegate_id == actor.id,
            delegate=delegate.display_name if delegate else None,
            draft_saved_at=record.draft_saved_at,
            draft_by=draft_by.display_name if draft_by else None,
            signature_allowed=properties.get("signature") == "optional",
            return_direct=properties.get("returnMode") == "direct",
            sole_candidate=record.assignee_id is None
            and absent is None
            and _sole_candidate(s, actor, record, instance, county),
            instructions_html=render_instructions(ready.instructions if ready else "", task_data),
        )


def _sole_candidate(
    s: Session, actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation
) -> bool:
    """Whether the actor is the only active user the open task is offered to (a one-person role,
    e.g. the vice county head): claiming it first would be a click for nothing."""
    if not auth.task_eligible(actor, record, instance, county):
        return False
    if not record.lane:
        return True  # outside every lane: the initiator's alone
    # Only those who could be offered it: its owners, else the holders of its lane's role.
    offered = (
        User.id.in_(record.owner_ids)
        if record.owned
        else User.id.in_(select(UserRole.user_id).where(UserRole.role == record.lane))
    )
    others = s.scalars(select(User).where(User.active.is_(True), User.id != actor.id, offered)).all()
    return not any(auth.task_eligible(Actor.from_user(u), record, instance, county) for u in others)


def claim_if_sole(
    s: Session, actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation
) -> None:
    """Acting on an open task nobody else could take claims it in the same step (claim-and-act)."""
    if (
        record.assignee_id is None
        and auth.acting_for(s, actor, record, instance, county) is None
        and _sole_candidate(s, actor, record, instance, county)
    ):
        record.assignee_id = actor.id
        audit.append(
            s,
            "task_claimed",
            actor=actor.username,
            role=record.lane,
            instance_id=instance.id,
            task_spec=record.spec_name,
            mi_index=record.mi_index,
            address=actor.address,
        )


def task_save_draft(actor: Actor, task_id: int, submitted: dict, hand_back: bool = False) -> None:
    """暂存: keep what was typed without completing; a delegate can also hand the draft back."""
    with transaction() as s:
        record, instance, county = load_task(s, task_id, lock=True)
        require_ready(s, record)
        claim_if_sole(s, actor, record, instance, county)
        auth.require(auth.task_save_draft(actor, record, instance, county), "只有办理人或受委派人可以暂存。")
        version = s.get_one(ModelVersion, instance.model_version_id)
        schema, _ = form_files(version, record.form)
        # Kept as typed (strings), only the form's own editable fields; validated when submitted.
        record.draft = personal_data.seal_fields(schema, forms.draft_of(schema, submitted))
        record.draft_by_id, record.draft_saved_at = actor.id, utcnow()
        audit.append(
            s,
            "draft_saved",
            actor=actor.username,
            role=record.lane,
            instance_id=instance.id,
            task_spec=record.spec_name,
            mi_index=record.mi_index,
            data=record.draft,
            address=actor.address,
        )
        if hand_back and record.delegate_id == actor.id:
            record.delegate_id = None
            audit.append(
                s,
                "delegation_returned",
                actor=actor.username,
                instance_id=instance.id,
                task_spec=record.spec_name,
                mi_index=record.mi_index,
                address=actor.address,
            )
            s.add(
                Notification(
                    user_id=record.assignee_id,
                    instance_id=instance.id,
                    task_id=record.id,
                    kind="delegation",
                    text=f"{actor.display_name} "
                    f"已完成委派的「{instance.project_name}」“{record.title}”意见草稿，请审核提交。",
                )
            )


def task_delegate(actor: Actor, task_id: int, to_user_id: int, note: str) -> None:
    """委派: ask a colleague of my unit to prepare the opinion; it comes back to me to submit."""
    with transaction() as s:
        record, instance, county = load_task(s, task_id, lock=True)
        require_ready(s, record)
        claim_if_sole(s, actor, record, instance, county)
        auth.require(auth.task_transfer(actor, record, instance, county), "只有任务的当前办理人可以委派。")
        target = s.get(User, to_user_id)
        if target is None or not target.active or target.id == actor.id or target.unit_id != actor.unit_id:
            raise ValidationFailed({"to_user_id": "只能委派给本单位的其他在岗用户"})
        note = (note or "").strip()[:500]
        record.delegate_id = target.id
        audit.append(
            s,
            "task_delegated",
            actor=actor.username,
            role=record.lane,
            instance_id=instance.id,
            task_spec=record.spec_name,
            mi_index=record.mi_index,
            data={"to": target.username, "note": note},
            address=actor.address,
        )
        s.add(
            Notification(
                user_id=target.id,
                instance_id=instance.id,
                task_id=record.id,
                kind="delegation",
                text=f"{actor.display_name} 委派您起草「{instance.project_name}」“{record.title}”的意见"
                + (f"：{note}" if note else ""),
            )
        )


def delegate_candidates(actor: Actor) -> list[tuple[int, str]]:
    with transaction() as s:
        users = s.scalars(
            select(User)
            .where(User.unit_id == actor.unit_id, User.active.is_(True), User.id != actor.id)
            .order_by(User.username)
        ).all()
        return [(u.id, u.display_name) for u in users]


Upload = tuple[str, bytes]  # (file name as the browser sent it, content) of a form's file field


def task_complete(actor: Actor, task_id: int, submitted: dict, files: dict[str, Upload] | None = None) -> int:
    """Validate the form, complete the task and run the engine, all in one transaction.

    A task that is no longer ready, or was claimed by someone else, is a Conflict (409). A race
    with another step of the same instance retries; one that finds the task gone is a Conflict.
    Returns the instance id.
    """
    for attempt in range(ATTEMPTS):
        try:
            return _complete_once(actor, task_id, submitted, files or {})
        except (StaleDataError, OperationalError) as err:
            if (
                isinstance(err, OperationalError)
                and "locked" not in str(err).lower()
                and "deadlock" not in str(err).lower()
                and "could not serialize" not in str(err).lower()
            ):
                raise
            if attempt == ATTEMPTS - 1:
                raise Conflict("该项目正被他人同时处理，请刷新后重试。") from err
    raise AssertionError("unreachable")


def _complete_once(actor: Actor, task_id: int, submitted: dict, files: dict[str, Upload]) -> int:
    try:
        return _complete_step(actor, task_id, submitted, files)
    except Exception as err:
        # A service task that refused (e.g. filing_accept on an unconfirmed duplicate) reaches the
        # user as that refusal, not as the engine's wrapper around it.
        cause = err.__cause__
        while cause is not None and not isinstance(cause, ServiceError):
            cause = cause.__cause__
        if cause is not None and not isinstance(err, ServiceError):
            raise cause from None
        raise


def _complete_step(actor: Actor, task_id: int, submitted: dict, files: dict[str, Upload]) -> int:
    """Complete the task with the engine run ahead of the write transaction (no lock while the model's
    code runs); a submission with files to store, or a model that calls a service operator, completes
    inside the transaction instead (both write what the engine then reads)."""
    if not any(files.values()):
        try:
            return _complete_ahead(actor, task_id, submitted)
        except instance_step.NeedsTransaction:
            pass
    return _complete_in_transaction(actor, task_id, submitted, files)


@dataclass
class _Submission:
    record: TaskRecord
    instance: ProcessInstance
    completion: instance_step.Completion
    assignee_before: int | None  # who held the task when it was read (claim-and-act changes it)
    acted_for: Actor | None  # the absent user it was completed on behalf of
    signature: bytes | None
    version: ModelVersion  # held, so the session's identity map keeps it for the engine step


def _submission(
    s: Session, actor: Actor, task_id: int, submitted: dict, files: dict[str, Upload], lock: bool = False
) -> _Submission:
    """Check that the actor may complete the task now and make its completion (validated when the
    engine gives the task's data). `lock`: files are stored on the project in this transaction (their
    version numbers are taken under the instance's row lock, as attachment_service.store says)."""
    record, instance, county = load_task(s, task_id, lock=lock)
    absent = auth.acting_for(s, actor, record, instance, county)
    auth.require(auth.task_complete(actor, record, instance, county) or absent is not None)
    require_ready(s, record)
    before = record.assignee_id
    claim_if_sole(s, actor, record, instance, county)
    if record.assignee_id is None:
        raise Conflict("请先认领该任务再提交。")
    if record.assignee_id != actor.id and not (absent and record.assignee_id == absent.id):
        raise Conflict("该任务已由 %(name)s 认领。", name=record.assignee.display_name)
    version = s.get_one(ModelVersion, instance.model_version_id)
    schema, uischema = form_files(version, record.form)
    signature = _signature_png(submitted.get("signature"))

    def values_of(task_data: dict) -> dict:
        values = _with_files(
            s,
            actor,
            instance,
            record,
            schema,
            uischema,
            submitted,
            files,
            task_data,
            lambda typed: forms.validate(schema, typed, task_data, facts=project_facts(instance)),
        )
        return personal_data.seal_fields(schema, values)  # validated in clear, stored sealed

    completion = instance_step.Completion(
        actor,
        record.task_uuid,
        record.spec_name,
        record.lane,
        values_of,
        mi_index=record.mi_index,
        logged=lambda stored: {**stored, "on_behalf_of": absent.username} if absent else dict(stored),
        outcome=_decision,
    )
    return _Submission(record, instance, completion, before, absent, signature, version)


def _complete_ahead(actor: Actor, task_id: int, submitted: dict) -> int:
    with reading() as r:  # checks, validation and the model's code: no lock, nothing written
        audit.defer(r)  # what it notes (a claim-and-act, the completion) is written with the step
        sub = _submission(r, actor, task_id, submitted, {})
        ran = instance_step.complete_ahead(r, sub.instance, sub.completion)
    with transaction() as s:
        record = sub.record
        holder = (
            TaskRecord.assignee_id == sub.assignee_before
            if sub.assignee_before is not None
            else TaskRecord.assignee_id.is_(None)
        )
        # Still ready and held by the same person (a claim, release or another submit since makes it 0 rows:
        # retried, it then reads as the 409 it is).
        marked = s.execute(
            update(TaskRecord)
            .where(TaskRecord.id == record.id, TaskRecord.state == "ready", holder)
            .values(
                state="completed",
                completed_at=utcnow(),
                completed_by_id=actor.id,
                assignee_id=record.assignee_id,
                data=sub.completion.stored,
                draft=None,
                delegate_id=None,
                signature_png=sub.signature,
                acted_for_id=sub.acted_for.id if sub.acted_for else None,
            )
            .execution_options(synchronize_session=False)
        )
        assert isinstance(marked, CursorResult)  # an UPDATE's result counts its rows
        if marked.rowcount != 1:
            raise StaleDataError("the task changed since it was read")
        instance_step.write_ahead(s, sub.instance, ran, actor)
        return sub.instance.id


def _complete_in_transaction(actor: Actor, task_id: int, submitted: dict, files: dict[str, Upload]) -> int:
    with transaction() as s:
        audit.defer(s)  # the chain's lock is taken last, once the engine has run
        sub = _submission(s, actor, task_id, submitted, files, lock=any(files.values()))
        record = sub.record
        record.state, record.completed_at, record.completed_by_id = "completed", utcnow(), actor.id
        instance_step.complete_task(s, sub.instance, sub.completion)
        record.data = sub.completion.stored
        record.draft, record.delegate_id, record.signature_png = None, None, sub.signature
        record.acted_for_id = sub.acted_for.id if sub.acted_for else None
        return sub.instance.id


def _with_files(
    s: Session,
    actor: Actor,
    instance: ProcessInstance,
    record: TaskRecord,
    schema: dict,
    uischema: dict,
    submitted: dict,
    files: dict[str, Upload],
    task_data: dict,
    validate,
) -> dict:
    """Validate a submission whose form may have file fields (attachment_service.check_form_files), and
    only when all is well store the files on the project at this task, each field's value a reference."""
    typed, uploads, errors = attachment_service.check_form_files(
        schema, uischema, submitted, files, task_data
    )
    try:
        values = validate(typed)
    except ValidationFailed as failed:
        raise ValidationFailed({**failed.errors, **errors}) from None
    if errors:
        raise ValidationFailed(errors)
    return {
        **values,
        **attachment_service.store_form_files(
            s, actor, instance, record, schema, uischema, uploads, task_data
        ),
    }


def project_facts(instance: ProcessInstance) -> dict:
    """What a form's validationRules may know of the project besides its task data."""
    return {
        "registered_on": to_local(instance.created_at).date().isoformat() if instance.created_at else None
    }


SIGNATURE_MAX_BYTES = 200_000


def _signature_png(data_url: str | None) -> bytes | None:
    """A signature drawn in the browser arrives as a PNG data URL; anything else is refused."""
    if not data_url:
        return None
    prefix = "data:image/png;base64,"
    try:
        raw = base64.b64decode(data_url[len(prefix) :], validate=True) if data_url.startswith(prefix) else b""
    except ValueError:
        raw = b""
    if not raw.startswith(b"\x89PNG\r\n\x1a\n") or len(raw) > SIGNATURE_MAX_BYTES:
        raise ValidationFailed({"signature": "签名图片无效或过大，请重新签名"})
    return raw


def signature(actor: Actor, task_id: int) -> bytes:
    """The signature drawn with a decision, for those who may see the project."""
    with transaction() as s:
        record = s.get(TaskRecord, task_id)
        if record is None:
            raise NotFound("签名不存在。")
        instance = s.get_one(ProcessInstance, record.instance_id)
        auth.require(auth.project_view(s, actor, instance), "您无权查看该项目。")
        if record.signature_png is None:
            raise NotFound("签名不存在。")
        return record.signature_png


def _decision(data: dict) -> str | None:
    for key, value in data.items():
        if key.endswith(("_decision", "_approval")) and value:
            return str(value)
    return None


def opinions(s: Session, instance_id: int) -> list[Opinion]:
    rows = s.scalars(
        select(TaskRecord)
        .where(TaskRecord.instance_id == instance_id, TaskRecord.state == "completed")
        .order_by(TaskRecord.completed_at, TaskRecord.id)
    ).all()
    return [
        Opinion(
            task_id=r.id,
            signed=r.signature_png is not None,
            title=r.title,
            acted_for=s.get_one(User, r.acted_for_id).display_name if r.acted_for_id else None,
            unit_code=r.unit_code,
            unit_name=unit_name(s, r.instance, r.unit_code),
            by=r.completed_by.display_name if r.completed_by else None,
            at=r.completed_at,
            data=personal_data.mask_all(r.data or {}),
        )
        for r in rows
    ]


def joint_review_summary(s: Session, instance_id: int) -> list[dict]:
    """联合会审意见汇总: each department's latest opinion, side by side, for the approval pages."""
    instance = s.get_one(ProcessInstance, instance_id)
    version = s.get_one(ModelVersion, instance.model_version_id)
    rows = s.scalars(
        select(TaskRecord)
        .where(
            TaskRecord.instance_id == instance_id,
            TaskRecord.spec_name.in_(review_rounds(version)),
            TaskRecord.state == "completed",
        )
        .order_by(TaskRecord.completed_at)
    ).all()
    latest = {r.unit_code: r for r in rows}
    schemas = {form: form_files(version, form)[0] for form in {r.form for r in latest.values()}}
    return [
        {
            "unit": unit_name(s, r.instance, r.unit_code),
            "decision": (r.data or {}).get("review_decision"),
            "outcome": forms.outcome_of(schemas[r.form], r.data or {}),
            "conditions": (r.data or {}).get("review_conditions"),
            "reasons": (r.data or {}).get("review_reasons"),
            "opinion": (r.data or {}).get("review_opinion"),
            "by": r.completed_by.display_name if r.completed_by else None,
            "at": r.completed_at,
        }
        for r in latest.values()
    ]


def load_task(s: Session, task_id: int, lock: bool = False):
    """The task record, its instance and the instance's county, in one query; `lock` locks the instance's
    row (PostgreSQL) and reads the record again under it."""
    query = (
        select(TaskRecord, ProcessInstance, Organisation)
        .join(ProcessInstance, ProcessInstance.id == TaskRecord.instance_id)
        .join(Organisation, Organisation.id == ProcessInstance.county_id)
        .where(TaskRecord.id == task_id)
    )
    if lock and is_postgres():
        query = query.with_for_update(of=ProcessInstance)
    row = s.execute(query).first()
    if row is None:
        raise NotFound("任务不存在。")
    record, instance, county = row
    if lock:
        s.refresh(record)  # as it is now the instance is locked
    return record, instance, county


def require_ready(s: Session, record: TaskRecord) -> None:
    if record.state != "ready":
        who = record.completed_by.display_name if record.completed_by else None
        if who:
            raise Conflict("该任务已由 %(name)s 处理完毕。", name=who)
        raise Conflict("该任务已不在待办状态。")


def _task_data(s: Session, instance: ProcessInstance, record: TaskRecord, actor: Actor) -> dict:
    runtime = runtime_for(s, instance, actor)
    return dict(runtime.task_data(runtime.load(instance.state), record.task_uuid) or {})


def task_item(
    s: Session, record: TaskRecord, instance: ProcessInstance, names: dict | None = None
) -> TaskItem:
    """`names`: the unit's, assignee's and initiator's names and the version's content hash when the caller
    read them with the row (lists: one query for the page), else each is looked up here."""
    if names is None:
        assignee = s.get(User, record.assignee_id) if record.assignee_id else None
        names = {
            "unit": unit_name(s, instance, record.unit_code),
            "assignee": assignee.display_name if assignee else None,
            "started_by": _display_name(s, instance.started_by_id),
            "digest": None,
        }
    return TaskItem(
        id=record.id,
        instance_id=instance.id,
        title=record.title,
        stage=record.stage,
        lane=record.lane,
        unit_code=record.unit_code,
        unit_name=names["unit"] or record.unit_code if record.unit_code else None,
        project_name=instance.project_name,
        investor=instance.investor,
        amount_wan=float(instance.amount_wan) if instance.amount_wan is not None else None,
        project_class=instance.project_class,
        created_at=record.created_at,
        due_at=record.due_at,
        assignee=names["assignee"],
        assignee_id=record.assignee_id,
        state=record.state,
        overdue=bool(record.due_at and record.state == "ready" and record.due_at < utcnow()),
        note=record.note,
        role=ROLES[record.lane].name if record.lane in ROLES else None,
        list_labels=list_spec_of(
            s, instance.model_version_id, instance.process_id, names["digest"]
        ).label_map(),
        started_by=names["started_by"],
        started_at=instance.created_at,
        model_version_id=instance.model_version_id,
    )


def _display_name(s: Session, user_id: int | None) -> str | None:
    user = s.get(User, user_id) if user_id else None
    return user.display_name if user else None
