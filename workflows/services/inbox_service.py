"""The inbox: tabs 待办 / 已办 / 我发起的 / 抄送我的, with filters, search, sorting and pages.

The 待办 query states the offer rule of workflows.auth.task_eligible in SQL (workflows/services/visibility.py)
so that counting and paging stay in the database; tests check both say the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session, aliased

from workflows import auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.models import (
    ModelVersion,
    ProcessInstance,
    ProjectCopy,
    TaskRecord,
    Unit,
    User,
)
from workflows.models._types import utcnow
from workflows.services.project_service import summaries
from workflows.services.task_service import task_item
from workflows.services.value_objects import ProjectSummary, TaskItem
from workflows.services.visibility import offered_ids, offered_to

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


def _todo_ids(actor: Actor, absent: list[Actor]):
    """The ids of the 待办 tab: offered to me, 委派 to me, or offered to those I stand in for (请假代理)."""
    delegated = select(TaskRecord.id).where(TaskRecord.state == "ready", TaskRecord.delegate_id == actor.id)
    return union(*offered_ids(actor), delegated, *[b for a in absent for b in offered_ids(a)])


def _todo_condition(actor: Actor, absent: list[Actor], few: bool = True):
    """`few`: by the ids of the branches (each answered by an index), best when the tab holds few tasks; else
    the same rule as one OR, which the database answers by one pass over the open tasks — cheaper when the
    tab holds thousands (tests check both say the same)."""
    if few:
        return TaskRecord.id.in_(_todo_ids(actor, absent).scalar_subquery())
    delegated = and_(TaskRecord.state == "ready", TaskRecord.delegate_id == actor.id)  # 委派 to me
    return or_(offered_to(actor), delegated, *[offered_to(a) for a in absent])  # 请假代理


MANY = 2000  # open tasks from which the 待办 tab's rows are found by one pass rather than by their ids


def _done_condition(actor: Actor):
    return and_(TaskRecord.completed_by_id == actor.id, TaskRecord.state == "completed")


def _tasks(condition):
    return (
        select(TaskRecord, ProcessInstance)
        .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
        .where(condition)
    )


def _todo(actor: Actor, absent: list[Actor], few: bool = True):
    return _tasks(_todo_condition(actor, absent, few))


def _done(actor: Actor):
    return _tasks(_done_condition(actor))


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


def _counts(s: Session, actor: Actor, absent: list[Actor]) -> tuple[dict[str, int], int]:
    """The four tabs' counts and the unread copies: one statement of five indexed counts."""
    copies = select(func.count(ProjectCopy.id)).where(ProjectCopy.to_user_id == actor.id)
    row = s.execute(
        select(
            select(func.count()).select_from(_todo_ids(actor, absent).subquery()).scalar_subquery(),
            select(func.count(TaskRecord.id))
            .where(_done_condition(actor))
            .scalar_subquery(),  # every task has its instance
            select(func.count(ProcessInstance.id))
            .where(ProcessInstance.started_by_id == actor.id)
            .scalar_subquery(),
            copies.scalar_subquery(),
            copies.where(ProjectCopy.read_at.is_(None)).scalar_subquery(),
        )
    ).one()
    return dict(zip(TABS, row[:4], strict=True)), row[4]


def _search(query, q: str):
    if not q:
        return query
    like = f"%{q}%"
    return query.where(or_(ProcessInstance.project_name.like(like), ProcessInstance.investor.like(like)))


def _by_size(rows) -> list[str]:
    """The classes (ListSpec listClass) rows have, for a tab's filter: whatever the model's rules assign,
    smaller projects' classes first."""
    largest: dict[str, float] = {}
    for project_class, amount in rows:
        if project_class is not None:
            largest[project_class] = max(largest.get(project_class, 0.0), float(amount or 0))
    return sorted(largest, key=lambda c: (largest[c], c))


def _classes(s: Session, base) -> list[str]:
    by_size = (
        base.with_only_columns(ProcessInstance.project_class, func.max(ProcessInstance.amount_wan))
        .where(ProcessInstance.project_class.is_not(None))
        .group_by(ProcessInstance.project_class)
        .order_by(None)
    )
    return _by_size(s.execute(by_size).all())


def _task_filters(s: Session, actor: Actor, base, page: InboxPage) -> None:
    """The stage, department and class choices of a task tab, from one grouped query over its rows."""
    rows = s.execute(
        base.with_only_columns(
            TaskRecord.stage,
            TaskRecord.unit_code,
            Unit.name,
            ProcessInstance.project_class,
            func.max(ProcessInstance.amount_wan),
        )
        .outerjoin(Unit, and_(Unit.code == TaskRecord.unit_code, Unit.organisation_id == actor.org_id))
        .group_by(TaskRecord.stage, TaskRecord.unit_code, Unit.name, ProcessInstance.project_class)
        .order_by(None)
    ).all()
    page.stages = sorted({r[0] for r in rows})
    names = {r[1]: r[2] or r[1] for r in rows if r[1]}
    page.units = [(c, names[c]) for c in sorted(names)]
    page.classes = _by_size((r[3], r[4]) for r in rows)


def _task_rows(s: Session, query) -> list[TaskItem]:
    """A page of tasks with their unit's, assignee's and initiator's names and the version's hash joined."""
    assignee, starter = aliased(User), aliased(User)
    rows = s.execute(
        query.add_columns(Unit.name, assignee.display_name, starter.display_name, ModelVersion.content_hash)
        .outerjoin(
            Unit, and_(Unit.organisation_id == ProcessInstance.county_id, Unit.code == TaskRecord.unit_code)
        )
        .outerjoin(assignee, assignee.id == TaskRecord.assignee_id)
        .join(starter, starter.id == ProcessInstance.started_by_id)
        .join(ModelVersion, ModelVersion.id == ProcessInstance.model_version_id)
    ).all()
    return [
        task_item(s, r, i, {"unit": unit, "assignee": by, "started_by": initiator, "digest": digest})
        for r, i, unit, by, initiator, digest in rows
    ]


def inbox_page(actor: Actor, query: InboxQuery) -> InboxPage:
    """Statements: the stand-ins of today, the counts, the filter choices, the page (and its total when a
    filter or search narrows the tab) — tests/test_read_statements.py counts them."""
    with transaction() as s:
        absent = auth.standing_in_for(s, actor)
        counts, unread = _counts(s, actor, absent)
        page = InboxPage(query=query, counts=counts, unread_copies=unread)
        narrowed = bool(query.q or query.stage or query.unit or query.project_class or query.overdue)
        if query.tab in ("todo", "done"):
            base = _todo(actor, absent, counts["todo"] <= MANY) if query.tab == "todo" else _done(actor)
            _task_filters(s, actor, base, page)
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
            page.total = _count(s, filtered) if narrowed else counts[query.tab]
            # The page's ids first, from the indexes alone; then those rows with their names.
            ids = (
                filtered.with_only_columns(TaskRecord.id)
                .order_by(*order)
                .limit(PER_PAGE)
                .offset((query.page - 1) * PER_PAGE)
            )
            page.tasks = _task_rows(s, _tasks(TaskRecord.id.in_(ids.scalar_subquery())).order_by(*order))
        else:
            base = _started(actor) if query.tab == "started" else _copied(actor)
            page.classes = _classes(s, base)
            filtered = _search(base, query.q)
            if query.project_class:
                filtered = filtered.where(ProcessInstance.project_class == query.project_class)
            page.total = _count(s, filtered) if narrowed else counts[query.tab]
            page.projects = summaries(
                s,
                filtered.order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())
                .limit(PER_PAGE)
                .offset((query.page - 1) * PER_PAGE),
            )
        page.pages = max(1, math.ceil(page.total / PER_PAGE))
        return page
