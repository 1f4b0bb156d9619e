"""请假代理: a user on leave names a stand-in for a date range; their tasks reach the stand-in."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from workflows import audit, auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.errors import Forbidden, NotFound, ValidationFailed
from workflows.models import StandIn, User
from workflows.roles import ADMINISTRATORS


def stand_in_candidates(actor: Actor) -> list[tuple[int, str]]:
    """Active colleagues of the same organisation."""
    with transaction() as s:
        users = s.scalars(select(User).where(User.active.is_(True), User.id != actor.id)).all()
        return [
            (u.id, f"{u.unit.name} · {u.display_name}")
            for u in users
            if u.unit.organisation_id == actor.org_id and not u.role_codes & ADMINISTRATORS
        ]


def stand_in_list(actor: Actor) -> list[dict]:
    """My stand-ins, and the colleagues I stand in for."""
    with transaction() as s:
        rows = s.scalars(
            select(StandIn)
            .where((StandIn.user_id == actor.id) | (StandIn.stand_in_id == actor.id))
            .order_by(StandIn.starts_on.desc())
        ).all()
        return [
            {
                "id": r.id,
                "user": s.get_one(User, r.user_id).display_name,
                "stand_in": s.get_one(User, r.stand_in_id).display_name,
                "starts_on": r.starts_on,
                "ends_on": r.ends_on,
                "cancelled": r.cancelled,
                "mine": r.user_id == actor.id,
            }
            for r in rows
        ]


def stand_in_set(actor: Actor, stand_in_id: int, starts_on: str, ends_on: str) -> int:
    errors = {}
    start: date | None
    end: date | None
    try:
        start, end = date.fromisoformat(starts_on), date.fromisoformat(ends_on)
        if end < start:
            errors["ends_on"] = "结束日期不能早于开始日期"
    except ValueError:
        errors["starts_on"] = "请填写有效日期"
        start = end = None
    with transaction() as s:
        target = s.get(User, stand_in_id)
        # Administrators (三权分立) do no business tasks: they neither stand in nor name a stand-in.
        if (
            target is None
            or not target.active
            or target.id == actor.id
            or target.unit.organisation_id != actor.org_id
            or target.role_codes & ADMINISTRATORS
            or not auth.business_user(actor)
        ):
            errors["stand_in_id"] = "代理人须为本级组织的其他在岗用户"
        if errors or target is None or start is None or end is None:  # each None has its error
            raise ValidationFailed(errors)
        row = StandIn(user_id=actor.id, stand_in_id=target.id, starts_on=start, ends_on=end)
        s.add(row)
        s.flush()
        audit.append(
            s,
            "stand_in_set",
            actor=actor.username,
            address=actor.address,
            data={"stand_in": target.username, "from": start.isoformat(), "to": end.isoformat()},
        )
        return row.id


def stand_in_cancel(actor: Actor, stand_in_row_id: int) -> None:
    with transaction() as s:
        row = s.get(StandIn, stand_in_row_id)
        if row is None:
            raise NotFound("代理设置不存在")
        if row.user_id != actor.id:
            raise Forbidden("只能取消自己的代理设置。")
        row.cancelled = True
        audit.append(
            s, "stand_in_cancelled", actor=actor.username, address=actor.address, data={"id": row.id}
        )
