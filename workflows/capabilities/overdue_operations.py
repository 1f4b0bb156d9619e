"""Service-task operations of the BPMN overdue timers: a reminder to the holders when a
task passes its deadline, and escalation to the heads of the investment office if it stays overdue.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import audit, auth
from workflows.actor import Actor
from workflows.models import Organisation, ProcessInstance, TaskRecord, Unit, User
from workflows.services.notifications import notify


def bound(session: Session, instance: ProcessInstance, actor: Actor) -> dict[str, Callable[..., dict]]:
    def open_records(task: str) -> list[TaskRecord]:
        # A multi-instance task (the joint review) has one open record per department.
        return list(
            session.scalars(
                select(TaskRecord)
                .where(
                    TaskRecord.instance_id == instance.id,
                    TaskRecord.spec_name == task,
                    TaskRecord.state == "ready",
                )
                .order_by(TaskRecord.id)
            )
        )

    def notify_users(user_ids, text: str, kind: str, record: TaskRecord) -> None:
        notify(session, user_ids, text, kind, instance.id, record.id)

    def task_overdue_remind(data: dict, task: str) -> dict:
        county = session.get(Organisation, instance.county_id)
        users = list(session.scalars(select(User).where(User.active.is_(True))))
        sent = 0
        for record in open_records(task):
            holders = (
                [record.assignee_id]
                if record.assignee_id
                else [u.id for u in users if auth.task_eligible(Actor.from_user(u), record, instance, county)]
            )
            notify_users(
                holders,
                f"「{instance.project_name}」的“{record.title}”已到办理期限，请尽快办理。",
                "overdue",
                record,
            )
            audit.append(
                session,
                "task_overdue_reminded",
                actor="system",
                instance_id=instance.id,
                task_spec=task,
                mi_index=record.mi_index,
                data={"notified": len(holders)},
                address=None,
            )
            sent += len(holders)
        return {"sent": sent}

    def task_overdue_escalate(data: dict, task: str) -> dict:
        records = open_records(task)  # the timer fired, so a task still open is overdue by its allowance
        if not records:
            return {"sent": 0}
        heads = [
            u.id
            for u in session.scalars(select(User).where(User.active.is_(True)))
            if "head_of_office" in u.role_codes and u.unit.organisation_id == instance.county_id
        ]
        units = dict(
            session.execute(
                select(Unit.code, Unit.name).where(Unit.organisation_id == instance.county_id)
            ).all()
        )
        pending = "、".join(
            (f"{units.get(r.unit_code, r.unit_code)}：" if r.unit_code else "")
            + (r.assignee.display_name if r.assignee else "组内待认领")
            for r in records
        )
        notify_users(
            heads,
            f"督办：「{instance.project_name}」的“{records[0].title}”已超期未办，办理人：{pending}。",
            "escalation",
            records[0],
        )
        audit.append(
            session,
            "task_overdue_escalated",
            actor="system",
            instance_id=instance.id,
            task_spec=task,
            data={"notified": len(heads), "open": len(records)},
            address=None,
        )
        return {"sent": len(heads)}

    return {"task_overdue_remind": task_overdue_remind, "task_overdue_escalate": task_overdue_escalate}
