"""Fire due BPMN timers, exactly once, with any number of scheduler processes running.

Each instance with a due timer is stepped in its own transaction under the instance's row lock
(FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN IMMEDIATE); the version column turns a race
into a retry-free skip.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from workflows.actor import Actor
from workflows.db import is_postgres, transaction
from workflows.errors import ModelFailed
from workflows.models import ProcessInstance
from workflows.models._types import utcnow
from workflows.services.instance_step import run_step

SCHEDULER = Actor(
    id=0,
    username="scheduler",
    display_name="定时器",
    unit_id=0,
    unit_code="",
    unit_name="",
    org_id=0,
    org_name="",
    org_kind="county",
    roles=frozenset(),
)


def fire_due_timers(now: datetime | None = None) -> int:
    """Step every running instance whose earliest timer is due; returns how many were stepped."""
    now = now or utcnow()
    with transaction() as s:
        due = list(
            s.scalars(
                select(ProcessInstance.id).where(
                    ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now
                )
            )
        )
    fired = 0
    for instance_id in due:
        try:
            fired += _fire(instance_id, now)
        except StaleDataError:
            continue  # another scheduler stepped it first
        except ModelFailed as failed:
            # The model's own code failed (a script, a service task): nothing of the step landed.
            # Written down and parked until an administrator corrects and retries it (运维).
            from workflows.services.operate_service import record_failure

            record_failure(instance_id, SCHEDULER, failed)
    return fired


def _fire(instance_id: int, now: datetime) -> int:
    with transaction() as s:
        query = select(ProcessInstance).where(
            ProcessInstance.id == instance_id, ProcessInstance.next_timer_at <= now
        )
        if is_postgres():
            query = query.with_for_update(skip_locked=True)
        instance = s.scalar(query)
        if instance is None:
            return 0  # fired by another process meanwhile, or locked by it right now
        run_step(s, instance, SCHEDULER, lambda runtime, wf: runtime.fire_timers(wf))
        return 1
