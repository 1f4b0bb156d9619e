"""API tokens: a system signs in to /api/v1 as a user; only the token's SHA-256 is stored.

The plain token is shown once, when an administrator creates it. Every use is checked against the
user's current state (active, roles), so the API's permissions are the browser's for that user.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from workflows import audit, auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.errors import NotFound, ValidationFailed
from workflows.models import ApiToken, User
from workflows.models._types import utcnow

PREFIX = "zs_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_create(actor: Actor, user_id: int, name: str) -> str:
    """A new token for `user_id`; returns the plain token (never stored, shown once)."""
    name = (name or "").strip()
    with transaction() as s:
        auth.require(auth.api_token_manage(actor), "只有管理员可以管理接口令牌。")
        errors = {}
        if not name or len(name) > 100:
            errors["name"] = "请填写令牌用途（不超过 100 个字）"
        user = s.get(User, user_id) if user_id else None
        if user is None or not user.active:
            errors["user_id"] = "请选择一个在岗用户"
        if errors or user is None:  # no user has its error
            raise ValidationFailed(errors)
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            user_id=user.id, name=name, token_hash=_hash(token), prefix=token[:10], created_by=actor.username
        )
        s.add(row)
        s.flush()
        audit.append(
            s,
            "api_token_created",
            actor=actor.username,
            address=actor.address,
            data={"token_id": row.id, "user": user.username, "name": name, "prefix": row.prefix},
        )
        return token


def token_revoke(actor: Actor, token_id: int) -> None:
    with transaction() as s:
        auth.require(auth.api_token_manage(actor), "只有管理员可以管理接口令牌。")
        row = s.get(ApiToken, token_id)
        if row is None:
            raise NotFound("没有这个接口令牌。")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit.append(
                s,
                "api_token_revoked",
                actor=actor.username,
                address=actor.address,
                data={"token_id": row.id, "prefix": row.prefix},
            )


def token_list(actor: Actor) -> list[dict]:
    with transaction() as s:
        auth.require(auth.api_token_manage(actor), "只有管理员可以管理接口令牌。")
        names = dict(s.execute(select(User.id, User.username)).all())
        return [
            {
                "id": t.id,
                "user": names.get(t.user_id),
                "name": t.name,
                "prefix": t.prefix,
                "created_by": t.created_by,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "revoked_at": t.revoked_at,
            }
            for t in s.scalars(select(ApiToken).order_by(ApiToken.id.desc()))
        ]


def actor_for_token(token: str | None, address: str | None = None) -> Actor | None:
    """The user a presented token stands for, or None (unknown, revoked, or the user deactivated)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    with transaction() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token)))
        if row is None or row.revoked_at is not None:
            return None
        user = s.get(User, row.user_id)
        if user is None or not user.active:
            return None
        now = utcnow()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            row.last_used_at = now  # at most once a minute: not a write per request
        return Actor.from_user(user, address)
