"""The inbox: tabs 待办 / 已办 / 我发起的 / 抄送我的, with filters, search, sorting and pages.

The 待办 query states the offer rule of workflows.auth.task_eligible in SQL so that counting and
paging stay in the database; tests check both say the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from workflows import auth, filing_exchange
from workflows.actor import Actor
from workflows.db import transaction
from workflows.models import Organisation, ProcessInstance, ProjectCopy, TaskOwner, TaskRecord, Unit
from workflows.models._types import utcnow
from workflows.roles import ROLES
from workflows.services.project_service import project_summary
from workflows.services.task_service import task_item
from workflows.services.value_objects import ProjectSummary, TaskItem

TABS = ("todo", "done", "started", "copied")
SORTS = ("due", "waiting")
PER_PAGE = 20


@dataclass
class InboxQuery:
    tab: str = "todo"
    stage: str = ""
    unit: str = ""
    project_class: str = ""
    overdue: bool = False
    q: str = ""
    sort: str = "due"
    page: int = 1

    def __post_init__(self):
        self.tab = self.tab if self.tab in TABS else "todo"
        self.sort = self.sort if self.sort in SORTS else "due"
        self.page = max(1, self.page)
        self.q = self.q.strip()[:100]


@dataclass
class InboxPage:
    query: InboxQuery
    counts: dict[str, int]
    tasks: list[TaskItem] = field(default_factory=list)
    projects: list[ProjectSummary] = field(default_factory=list)
    total: int = 0
    pages: int = 1
    stages: list[str] = field(default_factory=list)
    units: list[tuple[str, str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # the project classes the model gave these projects
    unread_copies: int = 0


def offered_to(actor: Actor):
    """SQL condition: ready tasks offered to this user (mirrors auth.task_eligible)."""
    county = aliased(Organisation)

    def in_lanes(county_lanes, prefecture_lanes):
        if filing_exchange.files_remotely():
            prefecture_lanes = []  # decided over the filing API
        return or_(
            and_(TaskRecord.lane.in_(county_lanes), ProcessInstance.county_id == actor.org_id),
            and_(
                TaskRecord.lane.in_(prefecture_lanes),
                ProcessInstance.county_id.in_(select(county.id).where(county.parent_id == actor.org_id)),
            ),
        )

    def of_level(level, codes):
        return [r for r in codes if r in ROLES and ROLES[r].level == level]

    org_ok = or_(
        and_(
            TaskRecord.lane == "", ProcessInstance.started_by_id == actor.id
        ),  # outside any lane: the initiator's
        and_(
            TaskRecord.owned.is_(False),
            in_lanes(of_level("county", actor.roles), of_level("prefecture", actor.roles)),
        ),
        # The model named the lane's users (lane_owners): those users, whatever their roles.
        and_(
            TaskRecord.owned.is_(True),
            TaskRecord.id.in_(select(TaskOwner.task_record_id).where(TaskOwner.user_id == actor.id)),
            in_lanes(of_level("county", ROLES), of_level("prefecture", ROLES)),
        ),
    )
    return and_(
        TaskRecord.state == "ready",
        org_ok,
        or_(TaskRecord.unit_code.is_(None), TaskRecord.unit_code == actor.unit_code),
        or_(TaskRecord.fixed_assignee.is_(False), TaskRecord.assignee_id == actor.id),
    )


def _todo(actor: Actor, absent: list[Actor]):
    delegated = and_(TaskRecord.state == "ready", TaskRecord.delegate_id == actor.id)  # 委派 to me
    return (
        select(TaskRecord, ProcessInstance)
        .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
        .where(or_(offered_to(actor), delegated, *[offered_to(a) for a in absent]))
    )  # 请假代理


def _done(actor: Actor):
    return (
        select(TaskRecord, ProcessInstance)
        .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
        .where(TaskRecord.completed_by_id == actor.id, TaskRecord.state == "completed")
    )


def _started(actor: Actor):
    return select(ProcessInstance).where(ProcessInstance.started_by_id == actor.id)


def _copied(actor: Actor):
    return (
        select(ProcessInstance)
        .join(ProjectCopy, ProjectCopy.instance_id == ProcessInstance.id)
        .where(ProjectCopy.to_user_id == actor.id)
    )


def _count(s: Session, query) -> int:
    return s.scalar(select(func.count()).select_from(query.subquery())) or 0


def _search(query, q: str):
    if not q:
        return query
    like = f"%{q}%"
    return query.where(or_(ProcessInstance.project_name.like(like), ProcessInstance.investor.like(like)))


def _classes(s: Session, base) -> list[str]:
    """The classes (ListSpec listClass) the rows of a tab have, for its filter: whatever the model's rules
    assign, smaller projects' classes first."""
    by_size = (
        base.with_only_columns(ProcessInstance.project_class, func.max(ProcessInstance.amount_wan))
        .where(ProcessInstance.project_class.is_not(None))
        .group_by(ProcessInstance.project_class)
        .order_by(None)
    )
    return [c for c, _ in sorted(s.execute(by_size).all(), key=lambda r: (float(r[1] or 0), r[0]))]


def inbox_page(actor: Actor, query: InboxQuery) -> InboxPage:
    with transaction() as s:
        absent = auth.standing_in_for(s, actor)
        counts = {
            "todo": _count(s, _todo(actor, absent)),
            "done": _count(s, _done(actor)),
            "started": _count(s, _started(actor)),
            "copied": _count(s, _copied(actor)),
        }
        page = InboxPage(query=query, counts=counts)
        page.unread_copies = _count(s, _copied(actor).where(ProjectCopy.read_at.is_(None)))
        if query.tab in ("todo", "done"):
            base = _todo(actor, absent) if query.tab == "todo" else _done(actor)
            # The filter choices come from DISTINCT queries: loading every row (and its instance) grew
            # with the database (BENCHMARKS.md).
            page.stages = sorted(s.scalars(base.with_only_columns(TaskRecord.stage).distinct()))
            codes = sorted(c for c in s.scalars(base.with_only_columns(TaskRecord.unit_code).distinct()) if c)
            names = (
                dict(
                    s.execute(
                        select(Unit.code, Unit.name).where(
                            Unit.code.in_(codes), Unit.organisation_id == actor.org_id
                        )
                    ).all()
                )
                if codes
                else {}
            )
            page.units = [(c, names.get(c, c)) for c in codes]
            page.classes = _classes(s, base)
            filtered = _search(base, query.q)
            if query.stage:
                filtered = filtered.where(TaskRecord.stage == query.stage)
            if query.unit:
                filtered = filtered.where(TaskRecord.unit_code == query.unit)
            if query.project_class:
                filtered = filtered.where(ProcessInstance.project_class == query.project_class)
            if query.overdue:
                filtered = filtered.where(TaskRecord.due_at < utcnow())
            if query.tab == "done":
                order = [TaskRecord.completed_at.desc(), TaskRecord.id.desc()]
            elif query.sort == "waiting":
                order = [TaskRecord.created_at, TaskRecord.id]
            else:
                order = [TaskRecord.due_at, TaskRecord.id]
            page.total = _count(s, filtered)
            rows = s.execute(
                filtered.order_by(*order).limit(PER_PAGE).offset((query.page - 1) * PER_PAGE)
            ).all()
            page.tasks = [task_item(s, r, i) for r, i in rows]
        else:
            base = _started(actor) if query.tab == "started" else _copied(actor)
            page.classes = _classes(s, base)
            filtered = _search(base, query.q)
            if query.project_class:
                filtered = filtered.where(ProcessInstance.project_class == query.project_class)
            page.total = _count(s, filtered)
            instances = s.scalars(
                filtered.order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())
                .limit(PER_PAGE)
                .offset((query.page - 1) * PER_PAGE)
            ).all()
            page.projects = [project_summary(s, i) for i in instances]
        page.pages = max(1, math.ceil(page.total / PER_PAGE))
        return page
