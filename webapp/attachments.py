"""Attachments: upload a file to a project (or one of its tasks), download one stored version.

A refused upload (no file, empty, too large, wrong type, content not matching its extension, no
kind) redirects (302) back to the page it came from with the reason flashed; nothing is stored.

On a task page the upload button belongs to the task's form (HTML `form`/`formaction`): the form's
fields arrive with the file and are saved first as the task's draft (暂存), so the page comes back
with everything typed in it, whether or not the file was accepted.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import login_required

from webapp.i18n import N_
from webapp.inputs import db_int_or_zero, form_fields
from webapp.session_user import actor
from workflows.errors import ValidationFailed
from workflows.services import attachment_service, task_service

bp = Blueprint("attachments", __name__)


def _back(instance_id: int, task_id: int | None):
    target = (
        url_for("tasks.show", task_id=task_id)
        if task_id
        else url_for("projects.show", instance_id=instance_id)
    )
    return redirect(target + "#attachments")


@bp.route("/projects/<int:instance_id>/attachments", methods=["POST"])
@login_required
def upload(instance_id: int):
    raw_task = request.form.get("task_id", "").strip()
    task_id = db_int_or_zero(raw_task) or None
    if raw_task and task_id is None:
        abort(400)
    if task_id and request.form.get("action") == "draft":
        typed = {
            k: v
            for k, v in form_fields(request.form).items()
            if k not in ("csrf_token", "task_id", "kind", "action")
        }
        task_service.task_save_draft(actor(), task_id, typed)
        flash(N_("已暂存表单中填写的内容。"))
    file = request.files.get("file")
    try:
        attachment_service.attachment_upload(
            actor(),
            instance_id,
            request.form.get("kind", ""),
            file.filename if file else "",
            file.read() if file else b"",
            task_id,
        )
    except ValidationFailed as failed:
        params = getattr(failed, "params", None) or {}
        for message in failed.errors.values():
            # Translated here: a flashed message carries no placeholders' values.
            flash(gettext(message, **params))
    else:
        flash(N_("附件已上传。"))
    return _back(instance_id, task_id)


@bp.route("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    filename, content_type, content = attachment_service.attachment_download(actor(), attachment_id)
    response = Response(content, mimetype=None, content_type=content_type)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Never rendered by the browser as a page of this site, never kept in shared caches.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the real (Chinese) name per RFC 5987/6266."""
    _, dot, ext = filename.rpartition(".")
    fallback = filename.encode("ascii", "ignore").decode().replace("\\", "_").replace('"', "_").strip()
    if not fallback or fallback.startswith("."):
        fallback = f"attachment{dot}{ext}" if dot and ext.isascii() else "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
