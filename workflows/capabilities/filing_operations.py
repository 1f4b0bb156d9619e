"""Service-task operations of the filing stage (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三):
county projects are filed with the prefecture commerce bureau before signing; 严禁乱签约、重复签约).

BPMN service tasks name these operations; the restricted script engine calls only what is here.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from workflows import audit, filing_exchange
from workflows.actor import Actor
from workflows.capabilities import filing_duplicates, outbox_service
from workflows.errors import Conflict
from workflows.localtime import to_local
from workflows.models import Filing, Organisation, ProcessInstance
from workflows.models._types import utcnow

FILING_REVIEW = (
    "filing-review"  # capability of the prefecture's review task (completed via the API when remote)
)
SUMMARY_FIELDS = (
    "project_name",
    "investor",
    "industry",
    "amount_wan",
    "currency",
    "amount_usd_wan",
    "project_class",
    "land_mu",
    "tax_per_mu_wan",
    "annual_output_wan",
    "jobs",
    "special_terms",
    "special_terms_detail",
    "exec_minutes_number",
)


def bound(session: Session, instance: ProcessInstance, actor: Actor) -> dict[str, Callable[..., dict]]:
    """The operations for one engine step, bound to its transaction and instance."""

    def filing_submit(data: dict) -> dict:
        county = session.get(Organisation, instance.county_id)
        filing = session.scalar(select(Filing).where(Filing.instance_id == instance.id))
        summary = {k: data.get(k) for k in SUMMARY_FIELDS}
        if filing is None:
            # A county of a deployment configured with a remote prefecture files over the API.
            filing = Filing(
                instance_id=instance.id,
                county_id=county.id,
                prefecture_id=county.parent_id,
                state="待受理",
                summary=summary,
                transport="outbound" if filing_exchange.files_remotely() else "embedded",
            )
            session.add(filing)
        else:
            filing.state, filing.summary = "待受理", summary
            filing.times_submitted += 1
            filing.submitted_at = filing.updated_at = utcnow()
        filing.duplicate_reason = None  # a new round is checked again
        if data.get("special_terms") and filing.special_state is None:
            # 一事一议: also filed with the next-higher government (《湘西自治州优势产业精准招商行动计划
            # （2023—2025年）》 §(十三)); the county commerce bureau records when it is sent and the
            # government's reference.
            prefecture = session.get(Organisation, county.parent_id)
            filing.special_target, filing.special_state = f"{prefecture.name}人民政府", "待报送"
            filing.special_updated_at = utcnow()
        # The receipt carries the county's audit head: an anchor of the chain the prefecture keeps.
        filing.audit_head_id, filing.audit_head_hash = audit.head(session) or (None, None)
        session.flush()
        if filing.transport == "embedded":
            filing.duplicates = filing_duplicates.matches(session, filing) or None
        else:
            outbox_service.enqueue_filing(session, filing, county.name)
        audit.append(
            session,
            "filing_submitted",
            actor=actor.username,
            instance_id=instance.id,
            data={
                "filing_id": filing.id,
                "times": filing.times_submitted,
                "audit_head_id": filing.audit_head_id,
                "audit_head_hash": filing.audit_head_hash,
                "transport": filing.transport,
                "duplicates": [d["filing_id"] for d in filing.duplicates or []],
            },
            address=actor.address,
        )
        return {"filing_id": filing.id, "state": filing.state}

    def filing_accept(data: dict) -> dict:
        filing = _filing(session, instance)
        now = utcnow()
        if filing.transport == "embedded":
            require_duplicates_confirmed(session, filing)
        # An outbound filing's number came from the remote prefecture with its decision.
        issue_number(session, filing, now)
        filing.state, filing.accepted_at, filing.updated_at = "已受理", now, now
        filing.return_reason = None
        session.flush()
        audit.append(
            session,
            "filing_accepted",
            actor=actor.username,
            instance_id=instance.id,
            outcome=filing.number,
            address=actor.address,
        )
        return {"number": filing.number, "accepted_at": to_local(now).date().isoformat()}

    def filing_return(data: dict) -> dict:
        filing = _filing(session, instance)
        filing.state, filing.updated_at = "已退回", utcnow()
        filing.return_reason = data.get("prefecture_opinion")
        session.flush()
        audit.append(
            session,
            "filing_returned",
            actor=actor.username,
            instance_id=instance.id,
            outcome=filing.return_reason,
            address=actor.address,
        )
        return {"state": filing.state}

    def filing_report_signing(data: dict) -> dict:
        filing = _filing(session, instance)
        filing.signing = {
            k: data.get(k) for k in ("contract_number", "sign_date", "signatories", "signing_place")
        }
        filing.state, filing.updated_at = "已签约", utcnow()
        session.flush()
        if filing.transport == "outbound":
            # The signing result follows the filing to the prefecture (docs/domain.md step 9).
            outbox_service.enqueue(
                session,
                filing_exchange.SIGNED,
                filing,
                session.get(Organisation, filing.county_id).name,
                "prefecture",
                f"/filings/{filing.id}/signing",
                {filing_exchange.SIGNED: filing.signing},
            )
        audit.append(
            session,
            "signing_reported",
            actor=actor.username,
            instance_id=instance.id,
            data=filing.signing,
            address=actor.address,
        )
        return {"state": filing.state}

    return {
        "filing_submit": filing_submit,
        "filing_accept": filing_accept,
        "filing_return": filing_return,
        "filing_report_signing": filing_report_signing,
    }


def issue_number(session: Session, filing: Filing, now) -> None:
    """Give an accepted filing its number, unless it has one (a resubmission keeps its number)."""
    if filing.number is not None:
        return
    prefecture = session.get(Organisation, filing.prefecture_id)
    # Numbers run per prefecture and year: <prefix>备〔2026〕0001号. One issuer at a time per
    # prefecture on PostgreSQL (SQLite serializes writers anyway); the unique key is the backstop.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(734502, :p)"), {"p": prefecture.id})
    year = to_local(now).year
    last = (
        session.scalar(
            select(func.max(Filing.seq)).where(Filing.prefecture_id == prefecture.id, Filing.year == year)
        )
        or 0
    )
    filing.year, filing.seq = year, last + 1
    filing.number = f"{prefecture.filing_prefix or prefecture.name}备〔{year}〕{filing.seq:04d}号"


def require_duplicates_confirmed(session: Session, filing: Filing) -> list[dict]:
    """A filing that duplicates an earlier one (checked again now: another county may have filed
    meanwhile) is accepted only after the prefecture confirmed it with a reason."""
    found = filing_duplicates.matches(session, filing)
    if found:
        filing.duplicates = found
        if not filing.duplicate_reason:
            raise Conflict(
                "该备案与已有备案疑似重复签约（同一投资方、相同或相近项目），受理前须在“各县项目备案”页"
                "确认并填写理由。"
            )
    return found


def _filing(session: Session, instance: ProcessInstance) -> Filing:
    filing = session.scalar(select(Filing).where(Filing.instance_id == instance.id))
    if filing is None:
        raise LookupError(f"instance {instance.id} has no filing")
    return filing
