from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import JsonType, utcnow


class ApiRequest(Base):
    """A signed API request seen (county, nonce), with the answer given: the same request replayed
    inside the replay window gets the same answer and changes nothing."""

    __tablename__ = "api_request"
    __table_args__ = (UniqueConstraint("county", "nonce"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    county: Mapped[str] = mapped_column(String(100))
    nonce: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[int]
    response: Mapped[dict] = mapped_column(JsonType)
