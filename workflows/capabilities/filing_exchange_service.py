"""The filing API between a county deployment and a separate prefecture deployment (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三):
county projects are filed with the prefecture commerce bureau before signing).

Prefecture side (requests from counties):
    POST /api/v1/filings                          a filing or resubmission, with the 备案表 PDF
    POST /api/v1/filings/<county filing id>/signing   the signing result
    POST /api/v1/filings/<county filing id>/special   the 一事一议 second filing's state
County side (requests from the prefecture):
    POST /api/v1/filings/<county filing id>/decision  accepted (受理, with the number) or returned (退回, with
                                                  reasons): completes the county's filing-review task

Each request is signed with the sender's Ed25519 or SM2 key, or during the transition with the county's
shared key (workflows/filing_exchange.py); the scheme is recorded per request and per peer. A county
keeps the prefecture's signature of each decision it applies in that decision's audit event
(`signature`: algorithm, key id, signed fields, body), so that `recheck_decisions` (run by `zhaoshang
verify`) can prove later that the prefecture made it and nothing in it was changed. Everything is
idempotent: a replayed request (same nonce) gets the answer it got the first time, and a message
sent again by the outbox (new nonce, same filing and round) changes nothing and is acknowledged.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflows import audit, filing_exchange, forms, personal_data
from workflows.actor import Actor
from workflows.capabilities import filing_duplicates
from workflows.capabilities.filing_operations import FILING_REVIEW
from workflows.db import transaction
from workflows.engine import model_store
from workflows.engine.model_store import form_files
from workflows.errors import Conflict, NotFound, ServiceError
from workflows.filing_exchange import ACCEPTED, RETURNED, AuthFailed, SignedRequest
from workflows.models import (
    ApiRequest,
    AuditEvent,
    Filing,
    FilingApiPeer,
    ModelVersion,
    Organisation,
    ProcessInstance,
    TaskRecord,
)
from workflows.models._types import utcnow
from workflows.services.instance_step import Completion, complete_task

SPECIAL_STATES = ("待报送", "已报送", "已备案")
MAX_PDF_BYTES = 8 * 1024 * 1024


class BadRequest(ServiceError):
    """A signed request whose body is not what the API expects (HTTP 400)."""

    status = 400


def api_call(signed: SignedRequest, action: str, filing_id: int | None, payload: dict | None) -> tuple[int, dict]:
    """Handle one verified request: (HTTP status, JSON answer). A nonce seen before gets its answer
    again; the same nonce with other content is refused (AuthFailed)."""
    for attempt in range(2):
        try:
            with transaction() as s:
                seen = s.scalar(select(ApiRequest).where(ApiRequest.county == signed.county,
                                                         ApiRequest.nonce == signed.nonce))
                if seen is not None:
                    if seen.request_hash != signed.request_hash:
                        raise AuthFailed("该请求编号（nonce）已使用。")
                    return seen.status, seen.response
                if not isinstance(payload, dict):
                    raise BadRequest("请求体不是有效的 JSON 对象。")
                answer = HANDLERS[action](s, signed.county, filing_id, payload, signed)
                # Nonces older than the replay window can go: their timestamps are refused anyway.
                s.execute(delete(ApiRequest).where(
                    ApiRequest.received_at < utcnow() - timedelta(seconds=2 * filing_exchange.settings().window)))
                s.add(ApiRequest(county=signed.county, nonce=signed.nonce, request_hash=signed.request_hash,
                                 status=200, response=answer, received_at=utcnow(), scheme=signed.scheme))
                _record_scheme(s, signed)
                return 200, answer
        except (IntegrityError, StaleDataError):
            if attempt:
                raise
            # The same request raced in twice, or another step of the project landed while this one ran
            # (its UPDATE … WHERE version = ? found no row): read again, the second sees the first.
            continue
    raise AssertionError("unreachable")


def _record_scheme(s: Session, signed: SignedRequest) -> None:
    """Count the scheme per peer (a race on the first row is an IntegrityError: api_call retries)."""
    peer = s.scalar(select(FilingApiPeer).where(FilingApiPeer.signer == signed.signer,
                                                FilingApiPeer.county == signed.county))
    if peer is None:
        peer = FilingApiPeer(signer=signed.signer, county=signed.county, hmac_count=0, ed25519_count=0)
        s.add(peer)
    now = utcnow()
    peer.scheme, peer.key_id, peer.last_at = signed.scheme, signed.key_id, now
    if signed.scheme == filing_exchange.HMAC:
        peer.hmac_at, peer.hmac_count = now, peer.hmac_count + 1
    else:
        peer.ed25519_at, peer.ed25519_count = now, peer.ed25519_count + 1
    s.flush()


def older_scheme_counties(s: Session, prefecture_id: int) -> list[dict]:
    """The prefecture's counties still on the older shared-key signature: those without a public key
    configured here that have a shared key or have signed with one."""
    settings = filing_exchange.settings()
    names = s.scalars(select(Organisation.name).where(Organisation.parent_id == prefecture_id,
                                                      Organisation.kind == "county")
                      .order_by(Organisation.name)).all()
    peers = {p.county: p for p in s.scalars(select(FilingApiPeer).where(
        FilingApiPeer.signer == filing_exchange.COUNTY, FilingApiPeer.county.in_(names)))}
    result = []
    for name in names:
        peer = peers.get(name)
        if settings.county_keys.get(name) or (name not in settings.keys and (peer is None or not peer.hmac_at)):
            continue
        result.append({"county": name, "hmac_at": peer.hmac_at if peer else None,
                       "hmac_count": peer.hmac_count if peer else 0,
                       "offered_key_id": peer.key_id if peer is not None and peer.scheme == filing_exchange.HMAC
                       else None,
                       "accepted": settings.hmac_transition and name in settings.keys})
    return result


# ---- prefecture side ----------------------------------------------------------------------------

def _receive_filing(s: Session, county_name: str, _filing_id: int | None, p: dict,
                    _signed: SignedRequest | None = None) -> dict:
    county = _county(s, county_name)
    remote_id = _int(p, "filing_id")
    round_ = _int(p, "round")
    summary = p.get("summary")
    if not isinstance(summary, dict) or not _text(summary.get("project_name")) or not _text(summary.get("investor")):
        raise BadRequest("summary 须包含项目名称（project_name）和投资方（investor）。")
    pdf = _pdf(p)
    special = _special(p.get("special"))
    head = p.get("audit_head") if isinstance(p.get("audit_head"), dict) else {}
    filing = s.scalar(select(Filing).where(Filing.county_id == county.id, Filing.remote_id == remote_id,
                                           Filing.transport == "inbound"))
    answer = {"ok": True, "prefecture_filing_id": None, "round": round_}
    if filing is not None and round_ <= filing.times_submitted:
        return {**answer, "prefecture_filing_id": filing.id}  # delivered before: nothing changes
    if filing is not None and filing.state not in ("已退回",):
        raise Conflict("该备案正在审查或已受理，不能重复报送。")
    now = utcnow()
    if filing is None:
        filing = Filing(instance_id=None, county_id=county.id, prefecture_id=county.parent_id, transport="inbound",
                        remote_id=remote_id, state="待受理", summary=summary, times_submitted=round_,
                        submitted_at=now, updated_at=now)
        s.add(filing)
    else:
        filing.state, filing.summary, filing.times_submitted = "待受理", summary, round_
        filing.submitted_at = filing.updated_at = now
        filing.duplicate_reason = None
    filing.form_pdf, filing.form_sha256 = pdf, hashlib.sha256(pdf).hexdigest()
    filing.audit_head_id = head.get("id") if isinstance(head.get("id"), int) else None
    filing.audit_head_hash = str(head.get("hash"))[:64] if head.get("hash") else None
    if special is not None:
        filing.special_target, filing.special_state = special["target"], special["state"]
        filing.special_reference, filing.special_updated_at = special["reference"], now
    s.flush()
    filing.duplicates = filing_duplicates.matches(s, filing) or None
    audit.append(s, "filing_received", actor=f"api:{county.name}",
                 data={"filing_id": filing.id, "county": county.name, "county_filing_id": remote_id,
                       "round": round_, "form_sha256": filing.form_sha256,
                       "duplicates": [d["filing_id"] for d in filing.duplicates or []]})
    return {**answer, "prefecture_filing_id": filing.id}


def _receive_signing(s: Session, county_name: str, filing_id: int | None, p: dict,
                     _signed: SignedRequest | None = None) -> dict:
    filing = _inbound(s, county_name, filing_id)
    signing = p.get(filing_exchange.SIGNED)
    if signing is None and len(p) == 1:
        # Deployments before the `contract` key named the one field of this body after the route.
        (signing,) = p.values()
    if not isinstance(signing, dict) or not _text(signing.get("contract_number")):
        raise BadRequest("contract 须包含合同编号（contract_number）。")
    if filing.state not in ("已受理", "已签约"):
        raise Conflict("该备案尚未受理，不能报告签约结果。")
    if filing.state != "已签约" or filing.signing != signing:
        filing.signing, filing.state, filing.updated_at = signing, "已签约", utcnow()
        audit.append(s, "signing_received", actor=f"api:{county_name}",
                     data={"filing_id": filing.id, "county_filing_id": filing_id, **signing})
    return {"ok": True, "prefecture_filing_id": filing.id, "state": "已签约"}


def _receive_special(s: Session, county_name: str, filing_id: int | None, p: dict,
                     _signed: SignedRequest | None = None) -> dict:
    filing = _inbound(s, county_name, filing_id)
    special = _special(p)
    if special is None:
        raise BadRequest("缺少一事一议报备信息。")
    changed = (filing.special_target, filing.special_state, filing.special_reference) != (
        special["target"], special["state"], special["reference"])
    if changed:
        filing.special_target, filing.special_state = special["target"], special["state"]
        filing.special_reference, filing.special_updated_at = special["reference"], utcnow()
        audit.append(s, "special_filing_received", actor=f"api:{county_name}",
                     data={"filing_id": filing.id, "county_filing_id": filing_id, **special})
    return {"ok": True, "prefecture_filing_id": filing.id, "special_state": special["state"]}


# ---- county side ----------------------------------------------------------------------------------

def _receive_decision(s: Session, county_name: str, filing_id: int | None, p: dict,
                      signed: SignedRequest | None = None) -> dict:
    filing = s.get(Filing, filing_id) if filing_id else None
    if filing is None or filing.transport != "outbound" or \
            s.get(Organisation, filing.county_id).name != county_name:
        raise NotFound("没有该县的这件备案。")
    round_ = _int(p, "round")
    # No row lock: the step's UPDATE … WHERE version = ? refuses it if another step landed meanwhile.
    instance = s.get(ProcessInstance, filing.instance_id)
    version = s.get(ModelVersion, instance.model_version_id)
    reviews = model_store.tasks_with(version, FILING_REVIEW)
    schema = form_files(version, _review_form(version, reviews))[0]
    decision_field, outcome, field_answer = _decision_answer(schema, p.get("decision"))
    if field_answer is None or decision_field is None:
        raise BadRequest("decision 须为 accepted（受理）或 returned（退回）。")
    number = _text(p.get("number"))
    opinion = _text(p.get("opinion"))
    if outcome == ACCEPTED and not number:
        raise BadRequest("受理须附备案号（number）。")
    if outcome == RETURNED and not opinion:
        raise BadRequest("退回须附理由（opinion）。")
    answer = {"ok": True, "filing_id": filing.id, "round": round_, "decision": p.get("decision"),
              "number": number if outcome == ACCEPTED else None}
    if round_ < filing.times_submitted:
        return answer  # a decision on an earlier round, applied before
    if round_ > filing.times_submitted:
        raise Conflict("该轮次的备案尚未报送。")
    record = s.scalar(select(TaskRecord).where(TaskRecord.instance_id == instance.id,
                                               TaskRecord.spec_name.in_(reviews),
                                               TaskRecord.state == "ready"))
    if record is None:
        applied = (filing.number == number) if outcome == ACCEPTED else filing.state in ("已退回",)
        if applied:
            return answer
        raise Conflict("该备案已有不同的审查结论。")
    if outcome == ACCEPTED and filing.number not in (None, number):
        raise Conflict("备案号与此前受理的不一致。")
    prefecture = s.get(Organisation, filing.prefecture_id)
    actor = remote_prefecture_actor(prefecture)
    schema, _ = form_files(version, record.form)
    opinion_field = forms.opinion_field(schema)
    decided_by = _text(p.get("decided_by"))

    def values_of(task_data: dict) -> dict:
        submitted = {decision_field: field_answer, **({opinion_field: opinion} if opinion_field else {})}
        return personal_data.seal_fields(schema, forms.validate(schema, submitted, task_data, coerce_strings=False))

    # The decision is logged before what the engine does with it (cause before effect).
    completion = Completion(
        actor, record.task_uuid, record.spec_name, record.lane, values_of, mi_index=record.mi_index,
        logged=lambda stored: {**stored, "on_behalf_of": f"{prefecture.name}商务局", "decided_by": decided_by,
                               "via": "filing API", "round": round_, "number": answer["number"],
                               "decision": p.get("decision"), "prefecture_filing_id": p.get("prefecture_filing_id"),
                               # The prefecture's signature with what it signed: checked again by recheck_decisions.
                               "signature": signed.evidence if signed is not None else None},
        outcome=lambda stored: field_answer)
    audit.defer(s)  # the chain's lock is taken last, once the engine has run
    if outcome == ACCEPTED:
        filing.number = number  # the prefecture's number; filing_accept keeps it
    record.state, record.completed_at = "completed", utcnow()
    record.note = f"由{prefecture.name}商务局经备案接口办理" + (f"（{decided_by}）" if decided_by else "")
    complete_task(s, instance, completion)
    record.data = completion.stored
    return answer


def _decision_answer(schema: dict, decision) -> tuple[str | None, str | None, str | None]:
    """(the form's decision field, accepted/returned, the form's answer for it) of a decision on the wire."""
    decision_field, meanings = forms.outcomes(schema)
    outcome = decision if decision in (ACCEPTED, RETURNED) else meanings.get(decision)
    return decision_field, outcome, (forms.answer_for(schema, outcome)[1] if outcome else None)


def recheck_decisions(s: Session, instance_id: int | None = None) -> tuple[int, list[tuple[AuditEvent, str]]]:
    """Check again every prefecture decision this county applied through the filing API (or one
    project's): the stored signature must be the prefecture's (a public key configured here) over the
    stored body, and the event must say what that body says — decision, number, opinion, round. Returns
    (how many were checked, [(event, problem)]). One received under the older shared key (the transition)
    is checked with that key: unchanged, but not proof of who made it (`shared_key_decisions` counts them)."""
    query = select(AuditEvent).where(AuditEvent.action == "task_completed").order_by(AuditEvent.id)
    if instance_id is not None:
        query = query.where(AuditEvent.instance_id == instance_id)
    checked, problems = 0, []
    for event in s.scalars(query):
        data = event.data if isinstance(event.data, dict) else {}
        if data.get("via") != "filing API":
            continue
        checked += 1
        problem = filing_exchange.recheck(data.get("signature")) or _same_decision(s, event, data)
        if problem:
            problems.append((event, problem))
    return checked, problems


def shared_key_decisions(s: Session, instance_id: int | None = None) -> int:
    """How many applied decisions carry only a shared-key (HMAC) signature."""
    query = select(AuditEvent.data).where(AuditEvent.action == "task_completed")
    if instance_id is not None:
        query = query.where(AuditEvent.instance_id == instance_id)
    return sum(1 for data in s.scalars(query) if isinstance(data, dict) and data.get("via") == "filing API"
               and isinstance(data.get("signature"), dict) and data["signature"].get("algorithm") == "hmac")


def _same_decision(s: Session, event: AuditEvent, data: dict) -> str | None:
    """What differs between the signed body and the event that applied it (None: nothing)."""
    try:
        body = json.loads(data["signature"]["body"])
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "签名的内容不是 JSON 对象。"
    instance = s.get(ProcessInstance, event.instance_id) if event.instance_id else None
    if instance is None:
        return "事件没有对应的项目。"
    version = s.get(ModelVersion, instance.model_version_id)
    schema = form_files(version, _review_form(version, model_store.tasks_with(version, FILING_REVIEW)))[0]
    decision_field, outcome, field_answer = _decision_answer(schema, body.get("decision"))
    opinion_field = forms.opinion_field(schema)
    differences = []
    if (event.outcome, data.get(decision_field)) != (field_answer, field_answer) or \
            data.get("decision") != body.get("decision"):
        differences.append("结论")
    if data.get("round") != body.get("round"):
        differences.append("轮次")
    if data.get("number") != (_text(body.get("number")) if outcome == ACCEPTED else None):
        differences.append("备案号")
    if opinion_field and personal_data.reveal(data.get(opinion_field)) != (_text(body.get("opinion")) or None) \
            and (data.get(opinion_field) or body.get("opinion")):
        differences.append("意见")
    return f"事件记载的{'、'.join(differences)}与市/州签名的内容不符。" if differences else None


def _review_form(version: ModelVersion, reviews: tuple[str, ...]) -> str | None:
    """The form of the version's filing-review task (the first, if a model has several)."""
    props = model_store.task_properties(version)
    return next((props[r].get("formJsonSchemaFilename") for r in reviews if props[r].get("formJsonSchemaFilename")),
                None)


def remote_prefecture_actor(prefecture: Organisation) -> Actor:
    """Who completes the county's filing-review task when the prefecture is another deployment."""
    return Actor(id=0, username="prefecture-api", display_name=f"{prefecture.name}商务局（备案接口）", unit_id=0,
                 unit_code="", unit_name=f"{prefecture.name}商务局", org_id=prefecture.id,
                 org_name=prefecture.name, org_kind="prefecture", roles=frozenset({"prefecture_bureau"}))


HANDLERS: dict[str, Callable[[Session, str, int | None, dict, SignedRequest], dict]] = {
    "filing": _receive_filing, filing_exchange.SIGNED: _receive_signing, "special": _receive_special,
    "decision": _receive_decision,
}


# ---- checks ----------------------------------------------------------------------------------------

def _county(s: Session, name: str) -> Organisation:
    county = s.scalar(select(Organisation).where(Organisation.name == name, Organisation.kind == "county"))
    if county is None or county.parent_id is None:
        raise BadRequest("本系统中没有该县。")
    return county


def _inbound(s: Session, county_name: str, county_filing_id: int | None) -> Filing:
    county = _county(s, county_name)
    filing = s.scalar(select(Filing).where(Filing.county_id == county.id, Filing.remote_id == county_filing_id,
                                           Filing.transport == "inbound"))
    if filing is None:
        raise NotFound("没有该县的这件备案。")
    return filing


def _int(p: dict, key: str) -> int:
    value = p.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 2**31 - 1:
        raise BadRequest(f"{key} 须为正整数（不超过 2147483647）。")
    return value


def _text(value) -> str | None:
    return value.strip()[:2000] if isinstance(value, str) and value.strip() else None


def _pdf(p: dict) -> bytes:
    raw = p.get("filing_form_pdf")
    if not isinstance(raw, str):
        raise BadRequest("缺少备案表 PDF（filing_form_pdf，base64）。")
    try:
        pdf = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadRequest("备案表 PDF 不是有效的 base64。") from err
    if not pdf.startswith(b"%PDF-") or len(pdf) > MAX_PDF_BYTES:
        raise BadRequest("备案表不是 PDF 文件或过大。")
    if p.get("filing_form_sha256") != hashlib.sha256(pdf).hexdigest():
        raise BadRequest("备案表 PDF 的 SHA-256 与 filing_form_sha256 不符。")
    return pdf


def _special(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not _text(value.get("target")) or value.get("state") not in SPECIAL_STATES:
        raise BadRequest("一事一议报备信息须包含报备对象（target）和状态（待报送/已报送/已备案）。")
    return {"target": _text(value["target"])[:100], "state": value["state"],
            "reference": (_text(value.get("reference")) or "")[:100] or None}

