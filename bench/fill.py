"""Fill a database to N projects by copying the rows of a few real engine runs.

The templates are driven through the real service (engine, persistence, task index, audit); the
copies get new ids for their process_instance, task_record and audit_event rows. The copies' audit
events are appended to the one hash chain with correct SM3 hashes (the chain stays valid, so
verification walks a realistic chain); each copy's project name starts with "[bulk]" and its audit
events carry `address` "bulk-copy", so they are easy to tell apart.

The rows go in with COPY on PostgreSQL (psycopg's copy protocol) and executemany on SQLite, CHUNK
projects per transaction: 100,000 projects take minutes, most of it the SM3 hashes of the chain.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from psycopg.types.json import Jsonb
from sqlalchemy import JSON, func, insert, select, text

from workflows import audit, audit_checkpoints, db
from workflows.db import transaction
from workflows.demo import DEMO_LEAD, FULL_PATH, actor, advance
from workflows.models import AuditCheckpoint, AuditEvent, ProcessInstance, TaskRecord
from workflows.services import project_service

CHUNK = 2000


def make_templates() -> dict[str, int]:
    """A few real projects at the stages an inbox sees most: screening, joint review, signed."""

    def start(**kw) -> int:
        return project_service.project_start(actor("zhaoshang"), {**DEMO_LEAD, **kw}, True)

    templates = {"screening": start(project_name="模板：待初审")}
    review = start(project_name="模板：联合会审")
    advance(review, "screening", confirmed_class="重大")
    for spec in ("negotiation", "approve_terms"):
        advance(review, spec)
    templates["joint_review"] = review
    signed = start(project_name="模板：已签约")
    advance(signed, "screening", confirmed_class="重大")
    for spec in FULL_PATH[1:]:
        advance(signed, spec)
    templates["signed"] = signed
    return templates


def _rows(s, model, **where) -> list[dict]:
    table = model.__table__
    query = select(table)
    for key, value in where.items():
        query = query.where(table.c[key] == value)
    return [dict(r._mapping) for r in s.execute(query.order_by(table.c.id))]


def fill(templates: dict[str, int], target: int) -> int:
    """Copy the templates round-robin until the database holds `target` projects; returns how many."""
    with transaction() as s:
        have = s.scalar(select(func.count()).select_from(ProcessInstance))
        if have >= target:
            return have
        source = {
            pid: (
                _rows(s, ProcessInstance, id=pid)[0],
                _rows(s, TaskRecord, instance_id=pid),
                _rows(s, AuditEvent, instance_id=pid),
            )
            for pid in templates.values()
        }
        next_ids = {
            m: (s.scalar(select(func.max(m.id))) or 0) + 1 for m in (ProcessInstance, TaskRecord, AuditEvent)
        }
        head = audit.head(s)
        # The chain's checkpoints (workflows/audit_checkpoints.py): sealed up to now, then every
        # CHECKPOINT_EVERY-th copied event, as the scheduler's seal() would.
        audit_checkpoints.seal(s)
        last_point = s.scalar(select(func.max(AuditCheckpoint.event_id))) or 0
        since = s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.id > last_point)) or 0
    prev_hash = head[1] if head else audit.GENESIS
    order = list(source)
    made = 0
    missing = target - have
    while made < missing:
        instances, tasks, events, points = [], [], [], []
        for _ in range(min(CHUNK, missing - made)):
            inst, recs, evs = source[order[(have + made) % len(order)]]
            new_id = next_ids[ProcessInstance]
            next_ids[ProcessInstance] += 1
            shift = timedelta(seconds=made)
            instances.append(
                {
                    **inst,
                    "id": new_id,
                    "project_name": f"[bulk] {inst['project_name']} #{new_id}",
                    "investor": f"{inst['investor']} #{new_id}",
                }
            )
            for rec in recs:
                tasks.append(
                    {
                        **rec,
                        "id": next_ids[TaskRecord],
                        "instance_id": new_id,
                        "task_uuid": rec["task_uuid"][:-12] + f"{new_id:012d}",
                    }
                )
                next_ids[TaskRecord] += 1
            for ev in evs:
                row = {
                    **ev,
                    "id": next_ids[AuditEvent],
                    "instance_id": new_id,
                    "address": "bulk-copy",
                    "at": ev["at"] + shift,
                    "prev_hash": prev_hash,
                }
                row["hash"] = audit._digest(row["algorithm"], audit._payload(SimpleNamespace(**row)))
                prev_hash = row["hash"]
                events.append(row)
                since += 1
                if since == audit_checkpoints.CHECKPOINT_EVERY:
                    points.append(
                        {
                            "event_id": row["id"],
                            "event_hash": row["hash"],
                            "sealed_at": row["at"],
                            "signature": audit_checkpoints.signature(row["id"], row["hash"]),
                        }
                    )
                    since = 0
                next_ids[AuditEvent] += 1
            made += 1
        with transaction() as s:
            for model, rows in (
                (ProcessInstance, instances),
                (TaskRecord, tasks),
                (AuditEvent, events),
                (AuditCheckpoint, points),
            ):
                _insert(s, model.__table__, rows)
    if db.is_postgres():
        with transaction() as s:
            for table in ("process_instance", "task_record", "audit_event"):
                s.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        # What autovacuum does in time on a live database: the visibility map that lets the inboxes' counts
        # read their indexes alone, and the planner's statistics.
        with db.engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return have + made


def _insert(s, table, rows: list[dict]) -> None:
    """Many rows at once: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if not db.is_postgres():
        s.execute(insert(table), rows)
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cursor = s.connection().connection.driver_connection.cursor()
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [Jsonb(row[c]) if c in json_columns and row[c] is not None else row[c] for c in columns]
            )


def state_sizes(pid: int) -> int:
    with transaction() as s:
        return len(s.scalar(select(ProcessInstance.state).where(ProcessInstance.id == pid)) or "")
