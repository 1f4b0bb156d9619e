"""The browser process editor: an administrator opens a deployed version's files, validates an edit
with the checks a deployment makes, keeps it as a draft (one per user and process) and deploys it as
a new version of the process (running instances stay on theirs)."""

from __future__ import annotations

import json

from sqlalchemy import CursorResult, delete, select

from workflows import audit, auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine import model_store
from workflows.errors import NotFound, ValidationFailed
from workflows.models import BusinessRole, ModelDraft, ModelVersion
from workflows.models._types import utcnow
from workflows.roles import ADMIN_ROLES
from workflows.services import model_service, operator_registry

MAX_FILES = 200
MAX_BYTES = 8 * 1024 * 1024


def _files(value) -> dict[str, str]:
    """The files an edit sends: {name: text}, within bounds (a clear 422 otherwise)."""
    if not isinstance(value, dict) or not value:
        raise ValidationFailed({"files": "请求中没有模型文件"})
    if len(value) > MAX_FILES:
        raise ValidationFailed({"files": "模型文件过多"})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationFailed({"files": "模型文件必须是文本"})
    if sum(len(k) + len(v.encode("utf-8")) for k, v in value.items()) > MAX_BYTES:
        raise ValidationFailed({"files": "模型文件过大"})
    if any("\x00" in v for v in value.values()):
        raise ValidationFailed({"files": "模型文件含有无效字符"})
    return dict(value)


def _version(s, version_id: int) -> ModelVersion:
    version = s.get(ModelVersion, version_id)
    if version is None:
        raise NotFound("流程模型版本不存在。")
    return version


def _draft(s, actor: Actor, process_id: str) -> ModelDraft | None:
    return s.scalar(
        select(ModelDraft).where(ModelDraft.username == actor.username, ModelDraft.process_id == process_id)
    )


def editor_open(actor: Actor, version_id: int) -> dict:
    """What the editor loads: the version's files (or the user's draft of its process), the process's
    main BPMN file, the operators a service task may call and the business roles a lane may name."""
    auth.require(auth.model_edit(actor), "只有系统管理员可以编辑流程模型。")
    with transaction() as s:
        version = _version(s, version_id)
        draft = _draft(s, actor, version.process_id)
        files = dict(draft.files if draft is not None else version.files)
        # Older versions name their multi-instance collections without declaring them: declare them
        # so that the editor (a standard bpmn.io one) keeps them when it saves.
        files = {
            n: model_store.declare_loop_collections(t) if n.endswith(".bpmn") else t for n, t in files.items()
        }
        main = next(
            (
                n
                for n, t in sorted(files.items())
                if n.endswith(".bpmn") and f'id="{version.process_id}"' in t
            ),
            None,
        )
        roles = [
            {"code": r.code, "label": r.name}
            for r in s.scalars(select(BusinessRole).order_by(BusinessRole.id))
        ]
        roles += [{"code": r, "label": r} for r in sorted(ADMIN_ROLES) if r not in {x["code"] for x in roles}]
        return {
            "version": {
                "id": version.id,
                "process_id": version.process_id,
                "number": version.number,
                "name": version.name,
            },
            "files": dict(sorted(files.items())),
            "main": main,
            "draft": None
            if draft is None
            else {"saved_at": draft.saved_at, "base_version_id": draft.base_version_id},
            "operators": sorted(operator_registry.names()),
            "roles": roles,
            "counties": [(c.id, c.name) for c in model_store.counties(s)],
        }


def editor_validate(actor: Actor, version_id: int, files) -> list[str]:
    """Why the edited files cannot be deployed as a new version of the process (empty: they can)."""
    auth.require(auth.model_edit(actor), "只有系统管理员可以编辑流程模型。")
    files = _files(files)
    with transaction() as s:
        version = _version(s, version_id)
        return _problems(s, version, files)


def _problems(s, version: ModelVersion, files: dict[str, str]) -> list[str]:
    errors = model_store.check_files(s, files, operator_registry.names())
    if not errors and version.process_id not in model_store.processes_in(files):
        errors = [f"模型中没有流程 {version.process_id}（流程 id 不能在编辑器中修改）"]
    return errors


def draft_save(actor: Actor, version_id: int, files) -> dict:
    """Keep the edit as the user's draft of the process (replacing an earlier one); it need not validate."""
    auth.require(auth.model_edit(actor), "只有系统管理员可以编辑流程模型。")
    files = _files(files)
    with transaction() as s:
        version = _version(s, version_id)
        draft = _draft(s, actor, version.process_id)
        if draft is None:
            draft = ModelDraft(
                username=actor.username,
                process_id=version.process_id,
                base_version_id=version.id,
                files=files,
            )
            s.add(draft)
        draft.files = files
        draft.base_version_id = version.id
        draft.saved_at = utcnow()
        s.flush()
        audit.append(
            s,
            "model_draft_saved",
            actor=actor.username,
            role="admin",
            data={"process": version.process_id, "base_version_id": version.id, "files": sorted(files)},
            outcome=version.process_id,
            address=actor.address,
        )
        return {"saved_at": draft.saved_at, "process_id": version.process_id}


def draft_discard(actor: Actor, version_id: int) -> bool:
    """Forget the user's draft of the version's process; True when there was one."""
    auth.require(auth.model_edit(actor), "只有系统管理员可以编辑流程模型。")
    with transaction() as s:
        version = _version(s, version_id)
        result = s.execute(
            delete(ModelDraft).where(
                ModelDraft.username == actor.username, ModelDraft.process_id == version.process_id
            )
        )
        assert isinstance(result, CursorResult)  # a DELETE's result counts its rows
        return bool(result.rowcount)


def editor_deploy(
    actor: Actor, version_id: int, files, note: str = "", bind_to: list[int] | None = None
) -> list[int]:
    """Deploy the edited process as its new version through the deploy service (the same checks and
    audit); only this process gets a version, bound to the counties chosen. The draft is removed."""
    auth.require(auth.model_deploy(actor), "只有管理员可以部署流程模型。")
    files = _files(files)
    if bind_to is None:
        raise ValidationFailed({"bind": "请选择要绑定的县（市、区）"})
    with transaction() as s:
        version = _version(s, version_id)
        errors = _problems(s, version, files)
        if errors:
            raise ValidationFailed({"files": "；".join(errors)})
        # only what the process runs from becomes the version (other processes in the files are ignored)
        model = model_store.processes_in(files)[version.process_id]
        created = model_service.deploy_files(
            s, actor, model.files, note or f"在线编辑自 v{version.number}", [version.process_id], bind_to
        )
        s.execute(
            delete(ModelDraft).where(
                ModelDraft.username == actor.username, ModelDraft.process_id == version.process_id
            )
        )
        return [v.id for v in created]


def form_preview(actor: Actor, schema_text: str, ui_text: str) -> tuple[dict, dict]:
    """The form's JSON Schema and UI schema, parsed and checked, for the server to render as a task
    page would (a clear 422 with the reason when they are not valid)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    auth.require(auth.model_edit(actor), "只有系统管理员可以编辑流程模型。")
    if not isinstance(schema_text, str) or not isinstance(ui_text, str | None):
        raise ValidationFailed({"schema": "请求中没有表单定义"})
    try:
        schema = json.loads(schema_text or "{}")
        ui = json.loads(ui_text or "{}")
    except (TypeError, ValueError) as err:
        raise ValidationFailed({"schema": f"不是有效的 JSON（{str(err).splitlines()[0]}）"}) from err
    if not isinstance(schema, dict) or not isinstance(ui, dict):
        raise ValidationFailed({"schema": "表单定义必须是 JSON 对象"})
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        raise ValidationFailed({"schema": f"不是有效的 JSON Schema（{str(err).splitlines()[0]}）"}) from err
    if not isinstance(schema.get("properties", {}), dict):
        raise ValidationFailed({"schema": "properties 必须是对象"})
    return schema, ui
