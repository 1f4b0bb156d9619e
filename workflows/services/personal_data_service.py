"""Key rotation of sealed personal data (`zhaoshang pii-rekey`): the task records' answers and drafts
get their data keys wrapped under the current key (the first of ZS_PII_KEYS); what may not be
rewritten is counted, so the operator knows which old keys must stay configured.

Not rewritten: audit events (append-only, hash-chained: a changed row would break the chain) and the
engine state of instances (its hash is recorded in the audit log, so a rewrite would look like
tampering). Both keep the key they were sealed with; that key stays in ZS_PII_KEYS (as a later entry,
for reading only) as long as they must be read.
"""
from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import select

from workflows import audit, personal_data
from workflows.db import transaction
from workflows.models import AuditEvent, ProcessInstance, TaskRecord


def _kids(data, counter: Counter) -> None:
    if personal_data.is_sealed(data):
        counter[data["kid"]] += 1
    elif isinstance(data, dict):
        for value in data.values():
            _kids(value, counter)
    elif isinstance(data, list):
        for value in data:
            _kids(value, counter)


ACTOR = "命令行 command line"


def rekey(dry_run: bool = False, actor: str = ACTOR) -> dict:
    """Rewrap the sealed values of task records and drafts under the current key, in one transaction
    (rolled back with `dry_run`). Returns {"current", "rewrapped", "records", "kept": {place: {kid: n}}}.
    A value whose key is not configured is left as it is and counted under kept["unreadable"].

    A real run appends one audit event, `pii_rekeyed`, in the same transaction: the current key id, the
    counts and, per place, how many values each older key id still seals — key ids and numbers only,
    never a value or a key."""
    current = personal_data.current_kid()
    rewrapped, records = 0, 0
    kept: dict[str, Counter] = {"task_records": Counter(), "engine_state": Counter(), "audit_events": Counter(),
                                "unreadable": Counter()}
    with transaction() as s:
        for record in s.scalars(select(TaskRecord)):
            changed_here = 0
            for column in ("data", "draft"):
                value = getattr(record, column)
                if not value:
                    continue
                try:
                    new, changed = personal_data.rewrap_all(value)
                except personal_data.KeyMissing:
                    _kids(value, kept["unreadable"])
                    continue
                if changed:
                    setattr(record, column, new)
                    changed_here += changed
            rewrapped += changed_here
            records += bool(changed_here)
        for state in s.scalars(select(ProcessInstance.state).where(ProcessInstance.state != "")):
            try:
                _kids(json.loads(state), kept["engine_state"])
            except ValueError:
                continue
        for data in s.scalars(select(AuditEvent.data)):
            _kids(data, kept["audit_events"])
        report = {"current": current, "rewrapped": rewrapped, "records": records,
                  "kept": {place: {k: n for k, n in c.items() if k != current} for place, c in kept.items()}}
        if dry_run:
            s.rollback()
        else:
            audit.append(s, "pii_rekeyed", actor=actor, data=report,
                         outcome=f"当前密钥 {current}；改封装 {rewrapped} 个值（{records} 条任务记录）")
    return report
