from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base
from workflows.models.organisation import Unit


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    email: Mapped[str | None] = mapped_column(String(200))  # for optional mail copies of notifications
    password_hash: Mapped[str] = mapped_column(String(255))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]  # unused since 0019 (locks are per account and address)
    # When the password was last set, for its expiry (ZS_PASSWORD_MAX_DAYS); None = before 0019.
    password_changed_at: Mapped[datetime | None]
    # Set by an administrator (a new account, a reset): the user must choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # The second factor (workflows/two_factor.py): the TOTP secret (base32), whether enrolment was
    # confirmed with a code, and the last time step used (a code is accepted once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None]

    unit: Mapped[Unit] = relationship()
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_codes(self) -> set[str]:
        return {r.role for r in self.roles}


class UserRole(Base):
    __tablename__ = "user_role"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)
