"""The working-day calendar (工作日历): the administrator enters a year's 放假 and 调休上班 days."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required

from webapp.inputs import db_int
from webapp.session_user import actor
from workflows.errors import ValidationFailed
from workflows.localtime import china_today
from workflows.services import calendar_service

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")


def _year(value) -> int:
    this_year = china_today().year
    year = request.args.get("year", this_year, type=db_int) if value is None else value
    return year if 2000 <= year <= 2100 else this_year


def _page(year: int, errors=None, values=None, status: int = 200):
    return render_template(
        "admin/calendar.html",
        year=year,
        entries=calendar_service.calendar_list(actor(), year),
        kinds=calendar_service.KINDS,
        errors=errors or {},
        values=values or {},
    ), status


@bp.route("/")
@login_required
def index():
    return _page(_year(None))


@bp.route("/", methods=["POST"])
@login_required
def add():
    form = request.form
    try:
        day, redated = calendar_service.calendar_add(
            actor(), form.get("day", ""), form.get("kind", ""), form.get("name", "")
        )
    except ValidationFailed as failed:
        return _page(_year(None), failed.errors, form.to_dict(), 422)
    flash(
        gettext(
            "已登记 %(day)s，重新计算了 %(count)s 个待办事项的办理期限。", day=day.isoformat(), count=redated
        )
    )
    return redirect(url_for("calendar_admin.index", year=day.year))


@bp.route("/<int:row_id>/delete", methods=["POST"])
@login_required
def delete(row_id: int):
    day, redated = calendar_service.calendar_remove(actor(), row_id)
    flash(
        gettext(
            "已删除 %(day)s 的登记，重新计算了 %(count)s 个待办事项的办理期限。",
            day=day.isoformat(),
            count=redated,
        )
    )
    return redirect(url_for("calendar_admin.index", year=day.year))
