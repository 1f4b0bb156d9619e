"""The inbox and the task page."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.i18n import N_
from webapp.inputs import db_int, form_fields
from webapp.session_user import actor
from workflows import forms
from workflows.errors import ValidationFailed
from workflows.services import inbox_service, task_operations, task_service
from workflows.services.inbox_service import InboxQuery

bp = Blueprint("tasks", __name__)


@bp.route("/")
@login_required
def inbox():
    args = request.args
    query = InboxQuery(
        tab=args.get("tab", "todo"),
        stage=args.get("stage", ""),
        unit=args.get("unit", ""),
        project_class=args.get("class", ""),
        overdue=args.get("overdue") == "1",
        q=args.get("q", ""),
        sort=args.get("sort", "due"),
        page=args.get("page", 1, type=db_int),
    )

    def page_link(number: int) -> str:
        # The same tab, filters and sort; another page.
        params = {k: v for k, v in args.items() if v and k != "page"}
        return url_for("tasks.inbox", **params, page=number)

    return render_template(
        "tasks/inbox.html", page=inbox_service.inbox_page(actor(), query), page_link=page_link
    )


def _task_page(task_id: int, values=None, errors=None, message=None, status=200):
    view = task_service.task_form(actor(), task_id)
    if values is not None:
        values = forms.as_typed(view.schema, values)  # what was typed, nested as the form shows it
    extra = {}
    if view.claimed_by_me or view.sole_candidate:
        # The sole candidate acts without claiming first: nobody to transfer to, but 退回 and 委派 are
        # offered.
        extra = {
            "transfer_to": task_operations.transfer_candidates(actor(), task_id)
            if view.claimed_by_me
            else [],
            "return_to": task_operations.return_targets(actor(), task_id),
            "delegate_to": task_service.delegate_candidates(actor()),
        }
    return render_template(
        "tasks/task.html",
        view=view,
        values=view.values if values is None else values,
        errors=errors or {},
        message=message,
        **extra,
    ), status


@bp.route("/tasks/<int:task_id>")
@login_required
def show(task_id: int):
    return _task_page(task_id)


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: int):
    task_service.task_claim(actor(), task_id)
    flash(N_("已认领，请填写并提交。"))
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/tasks/<int:task_id>/release", methods=["POST"])
@login_required
def release(task_id: int):
    task_service.task_release(actor(), task_id)
    flash(N_("已释放，该任务回到组内待办。"))
    return redirect(url_for("tasks.inbox"))


@bp.route("/tasks/<int:task_id>", methods=["POST"])
@login_required
def complete(task_id: int):
    submitted = form_fields(request.form)
    action = submitted.pop("action", "submit")
    if (
        action == "add_row"
    ):  # 添加一行 without JavaScript: keep what was typed; the page shows one more empty row
        action = "draft"
    if action in ("draft", "hand_back"):
        # 暂存 keeps what was typed; a delegate hands the draft back to the holder.
        task_service.task_save_draft(actor(), task_id, submitted, hand_back=action == "hand_back")
        if action == "hand_back":
            flash(N_("草稿已交回委派人。"))
            return redirect(url_for("tasks.inbox"))
        flash(N_("已暂存，下次打开时会恢复。"))
        return redirect(url_for("tasks.show", task_id=task_id))
    # A form's file fields (JSON Schema format data-url, ui:widget file) arrive as uploads.
    # The first upload of a name: a field named "file" comes before the attachment panel's (tree order).
    files = {
        name: (upload.filename or "", upload.read())
        for name in request.files
        if (upload := request.files.getlist(name)[0]) is not None
    }
    try:
        instance_id = task_service.task_complete(actor(), task_id, submitted, files)
    except ValidationFailed as failed:
        return _task_page(task_id, submitted, failed.errors, failed.message, 422)
    flash(N_("已提交。"))
    return redirect(url_for("projects.show", instance_id=instance_id))


@bp.route("/tasks/<int:task_id>/transfer", methods=["POST"])
@login_required
def transfer(task_id: int):
    """转办"""
    form = request.form
    try:
        task_operations.task_transfer(
            actor(), task_id, form.get("to_user_id", type=db_int) or 0, form.get("reason", "")
        )
    except ValidationFailed as failed:
        return _task_page(
            task_id,
            errors={f"transfer_{k}": v for k, v in failed.errors.items()},
            message=failed.message,
            status=422,
        )
    flash(N_("已转办。"))
    return redirect(url_for("tasks.inbox"))


@bp.route("/tasks/<int:task_id>/delegate", methods=["POST"])
@login_required
def delegate(task_id: int):
    """委派"""
    form = request.form
    try:
        task_service.task_delegate(
            actor(), task_id, form.get("to_user_id", type=db_int) or 0, form.get("note", "")
        )
    except ValidationFailed as failed:
        return _task_page(
            task_id,
            errors={f"delegate_{k}": v for k, v in failed.errors.items()},
            message=failed.message,
            status=422,
        )
    flash(N_("已委派，对方完成后会交回给您提交。"))
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/tasks/<int:task_id>/signature.png")
@login_required
def signature(task_id: int):
    response = make_response(task_service.signature(actor(), task_id))
    response.headers["Content-Type"] = "image/png"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/tasks/<int:task_id>/return", methods=["POST"])
@login_required
def send_back(task_id: int):
    """退回: send the task back to an earlier task the model allows (returnTargets)."""
    form = request.form
    try:
        instance_id = task_operations.task_return(
            actor(), task_id, form.get("target", ""), form.get("reason", "")
        )
    except ValidationFailed as failed:
        return _task_page(
            task_id,
            errors={f"return_{k}": v for k, v in failed.errors.items()},
            message=failed.message,
            status=422,
        )
    flash(N_("已退回。"))
    return redirect(url_for("projects.show", instance_id=instance_id))


@bp.route("/tasks/<int:task_id>/withdraw", methods=["POST"])
@login_required
def withdraw(task_id: int):
    """撤回"""
    task_operations.task_withdraw(actor(), task_id)
    flash(N_("已撤回，可修改后重新提交。"))
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/tasks/<int:task_id>/urge", methods=["POST"])
@login_required
def urge(task_id: int):
    """催办"""
    instance_id = task_operations.task_urge(actor(), task_id, request.form.get("message", ""))
    flash(N_("已催办，办理人已收到提醒。"))
    return redirect(url_for("projects.show", instance_id=instance_id))


@bp.route("/notifications")
@login_required
def notifications():
    return render_template("tasks/notifications.html", items=task_operations.notifications(actor()))
