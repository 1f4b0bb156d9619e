"""What every request passes before its view, and every response on its way out: the session's idle
timeout, a due password change or second factor first, no NUL in the request; the security headers."""
from __future__ import annotations

import time

from flask import Flask, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from webapp.i18n import N_
from webapp.inputs import has_nul, safe_next
from webapp.session_user import end_session

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
# Blueprints without a browser session: nothing to redirect to.
SESSIONLESS = ("health", "filing_api", "service_api")
NUL_MESSAGE = "请求中含有不允许的空字符（NUL），请检查输入后重试。"


def register_request_guards(app: Flask) -> None:
    @app.before_request
    def _session_timeout():
        # A sliding idle timeout, checked on the server: SESSION_MINUTES without a request signs out.
        session.permanent = True
        last = session.get("seen")
        if current_user.is_authenticated and last and time.time() - last > app.config["SESSION_MINUTES"] * 60:
            end_session()
            logout_user()
            session.clear()
            flash(N_("会话已超时，请重新登录。"))
            return redirect(url_for("auth.login", next=request.path))
        return None

    @app.before_request
    def _password_change_first():
        # A password an administrator set (new account, reset) or one past its expiry: the user may do
        # nothing but change it (or sign out) — GB/T 22239-2019 8.1.4.1 身份鉴别.
        if (current_user.is_authenticated and current_user.actor.password_due
                and request.endpoint not in PASSWORD_DUE_ALLOWED
                and (request.blueprint or "") not in SESSIONLESS):
            if request.method == "GET":
                return redirect(url_for("auth.password", next=safe_next(request.full_path.rstrip("?"), "/")))
            return redirect(url_for("auth.password"))
        # Then a role that needs two factors (ZS_TOTP_ROLES) without one enrolled: enrol first.
        if (current_user.is_authenticated and current_user.actor.totp_due
                and request.endpoint not in TOTP_DUE_ALLOWED
                and (request.blueprint or "") not in SESSIONLESS):
            return redirect(url_for("auth.totp_enrol"))
        return None

    @app.before_request
    def _refuse_nul():
        # PostgreSQL refuses NUL in text (a 500 deep down): refuse it at the door with a clear 400.
        values = [x for pair in request.args.items(multi=True) for x in pair]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [x for pair in request.form.items(multi=True) for x in pair]
        if "\x00" in request.path or has_nul(values):
            return render_template("error.html", message=NUL_MESSAGE, status=400), 400
        return None

    @app.after_request
    def _session_seen(response):
        if current_user.is_authenticated:
            session["seen"] = time.time()
        return response

    @app.after_request
    def _security_headers(response):
        # Pages may run only this site's own script files (no inline script, no on… handlers), be framed
        # by nobody, and not be sniffed into another type; downloads keep their own stricter policy.
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
