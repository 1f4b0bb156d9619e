from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import JsonType, utcnow


class ModelVersion(Base):
    """An immutable version of one BPMN process with the DMN and form files it runs from, keyed by
    content hash; `number` counts the versions of its process (v1, v2, …)."""

    __tablename__ = "model_version"
    __table_args__ = (Index("uq_model_version_process_number", "process_id", "number", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    number: Mapped[int] = mapped_column(default=1, server_default="1")
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    files: Mapped[dict] = mapped_column(JsonType)  # file name → text
    # From the model: the BPMN process name, its documentation and its `purpose` extension property.
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    description: Mapped[str | None] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(100), index=True, default="", server_default="")
    deployed_by: Mapped[str] = mapped_column(String(60), default="system")
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
