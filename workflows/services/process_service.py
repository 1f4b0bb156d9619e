"""Start any process bound for the user's county whose start lane (its first task's lane) they hold:
the 发起 page and POST /api/v1/processes/<process_id>/instances. The model decides everything: its
name and documentation, who starts it, and the first form the start data must fit."""
from __future__ import annotations

from sqlalchemy.orm import Session

from workflows import auth, forms
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine import model_store
from workflows.engine.model_store import form_files
from workflows.errors import NotFound, ValidationFailed
from workflows.models import ModelVersion
from workflows.rendering.instructions import render_instructions
from workflows.services import attachment_service
from workflows.services.instance_step import first_task, start_instance
from workflows.services.value_objects import StartableProcess


def _startable(version: ModelVersion) -> StartableProcess:
    first = first_task(version)
    return StartableProcess(version.process_id, version.name or version.process_id, version.description or "",
                            version.purpose, version.number, first.title,
                            render_instructions(first.instructions, dict(first.data)))


def startable_processes(actor: Actor) -> list[StartableProcess]:
    """The processes bound for the user's county that the user may start, in purpose order."""
    with transaction() as s:
        return [_startable(v) for v in model_store.bound_versions(s, actor.org_id)
                if auth.process_start(actor, first_task(v).lane)]


def _version(s: Session, actor: Actor, process_id: str) -> ModelVersion:
    auth.require(actor.org_kind == "county", "只有县（市、区）的用户可以发起流程。")
    version = next((v for v in model_store.bound_versions(s, actor.org_id) if v.process_id == process_id), None)
    if version is None:
        raise NotFound("本县（市、区）没有可发起的该流程。")
    auth.require(auth.process_start(actor, first_task(version).lane), "您没有发起该流程的权限（须具有其第一个任务所在泳道的角色）。")
    return version


def _form(version: ModelVersion) -> tuple[dict, dict]:
    return form_files(version, first_task(version).form)


def start_form(actor: Actor, process_id: str) -> tuple[StartableProcess, dict, dict]:
    """(the process, schema, uischema) of the first task's form of a process the user may start."""
    with transaction() as s:
        version = _version(s, actor, process_id)
        return (_startable(version), *_form(version))


def process_start(actor: Actor, process_id: str, submitted: dict,
                  files: dict[str, tuple[str, bytes]] | None = None) -> int:
    """Start an instance on the county's bound version and complete its first task with the
    submitted form data (validated against the first task's form), in one step; returns its id.
    The form's file fields (`files`: field → (file name, bytes)) are checked and stored as the new
    project's attachments, the data keeping references (as on any task)."""
    with transaction() as s:
        version = _version(s, actor, process_id)
        schema, uischema = _form(version)
        typed, uploads, errors = attachment_service.check_form_files(schema, uischema, submitted, files or {}, {})
        try:
            values = forms.validate(schema, typed, {})
        except ValidationFailed as failed:
            raise ValidationFailed({**failed.errors, **errors}) from None
        if errors:
            raise ValidationFailed(errors)

        def with_files(instance):  # the instance exists, the engine has not run yet
            return attachment_service.store_form_files(s, actor, instance, None, schema, uischema, uploads, {})

        instance = start_instance(
            s, actor, version, values, {**values, "started_by": actor.username, "county": actor.org_name},
            project_name=version.name or version.process_id, investor="", prepare=with_files)
        return instance.id
