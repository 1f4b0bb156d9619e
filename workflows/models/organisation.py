from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base


class Organisation(Base):
    """A prefecture (市/州) or one of its counties (县/市/区)."""

    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # 'prefecture' | 'county'
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    # Prefix of filing numbers issued by a prefecture, e.g. 益商 → 益商备〔2026〕0001号.
    filing_prefix: Mapped[str | None] = mapped_column(String(20))

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])
    units: Mapped[list[Unit]] = relationship(back_populates="organisation")


class Unit(Base):
    """A department, bureau, host site or office; `code` is what BPMN/DMN data refer to."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # bureau | department | host_site | office
    active: Mapped[bool] = mapped_column(default=True)

    organisation: Mapped[Organisation] = relationship(back_populates="units")
