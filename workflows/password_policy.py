"""When a password must be changed (GB/T 22239-2019 8.1.4.1 身份鉴别: 口令定期更换): after an administrator
set it (a new account, a reset) and when it is older than ZS_PASSWORD_MAX_DAYS (0 = never). A new
password may not be any of the last HISTORY ones. Configured once at start-up (workflows/config.py bind)."""

from __future__ import annotations

from datetime import timedelta

from workflows.models._types import utcnow

HISTORY = 5
DEFAULT_MAX_DAYS = 90
_settings = {"max_days": DEFAULT_MAX_DAYS}


def configure(max_days: int) -> None:
    _settings["max_days"] = max(0, int(max_days))


def max_days() -> int:
    return _settings["max_days"]


def expired(user) -> bool:
    days = _settings["max_days"]
    changed = getattr(user, "password_changed_at", None)
    return bool(days and changed and utcnow() - changed > timedelta(days=days))


def due(user) -> bool:
    """Whether the user must choose a new password before doing anything else."""
    return bool(getattr(user, "must_change_password", False)) or expired(user)
