"""Sign in, sign out, language."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user, logout_user

from webapp import login_manager
from webapp.i18n import LOCALES, N_
from webapp.inputs import safe_next
from webapp.session_user import end_session, load_user, start_session
from workflows.services import user_service

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
            # Only same-site relative targets: no open redirect.
            return redirect(safe_next(request.args.get("next"), url_for("tasks.inbox")))
    return render_template("auth/login.html", error=error, username=username), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
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
