from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class RewardGrant(Base):
    """The current reward of one signed project for one calendar year and one kind (履约跟踪).

    The rules (rates, thresholds, caps) are bpmn/rewards.dmn; this is the ledger they are paid from.
    Every tracking report recomputes the project's rewards from its own figures and updates this row
    in place (one row per project, year and kind; an audit event records each change), so a report
    that lowers a figure lowers the reward. 湖南省商务厅《关于发挥境内外商协会和校友会作用促进湖南招商
    引资工作的实施办法（试行）》§四(二)3 caps a 商协会/校友会 at 100 万元 a year: the cap is shared out
    again over all rows of (county, kind, recipient_key, year) whenever one of them changes.
    Amounts are in the currency's minor unit (分 / US cents) to stay exact on SQLite and PostgreSQL.
    """

    __tablename__ = "reward_grant"
    __table_args__ = (
        UniqueConstraint("instance_id", "kind", "year", name="uq_reward_grant_project_kind_year"),
        Index("ix_reward_grant_recipient_year", "county_id", "kind", "recipient_key", "year"),
        Index("ix_reward_grant_unique_key", "kind", "unique_key"),
        Index("ix_reward_grant_instance", "instance_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    county_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(20))  # referral | foreign | new_origin | chain_referral
    scope: Mapped[str] = mapped_column(String(20))  # year | project | once | first_in_prefecture (the DMN's)
    title: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(200))  # the association, or the enterprise, as typed
    recipient_key: Mapped[str] = mapped_column(String(200))  # normalised (NFKC, no spaces): the cap's key
    unique_key: Mapped[str | None] = mapped_column(
        String(200)
    )  # normalised country/region of a once-only reward
    year: Mapped[int]  # the calendar year (China time) of the report
    currency: Mapped[str] = mapped_column(String(3))  # CNY | USD
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # granted for this year, after the cap
    due_cents: Mapped[int] = mapped_column(BigInteger)  # what the project earned for this year before the cap
    cap_cents: Mapped[int | None] = mapped_column(
        BigInteger
    )  # the recipient's yearly cap (DMN), None: no cap
    capped: Mapped[bool] = mapped_column(default=False)  # the recipient's yearly cap cut this row
    basis: Mapped[str] = mapped_column(String(300))  # how it was computed, with the policy cited
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
