"""The prefecture commerce bureau's list of filings from its counties."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from webapp.session_user import actor
from workflows.services import filing_service

bp = Blueprint("filings", __name__, url_prefix="/filings")


@bp.route("/")
@login_required
def index():
    return render_template("prefecture/filings.html", filings=filing_service.filing_list(actor()))
