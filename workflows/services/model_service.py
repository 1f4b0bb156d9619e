"""Process-model versions: deploy processes and bind them to counties (administrators), list them and\ncompare two (auditors)."""
from __future__ import annotations

import difflib
import io
import json
import zipfile
from pathlib import PurePosixPath

from sqlalchemy import func, select

from workflows import audit, auth, model_compare
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine import model_checks, model_store, vocabulary
from workflows.errors import NotFound, ValidationFailed
from workflows.models import ModelVersion, ProcessBinding, ProcessInstance
from workflows.rendering.diagram import bpmn_file_for, render_svg
from workflows.services import operator_registry, script_functions
from workflows.services.audit_value_objects import (
    BindingRow,
    FileDiff,
    OfferedProcess,
    VersionDiff,
    VersionItem,
)

MAX_FILES = 200


def files_from_uploads(uploads: list[tuple[str, bytes]]) -> dict[str, str]:
    """Model files from uploaded files or zip archives: .bpmn/.dmn and translations (<name>.<lang>.json)
    go to bpmn/, other .json to forms/ (folders inside an archive do not matter; names must be unique)."""
    files: dict[str, str] = {}

    def add(name: str, data: bytes) -> None:
        base = PurePosixPath(name.replace("\\", "/")).name
        folder = "bpmn" if base.endswith((".bpmn", ".dmn")) or vocabulary.is_translation_file(f"bpmn/{base}") \
            else "forms" if base.endswith(".json") else None
        if folder is None or base.startswith("."):
            return  # READMEs, images and the like in an archive are not part of a model
        try:
            files[f"{folder}/{base}"] = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValidationFailed({"files": f"{base} 不是 UTF-8 文本"}) from err

    for name, data in uploads:
        if name.lower().endswith(".zip"):
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    entries = [i for i in archive.infolist() if not i.is_dir()]
                    if len(entries) > MAX_FILES:
                        raise ValidationFailed({"files": "压缩包中的文件过多"})
                    for info in entries:
                        add(info.filename, archive.read(info))
            except zipfile.BadZipFile as err:
                raise ValidationFailed({"files": f"{name} 不是有效的 zip 压缩包"}) from err
        else:
            add(name, data)
    return files


def version_deploy(actor: Actor, uploads: list[tuple[str, bytes]], note: str = "",
                   bind_to: list[int] | None = None, warnings: list[str] | None = None) -> list[int]:
    """Deploy the processes of the uploaded model after they validate, each as a new version of its
    own process (processes identical to a deployed version are left alone); returns the new ids.

    Running instances stay on their version. The counties in `bind_to` start new instances of each
    deployed process's purpose on it; the others keep their binding.
    """
    auth.require(auth.model_deploy(actor), "只有管理员可以部署流程模型。")
    files = files_from_uploads(uploads)
    if not files:
        raise ValidationFailed({"files": "请上传 BPMN、DMN 和表单文件，或包含它们的 zip 压缩包"})
    with transaction() as s:
        versions = _deploy(s, actor, files, note, None, bind_to or [])
        if warnings is not None and versions:
            warnings += undefined_names(files)
        return [v.id for v in versions]


def undefined_names(files: dict[str, str]) -> list[str]:
    """Variables the model's code reads that nothing of the model or the application produces
    (warnings: the model is deployed; a variable a user task's data brings in some other way stays
    possible)."""
    specs = model_store.parse_specs(model_store.content_hash(files), json.dumps(files, sort_keys=True))
    return model_checks.undefined_names(specs, files, script_functions.NAMES + script_functions.APPLICATION_DATA)


def shipped_deploy(actor: Actor, process_id: str, bind_to: list[int] | None = None) -> list[int]:
    """Deploy one of the processes shipped with the code (offered on the 流程版本 page)."""
    auth.require(auth.model_deploy(actor), "只有管理员可以部署流程模型。")
    with transaction() as s:
        if process_id not in {m.process_id for m, _ in model_store.offered_processes(s)}:
            raise NotFound("没有待部署的随系统流程模型。")
        return [v.id for v in _deploy(s, actor, model_store.read_model_files(), "随系统提供的流程模型",
                                      [process_id], bind_to or [])]


def deploy_files(s, actor: Actor, files: dict[str, str], note: str, process_ids: list[str] | None,
                 bind_to: list[int]) -> list[ModelVersion]:
    """Deploy in the caller's transaction (the browser editor's deploy): checks, audit and bindings
    as for an upload. The caller has checked model_deploy."""
    auth.require(auth.model_deploy(actor), "只有管理员可以部署流程模型。")
    return _deploy(s, actor, files, note, process_ids, bind_to)


def _deploy(s, actor: Actor, files: dict[str, str], note: str, process_ids: list[str] | None,
            bind_to: list[int]) -> list[ModelVersion]:
    counties = {c.id: c for c in model_store.counties(s)}
    if any(c not in counties for c in bind_to):
        raise ValidationFailed({"bind": "请选择要绑定的县（市、区）"})
    try:
        versions = model_store.deploy(s, files, actor.username, (note or "").strip()[:500] or None, process_ids,
                                      operator_registry.names())
    except ValueError as err:
        raise ValidationFailed({"files": "；".join(err.args[0])}) from err
    for version in versions:
        audit.append(s, "model_deployed", actor=actor.username, role="admin",
                     data={"version_id": version.id, "process": version.process_id, "number": version.number,
                           "content_hash": version.content_hash, "files": sorted(version.files)},
                     outcome=version.content_hash[:12], address=actor.address)
    for county in bind_to:
        for version in model_store.versions_for_county(s, versions, county):
            _bind(s, actor, counties[county], version)
    return versions


def _bind(s, actor: Actor, county, version: ModelVersion) -> None:
    model_store.bind(s, county.id, version, actor.username)
    audit.append(s, "process_bound", actor=actor.username, role="admin",
                 data={"county": county.name, "purpose": version.purpose, "process": version.process_id,
                       "number": version.number, "version_id": version.id},
                 outcome=f"{version.process_id} v{version.number}", address=actor.address)


def binding_set(actor: Actor, county_id: int, version_id: int) -> None:
    """A county starts new instances of the version's purpose on this version from now on."""
    auth.require(auth.model_deploy(actor), "只有管理员可以绑定流程版本。")
    with transaction() as s:
        county = {c.id: c for c in model_store.counties(s)}.get(county_id)
        version = s.get(ModelVersion, version_id)
        if county is None or version is None:
            raise NotFound("县（市、区）或流程版本不存在。")
        _bind(s, actor, county, version)


def deploy_page(actor: Actor) -> dict:
    """The administrator's page: the versions so far, each county's bindings, the shipped models
    on offer and the counties one may bind."""
    auth.require(auth.model_deploy(actor), "只有管理员可以部署流程模型。")
    with transaction() as s:
        items = _items(s)
        by_id = {i.id: i for i in items}
        bindings = {(b.organisation_id, b.purpose): b.model_version_id for b in s.scalars(select(ProcessBinding))}
        purposes = sorted({i.purpose for i in items})
        counties = model_store.counties(s)
        rows = [BindingRow(c.id, c.name, p, by_id.get(bindings.get((c.id, p))),
                           [i for i in items if i.purpose == p])
                for c in counties for p in purposes]
        offered = [OfferedProcess(m.process_id, m.name, m.description, m.purpose,
                                  by_id.get(newest.id) if newest else None)
                   for m, newest in model_store.offered_processes(s)]
        return {"versions": items, "bindings": rows, "offered": offered,
                "counties": [(c.id, c.name) for c in counties]}


def version_list(actor: Actor) -> list[VersionItem]:
    auth.require(auth.model_versions_read(actor), "只有审计人员和管理员可以查看流程模型版本。")
    with transaction() as s:
        return _items(s)


def _items(s) -> list[VersionItem]:
    counts = dict(s.execute(select(ProcessInstance.model_version_id, func.count())
                            .group_by(ProcessInstance.model_version_id)).all())
    names = {c.id: c.name for c in model_store.counties(s)}
    bound: dict[int, list[str]] = {}
    for b in s.scalars(select(ProcessBinding).order_by(ProcessBinding.organisation_id)):
        bound.setdefault(b.model_version_id, []).append(names.get(b.organisation_id, ""))
    versions = s.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())).all()
    newest = {}
    for v in versions:
        newest.setdefault(v.process_id, v.id)
    return [VersionItem(v.id, v.content_hash, v.deployed_by, v.deployed_at, v.note, len(v.files),
                        counts.get(v.id, 0), newest[v.process_id] == v.id, v.process_id, v.number, v.name,
                        v.purpose, bound.get(v.id, [])) for v in versions]


def version_diff(actor: Actor, old_id: int, new_id: int) -> VersionDiff:
    """What changed between two versions: element by element (tasks, flows, gateway conditions, form
    fields, DMN rules; workflows/model_compare.py) with both diagrams coloured, and file by file."""
    auth.require(auth.model_versions_read(actor), "只有审计人员和管理员可以查看流程模型版本。")
    with transaction() as s:
        old, new = s.get(ModelVersion, old_id), s.get(ModelVersion, new_id)
        if old is None or new is None:
            raise NotFound("流程模型版本不存在。")
        items = {i.id: i for i in _items(s)}
        diffs = []
        for name in sorted(set(old.files) | set(new.files)):
            before, after = old.files.get(name), new.files.get(name)
            if before == after:
                continue
            status = "added" if before is None else "removed" if after is None else "changed"
            lines = list(difflib.unified_diff((before or "").splitlines(), (after or "").splitlines(),
                                              f"#{old.id}/{name}", f"#{new.id}/{name}", n=2, lineterm=""))
            diffs.append(FileDiff(name, status, lines))
        elements = model_compare.compare(old.files, old.process_id, new.files, new.process_id)
        new_marks, old_marks = model_compare.diagram_marks(elements)
        return VersionDiff(items[old.id], items[new.id], diffs, elements,
                           _drawing(new.files, new.process_id, new_marks),
                           _drawing(old.files, old.process_id, old_marks) if old_marks else "")


def _drawing(files: dict[str, str], process_id: str, marks: dict[str, str]) -> str:
    try:
        return render_svg(bpmn_file_for(files, process_id), process_id, marks=marks, width=2400)
    except (LookupError, ValueError):  # a model without a diagram: the table alone says it
        return ""


def deploy_warnings(actor: Actor, version_ids: list[int]) -> list[str]:
    """What the deployed versions lack without being refused: texts without a translation (shown in
    Chinese), one line per version and language."""
    auth.require(auth.model_deploy(actor), "只有管理员可以部署流程模型。")
    with transaction() as s:
        result = []
        for version_id in version_ids:
            version = s.get(ModelVersion, version_id)
            if version is not None:
                result += vocabulary.warnings(version.files, f"{version.name or version.process_id} v{version.number}")
        return result


# {(version id, content hash): {language: {text: translation}}}: versions never change, so a
# version's translations are read once per process.
_TRANSLATIONS: dict[tuple[int, str], dict[str, dict[str, str]]] = {}
_MERGED: dict[str, tuple[tuple, dict[str, str]]] = {}


def vocabulary_for(lang: str) -> dict[str, str]:
    """The translations into `lang` of every deployed model's texts (a newer version wins where two
    translate a text differently); the pages translate model texts from here, else show them as they
    are (Chinese). Reads the version list once per call and each version's files once per process."""
    if lang not in vocabulary.LANGUAGES:
        return {}
    with transaction() as s:
        keys = tuple(tuple(k) for k in s.execute(select(ModelVersion.id, ModelVersion.content_hash)
                                                  .order_by(ModelVersion.id)).all())
        cached = _MERGED.get(lang)
        if cached is not None and cached[0] == keys:
            return cached[1]
        merged: dict[str, str] = {}
        for version_id, digest in keys:
            key = (version_id, digest)
            if key not in _TRANSLATIONS:
                version = s.get(ModelVersion, version_id)
                _TRANSLATIONS[key] = vocabulary.translations(version.files) if version else {}
            merged.update(_TRANSLATIONS[key].get(lang, {}))
        _MERGED[lang] = (keys, merged)
        return merged
