"""Database engine and sessions. One `transaction()` = one unit of work that lands whole or not at all."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from workflows import faults
from workflows.instruments import STEP_SECONDS


class Base(DeclarativeBase):
    pass


_engine: Engine | None = None
_Session: sessionmaker | None = None


def init(url: str) -> Engine:
    """Bind the service to a database URL (SQLite file by default, PostgreSQL by DATABASE_URL)."""
    global _engine, _Session
    if _engine is not None:
        _engine.dispose()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        # A pooled connection may have died with a database restart or failover: test it before use
        # (one round trip), so the first request after a restart does not fail.
        kwargs["pool_pre_ping"] = True
    _engine = create_engine(url, future=True, **kwargs)
    if url.startswith("sqlite"):
        event.listen(_engine, "connect", _sqlite_pragmas)
        event.listen(_engine, "begin", _sqlite_begin_immediate)
    _Session = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it to the first write).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def _sqlite_begin_immediate(connection) -> None:
    # SQLite has no row locks: take the write lock when a transaction starts, so a read-then-write
    # (audit chain head, claim, failed sign-in count) cannot interleave with another writer. A read
    # (`reading()`) begins without it: a snapshot that blocks no writer.
    connection.exec_driver_sql("BEGIN" if getattr(_local, "reading", False) else "BEGIN IMMEDIATE")


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("workflows.db.init() has not been called")
    return _engine


def is_postgres() -> bool:
    return engine().dialect.name == "postgresql"


_local = threading.local()


@contextmanager
def transaction() -> Iterator[Session]:
    """A session whose work commits at the end of the block, or rolls back whole on any error.

    Not nestable: a second transaction in the same thread would wait for the first one's lock.
    """
    if _Session is None:
        raise RuntimeError("workflows.db.init() has not been called")
    if getattr(_local, "open", False):
        raise RuntimeError("nested workflows.db.transaction(): pass the session down instead")
    session = _Session()
    _local.open = True
    started = time.perf_counter()
    try:
        yield session
        if session.info.get("engine_step"):
            faults.reached("after_engine_before_commit")  # test-only (ZS_FAULT_POINT); no-op otherwise
        session.commit()
        if session.info.get("engine_step"):
            STEP_SECONDS.observe(time.perf_counter() - started)
            faults.reached("after_commit")
    except BaseException:
        session.rollback()
        raise
    finally:
        _local.open = False
        session.close()


@contextmanager
def reading() -> Iterator[Session]:
    """A session that only reads: one snapshot, no write lock (SQLite) and no row lock taken, ended
    without a commit. Its objects stay readable after the block (detached, not expired). Anything it
    would write is refused: the work it prepares is written by a `transaction()` afterwards.

    Not nestable, nor inside a `transaction()` (same reason as there)."""
    if _Session is None:
        raise RuntimeError("workflows.db.init() has not been called")
    if getattr(_local, "open", False):
        raise RuntimeError("nested workflows.db.reading(): pass the session down instead")
    session = _Session(autoflush=False)
    event.listen(session, "before_flush", _refuse_writes)
    _local.open = _local.reading = True
    try:
        yield session
    finally:
        _local.open = _local.reading = False
        session.close()  # ends the snapshot (the database rolls the read back); objects stay loaded


def _refuse_writes(session: Session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("workflows.db.reading() writes nothing: write in a transaction()")


MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade() -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection_engine"] = engine()
    command.upgrade(cfg, "head")
