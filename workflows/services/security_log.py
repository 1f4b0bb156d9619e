"""The security log (GB/T 22239-2019 8.1.4.3 安全审计; OWASP ASVS 7.1–7.3): sign-ins, failures, locks,
denials (403), administrative and security changes — a view of the append-only, hash-chained audit log
(workflows/audit.py), searched and exported by the security administrator and the audit administrator
(安全审计员), who alone may also search every event (projects' included).

Retention: audit events are never updated or deleted by the application (the chain would break), so the
log is kept for as long as the database is — at least the six months GB/T 22239-2019 and the
Cybersecurity Law (网络安全法 §21) ask; backups keep it beyond (docs/operations.md).
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select

from workflows import audit, auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.localtime import CHINA, to_local, to_utc_naive
from workflows.models import AuditEvent
from workflows.models._types import utcnow
from workflows.rendering.cells import csv_row

PAGE = 100
EXPORT_LIMIT = 100_000
RETENTION_DAYS = 183  # at least; see the module's docstring

# The security-relevant actions, by category (what each page of the log offers to filter on).
CATEGORIES: dict[str, tuple[str, frozenset[str]]] = {
    "sign_in": ("登录与口令", frozenset({
        "signed_in", "signed_out", "sign_in_failed", "sign_in_locked", "sign_in_lock_lifted", "password_changed",
        "password_change_refused", "totp_passed", "totp_failed", "recovery_code_used"})),
    "denied": ("拒绝访问", frozenset({"access_denied"})),
    "admin": ("管理操作", frozenset({
        "user_created", "user_activated", "user_deactivated", "password_reset", "tasks_reassigned", "unit_created",
        "unit_activated", "unit_deactivated", "business_role_created", "model_deployed", "process_bound",
        "calendar_day_added", "calendar_day_removed", "api_token_created", "api_token_revoked",
        "system_initialised"})),
    "security": ("安全配置与审计", frozenset({
        "roles_changed", "sign_in_lock_lifted", "security_log_exported", "events_exported", "audit_verified",
        "totp_enrolled", "totp_reset", "totp_policy_changed", "recovery_code_used", "pii_rekeyed"})),
}
SECURITY_ACTIONS = frozenset().union(*(actions for _, actions in CATEGORIES.values()))
# Only the audit administrator searches every event (projects' included) — the whole log.
ALL = "all"


def record_denial(username: str | None, address: str | None, method: str, path: str, reason: str = "") -> None:
    """A refused request (403), in the log: who, from where, what."""
    with transaction() as s:
        audit.append(s, "access_denied", actor=(username or "")[:60] or None, address=(address or "")[:60] or None,
                     data={"method": method[:10], "path": path[:300]}, outcome=(reason or "")[:200] or None)


def record_sign_out(actor: Actor) -> None:
    with transaction() as s:
        audit.append(s, "signed_out", actor=actor.username, address=actor.address)


def categories(actor: Actor) -> list[tuple[str, str]]:
    items = [(code, name) for code, (name, _) in CATEGORIES.items()]
    return items + ([(ALL, "全部事件（含项目）")] if actor.has("audit_admin") else [])


def _query(actor: Actor, category: str, who: str, address: str, text: str, date_from: date | None,
           date_to: date | None):
    if category == ALL and actor.has("audit_admin"):
        query = select(AuditEvent)
    else:
        actions = CATEGORIES[category][1] if category in CATEGORIES else SECURITY_ACTIONS
        query = select(AuditEvent).where(AuditEvent.action.in_(sorted(actions)))
    if who:
        query = query.where(AuditEvent.actor == who[:60])
    if address:
        query = query.where(AuditEvent.address == address[:60])
    if text:
        like = f"%{text[:100].replace('%', '').replace('_', '')}%"
        query = query.where(or_(AuditEvent.action.like(like), AuditEvent.outcome.like(like),
                                AuditEvent.actor.like(like)))
    if date_from:
        query = query.where(AuditEvent.at >= to_utc_naive(datetime.combine(date_from, time.min, CHINA)))
    if date_to:
        query = query.where(AuditEvent.at < to_utc_naive(datetime.combine(date_to + timedelta(days=1), time.min,
                                                                           CHINA)))
    return query


def _row(e: AuditEvent) -> dict:
    return {"id": e.id, "at": e.at, "actor": e.actor or "", "role": e.role or "", "action": e.action,
            "instance_id": e.instance_id, "address": e.address or "", "outcome": e.outcome or "",
            "data": json.dumps(e.data, ensure_ascii=False, sort_keys=True) if e.data is not None else ""}


def search(actor: Actor, category: str = "", who: str = "", address: str = "", text: str = "",
           date_from: date | None = None, date_to: date | None = None, page: int = 1) -> dict:
    """One page (newest first) of the events that match, and how many match in all."""
    auth.require(auth.security_log_read(actor), "只有安全管理员和安全审计员可以查阅安全日志。")
    page = max(1, min(page, 10_000))
    with transaction() as s:
        query = _query(actor, category, who, address, text, date_from, date_to)
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        rows = s.scalars(query.order_by(AuditEvent.id.desc()).offset((page - 1) * PAGE).limit(PAGE)).all()
        oldest = s.scalar(select(func.min(AuditEvent.at)))
        return {"events": [_row(e) for e in rows], "total": total, "page": page,
                "pages": max(1, -(-total // PAGE)), "oldest": oldest, "retention_days": RETENTION_DAYS,
                "now": utcnow()}


def export_csv(actor: Actor, category: str = "", who: str = "", address: str = "", text: str = "",
               date_from: date | None = None, date_to: date | None = None) -> str:
    """The matching events as CSV (oldest first; every cell that could be a formula written as text)."""
    auth.require(auth.security_log_read(actor), "只有安全管理员和安全审计员可以导出安全日志。")
    with transaction() as s:
        rows = s.scalars(_query(actor, category, who, address, text, date_from, date_to)
                         .order_by(AuditEvent.id).limit(EXPORT_LIMIT)).all()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["事件号", "时间（北京时间）", "操作人", "角色", "动作", "项目号", "地址", "结论", "数据", "哈希"])
        for e in rows:
            writer.writerow(csv_row([e.id, to_local(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.role, e.action,
                                     e.instance_id, e.address, e.outcome,
                                     json.dumps(e.data, ensure_ascii=False, sort_keys=True) if e.data is not None
                                     else "", e.hash]))
        audit.append(s, "security_log_exported", actor=actor.username, address=actor.address,
                     role="audit_admin" if actor.has("audit_admin") else "security_admin",
                     data={"category": category or "security", "who": who, "address": address, "text": text,
                           "from": date_from.isoformat() if date_from else None,
                           "to": date_to.isoformat() if date_to else None, "events": len(rows)})
        return "\ufeff" + out.getvalue()
