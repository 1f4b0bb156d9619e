"""JSON API for systems (e.g. the provincial 数智招商平台): /api/v1, token authentication.

`Authorization: Bearer <token>`; a token stands for one user (workflows/services/api_token_service),
so every call goes through the same service functions, and the same permission checks, as the
browser pages. Described by /api/v1/openapi.json (webapp/api/openapi.py). The filing exchange between
county and prefecture deployments lives under /api/v1/filings (webapp/api/filing_api.py), not here.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime

from flask import Blueprint, g, jsonify, request

from webapp.api.openapi import openapi_document
from webapp.denials import record_denial
from webapp.inputs import db_int, json_object
from workflows.errors import NotFound, ServiceError, ValidationFailed
from workflows.services import (
    api_token_service,
    inbox_service,
    metrics_service,
    process_service,
    project_service,
    task_service,
)

bp = Blueprint("service_api", __name__, url_prefix="/api/v1")


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return None
    return value


def _error(status: int, code: str, message: str, **extra):
    response = jsonify({"error": code, "message": message, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@bp.before_request
def _authenticate():
    if request.endpoint == "service_api.openapi":
        return None
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    actor = api_token_service.actor_for_token(token, request.remote_addr)
    if actor is None:
        return _error(401, "unauthorized", "缺少或无效的接口令牌。")
    g.api_actor = actor
    return None


MAX_ID = 2**31 - 1  # database integer ids; a larger one names nothing (and SQLite cannot even bind it)


@bp.url_value_preprocessor
def _ids_in_range(endpoint, values):
    for key in ("instance_id", "task_id"):
        if values and values.get(key, 0) > MAX_ID:
            raise NotFound("不存在。")


@bp.errorhandler(ServiceError)
def _service_error(err: ServiceError):
    extra = {"errors": err.errors} if isinstance(err, ValidationFailed) else {}
    code = {403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_failed"}.get(err.status, "error")
    if err.status == 403:

        record_denial(err.message, getattr(g.get("api_actor"), "username", None))
    return _error(err.status, code, err.message % err.params if err.params else err.message, **extra)


def _page() -> int:
    return min(request.args.get("page", 1, type=db_int), 10_000) or 1


@bp.route("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.route("/me")
def me():
    a = g.api_actor
    return jsonify({"username": a.username, "display_name": a.display_name, "unit": a.unit_name,
                    "organisation": a.org_name, "roles": sorted(a.roles)})


@bp.route("/projects")
def projects():
    return jsonify({"items": _plain(project_service.project_list(g.api_actor))})


@bp.route("/projects/<int:instance_id>")
def project(instance_id: int):
    detail = project_service.project_detail(g.api_actor, instance_id)
    return jsonify({"summary": _plain(detail.summary), "data": _plain(detail.data), "tasks": _plain(detail.tasks),
                    "filing": _plain(detail.filing), "model_version": detail.model_version})


@bp.route("/projects/<int:instance_id>/history")
def project_history(instance_id: int):
    detail = project_service.project_detail(g.api_actor, instance_id)
    return jsonify({"items": _plain(detail.history)})


@bp.route("/tasks")
def tasks():
    page = inbox_service.inbox_page(g.api_actor, inbox_service.InboxQuery(tab="todo", page=_page()))
    return jsonify({"items": _plain(page.tasks), "total": page.total, "page": page.query.page, "pages": page.pages})


@bp.route("/tasks/<int:task_id>")
def task(task_id: int):
    form = task_service.task_form(g.api_actor, task_id)
    return jsonify({"task": _plain(form.task), "schema": form.schema, "values": _plain(form.values),
                    "readonly": _plain(form.readonly), "claimed_by_me": form.claimed_by_me})


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
def task_claim(task_id: int):
    task_service.task_claim(g.api_actor, task_id)
    return jsonify({"task_id": task_id, "claimed": True})


def _form_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ValidationFailed({"data": "表单字段的值须为文字、数字、是/否或空"})


@bp.route("/tasks/<int:task_id>/complete", methods=["POST"])
def task_complete(task_id: int):
    """Claims the task for the token's user when nobody holds it, then submits the form data."""
    body = json_object(request.get_data(cache=True))
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ValidationFailed({"data": "请求体须为 {\"data\": {字段: 值}}"})
    submitted = {str(k): _form_value(v) for k, v in body["data"].items()}
    task_service.task_claim(g.api_actor, task_id)
    instance_id = task_service.task_complete(g.api_actor, task_id, submitted)
    return jsonify({"task_id": task_id, "instance_id": instance_id, "completed": True})


@bp.route("/processes")
def processes():
    """The processes the token's user may start in their county, each with its first form's schema."""
    items = []
    for process in process_service.startable_processes(g.api_actor):
        _, schema, _ = process_service.start_form(g.api_actor, process.process_id)
        items.append({**_plain(process), "schema": schema})
    return jsonify({"items": items})


@bp.route("/processes/<process_id>/instances", methods=["POST"])
def process_start(process_id: str):
    """Start an instance with the data of its first form (validated like the browser form)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ValidationFailed({"data": "请求体须为 {\"data\": {字段: 值}}"})
    submitted = {str(k): _form_value(v) for k, v in body["data"].items()}
    instance_id = process_service.process_start(g.api_actor, process_id, submitted)
    response = jsonify({"instance_id": instance_id, "process_id": process_id})
    response.status_code = 201
    return response


@bp.route("/metrics")
def metrics():
    data = metrics_service.dashboard(g.api_actor, request.args.get("period"),
                                     request.args.get("county", type=db_int) or None, with_charts=False)
    data.pop("period_choices", None)
    return jsonify(_plain(data))


def ledger(kind: str):
    data = metrics_service.ledger(g.api_actor, kind, {"q": request.args.get("q", "")},
                                  request.args.get("sort", ""), request.args.get("desc") == "1",
                                  request.args.get("county", type=db_int) or None)
    return jsonify({"title": data["title"], "columns": [{"key": k, "title": t} for k, t in data["columns"]],
                    "rows": _plain(data["rows"]), "totals": data["totals"]})


for _kind in metrics_service.LEDGERS:
    bp.add_url_rule(f"/ledgers/{_kind}", "ledger", ledger, defaults={"kind": _kind})
