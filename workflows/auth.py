"""One permission function per service action; each service calls its check first.

Rules from docs/domain.md ("Who works in the system") and §6 (who may see a project).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflows import filing_exchange
from workflows.actor import Actor
from workflows.errors import Forbidden
from workflows.models import Filing, Organisation, ProcessInstance, ProjectCopy, TaskRecord
from workflows.roles import ADMINISTRATORS, COUNTY_WIDE_READERS, ROLES


def require(allowed: bool, message: str = "您没有执行此操作的权限。") -> None:
    if not allowed:
        raise Forbidden(message)


def business_user(actor: Actor) -> bool:
    """Whether the actor does business tasks at all: administrators (三权分立) never do."""
    return not actor.roles & ADMINISTRATORS


def process_start(actor: Actor, lane: str) -> bool:
    """Who starts a process: a county user with the role of its first task's lane (BPMN); any county
    user but an administrator when the first task lies outside every lane (it is then the initiator's own)."""
    return (actor.has(lane) if lane else business_user(actor)) and actor.org_kind == "county"


def task_eligible(actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation) -> bool:
    """May this user work on the task: the lane's role, the right organisation, unit and assignee.
    A task outside any lane is the initiator's (as in SpiffArena). When the model named the lane's
    users (`lane_owners` in task data, kept as the task's owners), those users instead of the role."""
    if not record.lane:
        return actor.id == instance.started_by_id and not (
            record.fixed_assignee and record.assignee_id != actor.id
        )
    role = ROLES.get(record.lane)
    if role is None:
        return False
    if record.owned:
        if actor.id not in record.owner_ids:
            return False
    elif not actor.has(record.lane):
        return False
    if role.level == "prefecture" and filing_exchange.files_remotely():
        # The prefecture is another deployment: its decision arrives over the filing API.
        return False
    org_ok = actor.org_id == (county.parent_id if role.level == "prefecture" else instance.county_id)
    if not org_ok:
        return False
    if record.unit_code and actor.unit_code != record.unit_code:
        return False
    return not (record.fixed_assignee and record.assignee_id != actor.id)


def task_claim(actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation) -> bool:
    return task_eligible(actor, record, instance, county)


def task_complete(actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation) -> bool:
    return task_eligible(actor, record, instance, county)


def task_transfer(actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation) -> bool:
    """转办 is for the task's current holder (claimed, or assigned by the model)."""
    return record.assignee_id == actor.id and task_eligible(actor, record, instance, county)


def standing_in_for(session: Session, actor: Actor) -> list[Actor]:
    """请假代理: the users this actor stands in for today (China date)."""
    from workflows.localtime import to_local
    from workflows.models import StandIn, User
    from workflows.models._types import utcnow

    today = to_local(utcnow()).date()
    rows = session.scalars(
        select(StandIn).where(
            StandIn.stand_in_id == actor.id,
            StandIn.cancelled.is_(False),
            StandIn.starts_on <= today,
            StandIn.ends_on >= today,
        )
    )
    return [Actor.from_user(session.get(User, r.user_id)) for r in rows]


def acting_for(
    session: Session, actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation
) -> Actor | None:
    """The absent user on whose behalf this actor may work the task today, if any (never for an
    administrator, who does no business tasks)."""
    if task_eligible(actor, record, instance, county) or not business_user(actor):
        return None
    return next(
        (
            absent
            for absent in standing_in_for(session, actor)
            if task_eligible(absent, record, instance, county)
        ),
        None,
    )


def task_view(actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation) -> bool:
    """The task page: those it is offered to, and a colleague it is delegated to (委派)."""
    return task_eligible(actor, record, instance, county) or (
        record.delegate_id is not None and record.delegate_id == actor.id
    )


def task_save_draft(
    actor: Actor, record: TaskRecord, instance: ProcessInstance, county: Organisation
) -> bool:
    """暂存: the holder, or the colleague the holder delegated the opinion to."""
    return task_transfer(actor, record, instance, county) or (
        record.delegate_id is not None and record.delegate_id == actor.id
    )


def task_withdraw(actor: Actor, record: TaskRecord) -> bool:
    """撤回 is for the one who completed the step."""
    return record.state == "completed" and record.completed_by_id == actor.id


def project_cancel(actor: Actor, instance: ProcessInstance) -> bool:
    """撤销 is for the one who started the project."""
    return instance.started_by_id == actor.id


def review_change(actor: Actor, instance: ProcessInstance) -> bool:
    """加签/减签 is the commerce bureau's, in its own county."""
    return actor.has("commerce_bureau") and actor.org_id == instance.county_id


def task_urge(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    """催办: the project's starter, the commerce bureau and heads of office of its county."""
    if actor.org_id != instance.county_id:
        return False
    return instance.started_by_id == actor.id or bool(actor.roles & {"commerce_bureau", "head_of_office"})


def project_view(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    county = session.get(Organisation, instance.county_id)
    if actor.org_id == instance.county_id and actor.roles & COUNTY_WIDE_READERS:
        return True
    if actor.has("prefecture_bureau") and actor.org_id == county.parent_id:
        return session.scalar(select(Filing.id).where(Filing.instance_id == instance.id)) is not None
    if actor.org_id != instance.county_id:
        return False
    if instance.started_by_id == actor.id:
        return True
    copied = session.scalar(
        select(ProjectCopy.id).where(
            ProjectCopy.instance_id == instance.id, ProjectCopy.to_user_id == actor.id
        )
    )
    if copied is not None:
        return True
    # Anyone who holds or held a task on it, or may take one now.
    touched = session.scalar(
        select(TaskRecord.id)
        .where(
            TaskRecord.instance_id == instance.id,
            or_(TaskRecord.assignee_id == actor.id, TaskRecord.completed_by_id == actor.id),
        )
        .limit(1)
    )
    if touched is not None:
        return True
    ready = session.scalars(
        select(TaskRecord).where(TaskRecord.instance_id == instance.id, TaskRecord.state == "ready")
    )
    return any(task_eligible(actor, r, instance, county) for r in ready)


def project_copy(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    """抄送: people working on the county's project may copy it; auditors and administrators act on none."""
    working_roles = actor.roles - {"auditor"} - ADMINISTRATORS
    return (
        bool(working_roles) and actor.org_id == instance.county_id and project_view(session, actor, instance)
    )


def filing_list(actor: Actor) -> bool:
    return actor.has("prefecture_bureau") and actor.org_kind == "prefecture"


def filing_decide(actor: Actor, filing: Filing) -> bool:
    """受理/退回 a filing, confirm a duplicate, read its 备案表: the prefecture bureau it was filed with."""
    return filing_list(actor) and actor.org_id == filing.prefecture_id


def special_filing_record(actor: Actor, instance: ProcessInstance) -> bool:
    """一事一议报上一级政府备案 is recorded by the commerce bureau of the project's county."""
    return actor.has("commerce_bureau") and actor.org_id == instance.county_id


def admin(actor: Actor) -> bool:
    """The system administrator: users, units, business roles, process models (三权分立)."""
    return actor.has("admin")


def user_list(actor: Actor) -> bool:
    """The list of users: the system administrator (who keeps them) and the security administrator
    (who gives them their roles)."""
    return actor.has("admin") or actor.has("security_admin")


def role_assign(actor: Actor) -> bool:
    """Give a user their roles, administrative ones included: the security administrator."""
    return actor.has("security_admin")


def sign_in_locks(actor: Actor) -> bool:
    """See and lift sign-in locks (per account and address): the security administrator."""
    return actor.has("security_admin")


def security_log_read(actor: Actor) -> bool:
    """The security log (sign-ins, failures, locks, denials, administrative and security changes),
    searched and exported: the security administrator and the audit administrator (安全审计员)."""
    return actor.has("security_admin") or actor.has("audit_admin")


def attachment_upload(
    session: Session, actor: Actor, instance: ProcessInstance, record: TaskRecord | None = None
) -> bool:
    """附件: people working on the running project add files; auditors and administrators only read.
    On a task, those who may work on it (or its delegate) while it is open; otherwise those who may
    see the project."""
    if instance.status != "running" or not actor.roles - {"auditor"} - ADMINISTRATORS:
        return False
    if record is not None:
        county = session.get(Organisation, instance.county_id)
        return (
            record.instance_id == instance.id
            and record.state == "ready"
            and task_view(actor, record, instance, county)
        )
    return project_view(session, actor, instance)


def attachment_list(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    return project_view(session, actor, instance)


def attachment_download(session: Session, actor: Actor, instance: ProcessInstance) -> bool:
    """Only those who may see the project (auditors included) download its files."""
    return project_view(session, actor, instance)


def document_generate(session: Session, actor: Actor, instance: ProcessInstance, kind: str) -> bool:
    """文书 (PDF): those who may see the project print its forms and history; the 项目推进提醒函 is a
    letter the county commerce bureau sends out, so only the commerce bureau of the project's county
    issues it."""
    if not project_view(session, actor, instance):
        return False
    if kind == "reminder-letter":
        return actor.has("commerce_bureau") and actor.org_id == instance.county_id
    return True


# --- audit: auditors read every project of their county and act on none -------------


def audit_project(actor: Actor, instance: ProcessInstance) -> bool:
    """Replay, verify and export one project's history: auditors of its county."""
    return actor.has("auditor") and actor.org_id == instance.county_id


def audit_database(actor: Actor) -> bool:
    """Verify the whole chain and export events across projects (of their county): auditors."""
    return actor.has("auditor") and actor.org_kind == "county"


def model_versions_read(actor: Actor) -> bool:
    """The list of process-model versions and the difference between two: auditors, the system
    administrator who deploys them and the audit administrator who reads every log."""
    return actor.has("auditor") or actor.has("admin") or actor.has("audit_admin")


def model_deploy(actor: Actor) -> bool:
    """Deploy a new process-model version: administrators."""
    return actor.has("admin")


def model_edit(actor: Actor) -> bool:
    """Open a process-model version in the browser editor, validate it, preview its forms and keep a
    draft of the edit: administrators (deploying the edit is model_deploy)."""
    return actor.has("admin")


# --- leaders' pipeline: dashboard, ledgers, period reports, metrics, API tokens ---------

# Who reads the county's pipeline figures: heads of office, the vice county head, the commerce bureau
# and (read-only, as everywhere) auditors; the prefecture commerce bureau across its counties.
PIPELINE_COUNTY_ROLES = frozenset({"head_of_office", "vice_county_head", "commerce_bureau", "auditor"})


def dashboard_view(actor: Actor) -> bool:
    """The dashboard (funnel, signed amounts, 履约率/开工率/资金到位率, overdue, stage times)."""
    if actor.org_kind == "prefecture":
        return actor.has("prefecture_bureau")
    return bool(actor.roles & PIPELINE_COUNTY_ROLES)


def metrics_read(actor: Actor) -> bool:
    """The same figures as JSON (/api/v1/metrics)."""
    return dashboard_view(actor)


def ledger_view(actor: Actor) -> bool:
    """台账 (project, signed-project, overdue ledgers) on screen; the prefecture's rows are its filed
    projects."""
    return dashboard_view(actor)


def ledger_export(actor: Actor) -> bool:
    """The same ledgers as .xlsx."""
    return ledger_view(actor)


def period_report(actor: Actor) -> bool:
    """Monthly / quarterly summary PDF (月研判、季调度, 南政发〔2022〕6号 §(八))."""
    return dashboard_view(actor)


def api_token_manage(actor: Actor) -> bool:
    """Create, list and revoke API tokens: administrators."""
    return actor.has("admin")


def calendar_manage(actor: Actor) -> bool:
    """List, enter and remove days of the working-day calendar (放假 / 调休上班): the system administrator."""
    return actor.has("admin")


# --- operating running instances (运维): the system administrator only ---------------------


def instance_operate_view(actor: Actor) -> bool:
    """The list of running instances and one instance's open tasks, data and versions."""
    return actor.has("admin")


def instance_migrate(actor: Actor) -> bool:
    """Move a running instance to another version of its process."""
    return actor.has("admin")


def instance_skip(actor: Actor) -> bool:
    """Skip a stuck task (complete it with no data, or move the token past a waiting event)."""
    return actor.has("admin")


def instance_data_correct(actor: Actor) -> bool:
    """Correct one variable of an open task's data."""
    return actor.has("admin")


def instance_retry(actor: Actor) -> bool:
    """Run again a step whose script or service task failed."""
    return actor.has("admin")
