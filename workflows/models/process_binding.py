from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class ProcessBinding(Base):
    """Which process version a county starts new instances of a purpose on (南县 and 桃江县 may run
    different variants side by side). Changed only by an administrator, never by a code upgrade."""

    __tablename__ = "process_binding"
    __table_args__ = (UniqueConstraint("organisation_id", "purpose", name="uq_process_binding_purpose"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    purpose: Mapped[str] = mapped_column(String(100))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    bound_by: Mapped[str] = mapped_column(String(60), default="system")
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)
