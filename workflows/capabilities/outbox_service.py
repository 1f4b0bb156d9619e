"""The outbox of the filing exchange: messages to the other deployment are written in the same
transaction as the change they report, and sent by the scheduler (`python -m workflows.commands.scheduler`)
until the other side acknowledges them (2xx). A peer that is down, slow or misconfigured loses
nothing: the message waits, with backoff, and is retried; the receiver is idempotent, so a message
that was delivered but whose acknowledgement was lost is simply delivered again.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import audit, filing_exchange
from workflows.capabilities import document_service
from workflows.db import transaction
from workflows.localtime import to_local
from workflows.models import Filing, OutboxMessage
from workflows.models._types import utcnow

# Backoff after the n-th failed attempt: 30 s, 1, 2, 4 … minutes, at most an hour.
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT_SECONDS = 3600


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LONGEST_WAIT_SECONDS))


def enqueue(
    s: Session, kind: str, filing: Filing, county: str, peer: str, path: str, body: dict
) -> OutboxMessage:
    message = OutboxMessage(
        kind=kind,
        filing_id=filing.id,
        county=county,
        peer=peer,
        path=path,
        body=body,
        state="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    s.add(message)
    s.flush()
    return message


def enqueue_filing(s: Session, filing: Filing, county: str) -> OutboxMessage:
    """A county's filing (or resubmission) for the remote prefecture; the 备案表 PDF is made at the
    first send (outside the engine step) and kept with the message, so every retry sends the same."""
    body = {
        "filing_id": filing.id,
        "round": filing.times_submitted,
        "submitted_at": to_local(filing.submitted_at).isoformat(),
        "summary": filing.summary,
        "audit_head": {"id": filing.audit_head_id, "hash": filing.audit_head_hash},
        "special": _special(filing),
    }
    return enqueue(s, "filing", filing, county, "prefecture", "/filings", body)


def _special(filing: Filing) -> dict | None:
    if filing.special_state is None:
        return None
    return {
        "target": filing.special_target,
        "state": filing.special_state,
        "reference": filing.special_reference,
    }


@dataclass
class DrainResult:
    delivered: int = 0
    failed: int = 0


def drain(now: datetime | None = None, limit: int = 100) -> DrainResult:
    """Send the messages that are due, oldest first; one failure holds back the later messages of
    the same filing (they must arrive in order: a signing never before its filing)."""
    now = now or utcnow()
    result = DrainResult()
    with transaction() as s:
        due = [
            m.id
            for m in s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        ]
    blocked: set[int] = set()
    for message_id in due:
        with transaction() as s:
            message = s.get(OutboxMessage, message_id)
            if message is None or message.state != "pending" or message.filing_id in blocked:
                continue
            earlier = s.scalar(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.filing_id == message.filing_id,
                    OutboxMessage.state == "pending",
                    OutboxMessage.id < message.id,
                )
                .limit(1)
            )
            if earlier is not None:
                blocked.add(message.filing_id)
                continue
            kind, county, peer, path, body = (
                message.kind,
                message.county,
                message.peer,
                message.path,
                message.body,
            )
            attachment = message.attachment
        if kind == "filing" and attachment is None:
            attachment = _filing_form(message_id, body["filing_id"])
        payload = dict(body)
        if kind == "filing":
            payload["filing_form_pdf"] = base64.b64encode(attachment).decode("ascii")
            payload["filing_form_sha256"] = hashlib.sha256(attachment).hexdigest()
        # No transaction is held while the other side answers.
        reply = filing_exchange.post(peer, county, path, payload)
        with transaction() as s:
            message = s.get(OutboxMessage, message_id)
            message.attempts += 1
            if reply.acknowledged:
                message.state, message.delivered_at, message.response = "delivered", utcnow(), reply.body
                message.last_error = None
                _acknowledged(s, message, reply.body or {})
                result.delivered += 1
            else:
                message.last_error = (f"HTTP {reply.status}：" if reply.status else "") + (reply.error or "")[
                    :450
                ]
                message.next_attempt_at = utcnow() + backoff(message.attempts)
                blocked.add(message.filing_id)
                result.failed += 1
    return result


def _acknowledged(s: Session, message: OutboxMessage, answer: dict) -> None:
    filing = s.get(Filing, message.filing_id)
    if message.kind == "filing" and answer.get("prefecture_filing_id"):
        filing.remote_id = int(answer["prefecture_filing_id"])
    audit.append(
        s,
        "filing_message_delivered",
        actor="outbox",
        instance_id=filing.instance_id,
        data={
            "kind": message.kind,
            "message_id": message.id,
            "attempts": message.attempts,
            "path": message.path,
            "answer": answer,
        },
    )


def _filing_form(message_id: int, filing_id: int) -> bytes:
    """Render the 备案表 once and keep it with the message (audited like every document)."""
    with transaction() as s:
        instance_id = s.get(Filing, filing_id).instance_id
    _name, pdf = document_service.filing_form_pdf(instance_id, by="outbox")
    with transaction() as s:
        message = s.get(OutboxMessage, message_id)
        if message.attachment is None:
            message.attachment = pdf
        return message.attachment


def delivery(s: Session, filing: Filing) -> dict | None:
    """How the latest message of an outbound or inbound filing fared, for the project and filings pages."""
    message = s.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.filing_id == filing.id)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    if message is None:
        return None
    pending = s.scalars(
        select(OutboxMessage).where(OutboxMessage.filing_id == filing.id, OutboxMessage.state == "pending")
    ).all()
    return {
        "kind": message.kind,
        "state": "pending" if pending else "delivered",
        "pending": len(pending),
        "attempts": max((m.attempts for m in pending), default=message.attempts),
        "last_error": next((m.last_error for m in pending if m.last_error), None),
        "next_attempt_at": min((m.next_attempt_at for m in pending), default=None),
        "delivered_at": message.delivered_at,
    }
