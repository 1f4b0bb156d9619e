"""The prefecture commerce bureau's list of filings from its counties: those of this deployment and
those received over the filing API; 受理/退回 of received filings, duplicate confirmations, the
备案表 a county sent."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.attachments import content_disposition
from webapp.i18n import N_
from webapp.session_user import actor
from workflows.capabilities import filing_service
from workflows.errors import ValidationFailed

bp = Blueprint("filings", __name__, url_prefix="/filings")
# <row_id> is a filing's id (Filing.id) in this deployment.


@bp.route("/")
@login_required
def index(errors: dict | None = None, error_id: int | None = None, status: int = 200):
    return render_template(
        "prefecture/filings.html",
        filings=filing_service.filing_list(actor()),
        older_schemes=filing_service.filing_older_schemes(actor()),
        errors=errors or {},
        error_id=error_id,
    ), status


@bp.route("/<int:row_id>/decision", methods=["POST"])
@login_required
def decide(row_id: int):
    """受理 (number issued) or 退回 (with reasons) a filing received from a county deployment."""
    form = request.form
    try:
        number = filing_service.filing_decide(
            actor(),
            row_id,
            form.get("decision", ""),
            form.get("opinion", ""),
            confirm_duplicate=bool(form.get("confirm_duplicate")),
            duplicate_reason=form.get("duplicate_reason", ""),
        )
    except ValidationFailed as failed:
        return index(failed.errors, row_id, 422)
    flash(N_("已受理，备案号已发回该县。") if number else N_("已退回，退回理由已发回该县。"))
    return redirect(url_for("filings.index"))


@bp.route("/<int:row_id>/confirm-duplicate", methods=["POST"])
@login_required
def confirm_duplicate(row_id: int):
    """Confirm a flagged filing of this deployment before accepting it on its task."""
    try:
        filing_service.filing_confirm_duplicate(actor(), row_id, request.form.get("duplicate_reason", ""))
    except ValidationFailed as failed:
        return index(failed.errors, row_id, 422)
    flash(N_("已确认，可在备案审查待办中受理。"))
    return redirect(url_for("filings.index"))


@bp.route("/<int:row_id>/form.pdf")
@login_required
def form_pdf(row_id: int):
    filename, pdf = filing_service.filing_form_pdf(actor(), row_id)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
