"""Flask front end: HTTP, sessions, templates. No process logic; it calls workflows.services.

create_app puts the app together from one module per concern, in this order (the order of the request
hooks follows it: the operations hooks wrap everything, CSRF is checked before the session rules)."""
from __future__ import annotations

from flask import Flask

from webapp import health
from webapp.blueprints import register_blueprints
from webapp.config import configure, load_config
from webapp.error_pages import register_error_handlers
from webapp.extensions import init_extensions
from webapp.request_guards import register_request_guards
from webapp.startup import keep_reference_data_fresh, start_service
from webapp.template_helpers import register_template_helpers


def create_app(test_config: dict | None = None) -> Flask:
    # One configuration for the app, the scheduler and every command (workflows/config.py): the same
    # instance folder, database and checkpoint file.
    config = load_config(test_config)
    app = Flask(__name__, instance_path=config["INSTANCE_PATH"], instance_relative_config=True)
    configure(app, config)  # secret key, session cookie, request size, ids in URLs
    start_service(app.config)  # database and schema, business roles, calendar, demo data
    health.init_app(app)  # /healthz, /readyz, /metrics, request ids, access lines, the 503 page
    init_extensions(app)  # CSRF, translations, the signed-in user
    register_blueprints(app)  # the pages and the JSON APIs
    register_template_helpers(app)
    keep_reference_data_fresh(app)  # roles and calendar changed by another worker
    register_request_guards(app)  # idle timeout, password or second factor first, no NUL; security headers
    register_error_handlers(app)
    return app
