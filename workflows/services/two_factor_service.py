"""Enrolment and checking of the second factor (workflows/two_factor.py): TOTP and recovery codes."""

from __future__ import annotations

import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash

from workflows import audit, auth, two_factor
from workflows.actor import Actor
from workflows.db import transaction
from workflows.errors import NotFound, ValidationFailed
from workflows.models import RecoveryCode, User
from workflows.models._types import utcnow
from workflows.services.user_service import hash_password


def enabled(user_id: int) -> bool:
    with transaction() as s:
        user = s.get(User, user_id)
        return bool(user and user.totp_enabled)


def enrolment(actor: Actor) -> dict:
    """A new secret to enrol (kept until confirmed), its otpauth:// address and the QR code as an SVG data
    URI."""
    with transaction() as s:
        user = s.get_one(User, actor.id)
        if not user.totp_secret or not user.totp_enabled:
            user.totp_secret = user.totp_secret or pyotp.random_base32()
        uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=two_factor.ISSUER)
        return {
            "secret": user.totp_secret,
            "uri": uri,
            "qr": segno.make(uri, error="m").svg_data_uri(scale=4),
            "enabled": user.totp_enabled,
            "required": two_factor.required(user),
        }


def _step_ok(s, user: User, code: str) -> bool:
    """A current TOTP code (±1 step of 30 s for clock drift), never the same step twice."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6) or not user.totp_secret:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    for offset in (0, -1, 1):
        step = int(time.time() // totp.interval) + offset
        if secrets.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replayed
            user.totp_last_step = step
            return True
    return False


def confirm(actor: Actor, code: str) -> list[str]:
    """Confirm enrolment with a code from the app; returns ten recovery codes, shown only now."""
    with transaction() as s:
        user = s.get_one(User, actor.id)
        if user.totp_enabled or not _step_ok(s, user, code):
            ok = False
        else:
            ok = True
            user.totp_enabled = True
            s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
            codes = [
                f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}"
                for _ in range(two_factor.RECOVERY_CODES)
            ]
            s.add_all(RecoveryCode(user_id=user.id, code_hash=hash_password(c)) for c in codes)
            audit.append(s, "totp_enrolled", actor=actor.username, address=actor.address)
    if not ok:
        raise ValidationFailed({"code": "动态口令不正确，请核对手机上的时间后重试"})
    return codes


def verify(user_id: int, code: str, address: str | None) -> bool:
    """The second step of a sign-in: a TOTP code, or one unused recovery code (then used up)."""
    with transaction() as s:
        user = s.get(User, user_id)
        if user is None or not user.totp_enabled:
            return False
        if _step_ok(s, user, code):
            audit.append(s, "totp_passed", actor=user.username, address=address)
            return True
        text = (code or "").strip().lower()
        if len(text) == 14:
            for row in s.scalars(
                select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
            ):
                if check_password_hash(row.code_hash, text):
                    row.used_at = utcnow()
                    audit.append(s, "recovery_code_used", actor=user.username, address=address)
                    return True
        audit.append(s, "totp_failed", actor=user.username, address=address)
        return False


def reset(actor: Actor, user_id: int) -> str:
    """The security administrator removes a user's second factor (a lost phone): they enrol again."""
    auth.require(auth.role_assign(actor))
    with transaction() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("用户不存在")
        user.totp_secret, user.totp_enabled, user.totp_last_step = None, False, None
        s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        audit.append(
            s,
            "totp_reset",
            actor=actor.username,
            role="security_admin",
            address=actor.address,
            data={"username": user.username},
        )
        return user.username
