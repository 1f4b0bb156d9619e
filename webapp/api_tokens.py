"""Administration of API tokens (/api/v1): create (the token is shown once), list, revoke."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.i18n import N_
from webapp.inputs import db_int_or_zero
from webapp.session_user import actor
from workflows.errors import ValidationFailed
from workflows.services import api_token_service, user_service

bp = Blueprint("api_tokens", __name__, url_prefix="/admin/api-tokens")


def _page(errors=None, token: str | None = None, status: int = 200):
    a = actor()
    return render_template(
        "admin/api_tokens.html",
        tokens=api_token_service.token_list(a),
        users=[u for u in user_service.user_list(a) if u["active"]],
        errors=errors or {},
        new_token=token,
    ), status


@bp.route("/")
@login_required
def index():
    return _page()


@bp.route("/", methods=["POST"])
@login_required
def create():
    user_id = request.form.get("user_id", "")
    try:
        token = api_token_service.token_create(actor(), db_int_or_zero(user_id), request.form.get("name", ""))
    except ValidationFailed as failed:
        return _page(failed.errors, status=422)
    return _page(token=token)


@bp.route("/<int:row_id>/revoke", methods=["POST"])
@login_required
def revoke(row_id: int):
    api_token_service.token_revoke(actor(), row_id)
    flash(N_("接口令牌已作废。"))
    return redirect(url_for("api_tokens.index"))
