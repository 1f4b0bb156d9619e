"""The web app's configuration: the option table and how it is read live in workflows/config.py, shared
with the scheduler and every command, so all of them use the same instance folder, database and
checkpoint file."""
from __future__ import annotations

from workflows.config import OPTIONS, bind, ensure_schema, load

__all__ = ["OPTIONS", "load_config", "start_service"]


def load_config(overrides: dict | None = None) -> dict:
    """The options from the environment, with a test's or embedder's overrides."""
    return load(overrides)


def start_service(config) -> None:
    """Bind the service to the configuration and check (production) or bring (otherwise) the schema to
    head."""
    bind(config)
    ensure_schema(config)
