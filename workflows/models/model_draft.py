from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import JsonType, utcnow


class ModelDraft(Base):
    """An administrator's unfinished edit of one process's model files in the browser editor: one
    draft per user and process, replaced on every save and removed once deployed."""

    __tablename__ = "model_draft"
    __table_args__ = (Index("uq_model_draft_user_process", "username", "process_id", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60))
    process_id: Mapped[str] = mapped_column(String(100))
    base_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_version.id")
    )  # the version it was opened from
    files: Mapped[dict] = mapped_column(JsonType)  # file name → text
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
