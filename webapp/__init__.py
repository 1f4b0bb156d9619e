"""Flask front end: HTTP, sessions, templates. No process logic; it calls workflows.services."""
from __future__ import annotations

import secrets
import time
from datetime import timedelta
from pathlib import Path

import flask_babel
from flask import Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.routing import IntegerConverter

from webapp.config import load_config, start_service
from webapp.denials import record_denial
from webapp.extensions import babel, csrf, login_manager
from webapp.i18n import N_, error_text, form_text, list_columns, select_locale
from webapp.i18n_extra import action_name
from webapp.inputs import has_nul, safe_next
from workflows.errors import ServiceError
from workflows.forms import (
    base_type,
    file_fields,
    is_file_field,
    is_file_reference,
    option_pairs,
    option_title,
    path_title,
)
from workflows.localtime import to_local

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# What a user whose password must be changed may still open.
PASSWORD_DUE_ALLOWED = {"auth.password", "auth.logout", "auth.set_language", "auth.login", "static"}
TOTP_DUE_ALLOWED = PASSWORD_DUE_ALLOWED | {"auth.totp_enrol"}
NUL_MESSAGE = "请求中含有不允许的空字符（NUL），请检查输入后重试。"
# Secret keys that production refuses (besides a missing one or one shorter than 32 characters).
WEAK_SECRETS = {"dev", "secret", "changeme", "change-me", "test", "x", "development", "secret-key"}


class _DatabaseId(IntegerConverter):
    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, **{"max": 2**31 - 1, **kwargs})


def create_app(test_config: dict | None = None) -> Flask:
    # One configuration for the app, the scheduler and every command (workflows/config.py): the same
    # instance folder, database and checkpoint file.
    config = load_config(test_config)
    app = Flask(__name__, instance_path=config["INSTANCE_PATH"], instance_relative_config=True)
    # Ids in URLs fit the databases' integer keys (PostgreSQL INTEGER); a larger one is a 404 at
    # routing instead of a database overflow (a 500).
    app.url_map.converters["int"] = _DatabaseId
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config)
    _check_production(app.config)
    _session_settings(app)
    # Database, mail, audit anchors, filing exchange; the schema at the newest migration (upgraded here
    # outside production; in production only `zhaoshang db upgrade` migrates, and a stale schema stops us).
    _start_data(app.config)
    # Operations: /healthz, /readyz, /metrics, request ids, JSON access lines, the 503 page
    # (webapp/health.py).
    from webapp import health
    health.init_app(app)
    _extensions(app)
    _blueprints(app)
    _template_globals(app)
    _request_hooks(app)
    _error_handlers(app)
    return app


def _session_settings(app: Flask) -> None:
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    # The session cookie: never readable by scripts, not sent on cross-site subrequests, HTTPS-only in
    # production (or when ZS_SESSION_COOKIE_SECURE says so).
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config["ENV"] == "production"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=app.config["SESSION_MINUTES"])
    # Request bodies: the largest attachment plus room for the form around it (413 beyond).
    app.config["MAX_CONTENT_LENGTH"] = (app.config["MAX_UPLOAD_MB"] + 2) * 1024 * 1024


def _start_data(config) -> None:
    start_service(config)
    _refuse_demo_on_server(config)
    from workflows.services import role_service
    role_service.refresh_roles()  # business roles are data (workflows/roles.py)
    from workflows.services import calendar_service
    calendar_service.refresh_calendar()  # so is the working-day calendar (workflows/deadlines.py)
    if config["DEMO_DATA"]:
        from workflows.demo import seed_organisations, seed_projects
        seed_organisations(config["PREFECTURE_NAME"], config["FILING_PREFIX"], tuple(config["COUNTY_NAMES"]))
        if config["DEMO_PROJECTS"]:
            seed_projects()


def _extensions(app: Flask) -> None:
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_locale="zh_CN",
                   default_translation_directories="translations")
    # Jinja's newstyle `_()` marks its result safe, trusting the message id; templates also translate
    # data (`_(role.name)`, a flashed message with a model's text in it), so the template callables
    # return plain text and autoescaping escapes it like any other value.
    app.jinja_env.globals.update(_=flask_babel.gettext, gettext=flask_babel.gettext,
                                 ngettext=flask_babel.ngettext)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"


def _blueprints(app: Flask) -> None:
    from webapp import (
        admin,
        attachments,
        audit,
        auth_views,
        complaints,
        filing_api,
        filings,
        projects,
        security,
        stand_ins,
        start,
        tasks,
    )
    for module in (auth_views, tasks, projects, complaints, filings, admin, security, attachments, stand_ins, audit,
                   start):
        app.register_blueprint(module.bp)
    # The filing API authenticates each request by its signature (HMAC per county), not by a session.
    csrf.exempt(filing_api.bp)
    app.register_blueprint(filing_api.bp)
    # Leaders' pipeline: dashboard, ledgers, reports; the token-authenticated service API.
    from webapp import api_tokens, calendar_admin, modeler, operate, pipeline, service_api
    app.register_blueprint(pipeline.bp)
    app.register_blueprint(modeler.bp)
    app.register_blueprint(api_tokens.bp)
    app.register_blueprint(calendar_admin.bp)
    app.register_blueprint(operate.bp)
    csrf.exempt(service_api.bp)
    app.register_blueprint(service_api.bp)


def _template_globals(app: Flask) -> None:
    app.jinja_env.globals["pipeline_visible"] = _pipeline_visible
    from workflows.roles import ADMINISTRATORS
    app.jinja_env.globals["administrators"] = ADMINISTRATORS

    app.jinja_env.globals["form_text"] = form_text
    app.jinja_env.globals["list_columns"] = list_columns
    app.jinja_env.globals["error_text"] = error_text
    app.jinja_env.globals["field_type"] = base_type
    app.jinja_env.globals["option_title"] = option_title
    app.jinja_env.globals["option_pairs"] = option_pairs
    app.jinja_env.globals["is_file_field"] = is_file_field
    app.jinja_env.globals["file_fields"] = file_fields
    app.jinja_env.globals["is_file_reference"] = is_file_reference
    app.jinja_env.globals["field_label"] = path_title
    app.jinja_env.globals["action_name"] = action_name
    app.jinja_env.globals["project_attachments"] = project_attachments
    app.jinja_env.globals["attachment_rules"] = _attachment_rules()
    app.jinja_env.filters["local"] = _local_time

    @app.context_processor
    def _globals():
        unread = 0
        if current_user.is_authenticated:
            from workflows.services.task_operations import unread_count
            unread = unread_count(current_user.actor)
        return {"lang": select_locale(), "request_path": request.path, "unread_notifications": unread}


def _local_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return to_local(value).strftime(fmt) if value else ""


def _request_hooks(app: Flask) -> None:
    for before in (_business_roles, _working_day_calendar, _session_timeout, _password_change_first,
                   _two_factors_first, _refuse_nul):
        app.before_request(before)
    app.after_request(_session_seen)
    app.after_request(_security_headers)


def _business_roles() -> None:
    # Business roles are data; another worker may have added one (workflows/roles.py).
    from workflows.services import role_service

    role_service.refresh_roles(max_age=role_service.REFRESH_SECONDS)


def _working_day_calendar() -> None:
    # Another worker may have changed the calendar: read it again at most every 60 s.
    from workflows.services import calendar_service

    calendar_service.refresh_calendar(max_age=calendar_service.REFRESH_SECONDS)


def _session_timeout():
    # A sliding idle timeout, checked on the server: SESSION_MINUTES without a request signs out.
    from webapp.session_user import end_session

    session.permanent = True
    last = session.get("seen")
    if current_user.is_authenticated and last and time.time() - last > current_app.config["SESSION_MINUTES"] * 60:
        end_session()
        logout_user()
        session.clear()
        flash(N_("会话已超时，请重新登录。"))
        return redirect(url_for("auth.login", next=request.path))
    return None


def _signed_in_page() -> bool:
    """A signed-in user's request to a page (not the health checks nor the machine-to-machine APIs)."""
    return current_user.is_authenticated and (request.blueprint or "") not in ("health", "filing_api", "service_api")


def _password_change_first():
    # A password an administrator set (new account, reset) or one past its expiry: the user may do
    # nothing but change it (or sign out) — GB/T 22239-2019 8.1.4.1 身份鉴别.
    if _signed_in_page() and current_user.actor.password_due and request.endpoint not in PASSWORD_DUE_ALLOWED:
        if request.method == "GET":
            return redirect(url_for("auth.password", next=safe_next(request.full_path.rstrip("?"), "/")))
        return redirect(url_for("auth.password"))
    return None


def _two_factors_first():
    # After the password (a hook registered before this one): a role that needs two factors
    # (ZS_TOTP_ROLES) without one enrolled enrols first.
    if _signed_in_page() and current_user.actor.totp_due and request.endpoint not in TOTP_DUE_ALLOWED:
        return redirect(url_for("auth.totp_enrol"))
    return None


def _refuse_nul():
    # PostgreSQL refuses NUL in text (a 500 deep down): refuse it at the door with a clear 400.
    values = [x for pair in request.args.items(multi=True) for x in pair]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [x for pair in request.form.items(multi=True) for x in pair]
    if "\x00" in request.path or has_nul(values):
        return render_template("error.html", message=NUL_MESSAGE, status=400), 400
    return None


def _session_seen(response):
    if current_user.is_authenticated:
        session["seen"] = time.time()
    return response


def _security_headers(response):
    # Pages may run only this site's own script files (no inline script, no on… handlers), be framed
    # by nobody, and not be sniffed into another type; downloads keep their own stricter policy.
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(err: ServiceError):
        if err.status == 403:
            record_denial(err.message)
        return render_template("error.html", message=err.message, params=err.params,
                               status=err.status), err.status

    @app.errorhandler(CSRFError)
    def _csrf_error(err):
        return render_template("error.html", message="页面已过期或请求无效（CSRF 校验失败），请刷新后重试。",
                               status=400), 400

    @app.errorhandler(404)
    def _not_found(err):
        return render_template("error.html", message="页面不存在。", status=404), 404

    @app.errorhandler(413)
    def _too_large(err):
        return render_template("error.html", message="上传的文件过大：附件不能超过 %(mb)s MB。",
                               params={"mb": str(app.config["MAX_UPLOAD_MB"])}, status=413), 413

    @app.errorhandler(403)
    def _forbidden(err):
        record_denial("您没有访问此页面的权限。")
        return render_template("error.html", message="您没有访问此页面的权限。", status=403), 403


def _pipeline_visible() -> bool:
    """For the menu: whether the signed-in user may open the dashboard (workflows.auth.dashboard_view)."""
    from workflows import auth

    return current_user.is_authenticated and auth.dashboard_view(current_user.actor)


def project_attachments(instance_id: int, task_id: int | None = None) -> tuple[list[dict] | None, bool]:
    """For templates: (the project's attachments, or None if the user may not see them; whether the
    user may upload here — on the task `task_id` if given)."""
    from webapp.session_user import actor
    from workflows.errors import Forbidden
    from workflows.services import attachment_service

    try:
        attachments = attachment_service.attachment_list(actor(), instance_id)
    except Forbidden:
        attachments = None
    return attachments, attachment_service.attachment_may_upload(actor(), instance_id, task_id)


def _attachment_rules() -> dict:
    from workflows.services import attachment_service as a

    return {"kinds": a.KINDS, "accept": ",".join(f".{ext}" for ext in a.TYPES), "limit": a.human_size(a.MAX_SIZE)}


def _check_production(config: dict) -> None:
    """Production mode (ZS_ENV=production) refuses to start without a real secret key."""
    if config["ENV"] != "production":
        return
    key = config.get("SECRET_KEY") or ""
    if len(key) < 32 or key.lower() in WEAK_SECRETS:
        raise RuntimeError("ZS_ENV=production needs ZS_SECRET_KEY: a random secret of at least 32 characters "
                           "(e.g. python -c 'import secrets; print(secrets.token_hex(32))').")


def _refuse_demo_on_server(config: dict) -> None:
    """On a server database (not SQLite) neither demo data nor demo accounts with the published demo
    password, unless ZS_ALLOW_DEMO_ON_SERVER=1 says so explicitly."""
    from workflows.demo import open_demo_accounts

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


def _instance_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
