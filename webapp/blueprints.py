"""Every area of the app is a blueprint; they are registered here, in one place."""
from __future__ import annotations

from flask import Flask

from webapp import (
    admin,
    api_tokens,
    attachments,
    audit,
    auth_views,
    calendar_admin,
    complaints,
    filings,
    modeler,
    operate,
    pipeline,
    projects,
    security,
    stand_ins,
    start,
    tasks,
)
from webapp.api import filing_api, service_api
from webapp.extensions import csrf

# The pages people use, behind a session (the leaders' pipeline: dashboard, ledgers, reports).
PAGES = (auth_views, tasks, projects, complaints, filings, admin, security, attachments, stand_ins, audit, start,
         pipeline, modeler, api_tokens, calendar_admin, operate)
# The JSON APIs: a request is authenticated by its signature (filing API: Ed25519 per deployment) or its
# bearer token (service API), never by a session cookie, so they carry no CSRF token.
APIS = (filing_api, service_api)


def register_blueprints(app: Flask) -> None:
    for module in PAGES:
        app.register_blueprint(module.bp)
    for module in APIS:
        csrf.exempt(module.bp)
        app.register_blueprint(module.bp)
