"""Process-model versions: deploy a new one (administrators), list them and compare two (auditors)."""
from __future__ import annotations

import difflib
import io
import zipfile
from pathlib import PurePosixPath

from sqlalchemy import func, select

from workflows import audit, auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine import model_store
from workflows.errors import NotFound, ValidationFailed
from workflows.models import ModelVersion, ProcessInstance
from workflows.services.audit_views import FileDiff, VersionDiff, VersionItem

MAX_FILES = 200


def files_from_uploads(uploads: list[tuple[str, bytes]]) -> dict[str, str]:
    """Model files from uploaded files or zip archives: .bpmn/.dmn go to bpmn/, .json to forms/
    (folders inside an archive do not matter; names must be unique)."""
    files: dict[str, str] = {}

    def add(name: str, data: bytes) -> None:
        base = PurePosixPath(name.replace("\\", "/")).name
        folder = "bpmn" if base.endswith((".bpmn", ".dmn")) else "forms" if base.endswith(".json") else None
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


def version_deploy(actor: Actor, uploads: list[tuple[str, bytes]], note: str = "") -> int:
    """Deploy the uploaded model after it validates; returns the new version's id.

    Running projects stay on the version they started with; new ones start on this one.
    """
    auth.require(auth.model_deploy(actor), "只有管理员可以部署流程模型。")
    files = files_from_uploads(uploads)
    if not files:
        raise ValidationFailed({"files": "请上传 BPMN、DMN 和表单文件，或包含它们的 zip 压缩包"})
    with transaction() as s:
        try:
            version = model_store.deploy(s, files, actor.username, (note or "").strip()[:500] or None)
        except ValueError as err:
            raise ValidationFailed({"files": "；".join(err.args[0])}) from err
        s.flush()
        audit.append(s, "model_deployed", actor=actor.username, role="admin",
                     data={"version_id": version.id, "content_hash": version.content_hash,
                           "files": sorted(files)}, outcome=version.content_hash[:12], address=actor.address)
        return version.id


def deploy_page(actor: Actor) -> list[VersionItem]:
    """The administrator's deployment page: the versions so far."""
    auth.require(auth.model_deploy(actor), "只有管理员可以部署流程模型。")
    with transaction() as s:
        return _items(s)


def version_list(actor: Actor) -> list[VersionItem]:
    auth.require(auth.model_versions_read(actor), "只有审计人员和管理员可以查看流程模型版本。")
    with transaction() as s:
        return _items(s)


def _items(s) -> list[VersionItem]:
    counts = dict(s.execute(select(ProcessInstance.model_version_id, func.count())
                            .group_by(ProcessInstance.model_version_id)).all())
    versions = s.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())).all()
    newest = versions[0].id if versions else None
    return [VersionItem(v.id, v.content_hash, v.deployed_by, v.deployed_at, v.note, len(v.files),
                        counts.get(v.id, 0), v.id == newest) for v in versions]


def version_diff(actor: Actor, old_id: int, new_id: int) -> VersionDiff:
    """What changed between two versions, file by file (unified diff of the text)."""
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
        return VersionDiff(items[old.id], items[new.id], diffs)
