"""Two factors for administrators (OWASP ASVS 2.8; GB/T 22239-2019 8.1.4.1: 两种或两种以上组合的鉴别技术):
a time-based one-time password (TOTP, RFC 6238) from an authenticator app, enrolled by QR code, with
ten single-use recovery codes. Which roles must use it is configuration (ZS_TOTP_ROLES, default the three
administrative roles); anyone else may enrol of their own accord."""

from __future__ import annotations

from workflows.roles import ADMINISTRATORS

ISSUER = "招商引资"
RECOVERY_CODES = 10
_settings = {"roles": frozenset(ADMINISTRATORS)}


def configure(roles) -> None:
    """`roles`: role codes; "none" (ZS_TOTP_ROLES=none) obliges nobody."""
    _settings["roles"] = frozenset(r for r in roles if r and r != "none")


def required_roles() -> frozenset[str]:
    return _settings["roles"]


def required(user) -> bool:
    """Whether the user's roles oblige them to a second factor."""
    return bool(set(user.role_codes) & _settings["roles"])


def due(user) -> bool:
    """Must enrol before doing anything else: a role requires it and none is enrolled."""
    return required(user) and not getattr(user, "totp_enabled", False)
