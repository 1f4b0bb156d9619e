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
    # Which signature was verified: ed25519, or hmac (the older shared key, during the transition).
    scheme: Mapped[str | None] = mapped_column(String(16))


class FilingApiPeer(Base):
    """Which signature scheme a peer's requests used, kept beyond the replay window (api_request rows
    go): the prefecture lists the counties still signing with the older shared key. One row per signer
    (county / prefecture) and county."""

    __tablename__ = "filing_api_peer"
    __table_args__ = (UniqueConstraint("signer", "county"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    signer: Mapped[str] = mapped_column(String(16))
    county: Mapped[str] = mapped_column(String(100))
    scheme: Mapped[str] = mapped_column(String(16))  # of the latest request
    # Ed25519 or SM2: the key verified; HMAC: the key id sent alongside (the county is upgraded but its public
    # key is not configured here yet), unverified.
    key_id: Mapped[str | None] = mapped_column(String(16))
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    hmac_at: Mapped[datetime | None]
    hmac_count: Mapped[int] = mapped_column(default=0)
    # Public-key signatures, Ed25519 or SM2 (named after the first; `scheme` says which the latest was).
    ed25519_at: Mapped[datetime | None]
    ed25519_count: Mapped[int] = mapped_column(default=0)
