"""Service-task operations of the tracking after signing (履约跟踪, issue #4).

- `tracking_reminder_letter`: the timer `start_deadline_timer` fires when 6 months from the contract's
  sign date have passed (seed 003 §3: 原则上合同签约到开工落地一般不超过6个月). If the responsible unit has
  not reported the start of construction, the 项目推进提醒函 (seed 002 §(十二)) is generated as a PDF
  (document_service.reminder_letter, audited with its SHA-256), kept as an attachment of the project,
  and sent to the responsible unit: its users are notified, and the BPMN then offers them the task
  reply_reminder (their inbox).
- `rewards_record`: after each tracking report the DMN bpmn/rewards.dmn says what the project has
  earned (seed 000 §四(二)3, seed 003 §6, §11); this ledger grants the difference to what was granted
  before and applies the yearly cap per association (table reward_grant).

Both run inside the engine step's transaction and read the clock through the engine (engine_now), so
a replay or a test that moves the clock sees the same moment the timers do.
"""
from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from workflows import audit
from workflows.actor import Actor
from workflows.deadlines import START_WITHIN_MONTHS, add_months
from workflows.engine.clock import engine_now
from workflows.localtime import to_local
from workflows.models import Attachment, AuditEvent, ProcessInstance, RewardGrant, TaskRecord, Unit, User

LETTER_KIND = "其他"  # attachment kind of the letter (its file name says what it is)
TRACKING_TASK = "track_progress"


def construction_started(session: Session, instance_id: int) -> bool:
    """Whether any tracking report of the project says construction has started."""
    rows = session.scalars(select(TaskRecord.data).where(
        TaskRecord.instance_id == instance_id, TaskRecord.spec_name == TRACKING_TASK,
        TaskRecord.state == "completed"))
    return any(bool((data or {}).get("construction_started")) for data in rows)


def unit_users(session: Session, county_id: int, codes: list[str]) -> list[int]:
    """The active users of these units of the county (the responsible unit's people)."""
    return list(session.scalars(select(User.id).join(Unit, User.unit_id == Unit.id).where(
        Unit.organisation_id == county_id, Unit.code.in_(codes), User.active.is_(True))))


def _cents(amount_wan) -> int:
    """万 (of a currency) → its minor unit (分 / cent), exactly: 1 万 = 1,000,000 minor units."""
    return round(float(amount_wan or 0) * 1_000_000)


def bound(session: Session, instance: ProcessInstance, actor: Actor) -> dict[str, Callable[..., dict]]:
    def tracking_reminder_letter(data: dict) -> dict:
        from workflows.services import document_service  # late: it imports the task services
        from workflows.services.task_operations import notify

        if construction_started(session, instance.id):
            audit.append(session, "reminder_letter_skipped", actor="system", instance_id=instance.id,
                         data={"reason": "已开工"}, address=None)
            return {"sent": False, "reason": "已开工"}
        addressee = data.get("host_site")
        start_by = add_months(document_service._signed_on(session, instance),
                                                START_WITHIN_MONTHS)
        days_overdue = max(1, (to_local(engine_now()).date() - start_by).days)
        name, pdf = document_service.reminder_letter(session, instance, addressee, days_overdue)
        digest = hashlib.sha256(pdf).hexdigest()
        latest = session.scalar(select(func.max(Attachment.version)).where(
            Attachment.instance_id == instance.id, Attachment.kind == LETTER_KIND, Attachment.filename == name))
        letter = Attachment(instance_id=instance.id, kind=LETTER_KIND, filename=name, content_type="application/pdf",
                            size=len(pdf), sha256=digest, version=(latest or 0) + 1, uploaded_by_id=None,
                            content=pdf)
        session.add(letter)
        session.flush()
        # The host site is the addressee (seed 002 §(十二): 项目所在县市、园区); a major project's
        # 主体责任部门 of the "五个一" (seed 002 §(九)) is told as well.
        codes = [c for c in dict.fromkeys([addressee, data.get("responsible_department")]) if c]
        users = unit_users(session, instance.county_id, codes)
        notify(session, users,
               f"项目推进提醒函：「{instance.project_name}」签约已满{START_WITHIN_MONTHS}个月仍未开工"
               f"（逾期{days_overdue}天），请于{document_service.REMINDER_REPLY_WORKING_DAYS}个工作日内书面回复。"
               f"提醒函见项目附件“{name}”。", "reminder_letter", instance.id)
        audit.append(session, "reminder_letter_sent", actor="system", instance_id=instance.id, outcome=name,
                     data={"addressee": addressee, "units": codes, "notified": len(users),
                           "days_overdue": days_overdue, "attachment_id": letter.id, "sha256": digest},
                     address=None)
        return {"sent": True, "addressee": addressee, "days_overdue": days_overdue, "filename": name,
                "attachment_id": letter.id, "sha256": digest}

    def rewards_record(data: dict) -> dict:
        year = to_local(engine_now()).year
        rows = zip(*(data.get(key) or [] for key in (
            "reward_kind", "reward_title", "reward_due", "reward_currency", "reward_scope", "reward_cap_wan",
            "reward_recipient", "reward_basis")))
        granted = []
        for kind, title, due, currency, scope, cap, recipient, basis in rows:
            if not kind or not due:
                continue
            recipient = (recipient or "").strip() or "未填写"
            if cap is not None and session.get_bind().dialect.name == "postgresql":
                # Two projects of one association recorded at once must not both fit under its cap.
                key = zlib.crc32(f"reward:{instance.county_id}:{kind}:{recipient}:{year}".encode())
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            mine = select(func.coalesce(func.sum(RewardGrant.amount_cents), 0)).where(
                RewardGrant.instance_id == instance.id, RewardGrant.kind == kind)
            if scope == "year":
                mine = mine.where(RewardGrant.year == year)
            due_cents = _cents(due)
            remaining = due_cents - int(session.scalar(mine))  # SUM is a Decimal on PostgreSQL
            if remaining <= 0:
                continue
            amount, capped = remaining, False
            if cap is not None:
                used = int(session.scalar(select(func.coalesce(func.sum(RewardGrant.amount_cents), 0)).where(
                    RewardGrant.county_id == instance.county_id, RewardGrant.kind == kind,
                    RewardGrant.recipient == recipient, RewardGrant.year == year)))
                amount = max(0, min(remaining, _cents(cap) - used))
                capped = amount < remaining
            entry = {"kind": kind, "title": title, "recipient": recipient, "currency": currency,
                     "amount_wan": amount / 1_000_000, "due_wan": due_cents / 1_000_000, "capped": capped,
                     "year": year}
            if amount > 0:
                session.add(RewardGrant(instance_id=instance.id, county_id=instance.county_id, kind=kind,
                                        title=title[:60], recipient=recipient[:200], year=year, currency=currency,
                                        amount_cents=amount, due_cents=due_cents, capped=capped,
                                        basis=(basis or "")[:300]))
            audit.append(session, "reward_granted", actor="system", instance_id=instance.id, outcome=title,
                         data={**entry, "basis": basis, "cap_wan": cap}, address=None)
            granted.append(entry)
        session.flush()
        return {"year": year, "granted": granted}

    return {"tracking_reminder_letter": tracking_reminder_letter, "rewards_record": rewards_record}


def project_rewards(session: Session, instance_id: int) -> list[dict]:
    """The project's reward ledger, oldest first (for the project page)."""
    rows = session.scalars(select(RewardGrant).where(RewardGrant.instance_id == instance_id)
                           .order_by(RewardGrant.id))
    return [{"title": r.title, "recipient": r.recipient, "year": r.year, "currency": r.currency,
             "amount_wan": r.amount_cents / 1_000_000, "capped": r.capped, "basis": r.basis,
             "at": r.created_at} for r in rows]


def tracking_view(session: Session, instance: ProcessInstance, data: dict) -> dict | None:
    """What the project page shows after signing: the "五个一" of a major project (seed 002 §(九),
    seed 003 §3), the start deadline, the latest tracking report, letters sent and rewards granted.
    None before the contract is signed."""
    from workflows.services import document_service
    from workflows.services.task_service import unit_name

    signed = session.scalar(select(TaskRecord.id).where(
        TaskRecord.instance_id == instance.id, TaskRecord.spec_name == "signing", TaskRecord.state == "completed"))
    if signed is None:
        return None
    five = {"lead_leader": data.get("lead_leader"),
            "responsible_department": unit_name(session, instance, data.get("responsible_department"))
            if data.get("responsible_department") else None,
            "task_force": data.get("task_force"), "advance_plan": data.get("advance_plan")}
    reports = list(session.scalars(select(TaskRecord).where(
        TaskRecord.instance_id == instance.id, TaskRecord.spec_name == TRACKING_TASK,
        TaskRecord.state == "completed").order_by(TaskRecord.completed_at, TaskRecord.id)))
    latest = reports[-1].data or {} if reports else {}
    letters = [{"at": e.at, "filename": e.outcome, "attachment_id": (e.data or {}).get("attachment_id"),
                "days_overdue": (e.data or {}).get("days_overdue")}
               for e in session.scalars(select(AuditEvent).where(
                   AuditEvent.instance_id == instance.id, AuditEvent.action == "reminder_letter_sent")
                   .order_by(AuditEvent.id))]
    start_by = add_months(document_service._signed_on(session, instance),
                                            START_WITHIN_MONTHS)
    return {
        "five_ones": five if instance.project_class == "重大" or any(five.values()) else None,
        "start_by": start_by, "construction_started": construction_started(session, instance.id),
        "reports": len(reports), "latest": latest,
        "latest_at": reports[-1].completed_at if reports else None,
        "letters": letters, "rewards": project_rewards(session, instance.id),
    }
