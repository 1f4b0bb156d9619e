"""The inbox and the task page."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from webapp.i18n import N_
from webapp.session_user import actor
from workflows.errors import ValidationFailed
from workflows.services import inbox_service, task_service
from workflows.services.inbox_service import InboxQuery

bp = Blueprint("tasks", __name__)


@bp.route("/")
@login_required
def inbox():
    args = request.args
    query = InboxQuery(tab=args.get("tab", "todo"), stage=args.get("stage", ""), unit=args.get("unit", ""),
                       project_class=args.get("class", ""), overdue=args.get("overdue") == "1",
                       q=args.get("q", ""), sort=args.get("sort", "due"), page=args.get("page", 1, type=int))

    def page_link(number: int) -> str:
        # The same tab, filters and sort; another page.
        params = {k: v for k, v in args.items() if v and k != "page"}
        return url_for("tasks.inbox", **params, page=number)

    return render_template("tasks/inbox.html", page=inbox_service.inbox_page(actor(), query), page_link=page_link)


@bp.route("/tasks/<int:task_id>")
@login_required
def show(task_id: int):
    view = task_service.task_form(actor(), task_id)
    return render_template("tasks/task.html", view=view, values=view.values, errors={})


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
    submitted = request.form.to_dict()
    try:
        instance_id = task_service.task_complete(actor(), task_id, submitted)
    except ValidationFailed as failed:
        view = task_service.task_form(actor(), task_id)
        return render_template("tasks/task.html", view=view, values=submitted, errors=failed.errors,
                               message=failed.message), 422
    flash(N_("已提交。"))
    return redirect(url_for("projects.show", instance_id=instance_id))
