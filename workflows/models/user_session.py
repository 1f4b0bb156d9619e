from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class UserSession(Base):
    """A signed-in session, kept on the server: the browser's cookie carries only a random token, whose
    SHA-256 is the id here. Signing out, a password reset and deactivation end the row; a session also
    ends after ZS_SESSION_MINUTES without a request and ZS_SESSION_MAX_HOURS after sign-in."""

    __tablename__ = "user_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 (hex) of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # the absolute end, however active the session
    ended_at: Mapped[datetime | None]
    address: Mapped[str | None] = mapped_column(String(60))
