from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import JsonType, utcnow


class ModelVersion(Base):
    """An immutable copy of the BPMN, DMN and form files a process ran with, keyed by content hash."""

    __tablename__ = "model_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    files: Mapped[dict] = mapped_column(JsonType)  # file name → text
    deployed_by: Mapped[str] = mapped_column(String(60), default="system")
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
