"""The permission rules lists need, stated in SQL so that lists count and page in the database: who a
ready task is offered to (workflows.auth.task_eligible) and who may see a project
(workflows.auth.project_view). Tests check each says the same as its Python rule."""

from __future__ import annotations

from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.orm import aliased

from workflows import filing_exchange
from workflows.actor import Actor
from workflows.models import Filing, Organisation, ProcessInstance, ProjectCopy, TaskOwner, TaskRecord
from workflows.roles import COUNTY_WIDE_READERS, ROLES


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


def project_viewable(actor: Actor):
    """SQL condition on ProcessInstance: this user may see the project (mirrors auth.project_view)."""
    county = aliased(Organisation)
    mine = ProcessInstance.county_id == actor.org_id
    filed = exists().where(Filing.instance_id == ProcessInstance.id)
    prefecture = (
        and_(ProcessInstance.county_id.in_(select(county.id).where(county.parent_id == actor.org_id)), filed)
        if actor.has("prefecture_bureau")
        else false()
    )
    if actor.roles & COUNTY_WIDE_READERS:
        return or_(mine, prefecture)
    touched = exists().where(
        TaskRecord.instance_id == ProcessInstance.id,
        or_(TaskRecord.assignee_id == actor.id, TaskRecord.completed_by_id == actor.id),
    )
    copied = exists().where(ProjectCopy.instance_id == ProcessInstance.id, ProjectCopy.to_user_id == actor.id)
    offered = exists().where(TaskRecord.instance_id == ProcessInstance.id, offered_to(actor))
    return or_(
        prefecture, and_(mine, or_(ProcessInstance.started_by_id == actor.id, copied, touched, offered))
    )


def offered_ids(actor: Actor) -> list:
    """The ids of the ready tasks offered to this user, as one SELECT per way a task reaches a user (the same
    rule as offered_to, which is their OR): each branch is a conjunction the open-task index can answer by its
    leading column (the lane), where the OR of them made the database read every open task."""
    county = aliased(Organisation)
    remote = filing_exchange.files_remotely()

    def of_level(level, codes):
        return [r for r in codes if r in ROLES and ROLES[r].level == level]

    def branch(*conditions):
        return (
            select(TaskRecord.id)
            .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
            .where(
                TaskRecord.state == "ready",
                *conditions,
                or_(TaskRecord.unit_code.is_(None), TaskRecord.unit_code == actor.unit_code),
                or_(TaskRecord.fixed_assignee.is_(False), TaskRecord.assignee_id == actor.id),
            )
        )

    children = ProcessInstance.county_id.in_(select(county.id).where(county.parent_id == actor.org_id))
    owners = TaskRecord.id.in_(select(TaskOwner.task_record_id).where(TaskOwner.user_id == actor.id))
    branches = [branch(TaskRecord.lane == "", ProcessInstance.started_by_id == actor.id)]
    county_lanes, prefecture_lanes = (
        of_level("county", actor.roles),
        [] if remote else of_level("prefecture", actor.roles),
    )
    if county_lanes:
        branches.append(
            branch(
                TaskRecord.owned.is_(False),
                TaskRecord.lane.in_(county_lanes),
                ProcessInstance.county_id == actor.org_id,
            )
        )
    if prefecture_lanes:
        branches.append(branch(TaskRecord.owned.is_(False), TaskRecord.lane.in_(prefecture_lanes), children))
    all_county, all_prefecture = of_level("county", ROLES), [] if remote else of_level("prefecture", ROLES)
    branches.append(
        branch(
            TaskRecord.owned.is_(True),
            owners,
            TaskRecord.lane.in_(all_county),
            ProcessInstance.county_id == actor.org_id,
        )
    )
    if all_prefecture:
        branches.append(
            branch(TaskRecord.owned.is_(True), owners, TaskRecord.lane.in_(all_prefecture), children)
        )
    return branches
