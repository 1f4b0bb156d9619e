from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base
from workflows.models._types import JsonType, utcnow
from workflows.models.instance import ProcessInstance


class Filing(Base):
    """A county project filed with its prefecture commerce bureau before signing (《湘西自治州优势产业精准
    招商行动计划（2023—2025年）》 §(十三))."""

    __tablename__ = "filing"
    __table_args__ = (
        UniqueConstraint("prefecture_id", "year", "seq"),
        UniqueConstraint("county_id", "remote_id", name="uq_filing_county_remote"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # The county's project; None for a filing received over the filing API from a county deployment.
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    prefecture_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    state: Mapped[str] = mapped_column(String(20))  # 待受理 | 已退回 | 已受理 | 已签约
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    times_submitted: Mapped[int] = mapped_column(default=1)
    summary: Mapped[dict] = mapped_column(JsonType)  # the structured data sent to the prefecture
    year: Mapped[int | None]
    seq: Mapped[int | None]
    number: Mapped[str | None] = mapped_column(String(60), unique=True)
    accepted_at: Mapped[datetime | None]
    return_reason: Mapped[str | None] = mapped_column(String(2000))
    signing: Mapped[dict | None] = mapped_column(JsonType)  # contract number, date, signatories
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An anchor of the audit chain outside the county's control: the newest audit event (id, hash)
    # when the filing was last submitted, kept by the prefecture with the filing.
    audit_head_id: Mapped[int | None]
    audit_head_hash: Mapped[str | None] = mapped_column(String(64))
    # Filing exchange (workflows/filing_exchange.py): 'embedded' (county and prefecture in this
    # deployment), 'outbound' (a county filing sent to a separate prefecture deployment) or 'inbound'
    # (a prefecture's copy of a filing received from a county deployment).
    transport: Mapped[str] = mapped_column(String(10), default="embedded", server_default="embedded")
    # The filing's id on the other side: outbound → the prefecture's id, inbound → the county's id.
    remote_id: Mapped[int | None]
    # Inbound: the 备案表 PDF the county sent, and its SHA-256.
    form_pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    form_sha256: Mapped[str | None] = mapped_column(String(64))
    # 严禁重复签约 (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三)): earlier filings of the
    # prefecture that this one matches (same investor, same or similar project), found at (re)submission;
    # accepting it then needs a reason.
    duplicates: Mapped[list | None] = mapped_column(JsonType)
    duplicate_reason: Mapped[str | None] = mapped_column(String(2000))
    # 一事一议 terms are also filed with the next-higher government (《湘西自治州优势产业精准招商行动计划
    # （2023—2025年）》 §(十三)): the second target (e.g. 益阳市人民政府), its state 待报送 | 已报送 | 已备案
    # and the document number.
    special_target: Mapped[str | None] = mapped_column(String(100))
    special_state: Mapped[str | None] = mapped_column(String(20))
    special_reference: Mapped[str | None] = mapped_column(String(100))
    special_updated_at: Mapped[datetime | None]

    instance: Mapped[ProcessInstance] = relationship()
