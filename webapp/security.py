"""The security administrator's pages (三权分立): who holds which role, and the sign-in locks."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required

from webapp.i18n import N_
from webapp.inputs import day, db_int
from webapp.session_user import actor
from workflows import auth, two_factor
from workflows.errors import Forbidden, ValidationFailed
from workflows.roles import ADMINISTRATORS, ROLES
from workflows.services import security_log, two_factor_service, user_service

bp = Blueprint("security", __name__, url_prefix="/security")


def _page(errors=None, status=200):
    a = actor()
    if not auth.role_assign(a):
        raise Forbidden("只有安全管理员可以打开此页面。")
    return render_template(
        "security/index.html",
        users=user_service.user_list(a),
        locks=user_service.lock_list(a),
        roles=ROLES,
        administrators=ADMINISTRATORS,
        totp_roles=two_factor.required_roles(),
        errors=errors or {},
    ), status


@bp.route("/")
@login_required
def index():
    return _page()


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@login_required
def user_roles(user_id: int):
    try:
        user_service.user_set_roles(actor(), user_id, request.form.getlist("roles"))
    except ValidationFailed as failed:
        return _page({f"roles_{user_id}": failed.errors["roles"]}, status=422)
    flash(N_("角色已更新。"))
    return redirect(url_for("security.index"))


@bp.route("/locks/<int:row_id>/lift", methods=["POST"])
@login_required
def lock_lift(row_id: int):
    username = user_service.lock_lift(actor(), row_id)
    flash(gettext("已解除 %(username)s 的登录锁定。", username=username))
    return redirect(url_for("security.index") + "#locks")


@bp.route("/users/<int:user_id>/totp-reset", methods=["POST"])
@login_required
def totp_reset(user_id: int):
    """A lost phone: remove the user's second factor; they enrol again at their next sign-in."""
    username = two_factor_service.reset(actor(), user_id)
    flash(gettext("已重置 %(username)s 的动态口令，该用户须重新绑定。", username=username))
    return redirect(url_for("security.index"))


def _filters() -> dict:
    args = request.args
    return {
        "category": args.get("category", ""),
        "who": args.get("who", "").strip(),
        "address": args.get("address", "").strip(),
        "text": args.get("text", "").strip(),
        "date_from": day(args.get("from")),
        "date_to": day(args.get("to")),
    }


@bp.route("/log")
@login_required
def log():
    """安全日志: search by category, user, address, text and dates (the security and audit administrators)."""
    filters = _filters()
    result = security_log.search(actor(), **filters, page=request.args.get("page", 1, type=db_int) or 1)

    def page_url(page: int) -> str:
        return url_for("security.log", **{**request.args.to_dict(), "page": page})

    return render_template(
        "security/log.html",
        r=result,
        f=filters,
        args=request.args,
        page_url=page_url,
        categories=security_log.categories(actor()),
    )


@bp.route("/log.csv")
@login_required
def log_csv():
    """The same search as CSV (formula-safe cells)."""
    text = security_log.export_csv(actor(), **_filters())
    return Response(
        text,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=security-log.csv"},
    )
