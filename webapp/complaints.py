"""Investor complaints (《郴州市关于进一步加强招商引资工作的实施意见》 §15): list them, register one (the
county commerce bureau)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.i18n import N_
from webapp.inputs import form_fields
from webapp.session_user import actor
from workflows.capabilities import complaint_service
from workflows.errors import ValidationFailed
from workflows.services import project_service

bp = Blueprint("complaints", __name__, url_prefix="/complaints")


@bp.route("/")
@login_required
def index():
    complaints = project_service.project_list(actor(), complaint_service.PURPOSE)
    return render_template("complaints/list.html", complaints=complaints)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    schema, uischema = complaint_service.complaint_form(actor())
    values, errors = {}, {}
    if request.method == "POST":
        values = form_fields(request.form)
        try:
            instance_id = complaint_service.complaint_start(actor(), values)
        except ValidationFailed as failed:
            errors = failed.errors
        else:
            flash(N_("投诉已登记，已交责任部门在7个工作日内答复。"))
            return redirect(url_for("projects.show", instance_id=instance_id))
    return render_template(
        "complaints/new.html", schema=schema, uischema=uischema, values=values, errors=errors
    ), 422 if errors else 200
