"""Alembic environment: the engine comes from workflows.db (see workflows.db.upgrade)."""

from alembic import context

import workflows.models  # noqa: F401 - registers the tables
from workflows.db import Base

config = context.config
engine = config.attributes["connection_engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    context.run_migrations()
