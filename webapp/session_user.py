"""Flask-Login glue: the signed-in user wraps the service's Actor; the session cookie carries only the
random token of a session kept on the server (workflows/services/session_service.py)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from flask_login import UserMixin, current_user

from workflows.actor import Actor
from workflows.roles import ROLES
from workflows.services import session_service


class SessionUser(UserMixin):
    def __init__(self, actor: Actor, token: str = ""):
        self.actor = actor
        self.id = actor.id
        self.token = token

    def get_id(self) -> str:
        # What Flask-Login keeps in the cookie: the session's token, never the user's id.
        return self.token

    @property
    def role_names(self) -> list[str]:
        return [ROLES[r].name for r in sorted(self.actor.roles) if r in ROLES]


def load_user(token: str) -> SessionUser | None:
    idle = timedelta(minutes=current_app.config["SESSION_MINUTES"])
    actor = session_service.actor_for(token, request.remote_addr, idle)
    return SessionUser(actor, token) if actor else None


def start_session(actor: Actor) -> SessionUser:
    """A new server-side session for a user who just signed in."""
    lifetime = timedelta(hours=current_app.config["SESSION_MAX_HOURS"])
    return SessionUser(actor, session_service.start(actor.id, request.remote_addr, lifetime))


def end_session() -> None:
    if current_user.is_authenticated:
        session_service.end(current_user.token)


def actor() -> Actor:
    return current_user.actor
