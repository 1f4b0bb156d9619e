"""What a project's records say: its history (the audit events as the project page and the 审批表 show them)
and its data as its forms last answered it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import personal_data
from workflows.models import AuditEvent, ProcessInstance, TaskRecord, Unit, User
from workflows.services.value_objects import HistoryEntry


def history(s: Session, instance_id: int) -> list[HistoryEntry]:
    events = s.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                                AuditEvent.action.notin_(("project_viewed", "engine_step")))
                       .order_by(AuditEvent.id)).all()
    titles = dict(s.execute(select(TaskRecord.spec_name, TaskRecord.title)
                            .where(TaskRecord.instance_id == instance_id)).all())
    names = dict(s.execute(select(User.username, User.display_name)).all())
    units = _opinion_units(s, instance_id)
    return [HistoryEntry(at=e.at, actor=e.actor, actor_name=names.get(e.actor, e.actor),
                         task_title=titles.get(e.task_spec, e.task_spec), role=e.role, action=e.action, task_spec=e.task_spec,
                         mi_index=e.mi_index, outcome=e.outcome, data=personal_data.mask_all(e.data),
                         unit_name=units.get((e.task_spec, e.mi_index)) if e.mi_index is not None else None)
            for e in events]


def _opinion_units(s: Session, instance_id: int) -> dict[tuple[str, int], str]:
    """(step, instance index) → department name, for the steps done once per department (会审)."""
    instance = s.get(ProcessInstance, instance_id)
    names = dict(s.execute(select(Unit.code, Unit.name).where(Unit.organisation_id == instance.county_id)).all())
    rows = s.execute(select(TaskRecord.spec_name, TaskRecord.mi_index, TaskRecord.unit_code)
                     .where(TaskRecord.instance_id == instance_id, TaskRecord.mi_index.is_not(None))
                     .order_by(TaskRecord.id)).all()
    return {(spec, index): names.get(code, code) for spec, index, code in rows if code}


def project_data(s: Session, instance: ProcessInstance) -> dict:
    """The project's data as its forms last answered it: each completed form replaces all its fields
    (a field cleared in a later round is cleared here too)."""
    data: dict = {}
    for row in s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id,
                                                  TaskRecord.state == "completed")
                         .order_by(TaskRecord.completed_at, TaskRecord.id)):
        if row.mi_index is None:
            data.update(row.data or {})
    return {k: v for k, v in data.items() if v not in (None, "")}
