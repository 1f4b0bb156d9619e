"""Process-model versions: the BPMN/DMN/form files are stored once per content hash and parsed once."""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.models import ModelVersion

PROCESS_ID = "investment_project"  # the main process; a version holds every process in bpmn/
PROCESSES = ("investment_project", "investor_complaint")  # processes people start from the web app
ROOT = Path(os.environ.get("ZS_MODEL_ROOT", Path(__file__).resolve().parents[2]))


def read_model_files(root: Path | None = None) -> dict[str, str]:
    """The deployable files: bpmn/*.bpmn, bpmn/*.dmn, forms/*.json (names without folders are unique)."""
    root = root or ROOT
    files: dict[str, str] = {}
    for pattern in ("bpmn/*.bpmn", "bpmn/*.dmn", "forms/*-schema.json", "forms/*-uischema.json"):
        for path in sorted(root.glob(pattern)):
            files[f"{path.parent.name}/{path.name}"] = path.read_text(encoding="utf-8")
    return files


def content_hash(files: dict[str, str]) -> str:
    blob = json.dumps(files, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def ensure_current_version(session: Session, deployed_by: str = "system") -> ModelVersion:
    """The version new instances start on: the newest deployed one. The files on disk are deployed
    first when they are new (an administrator may also deploy a version from the browser)."""
    files = read_model_files()
    digest = content_hash(files)
    if session.scalars(select(ModelVersion.id).where(ModelVersion.content_hash == digest)).first() is None:
        parse_specs(digest, json.dumps(files))  # refuse to deploy what does not parse
        _store(session, files, digest, deployed_by, None)
    return current_version(session)


def current_version(session: Session) -> ModelVersion:
    return session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()).limit(1)).one()


def _store(session: Session, files: dict[str, str], digest: str, deployed_by: str, note: str | None) -> ModelVersion:
    try:
        with session.begin_nested():  # several workers may store the same new version at once
            version = ModelVersion(process_id=PROCESS_ID, content_hash=digest, files=files,
                                   deployed_by=deployed_by, note=note)
            session.add(version)
    except IntegrityError:
        version = session.scalars(select(ModelVersion).where(ModelVersion.content_hash == digest)).one()
    return version


def validate_files(files: dict[str, str]) -> list[str]:
    """Why a set of model files cannot be deployed (empty when it can): names, JSON, schemas, BPMN
    and DMN that parse, the processes people start, and a form file for every user task."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    errors = []
    for name in files:
        folder, _, base = name.partition("/")
        if not ((folder == "bpmn" and base.endswith((".bpmn", ".dmn"))) or
                (folder == "forms" and base.endswith(("-schema.json", "-uischema.json")))):
            errors.append(f"{name}：只能部署 bpmn/*.bpmn、bpmn/*.dmn、forms/*-schema.json、forms/*-uischema.json")
    for name, text in files.items():
        if name.endswith(".json"):
            try:
                schema = json.loads(text)
                if name.endswith("-schema.json"):
                    Draft202012Validator.check_schema(schema)
            except (ValueError, SchemaError) as err:
                errors.append(f"{name}：不是有效的 JSON Schema（{str(err).splitlines()[0]}）")
    if errors:
        return errors
    try:
        specs = parse_specs(content_hash(files), json.dumps(files, sort_keys=True))
    except Exception as err:  # noqa: BLE001 - the parser's message is what the administrator needs
        return [f"BPMN/DMN 无法解析：{str(err).splitlines()[0]}"]
    for pid in PROCESSES:
        if pid not in specs:
            errors.append(f"缺少流程 {pid}")
    for pid, (spec, _) in specs.items():
        for task_spec in spec.task_specs.values():
            form = task_spec.extensions.get("properties", {}).get("formJsonSchemaFilename") \
                if hasattr(task_spec, "extensions") else None
            if form and f"forms/{form}" not in files:
                errors.append(f"{pid} 的任务 {task_spec.bpmn_id} 引用的表单 forms/{form} 不存在")
    return errors


def deploy(session: Session, files: dict[str, str], deployed_by: str, note: str | None = None) -> ModelVersion:
    """Store a new version after it validates; it becomes the version new instances start on."""
    errors = validate_files(files)
    if errors:
        raise ValueError(errors)
    digest = content_hash(files)
    existing = session.scalars(select(ModelVersion).where(ModelVersion.content_hash == digest)).first()
    if existing is not None:
        raise ValueError([f"与已部署的版本 #{existing.id}（{digest[:12]}）内容相同"])
    return _store(session, files, digest, deployed_by, note)


@lru_cache(maxsize=32)
def parse_specs(digest: str, files_json: str) -> dict[str, tuple]:
    """{process id: (spec, subprocess_specs)} for one model version; cached by its content hash."""
    files = json.loads(files_json)
    parser = SpiffBpmnParser()
    for name, text in files.items():
        if name.endswith(".bpmn"):
            parser.add_bpmn_xml(etree.fromstring(text.encode("utf-8")), filename=name)
        elif name.endswith(".dmn"):
            parser.add_dmn_xml(etree.fromstring(text.encode("utf-8")), filename=name)
    return {pid: (parser.get_spec(pid), parser.get_subprocess_specs(pid))
            for pid in parser.get_process_ids() if pid in PROCESSES}


def specs_for(version: ModelVersion, process_id: str = PROCESS_ID):
    specs = parse_specs(version.content_hash, json.dumps(version.files, sort_keys=True))
    if process_id not in specs:
        raise LookupError(f"model version {version.content_hash[:12]} has no process {process_id}")
    return specs[process_id]


def form_files(version: ModelVersion, form: str) -> tuple[dict, dict]:
    """(schema, uischema) of a form as pinned in this version."""
    schema = json.loads(version.files[f"forms/{form}-schema.json"])
    ui = version.files.get(f"forms/{form}-uischema.json")
    return schema, json.loads(ui) if ui else {}


def all_form_schemas(version: ModelVersion) -> list[dict]:
    """Every form schema of the version, in file-name order."""
    return [json.loads(text) for name, text in sorted(version.files.items()) if name.endswith("-schema.json")]
