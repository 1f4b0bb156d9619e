"""Register a lead, list projects, one project's page."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.attachments import content_disposition
from webapp.i18n import N_
from webapp.inputs import db_int, db_int_or_zero, form_fields
from webapp.session_user import actor
from workflows.capabilities import document_service, filing_service
from workflows.errors import DuplicateLead, ValidationFailed
from workflows.services import project_service, task_operations

bp = Blueprint("projects", __name__, url_prefix="/projects")


@bp.route("/")
@login_required
def index():
    # Every process the user may see but complaints (their own page), each listed as its model declares;
    # a page of 20 at a time, paged in SQL, the filters kept in the page links.
    args = request.args
    query = project_service.ProjectQuery(
        q=args.get("q", ""),
        status=args.get("status", ""),
        project_class=args.get("class", ""),
        page=args.get("page", 1, type=db_int),
    )

    def page_link(number: int) -> str:
        params = {k: v for k, v in args.items() if v and k != "page"}
        return url_for("projects.index", **params, page=number)

    page = project_service.project_page(actor(), query)
    return render_template(
        "projects/list.html",
        page=page,
        projects=page.projects,
        page_link=page_link,
        statuses=project_service.STATUSES,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    schema, uischema = project_service.lead_form(actor())
    values, errors, duplicates = {}, {}, []
    copy_of = request.args.get("copy_of", type=db_int)
    if request.method == "GET" and copy_of:
        values = project_service.lead_values(actor(), copy_of)  # 撤销后复制重新登记
    if request.method == "POST":
        values = form_fields(request.form)
        try:
            instance_id = project_service.project_start(
                actor(), values, confirm_duplicate=bool(values.get("confirm_duplicate"))
            )
        except DuplicateLead as warned:
            errors, duplicates = warned.errors, warned.duplicates
        except ValidationFailed as failed:
            errors = failed.errors
        else:
            flash(N_("线索已登记，已提交研判专班初审。"))
            return redirect(url_for("projects.show", instance_id=instance_id))
    status = 422 if errors else 200
    return render_template(
        "projects/new.html",
        schema=schema,
        uischema=uischema,
        values=values,
        errors=errors,
        duplicates=duplicates,
    ), status


@bp.route("/<int:instance_id>")
@login_required
def show(instance_id: int, errors: dict | None = None, status: int = 200):
    detail = project_service.project_detail(actor(), instance_id)
    candidates = project_service.copy_candidates(actor(), instance_id) if detail.can_copy else []
    documents = document_service.document_list(actor(), instance_id)
    return render_template(
        "projects/detail.html", p=detail, candidates=candidates, documents=documents, errors=errors or {}
    ), status


@bp.route("/<int:instance_id>/documents/<kind>.pdf")
@login_required
def document(instance_id: int, kind: str):
    """文书: a PDF generated from the project's data (unknown kind → 404, not allowed → 403, not yet
    reached → 409, via the service's errors). `?unit=` names a reminder letter's addressee."""
    filename, pdf = document_service.document_pdf(
        actor(), instance_id, kind, request.args.get("unit") or None
    )
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:instance_id>/cancel", methods=["POST"])
@login_required
def cancel(instance_id: int):
    """撤销"""
    try:
        task_operations.project_cancel(actor(), instance_id, request.form.get("reason", ""))
    except ValidationFailed as failed:
        return show(instance_id, {f"cancel_{k}": v for k, v in failed.errors.items()}, 422)
    flash(N_("项目已撤销。"))
    return redirect(url_for("projects.show", instance_id=instance_id))


@bp.route("/<int:instance_id>/review/<any(add, remove):change>", methods=["POST"])
@login_required
def review_change(instance_id: int, change: str):
    """加签 / 减签"""
    operation = (
        task_operations.review_add_department if change == "add" else task_operations.review_remove_department
    )
    try:
        operation(actor(), instance_id, request.form.get("unit_code", ""), request.form.get("reason", ""))
    except ValidationFailed as failed:
        return show(instance_id, {f"review_{k}": v for k, v in failed.errors.items()}, 422)
    flash(N_("已加签，该部门将在本轮会审后补充会审。") if change == "add" else N_("已减签。"))
    return redirect(url_for("projects.show", instance_id=instance_id))


@bp.route("/<int:instance_id>/special-filing", methods=["POST"])
@login_required
def special_filing(instance_id: int):
    """一事一议报上一级政府备案: record 已报送 / 已备案 with the document number."""
    try:
        filing_service.special_filing_record(
            actor(),
            instance_id,
            request.form.get("special_state", ""),
            request.form.get("special_reference", ""),
        )
    except ValidationFailed as failed:
        return show(instance_id, failed.errors, 422)
    flash(N_("已登记一事一议报备情况。"))
    return redirect(url_for("projects.show", instance_id=instance_id))


@bp.route("/<int:instance_id>/copy", methods=["POST"])
@login_required
def copy(instance_id: int):
    """抄送 the project to colleagues of the county."""
    try:
        ids = [i for i in map(db_int_or_zero, request.form.getlist("to_user_ids")) if i]
        project_service.project_copy(actor(), instance_id, ids, request.form.get("note", ""))
    except ValidationFailed as failed:
        return show(instance_id, failed.errors, 422)
    flash(N_("已抄送。"))
    return redirect(url_for("projects.show", instance_id=instance_id))
