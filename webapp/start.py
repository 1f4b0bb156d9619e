"""发起: the processes bound for the user's county that they may start, each with its first form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.i18n import N_
from webapp.inputs import form_fields
from webapp.session_user import actor
from workflows import forms
from workflows.errors import ValidationFailed
from workflows.services import process_service

bp = Blueprint("launch", __name__, url_prefix="/start")


@bp.route("/")
@login_required
def index():
    return render_template("start/index.html", processes=process_service.startable_processes(actor()))


@bp.route("/<process_id>", methods=["GET", "POST"])
@login_required
def form(process_id: str):
    process, schema, uischema = process_service.start_form(actor(), process_id)
    values, errors = {}, {}
    if request.method == "POST":
        submitted = form_fields(request.form)
        files = {
            name: (upload.filename or "", upload.read())  # the form's file fields
            for name in request.files
            if (upload := request.files.getlist(name)[0]) is not None
        }
        try:
            instance_id = process_service.process_start(actor(), process_id, submitted, files)
        except ValidationFailed as failed:
            values, errors = forms.as_typed(schema, submitted), failed.errors
        else:
            flash(N_("流程已发起。"))
            return redirect(url_for("projects.show", instance_id=instance_id))
    return render_template(
        "start/form.html", process=process, schema=schema, uischema=uischema, values=values, errors=errors
    ), 422 if errors else 200
