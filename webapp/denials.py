"""Refused requests (403) go into the security log."""

from __future__ import annotations

import logging

from flask import request
from flask_login import current_user

from workflows.services import security_log


def record_denial(reason: str, username: str | None = None) -> None:
    """A refused request (403) goes into the security log (workflows/services/security_log.py)."""
    if username is None and current_user and current_user.is_authenticated:
        username = current_user.actor.username
    try:
        security_log.record_denial(username, request.remote_addr, request.method, request.path, reason)
    except Exception:
        logging.getLogger("zhaoshang.security").exception("could not record a denied request")
