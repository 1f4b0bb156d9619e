"""Process models are data: each BPMN process is deployed and versioned on its own, and each county
binds a purpose ("investment", "complaint", or whatever a model declares) to one process version.

A deployment carries one or more processes with the DMN and forms they use; every process in it gets
a version row of its own holding exactly the files it runs from, so deploying one process leaves the
others alone. Running instances stay on the version they started with. The models shipped in `bpmn/`
and `forms/` are only *offered* (`offered_processes`); an administrator deploys them, and first-time
setup deploys and binds them explicitly (`deploy_shipped`). A code upgrade never changes a binding.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.engine import vocabulary
from workflows.engine.model_checks import (  # noqa: F401 - CAPABILITIES re-exported
    CAPABILITIES,
    capabilities_of,
    code_problems,
    personal_reads,
)
from workflows.models import BusinessRole, ModelVersion, Organisation, ProcessBinding
from workflows.models._types import utcnow
from workflows.rendering.documents import KINDS as DOCUMENT_TITLES
from workflows.rendering.documents.declarations import problems as document_problems
from workflows.roles import ADMIN_ROLES

# Purposes the application's own pages serve; a model declares its purpose with the process-level
# extension property `purpose` (a model without one serves a purpose named after its process id).
INVESTMENT = "investment"
COMPLAINT = "complaint"

ROOT = Path(os.environ.get("ZS_MODEL_ROOT", Path(__file__).resolve().parents[2]))
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
)
FORM_PROPERTIES = ("formJsonSchemaFilename", "formUiSchemaFilename")


@dataclass(frozen=True)
class ProcessModel:
    """One executable process of a set of model files, with the files it runs from."""

    process_id: str
    name: str
    description: str
    purpose: str
    files: dict[str, str]
    # Counties first-time setup binds to this process (process property `shippedFor`, county names separated
    # by commas); empty: every county not named by another process of the same purpose.
    shipped_for: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        return content_hash(self.files, self.process_id)


def read_model_files(root: Path | None = None) -> dict[str, str]:
    """The deployable files: bpmn/*.bpmn, bpmn/*.dmn, the translations beside them (bpmn/<name>.<lang>.json)
    and forms/*.json (names without folders are unique)."""
    root = root or ROOT
    files: dict[str, str] = {}
    for pattern in (
        "bpmn/*.bpmn",
        "bpmn/*.dmn",
        "bpmn/*.json",
        "forms/*-schema.json",
        "forms/*-uischema.json",
    ):
        for path in sorted(root.glob(pattern)):
            name = f"{path.parent.name}/{path.name}"
            if pattern != "bpmn/*.json" or vocabulary.is_translation_file(name):
                files[name] = path.read_text(encoding="utf-8")
    return files


def content_hash(files: dict[str, str], process_id: str | None = None) -> str:
    """The hash a version is known by: its files (and, for a process version, the process id)."""
    content = files if process_id is None else {"files": files, "process": process_id}
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


# --- reading the processes of a set of files (XML only; parsing is parse_specs') -----------------


def _xml(text: str):
    return etree.fromstring(text.encode("utf-8"))


def _properties(element) -> dict[str, str]:
    """The spiffworkflow:property values directly under an element's extensionElements."""
    found = element.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property")
    return {p.get("name"): p.get("value", "") for p in found}


def processes_in(files: dict[str, str]) -> dict[str, ProcessModel]:
    """{process id: ProcessModel} for every executable process the files define."""
    return _processes(json.dumps(files, sort_keys=True, ensure_ascii=False))


@lru_cache(maxsize=64)
def _processes(files_json: str) -> dict[str, ProcessModel]:
    files = json.loads(files_json)
    elements, file_of, decisions = _index(files)
    result = {}
    for pid, process in elements.items():
        if process.get("isExecutable", "true") != "true":
            continue
        subset: dict[str, str] = {}
        for current in _called_closure(pid, elements):
            subset |= _files_of_process(files, elements[current], file_of[current], decisions)
        documentation = process.find(f"{{{BPMN_NS}}}documentation")
        shipped_for = _properties(process).get("shippedFor", "").replace("，", ",").split(",")
        result[pid] = ProcessModel(
            process_id=pid,
            name=process.get("name") or pid,
            description=(documentation.text or "").strip() if documentation is not None else "",
            purpose=_properties(process).get("purpose") or pid,
            files=dict(sorted(subset.items())),
            shipped_for=tuple(n.strip() for n in shipped_for if n.strip()),
        )
    return result


def _index(files: dict[str, str]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """({process id: element}, {process id: its BPMN file}, {decision id: its DMN file})."""
    elements, file_of, decisions = {}, {}, {}
    for name, text in files.items():
        if name.endswith(".bpmn"):
            for process in _xml(text).iter(f"{{{BPMN_NS}}}process"):
                elements[process.get("id")] = process
                file_of[process.get("id")] = name
        elif name.endswith(".dmn"):
            for ns in DMN_NAMESPACES:
                for decision in _xml(text).iter(f"{{{ns}}}decision"):
                    decisions[decision.get("id")] = name
    return elements, file_of, decisions


def _called_closure(pid: str, elements: dict[str, Any]) -> set[str]:
    """The process and the processes its call activities call, and so on."""
    used: set[str] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        if current in used or current not in elements:
            continue
        used.add(current)
        todo += [c.get("calledElement") for c in elements[current].iter(f"{{{BPMN_NS}}}callActivity")]
    return used


def _files_of_process(
    files: dict[str, str], element, bpmn_file: str, decisions: dict[str, str]
) -> dict[str, str]:
    """The files one process needs: its BPMN file and its translations, the DMN files of the decisions
    it calls, the forms its tasks name."""
    subset = {bpmn_file: files[bpmn_file]}
    for translation in vocabulary.translation_files_of(files, bpmn_file):
        subset[translation] = files[translation]
    for called in element.iter(f"{{{SPIFF_NS}}}calledDecisionId"):
        if (called.text or "").strip() in decisions:
            dmn = decisions[called.text.strip()]
            subset[dmn] = files[dmn]
    for prop in element.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") in FORM_PROPERTIES and f"forms/{prop.get('value')}" in files:
            subset[f"forms/{prop.get('value')}"] = files[f"forms/{prop.get('value')}"]
    return subset


# --- validating and deploying -----------------------------------------------------------------


def lanes_in(files: dict[str, str]) -> dict[str, list[str]]:
    """{process id: the names of its lanes} for the executable processes of the files."""
    lanes = {}
    for name, text in files.items():
        if name.endswith(".bpmn"):
            for process in _xml(text).iter(f"{{{BPMN_NS}}}process"):
                lanes[process.get("id")] = [
                    lane.get("name") or lane.get("id") for lane in process.iter(f"{{{BPMN_NS}}}lane")
                ]
    return lanes


def unknown_lanes(files: dict[str, str], known_roles: set[str]) -> list[str]:
    """Why the lanes cannot run: each lane must name a business role (tasks outside any lane go to
    the instance's initiator)."""
    return [
        f"流程 {pid} 的泳道“{lane}”不是已有的业务角色（请先在“系统管理”新建该角色，或改用已有角色代码）"
        for pid, lanes in lanes_in(files).items()
        for lane in lanes
        if lane not in known_roles
    ]


def known_role_codes(session: Session) -> set[str]:
    """The roles a lane may name: the business roles in the database and the administrative ones."""
    return set(session.scalars(select(BusinessRole.code))) | set(ADMIN_ROLES)


def validate_files(files: dict[str, str]) -> list[str]:
    """Why a set of model files cannot be deployed (empty when it can): names, JSON, schemas, BPMN
    and DMN that parse, at least one executable process, a form file for every user task, and each
    process complete with the files it uses."""
    errors = _file_name_problems(files)
    ui_files = ui_schema_names(files) if not errors else set()
    errors += vocabulary.problems(files)
    errors += _form_file_problems(files, ui_files)
    if errors:
        return errors
    try:
        specs = parse_specs(content_hash(files), json.dumps(files, sort_keys=True))
        models = processes_in(files)
    except Exception as err:  # noqa: BLE001 - the parser's message is what the administrator needs
        return [f"BPMN/DMN 无法解析：{str(err).splitlines()[0]}"]
    if not models:
        return ['没有可执行的流程（bpmn:process isExecutable="true"）']
    return _missing_forms(specs, files) or _standalone_problems(models)


def _file_name_problems(files: dict[str, str]) -> list[str]:
    errors = []
    for name in files:
        folder, _, base = name.partition("/")
        if not (
            (folder == "bpmn" and base.endswith((".bpmn", ".dmn")))
            or vocabulary.is_translation_file(name)
            or (folder == "forms" and base.endswith(".json"))
        ):
            errors.append(
                f"{name}：只能部署 bpmn/*.bpmn、bpmn/*.dmn、bpmn/<流程文件名>.<语言>.json（翻译）、"
                "forms/*.json"
            )
    return errors


def _form_file_problems(files: dict[str, str], ui_files: set[str]) -> list[str]:
    """Each form file is JSON; each that is not a UI schema is a JSON Schema with well-formed outcomes."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    from workflows.forms import outcome_problems

    errors = []
    for name, text in files.items():
        if name.startswith("forms/") and name.endswith(".json"):
            try:
                schema = json.loads(text)
                if name not in ui_files:
                    Draft202012Validator.check_schema(schema)
                    errors += [f"{name}：{problem}" for problem in outcome_problems(schema)]
            except (ValueError, SchemaError) as err:
                errors.append(f"{name}：不是有效的 JSON Schema（{str(err).splitlines()[0]}）")
    return errors


def _missing_forms(specs: dict[str, tuple], files: dict[str, str]) -> list[str]:
    errors = []
    for pid, (spec, subprocesses) in specs.items():
        for task_spec in [
            *spec.task_specs.values(),
            *(t for sub in subprocesses.values() for t in sub.task_specs.values()),
        ]:
            props = task_spec.extensions.get("properties", {}) if hasattr(task_spec, "extensions") else {}
            for key in FORM_PROPERTIES:
                form = props.get(key)
                if form and f"forms/{form}" not in files:
                    errors.append(f"{pid} 的任务 {task_spec.bpmn_id} 引用的表单 forms/{form} 不存在")
    return errors


def _standalone_problems(models: dict[str, ProcessModel]) -> list[str]:
    errors = []
    for pid, model in models.items():
        try:  # each process runs from its own files: a version must not depend on the others
            specs_for_files(model.files, pid)
        except Exception as err:  # noqa: BLE001
            errors.append(f"流程 {pid} 无法单独解析：{str(err).splitlines()[0]}")
    return errors


def check_files(session: Session, files: dict[str, str], operators: Iterable[str] | None = None) -> list[str]:
    """Every check a deployment makes, without deploying (empty: the files can be deployed): the
    files validate, every lane is a business role, every script compiles, every operator exists, no
    code reads a personal field (x-personal) and the documents the model declares are well formed."""
    return (
        validate_files(files)
        or unknown_lanes(files, known_role_codes(session))
        or code_problems(
            specs := parse_specs(content_hash(files), json.dumps(files, sort_keys=True)), operators
        )
        or personal_reads(specs, files)
        or document_problems(files, DOCUMENT_TITLES)
    )


def declare_loop_collections(text: str) -> str:
    """The BPMN with a process-level `bpmn:property` declared for every multi-instance collection
    (loopDataInputRef / loopDataOutputRef) that names a task-data variable no element declares.

    SpiffWorkflow reads those references as variable names; BPMN wants the id of an item-aware
    element, so a standard bpmn.io editor drops an undeclared one when it saves. A declared one
    resolves and is kept, and SpiffWorkflow ignores process properties. Text with nothing to
    declare comes back unchanged."""
    root = _xml(text)
    ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    changed = False
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        missing = []
        for tag in ("loopDataInputRef", "loopDataOutputRef"):
            for ref in process.iter(f"{{{BPMN_NS}}}{tag}"):
                name = (ref.text or "").strip()
                if name and name not in ids and name not in missing:
                    missing.append(name)
        if not missing:
            continue
        at = 0  # after documentation / extensionElements / the properties already there
        for i, child in enumerate(process):
            if isinstance(child.tag, str) and etree.QName(child).localname in (
                "documentation",
                "extensionElements",
                "auditing",
                "monitoring",
                "property",
            ):
                at = i + 1
        for offset, name in enumerate(missing):
            prop = etree.Element(f"{{{BPMN_NS}}}property", id=name, name=name)
            prop.tail = "\n    "
            process.insert(at + offset, prop)
            ids.add(name)
        changed = True
    if not changed:
        return text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def deploy(
    session: Session,
    files: dict[str, str],
    deployed_by: str,
    note: str | None = None,
    process_ids: list[str] | None = None,
    operators: Iterable[str] | None = None,
) -> list[ModelVersion]:
    """Store a new version of each process in the files (or of `process_ids` only) after they
    validate; processes identical to a deployed version are left as they are. Returns the new rows.
    Nothing is bound: `bind` says which county runs which version."""
    errors = check_files(session, files, operators)
    if errors:
        raise ValueError(errors)
    models = processes_in(files)
    if process_ids is not None:
        unknown = [pid for pid in process_ids if pid not in models]
        if unknown:
            raise ValueError([f"模型中没有流程 {pid}" for pid in unknown])
        models = {pid: models[pid] for pid in process_ids}
    created, same = [], []
    for pid, model in models.items():
        existing = session.scalars(
            select(ModelVersion).where(ModelVersion.content_hash == model.content_hash)
        ).first()
        if existing is not None:
            same.append(f"{pid} 与已部署的版本 v{existing.number}（#{existing.id}）内容相同")
            continue
        number = (
            session.scalar(select(func.max(ModelVersion.number)).where(ModelVersion.process_id == pid)) or 0
        ) + 1
        version = ModelVersion(
            process_id=pid,
            number=number,
            content_hash=model.content_hash,
            files=model.files,
            name=model.name,
            description=model.description or None,
            purpose=model.purpose,
            deployed_by=deployed_by,
            note=note,
        )
        session.add(version)
        created.append(version)
    if not created:
        raise ValueError(same)
    session.flush()
    return created


def bind(session: Session, organisation_id: int, version: ModelVersion, bound_by: str) -> ProcessBinding:
    """The county runs `version` for the version's purpose from now on (new instances only)."""
    binding = session.scalar(
        select(ProcessBinding).where(
            ProcessBinding.organisation_id == organisation_id, ProcessBinding.purpose == version.purpose
        )
    )
    if binding is None:
        binding = ProcessBinding(organisation_id=organisation_id, purpose=version.purpose)
        session.add(binding)
    binding.model_version_id = version.id
    binding.bound_by = bound_by
    binding.bound_at = utcnow()
    session.flush()
    return binding


def deploy_shipped(session: Session, deployed_by: str, organisation_ids: list[int]) -> list[ModelVersion]:
    """First-time setup: deploy the models shipped in bpmn/ and forms/ and bind each county to them."""
    files = read_model_files()
    try:
        versions = deploy(session, files, deployed_by, "随系统提供的流程模型")
    except ValueError:  # already deployed: bind the deployed versions of the shipped processes
        versions = [
            session.scalars(select(ModelVersion).where(ModelVersion.content_hash == m.content_hash)).one()
            for m in processes_in(files).values()
        ]
    for organisation_id in organisation_ids:
        for version in versions_for_county(session, versions, organisation_id):
            bind(session, organisation_id, version, deployed_by)
    return versions


def versions_for_county(
    session: Session, versions: list[ModelVersion], organisation_id: int
) -> list[ModelVersion]:
    """Of the versions of one deployment, the ones a county bound with it runs: one per purpose. Where
    several processes of the deployment serve a purpose (county variants), the county keeps the process it
    runs now; a county running none of them gets the one shipped for it (`shipped_versions_for`)."""
    county = session.get(Organisation, organisation_id)
    by_purpose: dict[str, list[ModelVersion]] = {}
    for version in versions:
        by_purpose.setdefault(version.purpose, []).append(version)
    chosen = []
    for purpose, candidates in by_purpose.items():
        current = bound_version(session, organisation_id, purpose)
        same = [v for v in candidates if current is not None and v.process_id == current.process_id]
        chosen += same[:1] or shipped_versions_for(candidates, county.name if county else "")
    return chosen


def shipped_versions_for(versions: list[ModelVersion], county: str) -> list[ModelVersion]:
    """Which of the shipped versions a county is bound to at first-time setup, one per purpose: the process
    whose `shippedFor` names the county, else the purpose's process that names no county (the first in file
    order when several do). A county variant is a model like any other; nothing in the code names it."""

    def named(version: ModelVersion) -> tuple[str, ...]:
        model = processes_in(version.files).get(version.process_id)
        return model.shipped_for if model is not None else ()

    chosen = []
    for purpose in dict.fromkeys(v.purpose for v in versions):
        candidates = [v for v in versions if v.purpose == purpose]
        chosen += ([v for v in candidates if county in named(v)] or [v for v in candidates if not named(v)])[
            :1
        ]
    return chosen


def offered_processes(session: Session) -> list[tuple[ProcessModel, ModelVersion | None]]:
    """The shipped processes not yet deployed, or differing from their newest deployed version:
    (shipped process, newest deployed version or None)."""
    offered = []
    for pid, model in processes_in(read_model_files()).items():
        newest = session.scalars(
            select(ModelVersion)
            .where(ModelVersion.process_id == pid)
            .order_by(ModelVersion.number.desc())
            .limit(1)
        ).first()
        if newest is not None:
            deployed = processes_in(newest.files).get(pid)
            if deployed is not None and deployed.files == model.files:
                continue
        offered.append((model, newest))
    return offered


# --- which version runs -------------------------------------------------------------------------


def bound_version(session: Session, organisation_id: int | None, purpose: str) -> ModelVersion | None:
    """The version a county starts new instances of a purpose on (None when it has none bound)."""
    return session.scalar(
        select(ModelVersion)
        .join(ProcessBinding, ProcessBinding.model_version_id == ModelVersion.id)
        .where(ProcessBinding.organisation_id == organisation_id, ProcessBinding.purpose == purpose)
    )


def bound_versions(session: Session, organisation_id: int | None) -> list[ModelVersion]:
    """Every version the county starts new instances on, by purpose."""
    return list(
        session.scalars(
            select(ModelVersion)
            .join(ProcessBinding, ProcessBinding.model_version_id == ModelVersion.id)
            .where(ProcessBinding.organisation_id == organisation_id)
            .order_by(ProcessBinding.purpose)
        )
    )


def versions_of(session: Session | None, purpose: str):
    """A select of the ids of every version serving a purpose (for filtering instances); it runs in the
    caller's query, so no session is needed."""
    return select(ModelVersion.id).where(ModelVersion.purpose == purpose)


def newest_version(session: Session, purpose: str) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.purpose == purpose).order_by(ModelVersion.id.desc()).limit(1)
    ).first()


def counties(session: Session) -> list[Organisation]:
    return list(
        session.scalars(select(Organisation).where(Organisation.kind == "county").order_by(Organisation.id))
    )


# --- parsing --------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def parse_specs(digest: str, files_json: str) -> dict[str, tuple]:
    """{process id: (spec, subprocess_specs)} for a set of model files; cached by their content hash."""
    files = json.loads(files_json)
    parser = SpiffBpmnParser()
    for name, text in files.items():
        if name.endswith(".bpmn"):
            parser.add_bpmn_xml(etree.fromstring(text.encode("utf-8")), filename=name)
        elif name.endswith(".dmn"):
            parser.add_dmn_xml(etree.fromstring(text.encode("utf-8")), filename=name)
    return {pid: (parser.get_spec(pid), parser.get_subprocess_specs(pid)) for pid in parser.get_process_ids()}


def specs_for_files(files: dict[str, str], process_id: str):
    specs = parse_specs(content_hash(files), json.dumps(files, sort_keys=True))
    if process_id not in specs:
        raise LookupError(f"the model files define no process {process_id}")
    return specs[process_id]


def specs_for(version: ModelVersion, process_id: str | None = None):
    """(spec, subprocess_specs) of the version's process (or of another process in its files)."""
    return specs_for_files(version.files, process_id or version.process_id)


def task_properties(version: ModelVersion) -> dict[str, dict[str, str]]:
    """{task id: its spiffworkflow properties} for the version's process and its subprocesses."""
    spec, subprocesses = specs_for(version)
    result: dict[str, dict[str, str]] = {}
    for task_spec in [
        *spec.task_specs.values(),
        *(t for sub in subprocesses.values() for t in sub.task_specs.values()),
    ]:
        props = task_spec.extensions.get("properties", {}) if hasattr(task_spec, "extensions") else {}
        if props:
            result.setdefault(task_spec.bpmn_id or task_spec.name, dict(props))
    return result


def tasks_with_in_files(files: dict[str, str], capability: str) -> tuple[str, ...]:
    """The ids of the elements of model files (any process) that declare a capability."""
    found = set()
    for name, text in files.items():
        if name.endswith(".bpmn"):
            for element in _xml(text).iter():
                if element.get("id") and capability in capabilities_of(_properties(element)):
                    found.add(element.get("id"))
    return tuple(sorted(found))


def tasks_with(version: ModelVersion, capability: str) -> tuple[str, ...]:
    """The ids of the version's tasks that declare a capability."""
    return tuple(
        sorted(tid for tid, props in task_properties(version).items() if capability in capabilities_of(props))
    )


EMPTY_FORM = {"type": "object", "properties": {}}


def form_file_names(files: dict[str, str], form: str) -> tuple[str, str | None]:
    """(schema file, uischema file or None) of a task's form as the BPMN names it: a form recorded as
    `visit_register` is `visit_register-schema.json` (+ `-uischema.json`); any other name is the file
    the task's formJsonSchemaFilename names, with the formUiSchemaFilename beside it in the BPMN."""
    if f"forms/{form}-schema.json" in files:
        ui = f"forms/{form}-uischema.json"
        return f"forms/{form}-schema.json", ui if ui in files else _ui_named(files, form)
    return f"forms/{form}", _ui_named(files, form)


def _ui_named(files: dict[str, str], schema_name: str) -> str | None:
    pairs = _form_pairs(json.dumps({k: v for k, v in files.items() if k.endswith(".bpmn")}, sort_keys=True))
    ui = pairs.get(schema_name) or pairs.get(f"{schema_name}-schema.json")
    return f"forms/{ui}" if ui and f"forms/{ui}" in files else None


@lru_cache(maxsize=64)
def _form_pairs(bpmn_json: str) -> dict[str, str]:
    """{schema file name: uischema file name} as the BPMN's user tasks pair them."""
    pairs = {}
    for text in json.loads(bpmn_json).values():
        try:
            root = _xml(text)
        except etree.XMLSyntaxError:
            continue  # validate_files reports the file that does not parse
        for element in root.iter(f"{{{SPIFF_NS}}}properties"):
            props = {p.get("name"): p.get("value") for p in element.iter(f"{{{SPIFF_NS}}}property")}
            if props.get("formJsonSchemaFilename") and props.get("formUiSchemaFilename"):
                pairs[props["formJsonSchemaFilename"]] = props["formUiSchemaFilename"]
    return pairs


def form_files(version: ModelVersion, form: str | None) -> tuple[dict, dict]:
    """(schema, uischema) of a form as pinned in this version; a task without a form (a manual task,
    a user task that only asks for 完成) has an empty one."""
    if not form:
        return {"type": "object", "properties": {}}, {}
    schema_name, ui_name = form_file_names(version.files, form)
    schema = json.loads(version.files[schema_name])
    return schema, json.loads(version.files[ui_name]) if ui_name else {}


def ui_schema_names(files: dict[str, str]) -> set[str]:
    """The files that are UI schemas: named *-uischema.json or named so by a task."""
    named = {
        f"forms/{ui}"
        for ui in _form_pairs(
            json.dumps({k: v for k, v in files.items() if k.endswith(".bpmn")}, sort_keys=True)
        ).values()
    }
    return {n for n in files if n.endswith("-uischema.json")} | named


def all_form_schemas(version: ModelVersion) -> list[dict]:
    """Every form schema of the version, in file-name order."""
    ui = ui_schema_names(version.files)
    return [
        json.loads(text)
        for name, text in sorted(version.files.items())
        if name.startswith("forms/") and name.endswith(".json") and name not in ui
    ]
