from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class RewardGrant(Base):
    """One reward a signed project earned when its funds in place were recorded (履约跟踪).

    The rules (rates, thresholds, caps) are bpmn/rewards.dmn; this is the ledger they are paid from:
    seed 000 §四(二)3 caps a 商协会/校友会 at 100 万元 a year, which needs the sum of what it was granted
    earlier across all its projects — a SUM over (county, kind, recipient, year). Rows are never
    changed; a later report that raises the amount due adds a row for the difference.
    Amounts are in the currency's minor unit (分 / US cents) to stay exact on SQLite and PostgreSQL.
    """

    __tablename__ = "reward_grant"
    __table_args__ = (Index("ix_reward_grant_recipient_year", "county_id", "kind", "recipient", "year"),
                      Index("ix_reward_grant_instance", "instance_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    county_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(20))  # referral | foreign | new_origin | chain_referral
    title: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(200))  # the association, or the enterprise
    year: Mapped[int]  # the calendar year (China time) the funds were recorded in
    currency: Mapped[str] = mapped_column(String(3))  # CNY | USD
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # granted by this row
    due_cents: Mapped[int] = mapped_column(BigInteger)  # what the project had earned in total (its scope)
    capped: Mapped[bool] = mapped_column(default=False)  # the recipient's yearly cap cut this row
    basis: Mapped[str] = mapped_column(String(300))  # how it was computed, with the seed cited
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
