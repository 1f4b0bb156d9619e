"""The auditor's pages: verify the record, step through a project's history, replay it against its
model version, compare model versions, export."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Response, render_template, request
from flask_login import login_required

from webapp.inputs import day, db_int
from webapp.session_user import actor
from workflows.localtime import CHINA
from workflows.services import audit_service, model_service

bp = Blueprint("audit", __name__, url_prefix="/audit")


def _date(value: str | None) -> date | None:
    return day(value)


@bp.route("/")
@login_required
def index():
    today = datetime.now(CHINA).date()
    return render_template(
        "audit/index.html",
        projects=audit_service.audit_projects(actor()),
        today=today.isoformat(),
        month_start=today.replace(day=1).isoformat(),
    )


@bp.route("/verify")
@login_required
def verify():
    """Check the chain, its anchors and the stored states: the whole database, or ?project=N."""
    project = request.args.get("project", type=db_int)
    report = audit_service.verify(actor(), project)
    return render_template("audit/verify.html", report=report)


@bp.route("/projects/<int:instance_id>/replay")
@login_required
def replay(instance_id: int):
    """Step through the history: ?step=N, or ?date=YYYY-MM-DD (the last step of that day)."""
    view = audit_service.replay_view(
        actor(), instance_id, request.args.get("step", type=db_int), _date(request.args.get("date"))
    )
    return render_template("audit/replay.html", v=view)


@bp.route("/projects/<int:instance_id>/replay-check", methods=["POST"])
@login_required
def replay_check(instance_id: int):
    """Re-run the recorded steps against the pinned model version, in a fresh engine."""
    report = audit_service.replay_check(actor(), instance_id)
    return render_template("audit/replay_check.html", r=report)


@bp.route("/projects/<int:instance_id>/history.jsonl")
@login_required
def export_jsonl(instance_id: int):
    text = audit_service.export_jsonl(actor(), instance_id)
    return Response(
        text,
        mimetype="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=project-{instance_id}-history.jsonl"},
    )


@bp.route("/events.csv")
@login_required
def export_csv():
    """The events of the county's projects in a date range (?from=YYYY-MM-DD&to=YYYY-MM-DD)."""
    today = datetime.now(CHINA).date()
    start = _date(request.args.get("from")) or today.replace(day=1)
    end = _date(request.args.get("to")) or today
    text = audit_service.export_csv(actor(), start, end)
    return Response(
        text,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=audit-events-{start}-{end}.csv"},
    )


@bp.route("/versions")
@login_required
def versions():
    return render_template("audit/versions.html", versions=model_service.version_list(actor()))


@bp.route("/versions/diff")
@login_required
def version_diff():
    """?old=ID&new=ID: what changed between two model versions."""
    items = model_service.version_list(actor())
    old = request.args.get("old", type=db_int) or (items[1].id if len(items) > 1 else items[0].id)
    new = request.args.get("new", type=db_int) or items[0].id
    return render_template(
        "audit/version_diff.html", d=model_service.version_diff(actor(), old, new), versions=items
    )
