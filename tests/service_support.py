"""Drive projects through the service API (no HTTP), for tests that run on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from workflows.db import transaction
from workflows.demo import DEMO_LEAD, actor, advance
from workflows.models import ProcessInstance, TaskRecord

__all__ = ["advance", "complete", "instance", "ready", "start"]
from workflows.services import project_service


def start(**overrides) -> int:
    return project_service.project_start(actor("zhaoshang"), {**DEMO_LEAD, **overrides})


def ready(instance_id: int) -> list[TaskRecord]:
    with transaction() as s:
        return list(
            s.scalars(
                select(TaskRecord)
                .where(TaskRecord.instance_id == instance_id, TaskRecord.state == "ready")
                .order_by(TaskRecord.id)
            )
        )


def complete(record: TaskRecord, **overrides) -> None:
    """Complete one ready task as its demo user."""
    unit = record.unit_code
    advance(record.instance_id, record.spec_name, only_units={unit} if unit else None, **overrides)


def instance(instance_id: int) -> ProcessInstance:
    with transaction() as s:
        return s.get(ProcessInstance, instance_id)
