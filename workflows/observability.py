"""Operations: readiness (database reachable, schema at the newest migration), Prometheus metrics and
JSON log lines carrying the request id.

The metrics are kept per process; under gunicorn with PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py)
every worker writes its figures there and a scrape adds them up. The figures that live in the database
(outbox depth, timers due, failed deliveries) are read at scrape time.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from sqlalchemy.exc import InterfaceError, OperationalError

from workflows import db

# The instruments live apart from what reads the database, so the transaction (workflows/db.py) can time
# itself without importing this module.
from workflows.instruments import REGISTRY, REQUEST_SECONDS, STEP_SECONDS  # noqa: F401

# Errors that mean "the database cannot be reached now" (server down or restarting, connection cut,
# file missing or locked): the user gets a 503 page that needs no database, not a 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def readiness() -> tuple[bool, str]:
    """(ready, reason): the database answers and its schema is at the newest Alembic revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        with db.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except DATABASE_UNAVAILABLE as err:
        return False, f"database unreachable: {str(err).splitlines()[0]}"
    heads = set(ScriptDirectory(str(db.MIGRATIONS)).get_heads())
    if current != heads:
        return False, f"database schema at {sorted(current) or 'no revision'}, code expects {sorted(heads)}"
    return True, "ok"


class _DatabaseFigures:
    """Read at every scrape: what waits in the database."""

    def collect(self):
        from workflows.models import OutboxMessage, ProcessInstance

        up = GaugeMetricFamily("zhaoshang_database_up", "1 when the database answered this scrape")
        depth = GaugeMetricFamily("zhaoshang_outbox_depth", "Filing-exchange messages not yet acknowledged")
        failed = GaugeMetricFamily(
            "zhaoshang_outbox_failed_deliveries",
            "Unacknowledged filing-exchange messages whose last attempt failed",
        )
        timers = GaugeMetricFamily("zhaoshang_timers_due", "Running projects with a BPMN timer due now")
        try:
            with db.engine().connect() as conn:
                pending = OutboxMessage.state == "pending"
                depth.add_metric([], conn.scalar(select(func.count()).where(pending)))
                failed.add_metric(
                    [], conn.scalar(select(func.count()).where(pending, OutboxMessage.attempts > 0))
                )
                now = datetime.now(UTC).replace(tzinfo=None)
                timers.add_metric(
                    [],
                    conn.scalar(
                        select(func.count()).where(
                            ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now
                        )
                    ),
                )
        except DATABASE_UNAVAILABLE:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, depth, failed, timers]


def metrics_text() -> bytes:
    """The Prometheus exposition of this process (or of all gunicorn workers) plus the database figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    registry.register(_DatabaseFigures())
    return generate_latest(registry)


class _Forward:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id and any `extra` fields."""

    STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            line["request_id"] = rid
        line.update({k: v for k, v in vars(record).items() if k not in self.STANDARD and k != "request_id"})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on standard error for the `zhaoshang` loggers (once per process)."""
    logger = logging.getLogger("zhaoshang")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
