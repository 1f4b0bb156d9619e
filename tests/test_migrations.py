"""Alembic migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import workflows.models  # noqa: F401 - registers the tables
from workflows import db
from workflows.db import Base


def test_migrations_match_the_models(database):
    with db.engine().connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrading_twice_is_harmless(database):
    db.upgrade()
