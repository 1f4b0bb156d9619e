"""The service behind the app: bound to the configuration, the schema checked or migrated, the data the
app reads everywhere (business roles, the working-day calendar) loaded and kept fresh, demo data if asked."""
from __future__ import annotations

from flask import Flask

from workflows.config import bind, ensure_schema
from workflows.demo import open_demo_accounts, seed_organisations, seed_projects
from workflows.services import calendar_service, role_service


def start_service(config) -> None:
    """Database, mail, audit anchors, filing exchange; the schema at the newest migration (upgraded here
    outside production; in production only `zhaoshang db upgrade` migrates, and a stale schema stops us)."""
    bind(config)
    ensure_schema(config)
    refuse_demo_on_server(config)
    role_service.refresh_roles()  # business roles are data (workflows/roles.py)
    calendar_service.refresh_calendar()  # so is the working-day calendar (workflows/deadlines.py)
    if config["DEMO_DATA"]:
        seed_organisations(config["PREFECTURE_NAME"], config["FILING_PREFIX"], tuple(config["COUNTY_NAMES"]))
        if config["DEMO_PROJECTS"]:
            seed_projects()


def keep_reference_data_fresh(app: Flask) -> None:
    """Another worker may have added a business role or changed the calendar: each request reads them
    again when they are older than their REFRESH_SECONDS."""

    @app.before_request
    def _business_roles():
        role_service.refresh_roles(max_age=role_service.REFRESH_SECONDS)

    @app.before_request
    def _working_day_calendar():
        calendar_service.refresh_calendar(max_age=calendar_service.REFRESH_SECONDS)


def refuse_demo_on_server(config: dict) -> None:
    """On a server database (not SQLite) neither demo data nor demo accounts with the published demo
    password, unless ZS_ALLOW_DEMO_ON_SERVER=1 says so explicitly."""
    if config["DATABASE_URL"].startswith("sqlite") or config["ALLOW_DEMO_ON_SERVER"]:
        return
    if config["DEMO_DATA"]:
        raise RuntimeError("ZS_DEMO_DATA=1 on a server database: the demo users share a published password. "
                           "Unset ZS_DEMO_DATA, or set ZS_ALLOW_DEMO_ON_SERVER=1 for a demonstration server.")
    accounts = open_demo_accounts()
    if accounts:
        raise RuntimeError(f"Active demo accounts still have the published demo password ({', '.join(accounts[:5])}"
                           f"{' …' if len(accounts) > 5 else ''}): reset their passwords or deactivate them, or set "
                           "ZS_ALLOW_DEMO_ON_SERVER=1 for a demonstration server.")
