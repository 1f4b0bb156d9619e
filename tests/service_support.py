"""Drive projects through the service API (no HTTP), for tests that run on SQLite and PostgreSQL."""
from __future__ import annotations

from flow_support import ANSWERS, DEPT_REVIEWER, DOER, LEAD
from sqlalchemy import select

from workflows.db import transaction
from workflows.demo import actor
from workflows.models import ProcessInstance, TaskRecord
from workflows.services import project_service, task_service

HOSTS = {"jkq": "luohu", "nykjyq": "luohu_nyq", "nzz": "luohu_nzz", "mcjz": "luohu_mcj"}


def start(**overrides) -> int:
    return project_service.project_start(actor("zhaoshang"), {**LEAD, **overrides})


def ready(instance_id: int) -> list[TaskRecord]:
    with transaction() as s:
        return list(s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance_id,
                                                       TaskRecord.state == "ready").order_by(TaskRecord.id)))


def doer(record: TaskRecord) -> str:
    if record.spec_name == "department_review":
        return DEPT_REVIEWER[record.unit_code]
    if record.spec_name == "review_materials":
        return HOSTS[record.unit_code]
    return DOER[record.spec_name]


def complete(record: TaskRecord, **overrides) -> None:
    who = actor(doer(record))
    task_service.task_claim(who, record.id)
    task_service.task_complete(who, record.id, {k: v for k, v in {**ANSWERS[record.spec_name], **overrides}.items()
                                                if v is not None})


def advance(instance_id: int, spec: str, **overrides) -> None:
    """Complete every ready task named `spec` (all departments for the joint review)."""
    records = [r for r in ready(instance_id) if r.spec_name == spec]
    assert records, f"{spec} not ready: {[r.spec_name for r in ready(instance_id)]}"
    for record in records:
        complete(record, **overrides)


def instance(instance_id: int) -> ProcessInstance:
    with transaction() as s:
        return s.get(ProcessInstance, instance_id)
