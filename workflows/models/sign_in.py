from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class PasswordHistory(Base):
    """The hashes of a user's earlier passwords: a new one may not be any of the last five."""

    __tablename__ = "password_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInThrottle(Base):
    """Failed sign-ins of one account from one address. After five, that address must wait before it
    may try that account again, twice as long after each further failure (workflows/services/user_service.py);
    other addresses are not held back, so nobody can lock a colleague (or an administrator) out."""

    __tablename__ = "sign_in_throttle"
    __table_args__ = (UniqueConstraint("user_id", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    address: Mapped[str] = mapped_column(String(60))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]


class RecoveryCode(Base):
    """A single-use recovery code for the second factor, stored as a hash."""

    __tablename__ = "recovery_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None]
