"""Functions a model's scripts and conditions may call, named as SpiffArena names them
(`get_current_user()`, `get_process_initiator_user()`, `get_group_members(group)`,
`get_toplevel_process_info()`). They read, never write; their results are journaled with the step
like a service task's, so a replay sees the same answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.actor import Actor
from workflows.models import ProcessInstance, Unit, User

NAMES = ("get_current_user", "get_process_initiator_user", "get_group_members", "get_toplevel_process_info")
# Task data the application itself writes: the starter and county (every start), where a 退回 came from,
# the stage a project was imported at from a county ledger (None for a lead registered here).
APPLICATION_DATA = ("started_by", "county", "returned_from", "returned_by", "imported_stage")


def _user_info(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "username": user.username,
        "display_name": user.display_name,
        "unit": user.unit.name,
        "unit_code": user.unit.code,
        "roles": sorted(user.role_codes),
    }


def bound(session: Session, instance: ProcessInstance, actor: Actor) -> dict[str, Callable[..., Any]]:
    def get_current_user(data: dict) -> dict[str, Any] | None:
        return _user_info(session.get(User, actor.id))

    def get_process_initiator_user(data: dict) -> dict[str, Any] | None:
        return _user_info(instance.started_by)

    def get_group_members(data: dict, group_identifier: str) -> list[str]:
        """Usernames of the active users of the project's county who hold the business role."""
        users = session.scalars(
            select(User)
            .join(Unit, User.unit_id == Unit.id)
            .where(User.active.is_(True), Unit.organisation_id == instance.county_id)
        )
        return sorted(u.username for u in users if str(group_identifier) in u.role_codes)

    def get_toplevel_process_info(data: dict) -> dict[str, Any]:
        return {"process_instance_id": instance.id, "process_model_identifier": instance.process_id}

    return {
        "get_current_user": get_current_user,
        "get_process_initiator_user": get_process_initiator_user,
        "get_group_members": get_group_members,
        "get_toplevel_process_info": get_toplevel_process_info,
    }
