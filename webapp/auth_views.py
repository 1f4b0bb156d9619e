"""Sign in, sign out, language."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp import login_manager
from webapp.i18n import LOCALES, N_
from webapp.inputs import safe_next
from webapp.session_user import actor, end_session, load_user, start_session
from workflows import password_policy
from workflows.errors import ValidationFailed
from workflows.services import security_log, user_service

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
            lang = session.get("lang")
            end_session()  # signing in again in the same browser ends the earlier session
            session.clear()  # a fresh session on sign-in; keep only the chosen language
            if lang:
                session["lang"] = lang
            login_user(start_session(actor))
            if actor.password_due:
                # A one-time password from an administrator, or an expired one: nothing else until changed.
                target = safe_next(request.args.get("next"), "")
                return redirect(url_for("auth.password", **({"next": target} if target else {})))
            # Only same-site relative targets: no open redirect.
            return redirect(safe_next(request.args.get("next"), url_for("tasks.inbox")))
    return render_template("auth/login.html", error=error, username=username), (401 if error else 200)


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
            user_service.change_own_password(actor(), form.get("old_password", ""), form.get("new_password", ""),
                                             form.get("confirm", ""), keep_session=current_user.token)
        except ValidationFailed as failed:
            errors = failed.errors
        else:
            flash(N_("密码已修改；您在其他地方的登录已全部退出。"))
            return redirect(safe_next(request.args.get("next"), url_for("tasks.inbox")))
    return render_template("auth/password.html", errors=errors, due=actor().password_due,
                           max_days=password_policy.max_days()), (422 if errors else 200)
