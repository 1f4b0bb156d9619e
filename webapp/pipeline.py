"""The leaders' pipeline: dashboard, ledgers (台账) with their .xlsx export, period report PDFs."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import login_required

from webapp.attachments import content_disposition
from webapp.inputs import db_int
from webapp.session_user import actor
from workflows.services import metrics_service

bp = Blueprint("pipeline", __name__)


def _county() -> int | None:
    return request.args.get("county", type=db_int) or None


def _download(filename: str, body: bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/dashboard/")
@login_required
def dashboard():
    data = metrics_service.dashboard(actor(), request.args.get("period"), _county())
    return render_template("pipeline/dashboard.html", d=data)


@bp.route("/dashboard/report.pdf")
@login_required
def report():
    filename, pdf = metrics_service.period_report_pdf(actor(), request.args.get("period"), _county())
    return _download(filename, pdf, "application/pdf")


def _ledger_args() -> dict:
    return {
        "filters": {k[2:]: v for k, v in request.args.items() if k.startswith("f_")}
        | {"q": request.args.get("q", "")},
        "sort": request.args.get("sort", ""),
        "descending": request.args.get("desc") == "1",
        "county_id": _county(),
    }


@login_required
def ledger(kind: str):
    data = metrics_service.ledger(actor(), kind, **_ledger_args())
    # The ledger is in the path: a `kind` in the query would clash with it when links are built.
    args = request.args.copy()
    args.poplist("kind")
    return render_template("pipeline/ledger.html", l=data, ledgers=metrics_service.LEDGERS, args=args)


@login_required
def ledger_xlsx(kind: str):
    filename, body = metrics_service.ledger_xlsx(actor(), kind, **_ledger_args())
    return _download(filename, body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# One fixed address per ledger (/ledgers/projects, /ledgers/signed, /ledgers/overdue, and .xlsx);
# url_for("pipeline.ledger", kind=…) picks the rule whose default matches.
for _kind in metrics_service.LEDGERS:
    bp.add_url_rule(f"/ledgers/{_kind}", "ledger", ledger, defaults={"kind": _kind})
    bp.add_url_rule(f"/ledgers/{_kind}.xlsx", "ledger_xlsx", ledger_xlsx, defaults={"kind": _kind})
