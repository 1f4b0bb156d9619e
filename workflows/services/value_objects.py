"""Plain values the service returns to the webapp (no ORM or engine objects cross the boundary)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflows.engine.model_store import COMPLAINT


@dataclass
class TaskItem:
    id: int
    instance_id: int
    title: str
    stage: str
    lane: str
    unit_code: str | None
    unit_name: str | None
    project_name: str
    investor: str
    amount_wan: float | None
    project_class: str | None
    created_at: datetime
    due_at: datetime | None
    assignee: str | None
    assignee_id: int | None
    state: str
    overdue: bool = False
    note: str | None = None
    role: str | None = None  # the role (岗位) the task is offered to, e.g. 研判专班
    # What the model declares for lists (workflows/engine/list_spec.py): {column: label} of the
    # columns it fills (party, amount, class); empty for a model declaring none.
    list_labels: dict[str, str] = field(default_factory=dict)
    started_by: str | None = None  # the instance's initiator and start time
    started_at: datetime | None = None
    model_version_id: int | None = None


@dataclass
class Opinion:
    task_id: int
    title: str
    unit_code: str | None
    unit_name: str | None
    by: str | None
    at: datetime | None
    data: dict[str, Any]
    signed: bool = False
    acted_for: str | None = None


@dataclass
class TaskForm:
    task: TaskItem
    schema: dict
    uischema: dict
    values: dict[str, Any]
    readonly: dict[str, Any]
    project: dict[str, Any]
    opinions: list[Opinion]
    joint_review: list[dict[str, Any]]
    claimed_by_me: bool
    can_claim: bool
    is_delegate: bool = False
    delegate: str | None = None
    draft_saved_at: datetime | None = None
    draft_by: str | None = None
    signature_allowed: bool = False
    acting_for: str | None = None
    return_direct: bool = False  # BPMN returnMode="direct": a resubmission comes straight back here
    sole_candidate: bool = False  # nobody else could claim it: the form is shown and submitting claims it
    instructions_html: str = ""  # the task's instructionsForEndUser, rendered safely (Markdown over the task data)

    @property
    def has_fields(self) -> bool:
        """Whether the task asks for anything (a manual task or a form-less user task only asks for 完成)."""
        return bool(self.schema.get("properties"))


@dataclass
class HistoryEntry:
    at: datetime
    actor: str | None
    actor_name: str | None
    task_title: str | None
    role: str | None
    action: str
    task_spec: str | None
    mi_index: int | None
    outcome: str | None
    data: dict[str, Any] | None
    unit_name: str | None = None  # the department of one joint-review opinion (a multi-instance step)


@dataclass
class ProjectSummary:
    id: int
    project_name: str
    investor: str
    amount_wan: float | None
    project_class: str | None
    stage: str
    status: str
    outcome: str | None
    county: str
    started_by: str
    created_at: datetime
    updated_at: datetime
    process_id: str = ""
    purpose: str = ""  # the purpose its process declares (model_store.INVESTMENT, COMPLAINT, …)
    list_labels: dict[str, str] = field(default_factory=dict)  # as TaskItem.list_labels
    model_version_id: int | None = None

    @property
    def started_at(self) -> datetime:
        return self.created_at

    @property
    def is_complaint(self) -> bool:
        return self.purpose == COMPLAINT


@dataclass
class ProjectDetail:
    summary: ProjectSummary
    data: dict[str, Any]
    fields: list[tuple[str, Any]]
    model_version: str
    tasks: list[TaskItem]
    opinions: list[Opinion]
    history: list[HistoryEntry]
    joint_review: list[dict[str, Any]] = field(default_factory=list)
    filing: dict[str, Any] | None = None
    can_copy: bool = False
    can_urge: bool = False
    can_cancel: bool = False
    withdrawable_task_id: int | None = None
    review: dict[str, Any] | None = None  # 加签/减签 choices while a joint review runs
    copies: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[DuplicateLead] = field(default_factory=list)
    tracking: dict[str, Any] | None = None  # 履约跟踪 after signing (tracking_operations.tracking_view)
    # The project's data by the stage whose form answered it: (form title, [(label, value)]), in order.
    field_groups: list[tuple[str, list[tuple[str, Any]]]] = field(default_factory=list)


@dataclass
class DuplicateLead:
    """Another unit's lead for the same investor (抢商争商): only who holds it, never its content."""

    county: str
    unit: str
    registered_at: datetime


@dataclass
class FilingItem:
    id: int
    instance_id: int | None  # None: received from a county deployment over the filing API
    county: str
    project_name: str
    investor: str
    amount_wan: float | None
    state: str
    number: str | None
    submitted_at: datetime
    times_submitted: int
    return_reason: str | None
    signing: dict | None
    transport: str = "embedded"  # embedded | inbound
    duplicates: list[dict] = field(default_factory=list)  # earlier filings it matches (重复签约)
    duplicate_reason: str | None = None  # why it was accepted all the same
    special: dict | None = None  # 一事一议 second filing: target, state, reference
    task_id: int | None = None  # embedded: the ready prefecture_review task
    has_form_pdf: bool = False
    delivery: dict | None = None  # inbound: how the decision message to the county fared


@dataclass
class StartableProcess:
    """A process the user may start in their county: the model's own name and description."""

    process_id: str
    name: str
    description: str
    purpose: str
    version: int
    first_task: str
    instructions_html: str = ""
