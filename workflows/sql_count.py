"""Count what a piece of work sends to the database: SQL statements, transactions begun, commits.

A bench and test helper (bench/submit_statements.py, tests/test_step_statements.py): SQLAlchemy engine
event listeners, added on entry and removed on exit. SQLite's `BEGIN` / `BEGIN IMMEDIATE` (workflows/db.py)
are counted as a transaction begun, not as statements, so both databases count alike.
"""
from __future__ import annotations

from typing import Self

from sqlalchemy import event
from sqlalchemy.engine import Engine


class SqlCount:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.sql: list[str] = []
        self.commits = 0
        self.transactions = 0

    @property
    def statements(self) -> int:
        return len(self.sql)

    def _statement(self, _conn, _cursor, statement, *_args) -> None:
        if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE"):
            self.sql.append(statement)

    def _begin(self, _conn) -> None:
        self.transactions += 1

    def _commit(self, _conn) -> None:
        self.commits += 1

    def __enter__(self) -> Self:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._commit)
