from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base
from workflows.models._types import JsonType, utcnow
from workflows.models.instance import ProcessInstance
from workflows.models.user import User


class TaskRecord(Base):
    """The relational index of user tasks, kept in step with the engine: inboxes are SQL queries."""

    __tablename__ = "task_record"
    __table_args__ = (
        Index("ix_task_inbox", "state", "lane", "unit_code"),
        # The inboxes' open and done tasks, read from the index alone (counts, filter choices, the page's
        # ids).
        Index(
            "ix_task_open",
            "lane",
            "unit_code",
            "due_at",
            "id",
            postgresql_where=text("state = 'ready'"),
            sqlite_where=text("state = 'ready'"),
            postgresql_include=[
                "instance_id",
                "owned",
                "fixed_assignee",
                "assignee_id",
                "delegate_id",
                "stage",
                "created_at",
            ],
        ),
        Index(
            "ix_task_delegated",
            "delegate_id",
            postgresql_where=text("state = 'ready'"),
            sqlite_where=text("state = 'ready'"),
        ),
        Index(
            "ix_task_done_by",
            "completed_by_id",
            "completed_at",
            "id",
            postgresql_where=text("state = 'completed'"),
            sqlite_where=text("state = 'completed'"),
            postgresql_include=["instance_id", "stage", "unit_code"],
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    spec_name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(100))
    form: Mapped[str | None] = mapped_column(String(100))
    lane: Mapped[str] = mapped_column(String(40))  # role code
    unit_code: Mapped[str | None] = mapped_column(String(40))  # department the task belongs to
    mi_index: Mapped[int | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    fixed_assignee: Mapped[bool] = mapped_column(default=False)  # assigned by the model, not by claiming
    # ready | completed | cancelled (the engine dropped it) | superseded (undone by 退回)
    state: Mapped[str] = mapped_column(String(20), default="ready")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    data: Mapped[dict | None] = mapped_column(JsonType)  # the submitted form data
    # 暂存: a form saved without completing the task (and who saved it: the holder or a delegate).
    draft: Mapped[dict | None] = mapped_column(JsonType)
    draft_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    draft_saved_at: Mapped[datetime | None]
    # 委派: a colleague asked to prepare the opinion; it comes back to the holder to submit.
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # A handwritten signature drawn in the browser (PNG), stored with the decision.
    signature_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    # 请假代理: the absent user on whose behalf the task was completed.
    acted_for_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # Why the task is here (退回 reason, 撤回, 转办 note …), shown on the task page.
    note: Mapped[str | None] = mapped_column(String(2000))
    # The model named the users of its lane in task data (SpiffArena's `lane_owners`): the task is
    # offered to the rows of task_owner instead of everyone holding the lane's role.
    owned: Mapped[bool] = mapped_column(default=False)

    instance: Mapped[ProcessInstance] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    owners: Mapped[list[TaskOwner]] = relationship(cascade="all, delete-orphan")  # loaded only when owned

    @property
    def owner_ids(self) -> set[int]:
        return {o.user_id for o in self.owners}

    def as_open(self) -> TaskRecord:
        """The task as offered to its group (to test who else could hold it): a detached copy without
        its assignee, keeping its lane, unit and owners."""
        return TaskRecord(
            lane=self.lane,
            unit_code=self.unit_code,
            fixed_assignee=False,
            instance_id=self.instance_id,
            owned=bool(self.owned),
            owners=[TaskOwner(user_id=o.user_id) for o in self.owners] if self.owned else [],
        )


class TaskOwner(Base):
    """One user a model's `lane_owners` named for a task (see TaskRecord.owned)."""

    __tablename__ = "task_owner"
    task_record_id: Mapped[int] = mapped_column(ForeignKey("task_record.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True, index=True)
