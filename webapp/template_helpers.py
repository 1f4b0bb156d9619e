"""What every template may call besides Jinja's own: form and field helpers (workflows/forms.py), model
texts and action names in the user's language, the project's attachments, local times, and per request
the language, the path and the count of unread notifications."""
from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from webapp.i18n import error_text, form_text, list_columns, select_locale
from webapp.i18n_extra import action_name
from webapp.session_user import actor
from workflows import auth
from workflows.errors import Forbidden
from workflows.forms import (
    base_type,
    file_fields,
    is_file_field,
    is_file_reference,
    option_pairs,
    option_title,
    path_title,
)
from workflows.localtime import to_local
from workflows.roles import ADMINISTRATORS
from workflows.services import attachment_service, task_operations


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(
        pipeline_visible=pipeline_visible,
        administrators=ADMINISTRATORS,
        form_text=form_text,
        list_columns=list_columns,
        error_text=error_text,
        field_type=base_type,
        option_title=option_title,
        option_pairs=option_pairs,
        is_file_field=is_file_field,
        file_fields=file_fields,
        is_file_reference=is_file_reference,
        field_label=path_title,
        action_name=action_name,
        project_attachments=project_attachments,
        attachment_rules=attachment_rules(),
    )
    app.jinja_env.filters["local"] = local_time

    @app.context_processor
    def _globals():
        unread = task_operations.unread_count(current_user.actor) if current_user.is_authenticated else 0
        return {"lang": select_locale(), "request_path": request.path, "unread_notifications": unread}


def local_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return to_local(value).strftime(fmt) if value else ""


def pipeline_visible() -> bool:
    """For the menu: whether the signed-in user may open the dashboard (workflows.auth.dashboard_view)."""
    return current_user.is_authenticated and auth.dashboard_view(current_user.actor)


def project_attachments(instance_id: int, task_id: int | None = None) -> tuple[list[dict] | None, bool]:
    """For templates: (the project's attachments, or None if the user may not see them; whether the
    user may upload here — on the task `task_id` if given)."""
    try:
        attachments = attachment_service.attachment_list(actor(), instance_id)
    except Forbidden:
        attachments = None
    return attachments, attachment_service.attachment_may_upload(actor(), instance_id, task_id)


def attachment_rules() -> dict:
    a = attachment_service
    return {"kinds": a.KINDS, "accept": ",".join(f".{ext}" for ext in a.TYPES), "limit": a.human_size(a.MAX_SIZE)}
