"""The prefecture commerce bureau's view of the filings of its counties — those of this deployment
(embedded: decided on the prefecture_review task) and those received over the filing API (inbound:
decided here, the decision goes back to the county through the outbox) — and the county's record
of the 一事一议 second filing (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三))."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import audit, auth
from workflows.actor import Actor
from workflows.capabilities import filing_duplicates, filing_exchange_service, outbox_service
from workflows.capabilities.filing_operations import FILING_REVIEW, issue_number
from workflows.db import transaction
from workflows.engine import model_store
from workflows.errors import Conflict, NotFound, ValidationFailed
from workflows.filing_exchange import ACCEPTED, RETURNED
from workflows.localtime import to_local
from workflows.models import Filing, ModelVersion, Organisation, ProcessInstance, TaskRecord
from workflows.models._types import utcnow
from workflows.services.value_objects import FilingItem

SPECIAL_STEPS = ("已报送", "已备案")  # what the county records after 待报送


def filing_list(actor: Actor) -> list[FilingItem]:
    auth.require(auth.filing_list(actor), "只有市/州商务局可以查看备案。")
    with transaction() as s:
        rows = s.execute(select(Filing, Organisation)
                         .join(Organisation, Filing.county_id == Organisation.id)
                         .where(Filing.prefecture_id == actor.org_id, Filing.transport != "outbound")
                         .order_by(Filing.submitted_at.desc(), Filing.id.desc())).all()
        return [_item(s, f, c) for f, c in rows]


def filing_older_schemes(actor: Actor) -> list[dict]:
    """The counties of the actor's prefecture still signing filing-API requests with the older shared
    key (no public key configured here): to be upgraded before the transition ends."""
    auth.require(auth.filing_list(actor), "只有市/州商务局可以查看备案。")
    with transaction() as s:
        return filing_exchange_service.older_scheme_counties(s, actor.org_id)


def _item(s: Session, f: Filing, county: Organisation) -> FilingItem:
    instance = s.get(ProcessInstance, f.instance_id) if f.instance_id else None
    summary = f.summary or {}
    amount = instance.amount_wan if instance is not None else summary.get("amount_wan")
    task_id = None
    if instance is not None and f.state == "待受理":
        reviews = model_store.tasks_with(s.get(ModelVersion, instance.model_version_id), FILING_REVIEW)
        task_id = s.scalar(select(TaskRecord.id).where(TaskRecord.instance_id == instance.id,
                                                       TaskRecord.spec_name.in_(reviews),
                                                       TaskRecord.state == "ready"))
    return FilingItem(
        id=f.id, instance_id=f.instance_id, county=county.name,
        project_name=instance.project_name if instance else summary.get("project_name") or "",
        investor=instance.investor if instance else summary.get("investor") or "",
        amount_wan=float(amount) if amount not in (None, "") else None,
        state=f.state, number=f.number, submitted_at=f.submitted_at, times_submitted=f.times_submitted,
        return_reason=f.return_reason, signing=f.signing, transport=f.transport,
        duplicates=list(f.duplicates or []), duplicate_reason=f.duplicate_reason, special=special_view(f),
        task_id=task_id, has_form_pdf=f.form_pdf is not None,
        delivery=outbox_service.delivery(s, f) if f.transport == "inbound" else None)


def special_view(f: Filing) -> dict | None:
    if f.special_state is None:
        return None
    return {"target": f.special_target, "state": f.special_state, "reference": f.special_reference,
            "updated_at": f.special_updated_at}


def filing_decide(actor: Actor, filing_id: int, decision: str, opinion: str = "",
                  confirm_duplicate: bool = False, duplicate_reason: str = "") -> str | None:
    """Accept (受理, with a number; `decision` ACCEPTED) or return (退回, with reasons; RETURNED) a filing
    received from a county deployment; the decision goes back to the county through the outbox, where the
    county's model says which answer of its filing-review form it is. A filing that duplicates an earlier
    one is accepted only with an explicit confirmation and a reason (audited). Returns the number."""
    opinion, duplicate_reason = (opinion or "").strip(), (duplicate_reason or "").strip()
    auth.require(auth.filing_list(actor), "只有市/州商务局可以审查备案。")
    with transaction() as s:
        filing = _get(s, filing_id)
        auth.require(auth.filing_decide(actor, filing), "只有本市/州商务局可以审查该备案。")
        if filing.transport != "inbound":
            raise Conflict("本系统内各县的备案在“市/州商务局备案审查”待办中办理。")
        if filing.state != "待受理":
            raise Conflict("该备案已处理（%(state)s）。", state=filing.state)
        if decision not in (ACCEPTED, RETURNED):
            raise ValidationFailed({"decision": "请选择受理或退回"})
        if len(opinion) > 2000 or len(duplicate_reason) > 2000:
            raise ValidationFailed({"opinion": "不能超过 2000 个字"})
        now = utcnow()
        county = s.get(Organisation, filing.county_id)
        if decision == ACCEPTED:
            found = filing_duplicates.matches(s, filing)
            if found:
                filing.duplicates = found
                if not (confirm_duplicate and duplicate_reason):
                    raise ValidationFailed({"duplicate_reason": "该备案疑似重复签约：受理前须勾选确认并填写理由"})
                _confirm(s, actor, filing, found, duplicate_reason)
            issue_number(s, filing, now)
            filing.state, filing.accepted_at, filing.return_reason = "已受理", now, None
            audit.append(s, "filing_accepted", actor=actor.username, role="prefecture_bureau", outcome=filing.number,
                         data={"filing_id": filing.id, "county": county.name, "county_filing_id": filing.remote_id,
                               "round": filing.times_submitted, "opinion": opinion or None},
                         address=actor.address)
        else:
            if not opinion:
                raise ValidationFailed({"opinion": "退回须填写理由"})
            filing.state, filing.return_reason = "已退回", opinion
            audit.append(s, "filing_returned", actor=actor.username, role="prefecture_bureau", outcome=opinion,
                         data={"filing_id": filing.id, "county": county.name, "county_filing_id": filing.remote_id,
                               "round": filing.times_submitted}, address=actor.address)
        filing.updated_at = now
        outbox_service.enqueue(s, "decision", filing, county.name, "county", f"/filings/{filing.remote_id}/decision",
                               {"round": filing.times_submitted, "decision": decision,
                                "number": filing.number if decision == ACCEPTED else None,
                                "opinion": opinion or None, "decided_by": actor.display_name,
                                "decided_at": to_local(now).isoformat(), "prefecture_filing_id": filing.id})
        return filing.number if decision == ACCEPTED else None


def filing_confirm_duplicate(actor: Actor, filing_id: int, reason: str) -> None:
    """For a filing of this deployment flagged as a duplicate: the prefecture confirms with a reason
    before accepting it on its prefecture_review task (filing_accept refuses otherwise)."""
    reason = (reason or "").strip()
    auth.require(auth.filing_list(actor), "只有市/州商务局可以审查备案。")
    with transaction() as s:
        filing = _get(s, filing_id)
        auth.require(auth.filing_decide(actor, filing), "只有本市/州商务局可以审查该备案。")
        if filing.state != "待受理":
            raise Conflict("该备案已处理（%(state)s）。", state=filing.state)
        found = filing_duplicates.matches(s, filing)
        if not found:
            raise Conflict("该备案未发现重复签约，无需确认。")
        if not reason or len(reason) > 2000:
            raise ValidationFailed({"duplicate_reason": "请填写确认理由（不超过 2000 字）"})
        filing.duplicates = found
        _confirm(s, actor, filing, found, reason)


def _confirm(s: Session, actor: Actor, filing: Filing, found: list[dict], reason: str) -> None:
    filing.duplicate_reason = reason
    audit.append(s, "filing_duplicate_confirmed", actor=actor.username, role="prefecture_bureau",
                 instance_id=filing.instance_id, outcome=reason,
                 data={"filing_id": filing.id, "matches": found, "reason": reason}, address=actor.address)


def filing_form_pdf(actor: Actor, filing_id: int) -> tuple[str, bytes]:
    """The 备案表 a county deployment sent with its filing (as received, with its SHA-256)."""
    auth.require(auth.filing_list(actor), "只有市/州商务局可以查看备案。")
    with transaction() as s:
        filing = _get(s, filing_id)
        auth.require(auth.filing_decide(actor, filing), "只有本市/州商务局可以查看该备案。")
        if filing.form_pdf is None:
            raise NotFound("该备案没有随附的备案表。")
        audit.append(s, "filing_form_viewed", actor=actor.username, data={"filing_id": filing.id,
                                                                          "sha256": filing.form_sha256},
                     address=actor.address)
        name = (filing.summary or {}).get("project_name") or "备案"
        return f"备案表-{name}.pdf", filing.form_pdf


def special_filing_record(actor: Actor, instance_id: int, state: str, reference: str) -> None:
    """一事一议: the county commerce bureau records that the terms were sent to the next-higher
    government (已报送, with the report's number) and that it filed them (已备案, with its reference).
    The system does not talk to that government; it keeps the record, and tells the prefecture."""
    reference = (reference or "").strip()
    with transaction() as s:
        instance = s.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound("项目不存在。")
        auth.require(auth.special_filing_record(actor, instance), "只有本县县商务局可以登记一事一议报备。")
        filing = s.scalar(select(Filing).where(Filing.instance_id == instance.id))
        if filing is None or filing.special_state is None:
            raise Conflict("该项目没有一事一议条款需要报上一级政府备案。")
        if state not in SPECIAL_STEPS:
            raise ValidationFailed({"special_state": "请选择已报送或已备案"})
        if not reference or len(reference) > 100:
            raise ValidationFailed({"special_reference": "请填写文号（不超过 100 字）"})
        filing.special_state, filing.special_reference, filing.special_updated_at = state, reference, utcnow()
        audit.append(s, "special_filing_recorded", actor=actor.username, instance_id=instance.id, outcome=state,
                     data={"target": filing.special_target, "state": state, "reference": reference},
                     address=actor.address)
        if filing.transport == "outbound":
            outbox_service.enqueue(s, "special", filing, instance.county.name, "prefecture",
                                   f"/filings/{filing.id}/special",
                                   {"target": filing.special_target, "state": state, "reference": reference})


def _get(s: Session, filing_id: int) -> Filing:
    filing = s.get(Filing, filing_id)
    if filing is None:
        raise NotFound("备案不存在。")
    return filing
