"""Plain values the audit services return to the webapp and the commands."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Finding:
    """One place the record does not hold: the event to name, and what was found."""

    event_id: int
    kind: str  # altered | rehashed | deleted | reordered | inserted | missing | rewritten | forged | state
    detail: str
    instance_id: int | None = None
    at: datetime | None = None


@dataclass
class VerifyReport:
    scope: str  # "database" or "project"
    instance_id: int | None
    events_checked: int
    findings: list[Finding]
    anchors: dict[str, Any]
    instances_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The earliest broken event of the record itself (chain, anchors); a stored state that no
        longer matches the record comes after those (a cut tail also leaves its state unmatched),
        and a forged checkpoint line, which names no event, last."""
        def rank(f: Finding):
            return (f.kind == "state", f.event_id or 10**12)
        return min(self.findings, key=rank) if self.findings else None


@dataclass
class ReplayReport:
    instance_id: int
    project_name: str
    model_version: str
    consistent: bool
    steps: int
    step: int | None = None
    event_id: int | None = None
    at: datetime | None = None
    what: str | None = None  # what the step was, in words (who completed which task …)
    problem: str | None = None
    recorded_active: list[str] = field(default_factory=list)
    replayed_active: list[str] = field(default_factory=list)


@dataclass
class ReplayStep:
    number: int
    event_id: int
    at: datetime
    actor: str | None
    role: str | None
    action: str
    task_title: str | None
    outcome: str | None


@dataclass
class ReplayStepView:
    instance_id: int
    project_name: str
    county: str
    model_version: str
    model_version_id: int
    steps: list[ReplayStep]
    current: ReplayStep
    form_data: list[tuple[str, Any]]  # what was submitted at this step (label, value)
    changes: list[tuple[str, Any, Any]]  # project data changed since the previous step (label, before, after)
    svg: str
    active: list[str]
    done: list[str]


@dataclass
class VersionItem:
    id: int
    content_hash: str
    deployed_by: str
    deployed_at: datetime
    note: str | None
    files: int
    instances: int
    current: bool  # the newest version of its process
    process_id: str = ""
    number: int = 1
    name: str = ""
    purpose: str = ""
    bound_in: list[str] = field(default_factory=list)  # the counties starting new instances on it


@dataclass
class BindingRow:
    """One county's process for one purpose, and the versions it may be bound to instead."""

    county_id: int
    county: str
    purpose: str
    version: VersionItem | None
    choices: list[VersionItem]


@dataclass
class OfferedProcess:
    """A process shipped with the code that is not deployed, or differs from its newest version."""

    process_id: str
    name: str
    description: str
    purpose: str
    deployed: VersionItem | None


@dataclass
class FileDiff:
    name: str
    status: str  # added | removed | changed
    lines: list[str]


@dataclass
class VersionDiff:
    old: VersionItem
    new: VersionItem
    files: list[FileDiff]
    # Element by element (workflows/model_compare.Change), and the two diagrams with them coloured.
    elements: list = field(default_factory=list)
    new_svg: str = ""
    old_svg: str = ""
