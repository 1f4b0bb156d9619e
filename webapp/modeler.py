"""The browser process editor (系统管理员): a version's BPMN, DMN and forms in bpmn-js, dmn-js and a form
editor (webapp/static/modeler/, built from webapp/modeler/); validate, save a draft, deploy."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required

from webapp.inputs import db_int_or_zero
from webapp.session_user import actor
from workflows.errors import ServiceError, ValidationFailed
from workflows.localtime import to_local
from workflows.services import modeler_service

bp = Blueprint("modeler", __name__, url_prefix="/admin/versions")


def _labels() -> dict[str, str]:
    return {
        "groupForm": gettext("表单"),
        "formSchema": gettext("表单定义（JSON Schema）"),
        "formUi": gettext("表单布局（UI Schema）"),
        "instructions": gettext("办理说明"),
        "instructionsHelp": gettext("Markdown，可用 {{ 变量 }} 引用任务数据"),
        "groupScripts": gettext("前后脚本"),
        "preScript": gettext("前置脚本"),
        "postScript": gettext("后置脚本"),
        "script": gettext("脚本"),
        "groupDecision": gettext("决策表"),
        "decision": gettext("调用的决策 id"),
        "groupOperator": gettext("服务操作"),
        "operator": gettext("操作"),
        "resultVariable": gettext("结果变量"),
        "parameter": gettext("参数"),
        "condition": gettext("条件表达式"),
        "conditionHelp": gettext("Python 表达式，为真时走这条连线"),
        "groupLane": gettext("业务角色"),
        "laneRole": gettext("泳道对应的业务角色"),
        "laneRoleHelp": gettext("泳道中的任务由持有该角色的用户办理"),
        "groupProperties": gettext("任务属性"),
        "notFound": gettext("未找到元素"),
        "validating": gettext("正在校验……"),
        "valid": gettext("校验通过，可以部署。"),
        "saving": gettext("正在保存草稿……"),
        "saved": gettext("草稿已保存。"),
        "deploying": gettext("正在部署……"),
        "toVersions": gettext("返回流程版本"),
        "serverError": gettext("服务器未能处理请求"),
    }


def _json_body() -> dict:
    """The request's JSON object ({} for anything else: the service then says what is missing)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _failed(err: ServiceError):
    messages = (
        list(err.errors.values())
        if isinstance(err, ValidationFailed)
        else [gettext(err.message, **err.params)]
    )
    return jsonify({"errors": messages}), err.status


@bp.route("/<int:version_id>/edit")
@login_required
def editor(version_id: int):
    opened = modeler_service.editor_open(actor(), version_id)
    return render_template(
        "admin/modeler.html", v=opened["version"], counties=opened["counties"], draft=opened["draft"]
    )


@bp.route("/<int:version_id>/edit/files")
@login_required
def files(version_id: int):
    opened = modeler_service.editor_open(actor(), version_id)
    draft = opened["draft"]
    return jsonify(
        {
            "files": opened["files"],
            "main": opened["main"],
            "draft": gettext(
                "已打开您于 %(at)s 保存的草稿（基于 #%(id)s）。",
                at=to_local(draft["saved_at"]).strftime("%Y-%m-%d %H:%M"),
                id=draft["base_version_id"],
            )
            if draft
            else None,
            "config": {"operators": opened["operators"], "roles": opened["roles"], "labels": _labels()},
        }
    )


@bp.route("/<int:version_id>/edit/validate", methods=["POST"])
@login_required
def validate(version_id: int):
    try:
        errors = modeler_service.editor_validate(actor(), version_id, _json_body().get("files"))
    except ServiceError as err:
        return _failed(err)
    return jsonify({"ok": not errors, "errors": errors})


@bp.route("/<int:version_id>/edit/draft", methods=["POST"])
@login_required
def draft_save(version_id: int):
    try:
        saved = modeler_service.draft_save(actor(), version_id, _json_body().get("files"))
    except ServiceError as err:
        return _failed(err)
    at = to_local(saved["saved_at"]).strftime("%Y-%m-%d %H:%M:%S")
    return jsonify(
        {"saved_at": at, "message": gettext("草稿已保存（%(at)s）；部署前进行中的流程不受影响。", at=at)}
    )


@bp.route("/<int:version_id>/edit/draft/discard", methods=["POST"])
@login_required
def draft_discard(version_id: int):
    modeler_service.draft_discard(actor(), version_id)
    flash(gettext("已放弃草稿。"))
    return redirect(url_for("modeler.editor", version_id=version_id))


@bp.route("/<int:version_id>/edit/deploy", methods=["POST"])
@login_required
def deploy(version_id: int):
    try:
        body = _json_body()
        bind = body.get("bind") or []
        note = body.get("note") if isinstance(body.get("note"), str) else ""
        ids = modeler_service.editor_deploy(
            actor(),
            version_id,
            body.get("files"),
            note,
            [db_int_or_zero(str(b)) for b in bind] if isinstance(bind, list) else None,
        )
    except ServiceError as err:
        return _failed(err)
    return jsonify(
        {
            "ids": ids,
            "message": gettext(
                "已部署流程版本 %(ids)s；进行中的流程实例继续使用原版本。",
                ids="、".join(f"#{i}" for i in ids),
            ),
        }
    )


@bp.route("/form-preview", methods=["POST"])
@login_required
def form_preview():
    try:
        body = _json_body()
        schema, ui = modeler_service.form_preview(actor(), body.get("schema"), body.get("uischema"))
        html = render_template("admin/_form_preview.html", schema=schema, uischema=ui)
    except ServiceError as err:
        return _failed(err)
    except Exception:  # noqa: BLE001 - a schema the form template cannot lay out is the model's problem
        return jsonify({"errors": [gettext("该表单定义无法预览")]}), 422
    return jsonify({"html": html})
