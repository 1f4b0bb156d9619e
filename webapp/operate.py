"""运维: the system administrator operates running instances — moves one to a newer version of its
process, skips a stuck task, corrects a variable, retries a failed step. Each with a reason."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required

from webapp.inputs import db_int, db_int_or_zero
from webapp.session_user import actor
from workflows.errors import ValidationFailed
from workflows.services import operate_service

bp = Blueprint("operate", __name__, url_prefix="/admin/instances")


def _expected() -> int | None:
    return request.form.get("version", type=db_int)


def _page(instance_id: int, errors=None, values=None, status: int = 200):
    view = operate_service.operate_page(actor(), instance_id)
    return render_template(
        "admin/instance.html",
        v=view,
        errors=errors or {},
        values=values or {},
        form_name=(request.form.get("form") or (request.endpoint or "").split(".")[-1]) if errors else None,
    ), status


def _done(instance_id: int, message: str):
    flash(message)
    return redirect(url_for("operate.show", instance_id=instance_id))


@bp.route("/")
@login_required
def index():
    return render_template("admin/instances.html", rows=operate_service.instance_list(actor()))


@bp.route("/<int:instance_id>")
@login_required
def show(instance_id: int):
    return _page(instance_id)


@bp.route("/<int:instance_id>/migrate", methods=["POST"])
@login_required
def migrate(instance_id: int):
    form = request.form
    try:
        operate_service.instance_migrate(
            actor(), instance_id, db_int_or_zero(form.get("version_id")), form.get("reason", ""), _expected()
        )
    except ValidationFailed as failed:
        return _page(instance_id, failed.errors, form.to_dict(), 422)
    return _done(instance_id, gettext("已将流程实例迁移到新版本。"))


@bp.route("/<int:instance_id>/skip", methods=["POST"])
@login_required
def skip(instance_id: int):
    form = request.form
    try:
        operate_service.instance_skip(
            actor(), instance_id, form.get("task", ""), form.get("reason", ""), _expected()
        )
    except ValidationFailed as failed:
        return _page(instance_id, failed.errors, form.to_dict(), 422)
    return _done(instance_id, gettext("已跳过该环节。"))


@bp.route("/<int:instance_id>/data", methods=["POST"])
@login_required
def data(instance_id: int):
    form = request.form
    try:
        operate_service.instance_data_set(
            actor(),
            instance_id,
            form.get("task", ""),
            form.get("key", ""),
            form.get("value", ""),
            form.get("reason", ""),
            _expected(),
        )
    except ValidationFailed as failed:
        return _page(instance_id, failed.errors, form.to_dict(), 422)
    return _done(instance_id, gettext("已更正流程数据。"))


@bp.route("/<int:instance_id>/retry", methods=["POST"])
@login_required
def retry(instance_id: int):
    form = request.form
    try:
        operate_service.instance_retry(actor(), instance_id, form.get("reason", ""), _expected())
    except ValidationFailed as failed:
        return _page(instance_id, failed.errors, form.to_dict(), 422)
    return _done(instance_id, gettext("已重试失败的步骤，流程继续运行。"))
