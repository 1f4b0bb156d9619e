"""Flask-Login glue: the signed-in user wraps the service's Actor."""
from __future__ import annotations

from flask import request
from flask_login import UserMixin, current_user

from workflows.actor import Actor
from workflows.roles import ROLES
from workflows.services import user_service


class SessionUser(UserMixin):
    def __init__(self, actor: Actor):
        self.actor = actor
        self.id = actor.id

    @property
    def role_names(self) -> list[str]:
        return [ROLES[r].name for r in sorted(self.actor.roles) if r in ROLES]


def load_user(user_id: str) -> SessionUser | None:
    actor = user_service.actor_by_id(int(user_id), request.remote_addr)
    return SessionUser(actor) if actor else None


def actor() -> Actor:
    return current_user.actor
