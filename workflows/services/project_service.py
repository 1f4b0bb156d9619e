"""Projects: register a lead (which starts the process), list, detail and history."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from workflows import audit, auth, forms, personal_data
from workflows.actor import Actor
from workflows.capabilities import outbox_service, tracking_operations
from workflows.capabilities.filing_service import special_view
from workflows.db import transaction
from workflows.engine import model_store
from workflows.engine.model_store import INVESTMENT, all_form_schemas, form_files
from workflows.errors import DuplicateLead, NotFound, ValidationFailed
from workflows.models import (
    Filing,
    ModelVersion,
    Organisation,
    ProcessInstance,
    ProjectCopy,
    TaskRecord,
    Unit,
    User,
)
from workflows.models._types import utcnow
from workflows.services import task_operations, visibility
from workflows.services.instance_step import first_task, list_spec_of, start_instance
from workflows.services.project_records import history, project_data
from workflows.services.task_service import joint_review_summary, opinions, task_item
from workflows.services.value_objects import DuplicateLead as DuplicateLeadView
from workflows.services.value_objects import ProjectDetail, ProjectSummary

RESTART_FORM = "restart-form"  # capability: the task's answers prefill the registration of a copy


def lead_form(actor: Actor) -> tuple[dict, dict]:
    """(schema, uischema) of the lead registration form of the current model version."""
    with transaction() as s:
        version = bound_version(s, actor, INVESTMENT)
        first = first_task(version)
        auth.require(auth.process_start(actor, first.lane), "只有招商专员可以登记线索。")
        return form_files(version, first.form)


def bound_version(s: Session, actor: Actor, purpose: str) -> ModelVersion:
    """The process version the actor's county starts new instances of a purpose on."""
    auth.require(actor.org_kind == "county", "只有县（市、区）的用户可以发起流程。")
    version = model_store.bound_version(s, actor.org_id, purpose)
    if version is None:
        raise NotFound("本县（市、区）尚未绑定该用途的流程，请联系系统管理员在“流程版本”页部署并绑定。")
    return version


def project_start(actor: Actor, submitted: dict, confirm_duplicate: bool = False) -> int:
    """Register a lead: start an instance and complete its first task with the form, in one step.

    Raises DuplicateLead when another unit of the prefecture already registered the same investor,
    unless the officer confirmed having checked (the confirmation is audited).
    """
    with transaction() as s:
        version = bound_version(s, actor, INVESTMENT)
        first = first_task(version)
        auth.require(auth.process_start(actor, first.lane), "只有招商专员可以登记线索。")
        schema, _ = form_files(version, first.form)
        values = forms.validate(schema, submitted, {})
        return register(s, actor, version, values, confirm_duplicate=confirm_duplicate).id


def register(
    s: Session,
    actor: Actor,
    version: ModelVersion,
    values: dict,
    *,
    confirm_duplicate: bool = False,
    action: str = "project_started",
    seed: dict | None = None,
    audit_data: dict | None = None,
):
    """Start an instance whose first form holds `values` (validated). `seed` is start data the application
    sets (a ledger import's `imported_stage`)."""
    duplicates = _same_investor(s, values["investor"], actor.org_id, actor.unit_id, None)
    if duplicates and not confirm_duplicate:
        raise DuplicateLead(duplicates)
    start_data = {**values, "started_by": actor.username, "county": actor.org_name, **(seed or {})}
    return start_instance(
        s,
        actor,
        version,
        values,
        start_data,
        action=action,
        project_name=values["project_name"],
        investor=values["investor"],
        amount_wan=values.get("amount_wan"),
        audit_data={
            **(audit_data or {}),
            "duplicate_warning_confirmed": [f"{d.county}·{d.unit}" for d in duplicates],
        },
    )


def _same_investor(
    s: Session, investor: str, county_id: int, unit_id: int, exclude: int | None
) -> list[DuplicateLeadView]:
    """Leads for the same investor registered by another unit of the same prefecture (抢商争商,
    《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(九)); only the county and unit are told, not
    the other project's content."""
    key = _normalise(investor)
    county = s.get(Organisation, county_id)
    if not key or county is None:
        return []
    sibling_counties = select(Organisation.id).where(Organisation.parent_id == county.parent_id)
    rows = s.scalars(
        select(ProcessInstance)
        .where(
            func.lower(func.replace(ProcessInstance.investor, " ", "")) == key,
            ProcessInstance.county_id.in_(sibling_counties),
            ProcessInstance.started_unit_id != unit_id,
        )
        .order_by(ProcessInstance.id)
    ).all()
    return [
        DuplicateLeadView(county=r.county.name, unit=r.started_unit.name, registered_at=r.created_at)
        for r in rows
        if r.id != exclude
    ]


def _normalise(name: str) -> str:
    return "".join((name or "").split()).lower()


PER_PAGE = 20
STATUSES = {"running": "进行中", "completed": "已结束"}


@dataclass
class ProjectQuery:
    """The project list's filters and page; unknown values are dropped, so a bad link shows the whole list."""

    q: str = ""
    status: str = ""
    project_class: str = ""
    page: int = 1

    def __post_init__(self):
        self.q = (self.q or "").strip()[:100]
        self.status = self.status if self.status in STATUSES else ""
        self.project_class = (self.project_class or "").strip()[:10]
        self.page = max(1, min(int(self.page or 1), 1_000_000))


@dataclass
class ProjectPage:
    query: ProjectQuery
    projects: list[ProjectSummary] = field(default_factory=list)
    has_next: bool = False
    classes: list[str] = field(default_factory=list)


def _listed(actor: Actor, purpose: str | None):
    """The instances of a purpose (projects, or complaints) this user may see; purpose None: of every
    process but those with a list of their own (complaints)."""
    versions = (
        model_store.versions_of(None, purpose)
        if purpose is not None
        else select(ModelVersion.id).where(ModelVersion.purpose != model_store.COMPLAINT)
    )
    return select(ProcessInstance).where(
        ProcessInstance.model_version_id.in_(versions), visibility.project_viewable(actor)
    )


NEWEST_FIRST = (ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())


def project_list(actor: Actor, purpose: str | None = INVESTMENT) -> list[ProjectSummary]:
    """Every instance of a purpose this user may see, newest first (a county's complaints, the API)."""
    with transaction() as s:
        return summaries(s, _listed(actor, purpose).order_by(*NEWEST_FIRST))


def project_page(actor: Actor, query: ProjectQuery, purpose: str | None = None) -> ProjectPage:
    """One page of the project list, paged in SQL (newest first; one row more than the page tells whether
    there is a next page, so no count over the county's projects), with the class filter's choices."""
    with transaction() as s:
        base = _listed(actor, purpose)
        filtered = base
        if query.q:
            like = f"%{query.q}%"
            filtered = filtered.where(
                or_(ProcessInstance.project_name.like(like), ProcessInstance.investor.like(like))
            )
        if query.status:
            filtered = filtered.where(ProcessInstance.status == query.status)
        if query.project_class:
            filtered = filtered.where(ProcessInstance.project_class == query.project_class)
        rows = summaries(
            s, filtered.order_by(*NEWEST_FIRST).limit(PER_PAGE + 1).offset((query.page - 1) * PER_PAGE)
        )
        page = ProjectPage(query=query, projects=rows[:PER_PAGE], has_next=len(rows) > PER_PAGE)
        page.classes = _class_choices(s, actor)
        return page


# The distinct classes of a county's instances by skipping through the index (county_id, project_class,
# amount_wan) — a loose index scan: one index probe per class, not a scan of the county's instances — and
# the largest amount of each, to list smaller projects' classes first.
_CLASSES = text("""
WITH RECURSIVE classes(cls) AS (
    SELECT (SELECT min(project_class) FROM process_instance
            WHERE county_id = :county AND project_class IS NOT NULL)
    UNION ALL
    SELECT (SELECT min(project_class) FROM process_instance WHERE county_id = :county AND project_class > cls)
    FROM classes WHERE cls IS NOT NULL
)
SELECT cls, (SELECT max(amount_wan) FROM process_instance WHERE county_id = :county AND project_class = cls)
FROM classes WHERE cls IS NOT NULL
""")


def _class_choices(s: Session, actor: Actor) -> list[str]:
    """The classes the model's rules gave the county's instances (ListSpec listClass), smaller projects'
    first."""
    rows = s.execute(_CLASSES, {"county": actor.org_id}).all()
    return [c for c, _ in sorted(rows, key=lambda r: (float(r[1] or 0), r[0]))]


def project_detail(actor: Actor, instance_id: int) -> ProjectDetail:
    with transaction() as s:
        instance = _get(s, instance_id)
        auth.require(auth.project_view(s, actor, instance), "您无权查看该项目。")
        for copy in s.scalars(
            select(ProjectCopy).where(
                ProjectCopy.instance_id == instance.id,
                ProjectCopy.to_user_id == actor.id,
                ProjectCopy.read_at.is_(None),
            )
        ):
            copy.read_at = utcnow()
        audit.append(
            s, "project_viewed", actor=actor.username, instance_id=instance.id, address=actor.address
        )
        version = s.get_one(ModelVersion, instance.model_version_id)
        data = project_data(s, instance)
        # The project page shows personal data in clear to those who may see the project; the raw
        # data (also the service API's) only masked.
        clear = personal_data.reveal_all(data)
        tasks = s.scalars(
            select(TaskRecord).where(TaskRecord.instance_id == instance.id, TaskRecord.state == "ready")
        ).all()
        filing = s.scalar(select(Filing).where(Filing.instance_id == instance.id))
        return ProjectDetail(
            summary=project_summary(s, instance),
            data=personal_data.mask_all(data),
            fields=forms.display_fields(own_forms := _own_form_schemas(s, version, instance), clear),
            field_groups=_field_groups(own_forms, clear),
            model_version=version.content_hash[:12],
            tasks=[task_item(s, t, instance) for t in tasks],
            opinions=opinions(s, instance.id),
            history=history(s, instance.id),
            joint_review=joint_review_summary(s, instance.id),
            filing=_filing_dict(s, actor, instance, filing) if filing else None,
            can_copy=auth.project_copy(s, actor, instance),
            can_urge=instance.status == "running" and auth.task_urge(s, actor, instance),
            can_cancel=instance.status == "running" and auth.project_cancel(actor, instance),
            withdrawable_task_id=_my_latest_step(s, actor, instance),
            review=task_operations.review_state(s, actor, instance),
            copies=[
                {
                    "to": s.get_one(User, c.to_user_id).display_name,
                    "by": s.get_one(User, c.by_user_id).display_name,
                    "at": c.at,
                    "note": c.note,
                    "read": c.read_at is not None,
                }
                for c in s.scalars(
                    select(ProjectCopy).where(ProjectCopy.instance_id == instance.id).order_by(ProjectCopy.id)
                )
            ],
            duplicates=_same_investor(
                s, instance.investor, instance.county_id, instance.started_unit_id, instance.id
            ),
            tracking=tracking_operations.tracking_view(s, instance, data)
            if version.purpose == INVESTMENT
            else None,
        )


def _own_form_schemas(s: Session, version: ModelVersion, instance: ProcessInstance) -> list[dict]:
    """The schemas of the forms this project's own steps used, in the order it met them (labels come
    from its own process: an investment project's investor is never the complaint form's 投诉人)."""
    used = list(
        dict.fromkeys(
            s.scalars(
                select(TaskRecord.form)
                .where(TaskRecord.instance_id == instance.id, TaskRecord.form.is_not(None))
                .order_by(TaskRecord.created_at, TaskRecord.id)
            )
        )
    )
    return [form_files(version, name)[0] for name in used] or all_form_schemas(version)


def _field_groups(schemas: list[dict], data: dict) -> list[tuple[str, list[tuple[str, object]]]]:
    """The project's data under the stage (form) that first asked for each field."""
    groups, seen = [], set()
    for schema in schemas:
        rows = [
            (label, value)
            for (label, value), name in zip(
                forms.display_fields([schema], data), _shown_names(schema, data), strict=True
            )
            if name not in seen
        ]
        seen.update(_shown_names(schema, data))
        if rows:
            groups.append((schema.get("title", ""), rows))
    return groups


def _shown_names(schema: dict, data: dict) -> list[str]:
    """The fields forms.display_fields shows of this schema, in its order."""
    return [
        n
        for n, p in schema.get("properties", {}).items()
        if data.get(n) not in (None, "") and not p.get("readOnly")
    ]


def copy_candidates(actor: Actor, instance_id: int) -> list[tuple[int, str]]:
    """(user id, label) of the active users of the project's county it can be copied to."""
    with transaction() as s:
        instance = _get(s, instance_id)
        auth.require(auth.project_copy(s, actor, instance))
        users = s.scalars(
            select(User)
            .join(Unit, User.unit_id == Unit.id)
            .where(Unit.organisation_id == instance.county_id, User.active.is_(True), User.id != actor.id)
            .order_by(Unit.id, User.username)
        ).all()
        return [(u.id, f"{u.unit.name} · {u.display_name}") for u in users]


def project_copy(actor: Actor, instance_id: int, to_user_ids: list[int], note: str = "") -> int:
    """抄送: copy the project to users of its county; returns how many were newly copied."""
    note = (note or "").strip()
    with transaction() as s:
        instance = _get(s, instance_id)
        auth.require(auth.project_copy(s, actor, instance), "您无权抄送该项目。")
        if not to_user_ids:
            raise ValidationFailed({"to_user_ids": "请选择抄送对象"})
        if len(note) > 500:
            raise ValidationFailed({"note": "不能超过 500 个字"})
        added = 0
        for user_id in dict.fromkeys(to_user_ids):
            user = s.get(User, user_id)
            if user is None or not user.active or user.unit.organisation_id != instance.county_id:
                raise ValidationFailed({"to_user_ids": "抄送对象须为本县在岗用户"})
            exists = s.scalar(
                select(ProjectCopy.id).where(
                    ProjectCopy.instance_id == instance.id, ProjectCopy.to_user_id == user.id
                )
            )
            if exists is None:
                s.add(
                    ProjectCopy(
                        instance_id=instance.id, to_user_id=user.id, by_user_id=actor.id, note=note or None
                    )
                )
                added += 1
                audit.append(
                    s,
                    "project_copied",
                    actor=actor.username,
                    instance_id=instance.id,
                    data={"to": user.username, "note": note},
                    address=actor.address,
                )
        return added


def _my_latest_step(s: Session, actor: Actor, instance: ProcessInstance) -> int | None:
    """The user's last completed step, if it is the project's last completion (a 撤回 candidate)."""
    if instance.status != "running":
        return None
    last = s.scalars(
        select(TaskRecord)
        .where(TaskRecord.instance_id == instance.id, TaskRecord.state == "completed")
        .order_by(TaskRecord.completed_at.desc(), TaskRecord.id.desc())
        .limit(1)
    ).first()
    if last is None or last.completed_by_id != actor.id or last.mi_index is not None:
        return None
    # Offered only when 撤回 would work (not after the filing or signing went out, nor once taken up).
    return None if task_operations.touched_since(s, last) else last.id


def lead_values(actor: Actor, instance_id: int) -> dict:
    """The lead form as last answered, to register a cancelled project again as a copy."""
    with transaction() as s:
        instance = _get(s, instance_id)
        auth.require(auth.project_cancel(actor, instance), "只有项目发起人可以复制重新登记。")
        # The registration form (the first task) and the tasks that amend it (capability restart-form).
        version = s.get_one(ModelVersion, instance.model_version_id)
        lead_tasks = {first_task(version).spec_name, *model_store.tasks_with(version, RESTART_FORM)}
        row = s.scalars(
            select(TaskRecord)
            .where(
                TaskRecord.instance_id == instance.id,
                TaskRecord.spec_name.in_(lead_tasks),
                TaskRecord.state == "completed",
            )
            .order_by(TaskRecord.completed_at.desc())
        ).first()
        return (
            {k: v for k, v in personal_data.reveal_all(row.data or {}).items() if v is not None}
            if row
            else {}
        )


def _get(s: Session, instance_id: int) -> ProcessInstance:
    instance = s.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("项目不存在。")
    return instance


def _filing_dict(s: Session, actor: Actor, instance: ProcessInstance, f: Filing) -> dict:
    return {
        "id": f.id,
        "state": f.state,
        "number": f.number,
        "submitted_at": f.submitted_at,
        "times_submitted": f.times_submitted,
        "return_reason": f.return_reason,
        "contract": f.signing,
        "accepted_at": f.accepted_at,
        "transport": f.transport,
        # outbound: whether the prefecture deployment has acknowledged the latest message
        "delivery": outbox_service.delivery(s, f) if f.transport == "outbound" else None,
        "duplicates": (f.duplicates or []) if auth.filing_decide(actor, f) else [],
        "duplicate_reason": f.duplicate_reason if auth.filing_decide(actor, f) else None,
        "special": special_view(f),
        "can_record_special": f.special_state is not None
        and f.special_state != "已备案"
        and auth.special_filing_record(actor, instance),
    }


def project_summary(s: Session, i: ProcessInstance, names: dict | None = None) -> ProjectSummary:
    """`names`: the county's and initiator's names, the version's purpose and content hash when the caller
    read them with the row (summaries(): one query for a page), else each is looked up here."""
    if names is None:
        version = s.get_one(ModelVersion, i.model_version_id)
        names = {
            "county": s.get_one(Organisation, i.county_id).name,
            "started_by": s.get_one(User, i.started_by_id).display_name,
            "purpose": version.purpose,
            "digest": version.content_hash,
        }
    return ProjectSummary(
        id=i.id,
        project_name=i.project_name,
        investor=i.investor,
        amount_wan=float(i.amount_wan) if i.amount_wan is not None else None,
        project_class=i.project_class,
        stage=i.stage,
        status=i.status,
        outcome=i.outcome,
        county=names["county"],
        started_by=names["started_by"],
        created_at=i.created_at,
        updated_at=i.updated_at,
        process_id=i.process_id,
        purpose=names["purpose"],
        list_labels=list_spec_of(s, i.model_version_id, i.process_id, names["digest"]).label_map(),
        model_version_id=i.model_version_id,
    )


def summaries(s: Session, query) -> list[ProjectSummary]:
    """The summaries of the instances a `select(ProcessInstance)` query returns, names joined: one query."""
    rows = s.execute(
        query.add_columns(
            Organisation.name, User.display_name, ModelVersion.purpose, ModelVersion.content_hash
        )
        .join(Organisation, Organisation.id == ProcessInstance.county_id)
        .join(User, User.id == ProcessInstance.started_by_id)
        .join(ModelVersion, ModelVersion.id == ProcessInstance.model_version_id)
    ).all()
    return [
        project_summary(s, i, {"county": county, "started_by": starter, "purpose": purpose, "digest": digest})
        for i, county, starter, purpose, digest in rows
    ]
