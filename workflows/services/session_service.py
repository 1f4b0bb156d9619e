"""Signed-in sessions kept on the server (GB/T 22239-2019 8.1.4.1 身份鉴别: 登录连接超时自动退出).

The browser's cookie carries only a random token; the row is keyed by the token's SHA-256, so the
table alone lets no one take over a session. A session ends when its user signs out, after
`idle` without a request, at its absolute end (`lifetime` after sign-in, however active), and for
every session of a user whose password is reset or who (or whose unit) is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflows.actor import Actor
from workflows.db import transaction
from workflows.models import User, UserSession
from workflows.models._types import utcnow

# last_seen_at is written at most this often (not on every request).
TOUCH_EVERY = timedelta(seconds=60)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(user_id: int, address: str | None, lifetime: timedelta) -> str:
    """A new session for the user (a new id at every sign-in); returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with transaction() as s:
        s.add(
            UserSession(
                id=_key(token),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
                address=(address or "")[:60] or None,
            )
        )
    return token


def actor_for(token: str, address: str | None, idle: timedelta) -> Actor | None:
    """The signed-in actor of a live session, or None (unknown, ended, idle too long, past its end,
    or its user or unit deactivated). A session found dead is ended."""
    if not token or len(token) > 200:
        return None
    now = utcnow()
    with transaction() as s:
        row = s.get(UserSession, _key(token))
        if row is None or row.ended_at is not None:
            return None
        user = s.get_one(User, row.user_id)
        if now >= row.expires_at or now - row.last_seen_at > idle or not user.active or not user.unit.active:
            row.ended_at = now
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return Actor.from_user(user, address)


def end(token: str) -> None:
    """Sign-out: end this session."""
    if not token:
        return
    with transaction() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.id == _key(token), UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def end_all(s: Session, user_ids: list[int], keep: str | None = None) -> int:
    """End every live session of these users (inside the caller's transaction), except the one whose
    token is `keep` (the user who changed their own password stays signed in there); how many were ended."""
    if not user_ids:
        return 0
    ids = [
        i
        for i in s.scalars(
            select(UserSession.id).where(UserSession.user_id.in_(user_ids), UserSession.ended_at.is_(None))
        )
        if keep is None or i != _key(keep)
    ]
    if ids:
        s.execute(update(UserSession).where(UserSession.id.in_(ids)).values(ended_at=utcnow()))
    return len(ids)
