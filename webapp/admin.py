"""Administration of users and units."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required

from webapp.i18n import N_
from webapp.inputs import db_int_or_zero
from webapp.session_user import actor
from workflows.errors import ValidationFailed
from workflows.roles import ADMINISTRATORS, ROLES
from workflows.services import model_service, role_service, user_service

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _int(value: str | None) -> int:
    return db_int_or_zero(value)


def _page(errors=None, values=None, status=200):
    a = actor()
    return render_template(
        "admin/users.html",
        users=user_service.user_list(a),
        units=user_service.unit_list(a),
        organisations=user_service.organisation_list(a),
        roles=ROLES,
        administrators=ADMINISTRATORS,
        errors=errors or {},
        values=values or {},
    ), status


@bp.route("/")
@login_required
def index():
    return _page()


@bp.route("/users", methods=["POST"])
@login_required
def user_create():
    form = request.form
    try:
        user_service.user_create(
            actor(),
            form.get("username", "").strip(),
            form.get("display_name", "").strip(),
            form.get("password", ""),
            _int(form.get("unit_id")),
            form.getlist("roles"),
            form.get("email", ""),
        )
    except ValidationFailed as failed:
        return _page(failed.errors, form.to_dict() | {"roles": form.getlist("roles")}, 422)
    flash(N_("用户已创建。"))
    return redirect(url_for("admin.index"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@login_required
def user_active(user_id: int):
    active = request.form.get("active") == "1"
    user_service.user_set_active(actor(), user_id, active)
    flash(N_("已启用该用户。") if active else N_("已停用该用户。"))
    return redirect(url_for("admin.index"))


@bp.route("/users/<int:user_id>/reassign", methods=["POST"])
@login_required
def user_reassign(user_id: int):
    """A user left: hand their open tasks to a successor."""
    try:
        moved = user_service.user_reassign_open_tasks(actor(), user_id, _int(request.form.get("to_user_id")))
    except ValidationFailed as failed:
        return _page({f"reassign_{user_id}": failed.errors["to_user_id"]}, status=422)
    flash(gettext("已移交 %(n)s 项待办，其余已退回组内。", n=moved))
    return redirect(url_for("admin.index"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@login_required
def user_password(user_id: int):
    try:
        user_service.user_reset_password(actor(), user_id, request.form.get("password", ""))
    except ValidationFailed as failed:
        return _page({f"password_{user_id}": failed.errors["password"]}, status=422)
    flash(N_("密码已重置。"))
    return redirect(url_for("admin.index"))


@bp.route("/units/<int:unit_id>/active", methods=["POST"])
@login_required
def unit_active(unit_id: int):
    active = request.form.get("active") == "1"
    user_service.unit_set_active(actor(), unit_id, active)
    flash(N_("已启用该单位。") if active else N_("已停用该单位，其用户不能再登录。"))
    return redirect(url_for("admin.index"))


@bp.route("/units", methods=["POST"])
@login_required
def unit_create():
    form = request.form
    try:
        user_service.unit_create(
            actor(),
            _int(form.get("organisation_id")),
            form.get("code", "").strip(),
            form.get("name", "").strip(),
            form.get("kind", ""),
        )
    except ValidationFailed as failed:
        return _page({f"unit_{k}": v for k, v in failed.errors.items()}, form.to_dict(), 422)
    flash(N_("单位已创建。"))
    return redirect(url_for("admin.index"))


@bp.route("/roles", methods=["POST"])
@login_required
def role_create():
    """Add a business role (lanes of deployed models may name it; users may be given it)."""
    form = request.form
    try:
        code = role_service.role_create(
            actor(), form.get("role_code", ""), form.get("role_name", ""), form.get("role_level", "county")
        )
    except ValidationFailed as failed:
        return _page(failed.errors, form.to_dict(), 422)
    flash(gettext("已新建业务角色 %(code)s。", code=code))
    return redirect(url_for("admin.index"))


# --- process-model versions --------------------------------------------------------------------


def _versions_page(errors=None, note="", status=200):
    return render_template(
        "admin/versions.html", **model_service.deploy_page(actor()), errors=errors or {}, note=note
    ), status


def _bind_to() -> list[int]:
    return [_int(v) for v in request.form.getlist("bind")]


def _flash_warnings(version_ids: list[int]) -> None:
    """What the deployed versions lack without being refused (texts without a translation)."""
    for warning in model_service.deploy_warnings(actor(), version_ids):
        flash(gettext("提示：%(warning)s", warning=warning))


@bp.route("/versions")
@login_required
def versions():
    return _versions_page()


@bp.route("/versions", methods=["POST"])
@login_required
def version_deploy():
    """Deploy the processes of a model: a zip of bpmn/ and forms/, or the files themselves."""
    uploads = [(f.filename or "", f.read()) for f in request.files.getlist("files") if f and f.filename]
    note = request.form.get("note", "")
    warnings: list[str] = []
    try:
        ids = model_service.version_deploy(actor(), uploads, note, _bind_to(), warnings)
    except ValidationFailed as failed:
        return _versions_page(failed.errors, note, 422)
    flash(
        gettext(
            "已部署流程版本 %(ids)s；进行中的流程实例继续使用原版本。", ids="、".join(f"#{i}" for i in ids)
        )
    )
    _flash_warnings(ids)
    for warning in warnings[:20]:  # deployed all the same: most likely a typo in the model
        flash(gettext("提醒：%(warning)s", warning=warning), "warning")
    return redirect(url_for("admin.versions"))


@bp.route("/versions/shipped", methods=["POST"])
@login_required
def shipped_deploy():
    """Deploy a process shipped with the code (a code upgrade only offers it)."""
    try:
        ids = model_service.shipped_deploy(actor(), request.form.get("process_id", ""), _bind_to())
    except ValidationFailed as failed:
        return _versions_page(failed.errors, status=422)
    flash(
        gettext(
            "已部署流程版本 %(ids)s；进行中的流程实例继续使用原版本。", ids="、".join(f"#{i}" for i in ids)
        )
    )
    _flash_warnings(ids)
    return redirect(url_for("admin.versions"))


@bp.route("/versions/bindings", methods=["POST"])
@login_required
def binding_set():
    """Bind a county's purpose to a process version (new instances start on it)."""
    model_service.binding_set(
        actor(), _int(request.form.get("county_id")), _int(request.form.get("version_id"))
    )
    flash(gettext("已更新流程绑定；新发起的流程使用所选版本。"))
    return redirect(url_for("admin.versions") + "#bindings")
