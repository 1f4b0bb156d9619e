"""Service-task operations of the tracking after signing (履约跟踪, ).

- `tracking_reminder_letter`: the timer `start_deadline_timer` fires when 6 months from the contract's
  sign date have passed (《郴州市关于进一步加强招商引资工作的实施意见》 §3: 原则上合同签约到开工落地一般不超
  过6个月). If the responsible unit has not reported the start of construction, the 项目推进提醒函 (《湘西自治
  州优势产业精准招商行动计划（2023—2025年）》 §(十二)) is generated as a PDF
  (document_service.reminder_letter, audited with its SHA-256), kept as an attachment of the project, and sent
  to the responsible unit: its users are notified, and the BPMN then offers them the task reply_reminder
  (their inbox).
- `rewards_record`: after each tracking report the DMN bpmn/rewards.dmn says what the project has
  earned from that report's figures (湖南省商务厅《关于发挥境内外商协会和校友会作用促进湖南招商引资工作的
  实施办法（试行）》§四(二)3; 《郴州市关于进一步加强招商引资工作的实施意见》§6, §11); the ledger
  (table reward_grant) keeps one current row per project, year and kind, grants a new-country/region
  reward once per country or region in the prefecture, and shares each association's yearly cap out
  again over all its projects whenever a figure changes.

Both run inside the engine step's transaction and read the clock through the engine (engine_now), so
a replay or a test that moves the clock sees the same moment the timers do.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Callable
from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from workflows import audit, currencies, filestore
from workflows.actor import Actor
from workflows.capabilities import document_service
from workflows.deadlines import START_WITHIN_MONTHS, add_months
from workflows.engine import model_store
from workflows.engine.clock import engine_now
from workflows.localtime import to_local
from workflows.models import (
    Attachment,
    AuditEvent,
    ModelVersion,
    Organisation,
    ProcessInstance,
    RewardGrant,
    TaskRecord,
    Unit,
    User,
)
from workflows.models._types import utcnow
from workflows.services import attachment_service
from workflows.services.lookups import unit_name
from workflows.services.notifications import notify

LETTER_KIND = attachment_service.OTHER_KIND  # attachment kind of the letter (its file name says what it is)
TRACKING_REPORT = "tracking-report"  # capability of the tasks that report progress after signing
CONTRACT_SIGNING = "contract-signing"  # capability of the task the contract is signed at


def _marked(session: Session, instance_id: int, capability: str) -> tuple[str, ...]:
    instance = session.get(ProcessInstance, instance_id)
    return model_store.tasks_with(session.get(ModelVersion, instance.model_version_id), capability)


def signed_on(session: Session, instance: ProcessInstance) -> date | None:
    """The contract's sign date (the latest contract-signing task's `sign_date`, else the day it was
    completed), or None before signing."""
    signing = session.scalars(
        select(TaskRecord)
        .where(
            TaskRecord.instance_id == instance.id,
            TaskRecord.state == "completed",
            TaskRecord.spec_name.in_(_marked(session, instance.id, CONTRACT_SIGNING)),
        )
        .order_by(TaskRecord.completed_at.desc(), TaskRecord.id.desc())
        .limit(1)
    ).first()
    if signing is None:
        return None
    try:
        return date.fromisoformat(str((signing.data or {}).get("sign_date"))[:10])
    except ValueError:
        return to_local(signing.completed_at).date()


def construction_started(session: Session, instance_id: int) -> bool:
    """Whether any tracking report of the project says construction has started."""
    rows = session.scalars(
        select(TaskRecord.data).where(
            TaskRecord.instance_id == instance_id,
            TaskRecord.spec_name.in_(_marked(session, instance_id, TRACKING_REPORT)),
            TaskRecord.state == "completed",
        )
    )
    return any(bool((data or {}).get("construction_started")) for data in rows)


def unit_users(session: Session, county_id: int, codes: list[str]) -> list[int]:
    """The active users of these units of the county (the responsible unit's people)."""
    return list(
        session.scalars(
            select(User.id)
            .join(Unit, User.unit_id == Unit.id)
            .where(Unit.organisation_id == county_id, Unit.code.in_(codes), User.active.is_(True))
        )
    )


def _cents(amount_wan) -> int:
    """万 (of a currency) → its minor unit (分 / cent), exactly: 1 万 = 1,000,000 minor units."""
    return round(float(amount_wan or 0) * 1_000_000)


def bound(session: Session, instance: ProcessInstance, actor: Actor) -> dict[str, Callable[..., dict]]:
    def tracking_reminder_letter(data: dict) -> dict:

        if construction_started(session, instance.id):
            audit.append(
                session,
                "reminder_letter_skipped",
                actor="system",
                instance_id=instance.id,
                data={"reason": "已开工"},
                address=None,
            )
            return {"sent": False, "reason": "已开工"}
        addressee = data.get("host_site")
        start_by = add_months(signed_on(session, instance), START_WITHIN_MONTHS)
        days_overdue = max(1, (to_local(engine_now()).date() - start_by).days)
        name, pdf = document_service.reminder_letter(session, instance, addressee, days_overdue)
        digest = filestore.store().put(pdf)
        latest = session.scalar(
            select(func.max(Attachment.version)).where(
                Attachment.instance_id == instance.id,
                Attachment.kind == LETTER_KIND,
                Attachment.filename == name,
            )
        )
        letter = Attachment(
            instance_id=instance.id,
            kind=LETTER_KIND,
            filename=name,
            content_type="application/pdf",
            size=len(pdf),
            sha256=digest,
            version=(latest or 0) + 1,
            uploaded_by_id=None,
        )
        session.add(letter)
        session.flush()
        # The host site is the addressee (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十二): 项目
        # 所在县市、园区); a major project's 主体责任部门 of the "五个一" (《湘西自治州优势产业精准招商行动计
        # 划（2023—2025年）》 §(九)) is told
        # as well.
        codes = [c for c in dict.fromkeys([addressee, data.get("responsible_department")]) if c]
        users = unit_users(session, instance.county_id, codes)
        notify(
            session,
            users,
            f"项目推进提醒函：「{instance.project_name}」签约已满{START_WITHIN_MONTHS}个月仍未开工"
            f"（逾期{days_overdue}天），请于{document_service.REMINDER_REPLY_WORKING_DAYS}个工作日内书面回复。"
            f"提醒函见项目附件“{name}”。",
            "reminder_letter",
            instance.id,
        )
        audit.append(
            session,
            "reminder_letter_sent",
            actor="system",
            instance_id=instance.id,
            outcome=name,
            data={
                "addressee": addressee,
                "units": codes,
                "notified": len(users),
                "days_overdue": days_overdue,
                "attachment_id": letter.id,
                "sha256": digest,
            },
            address=None,
        )
        return {
            "sent": True,
            "addressee": addressee,
            "days_overdue": days_overdue,
            "filename": name,
            "attachment_id": letter.id,
            "sha256": digest,
        }

    def rewards_record(data: dict) -> dict:
        return record_rewards(session, instance, data)

    return {"tracking_reminder_letter": tracking_reminder_letter, "rewards_record": rewards_record}


REWARD_OUTPUTS = (
    "reward_kind",
    "reward_title",
    "reward_due",
    "reward_currency",
    "reward_scope",
    "reward_cap_wan",
    "reward_recipient",
    "reward_basis",
    "reward_unique_key",
)
# The scopes rewards_record understands: the operator's own vocabulary, which a model's reward DMN names
# in its reward_scope column (docs/process.md, After signing).
REWARD_SCOPES = ("year", "project", "once", "first_in_prefecture")
ONE_OFF_SCOPES = ("once", "first_in_prefecture")


def normalised_name(name: str | None) -> str:
    """The key an association (or a country/region) is counted under: NFKC folds full-width letters,
    digits and spaces to their usual forms, every whitespace is dropped and letters are case-folded,
    so 「南县 湖北商会」, 「南县湖北商会」 and 「南县湖北商会　」 share one yearly cap."""
    return "".join(unicodedata.normalize("NFKC", name or "").split()).casefold()


def _outputs(data: dict) -> dict[str, dict]:
    """The DMN's result lists as {kind: reward}; a model version without an output gives None for it."""
    kinds = data.get("reward_kind") or []
    columns = {key: list(data.get(key) or []) for key in REWARD_OUTPUTS}
    rewards = {}
    for n, kind in enumerate(kinds):
        if kind:
            rewards[kind] = {
                key[len("reward_") :]: (columns[key][n] if n < len(columns[key]) else None)
                for key in REWARD_OUTPUTS
            }
    return rewards


def _lock(session: Session, key: str) -> None:
    """Serialise ledger writes that share a cap or a once-only key (two reports at once on PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(key.encode())})


def _prefecture_counties(session: Session, county_id: int) -> list[int]:
    parent = session.scalar(select(Organisation.parent_id).where(Organisation.id == county_id))
    if parent is None:
        return [county_id]
    return list(session.scalars(select(Organisation.id).where(Organisation.parent_id == parent)))


def record_rewards(session: Session, instance: ProcessInstance, data: dict) -> dict:
    """Recompute the project's rewards of this year from the report's DMN results.

    One row per project, year and kind holds what is due now (rows are updated, never added per
    report); a kind the report no longer earns drops to 0. Each changed row is audited, and the yearly
    cap of its recipient is shared out again over all that recipient's rows (first earned, first
    served), so a report that lowers one project's funds frees cap for the others.
    """
    year = to_local(engine_now()).year
    rewards = _outputs(data)
    mine = {
        (r.kind, r.year): r
        for r in session.scalars(select(RewardGrant).where(RewardGrant.instance_id == instance.id))
    }
    report: list[dict] = []
    regroup: set[tuple] = set()
    touched: list[RewardGrant] = []
    for kind, reward in rewards.items():
        scope = reward["scope"] or "year"
        due = _cents(reward["due"])
        unique_key = None
        if scope in ONE_OFF_SCOPES:
            may, unique_key, refused = _may_take_one_off(session, instance, mine, kind, scope, reward, year)
            report += refused
            if not may:
                continue
        elif scope == "project":
            # Earned since signing: this year's row holds what is due beyond earlier years' rows.
            due = max(0, due - sum(r.due_cents for (k, y), r in mine.items() if k == kind and y < year))
        row = mine.get((kind, year))
        if row is None:
            if due <= 0:
                continue
            row = RewardGrant(
                instance_id=instance.id,
                county_id=instance.county_id,
                kind=kind,
                year=year,
                amount_cents=0,
                due_cents=0,
                capped=False,
            )
            session.add(row)
            mine[(kind, year)] = row
        _describe(row, kind, scope, reward, unique_key)
        if row.due_cents != due or row.id is None:
            row.due_cents = due
            touched.append(row)
            regroup.add((row.county_id, kind, row.recipient_key, year))
    for row in _no_longer_earned(mine, rewards, year):
        row.due_cents = 0  # this report no longer earns it (e.g. the year's funds fell below 2000 万元)
        touched.append(row)
        regroup.add((row.county_id, row.kind, row.recipient_key, year))
    session.flush()
    for group in sorted(regroup):
        report.extend(_share_cap(session, {r.id for r in touched}, *group))
    return {"year": year, "granted": report}


def _describe(row: RewardGrant, kind: str, scope: str, reward: dict, unique_key: str | None) -> None:
    """What the report's DMN result says of the reward, on its row (all but the amount due)."""
    recipient = (reward["recipient"] or "").strip() or "未填写"
    row.scope, row.title, row.currency = (
        scope,
        (reward["title"] or kind)[:60],
        reward["currency"] or currencies.home(),
    )
    row.recipient, row.recipient_key = recipient[:200], normalised_name(recipient)[:200]
    row.unique_key = unique_key[:200] if unique_key else row.unique_key
    row.basis = (reward["basis"] or "")[:300]
    row.cap_cents = _cents(reward["cap_wan"]) if reward["cap_wan"] is not None else None


def _no_longer_earned(
    mine: dict[tuple[str, int], RewardGrant], rewards: dict, year: int
) -> list[RewardGrant]:
    """This year's rows of yearly rewards the report no longer earns, still holding an amount due."""
    return [
        row
        for (kind, y), row in mine.items()
        if y == year and kind not in rewards and row.scope not in ONE_OFF_SCOPES and row.due_cents
    ]


def _may_take_one_off(
    session: Session,
    instance: ProcessInstance,
    mine: dict[tuple[str, int], RewardGrant],
    kind: str,
    scope: str,
    reward: dict,
    year: int,
) -> tuple[bool, str | None, list[dict]]:
    """Whether the project may take a one-off reward, under which unique key, and the line for the report
    when another project took it first."""
    if any(k == kind for k, _ in mine):
        return False, None, []  # a one-off reward, granted before: kept, never again
    if scope != "first_in_prefecture":
        return True, None, []
    unique_key, refused = _claim_first_in_prefecture(session, instance, kind, reward, year)
    return unique_key is not None, unique_key, refused


def _claim_first_in_prefecture(
    session: Session, instance: ProcessInstance, kind: str, reward: dict, year: int
) -> tuple[str | None, list[dict]]:
    """The unique key (a country or region) under which this project may take a reward that only the
    prefecture's first project gets, or None; with the line for the report when another project has it."""
    unique_key = normalised_name(reward["unique_key"])
    if not unique_key:
        return None, []
    counties = _prefecture_counties(session, instance.county_id)
    _lock(session, f"reward-once:{counties}:{kind}:{unique_key}")
    holder = session.scalar(
        select(RewardGrant.instance_id)
        .where(
            RewardGrant.kind == kind,
            RewardGrant.unique_key == unique_key,
            RewardGrant.county_id.in_(counties),
        )
        .limit(1)
    )
    if holder is not None:
        return None, [
            {
                "kind": kind,
                "title": reward["title"],
                "amount_wan": 0,
                "due_wan": 0,
                "reason": "该国别或地区已有项目获此奖励",
                "year": year,
            }
        ]
    return unique_key, []


def _share_cap(
    session: Session, touched: set[int], county_id: int, kind: str, recipient_key: str, year: int
) -> list[dict]:
    """Give every row of one recipient, kind and year its amount: the due, up to what the yearly cap
    leaves after the rows earned before it. Rows whose amount changed, and the `touched` rows (their due
    changed), are audited on their own project."""
    _lock(session, f"reward-cap:{county_id}:{kind}:{recipient_key}:{year}")
    rows = list(
        session.scalars(
            select(RewardGrant)
            .where(
                RewardGrant.county_id == county_id,
                RewardGrant.kind == kind,
                RewardGrant.recipient_key == recipient_key,
                RewardGrant.year == year,
            )
            .order_by(RewardGrant.id)
        )
    )
    cap = next((r.cap_cents for r in reversed(rows) if r.cap_cents is not None), None)
    left = cap
    changed = []
    for row in rows:
        amount = row.due_cents if left is None else min(row.due_cents, left)
        if left is not None:
            left -= amount
        capped = amount < row.due_cents
        before = row.amount_cents
        if (amount, capped) == (before, row.capped) and row.id not in touched:
            continue
        row.amount_cents, row.capped, row.updated_at = amount, capped, utcnow()
        entry = {
            "kind": kind,
            "title": row.title,
            "recipient": row.recipient,
            "currency": row.currency,
            "year": year,
            "amount_wan": amount / 1_000_000,
            "due_wan": row.due_cents / 1_000_000,
            "previous_wan": before / 1_000_000,
            "capped": capped,
        }
        audit.append(
            session,
            "reward_granted",
            actor="system",
            instance_id=row.instance_id,
            outcome=row.title,
            data={**entry, "basis": row.basis, "cap_wan": cap / 1_000_000 if cap is not None else None},
            address=None,
        )
        changed.append(entry)
    session.flush()
    return changed


def project_rewards(session: Session, instance_id: int) -> list[dict]:
    """The project's reward ledger, oldest first (for the project page)."""
    rows = session.scalars(
        select(RewardGrant)
        .where(
            RewardGrant.instance_id == instance_id,
            (RewardGrant.amount_cents > 0) | (RewardGrant.due_cents > 0),
        )
        .order_by(RewardGrant.year, RewardGrant.id)
    )
    return [
        {
            "title": r.title,
            "recipient": r.recipient,
            "year": r.year,
            "currency": r.currency,
            "unit": currencies.unit(r.currency),
            "amount_wan": r.amount_cents / 1_000_000,
            "capped": r.capped,
            "basis": r.basis,
            "at": r.updated_at,
        }
        for r in rows
    ]


def tracking_view(session: Session, instance: ProcessInstance, data: dict) -> dict | None:
    """What the project page shows after signing: the "五个一" of a major project (《湘西自治州优势产业精准招
    商行动计划（2023—2025年）》 §(九), 《郴州市关于进一步加强招商引资工作的实施意见》 §3), the start deadline,
    the latest tracking report, letters sent and rewards granted. None before the contract is signed."""
    signed = signed_on(session, instance)
    if signed is None:
        return None
    five = {
        "lead_leader": data.get("lead_leader"),
        "responsible_department": unit_name(session, instance, data.get("responsible_department"))
        if data.get("responsible_department")
        else None,
        "task_force": data.get("task_force"),
        "advance_plan": data.get("advance_plan"),
    }
    reports = list(
        session.scalars(
            select(TaskRecord)
            .where(
                TaskRecord.instance_id == instance.id,
                TaskRecord.spec_name.in_(_marked(session, instance.id, TRACKING_REPORT)),
                TaskRecord.state == "completed",
            )
            .order_by(TaskRecord.completed_at, TaskRecord.id)
        )
    )
    latest = reports[-1].data or {} if reports else {}
    letters = [
        {
            "at": e.at,
            "filename": e.outcome,
            "attachment_id": (e.data or {}).get("attachment_id"),
            "days_overdue": (e.data or {}).get("days_overdue"),
        }
        for e in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance.id, AuditEvent.action == "reminder_letter_sent")
            .order_by(AuditEvent.id)
        )
    ]
    start_by = add_months(signed, START_WITHIN_MONTHS)
    return {
        # The signing form requires the 五个一 where they apply (重大: its if/then), so a project shows them
        # when it recorded any.
        "five_ones": five if any(five.values()) else None,
        "start_by": start_by,
        "construction_started": construction_started(session, instance.id),
        "reports": len(reports),
        "latest": latest,
        "latest_at": reports[-1].completed_at if reports else None,
        "letters": letters,
        "rewards": project_rewards(session, instance.id),
    }
