from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models._types import utcnow


class Attachment(Base):
    """A file attached to a project (投资计划书, 洽谈纪要, 合同草案 …), optionally on the task it was added
    at.

    Never changed once stored: uploading the same kind and file name again adds version n+1, and the
    older versions stay downloadable. The bytes are in the file store (workflows/filestore.py) under
    `sha256`; `content` holds them only for files stored before it existed, until `zhaoshang files
    migrate` moves them (deferred, so lists never load them).
    """

    __tablename__ = "attachment"
    __table_args__ = (
        UniqueConstraint("instance_id", "kind", "filename", "version"),
        Index("ix_attachment_instance", "instance_id", "uploaded_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_record_id: Mapped[int | None] = mapped_column(ForeignKey("task_record.id"))
    kind: Mapped[str] = mapped_column(String(20))  # one of attachment_service.KINDS
    filename: Mapped[str] = mapped_column(String(200))  # sanitised original name, for display and download
    content_type: Mapped[str] = mapped_column(String(100))  # from the checked type, not from the browser
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)
    # None: made by the system (e.g. the 项目推进提醒函 a BPMN timer issues).
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
