"""请假代理: name a stand-in while on leave."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.i18n import N_
from webapp.inputs import db_int
from webapp.session_user import actor
from workflows.errors import ValidationFailed
from workflows.services import stand_in_service

bp = Blueprint("stand_ins", __name__, url_prefix="/me/stand-ins")


def _page(errors=None, values=None, status=200):
    return render_template(
        "stand_ins/index.html",
        rows=stand_in_service.stand_in_list(actor()),
        candidates=stand_in_service.stand_in_candidates(actor()),
        errors=errors or {},
        values=values or {},
    ), status


@bp.route("/")
@login_required
def index():
    return _page()


@bp.route("/", methods=["POST"])
@login_required
def create():
    form = request.form
    try:
        stand_in_service.stand_in_set(
            actor(),
            form.get("stand_in_id", type=db_int) or 0,
            form.get("starts_on", ""),
            form.get("ends_on", ""),
        )
    except ValidationFailed as failed:
        return _page(failed.errors, form.to_dict(), 422)
    flash(N_("已设置请假代理。"))
    return redirect(url_for("stand_ins.index"))


@bp.route("/<int:row_id>/cancel", methods=["POST"])
@login_required
def cancel(row_id: int):
    stand_in_service.stand_in_cancel(actor(), row_id)
    flash(N_("已取消请假代理。"))
    return redirect(url_for("stand_ins.index"))
