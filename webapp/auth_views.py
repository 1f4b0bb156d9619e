"""Sign in, sign out, language."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.extensions import login_manager
from webapp.i18n import LOCALES, N_
from webapp.inputs import safe_next
from webapp.session_user import actor, end_session, load_user, start_session
from workflows import password_policy
from workflows.errors import ValidationFailed
from workflows.services import security_log, two_factor_service, user_service

bp = Blueprint("auth", __name__)
login_manager.user_loader(load_user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            actor = user_service.authenticate(username, request.form.get("password", ""), request.remote_addr)
        except user_service.SignInFailed as failed:
            error = failed.message
        else:
            if two_factor_service.enabled(actor.id):
                # The password was right; the second factor comes next (nobody is signed in before it).
                _fresh_session()
                session["totp_pending"] = {
                    "user_id": actor.id,
                    "tries": 0,
                    "next": safe_next(request.args.get("next"), ""),
                }
                return redirect(url_for("auth.totp"))
            return _signed_in(actor, request.args.get("next"))
    return render_template("auth/login.html", error=error, username=username), (401 if error else 200)


def _fresh_session() -> None:
    lang = session.get("lang")
    end_session()  # signing in again in the same browser ends the earlier session
    session.clear()  # a fresh session on sign-in; keep only the chosen language
    if lang:
        session["lang"] = lang


def _signed_in(actor, next_target: str | None):
    _fresh_session()
    login_user(start_session(actor))
    if actor.password_due:
        # A one-time password from an administrator, or an expired one: nothing else until changed.
        target = safe_next(next_target, "")
        return redirect(url_for("auth.password", **({"next": target} if target else {})))
    # Only same-site relative targets: no open redirect.
    return redirect(safe_next(next_target, url_for("tasks.inbox")))


TOTP_TRIES = 5


@bp.route("/login/totp", methods=["GET", "POST"])
def totp():
    """The second step of signing in: a code from the authenticator app, or a recovery code."""
    pending = session.get("totp_pending")
    if not pending:
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        if two_factor_service.verify(pending["user_id"], request.form.get("code", ""), request.remote_addr):
            actor = user_service.actor_by_id(pending["user_id"], request.remote_addr)
            if actor is not None:
                return _signed_in(actor, pending.get("next"))
        pending["tries"] += 1
        session["totp_pending"] = pending
        if pending["tries"] >= TOTP_TRIES:
            session.pop("totp_pending", None)
            flash(N_("动态口令错误次数过多，请重新登录。"))
            return redirect(url_for("auth.login"))
        error = N_("动态口令不正确。")
    return render_template("auth/totp.html", error=error), (401 if error else 200)


@bp.route("/me/totp", methods=["GET", "POST"])
@login_required
def totp_enrol():
    """绑定动态口令: scan the QR code with an authenticator app, confirm with a code, keep the recovery
    codes."""
    errors, codes = {}, None
    if request.method == "POST":
        try:
            codes = two_factor_service.confirm(actor(), request.form.get("code", ""))
        except ValidationFailed as failed:
            errors = failed.errors
    return render_template(
        "auth/totp_enrol.html",
        e=two_factor_service.enrolment(actor()),
        errors=errors,
        codes=codes,
        due=actor().totp_due,
    ), (422 if errors else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    security_log.record_sign_out(actor())
    end_session()
    logout_user()
    session.clear()
    flash(N_("您已安全退出。"))
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    if code in LOCALES:
        session["lang"] = code
    return redirect(safe_next(request.form.get("next")))


@bp.route("/me/password", methods=["GET", "POST"])
@login_required
def password():
    """修改密码: the old password, then the new one twice. The user's other sessions end."""
    errors = {}
    if request.method == "POST":
        form = request.form
        try:
            user_service.change_own_password(
                actor(),
                form.get("old_password", ""),
                form.get("new_password", ""),
                form.get("confirm", ""),
                keep_session=current_user.token,
            )
        except ValidationFailed as failed:
            errors = failed.errors
        else:
            flash(N_("密码已修改；您在其他地方的登录已全部退出。"))
            return redirect(safe_next(request.args.get("next"), url_for("tasks.inbox")))
    return render_template(
        "auth/password.html", errors=errors, due=actor().password_due, max_days=password_policy.max_days()
    ), (422 if errors else 200)
