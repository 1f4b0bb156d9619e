"""Attachments on a project or on one of its tasks: 投资计划书, 洽谈纪要, 合同草案 …

Security by default: a file is stored only if its size is within MAX_SIZE, its extension is one of
TYPES and its content is what the extension says (magic bytes; the browser's claimed type is
ignored). Each file keeps its SHA-256; uploading the same kind and file name again adds a version,
and every version stays downloadable by those who may see the project.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import audit, auth, filestore, forms
from workflows.actor import Actor
from workflows.db import transaction
from workflows.errors import NotFound, ServiceError, ValidationFailed
from workflows.models import Attachment, ProcessInstance, TaskRecord, User
from workflows.models._types import utcnow

MAX_SIZE = 10 * 1024 * 1024  # bytes; the web server's request limit (MAX_UPLOAD_MB) sits above it
MAX_FILENAME = 200


def N_(text: str) -> str:
    """Marks a string for the translation catalogue (`pybabel extract -k N_`)."""
    return text


OTHER_KIND = N_("其他材料")  # also the kind of the letters the system files (migration 0019 renamed 其他)
KINDS = ("投资计划书", "洽谈纪要", "合同草案", "评审材料", "会议纪要", OTHER_KIND)

# Messages (Chinese; listed in webapp/i18n_extra.py for translation).
NO_FILE = "请选择要上传的文件。"
EMPTY = "文件内容为空，请重新选择。"
TOO_LARGE = "文件过大：附件不能超过 %(limit)s。"
BAD_NAME = "文件名无效，请重命名后再上传。"
UNSUPPORTED = (
    "不支持该文件类型：只接受 PDF、Word（doc/docx）、Excel（xls/xlsx）、PNG/JPEG 图片和 UTF-8 文本（txt）。"
)
MISMATCH = "文件内容与扩展名不符（例如改了扩展名的其他文件），已拒绝上传。"
BAD_KIND = "请选择附件类型。"
MAY_NOT_UPLOAD = "只有参与办理该项目的人员可以在项目办理期间上传附件。"
MAY_NOT_READ = "您无权查看该项目的附件。"
NO_ATTACHMENT = "附件不存在。"
NO_TASK = "任务不存在。"
CORRUPTED = "附件内容校验失败（SHA-256 不符），请联系管理员。"
MISSING = "附件文件不在文件存储中，请联系管理员。"


class AttachmentRefused(ValidationFailed):
    """A refused upload: `errors` maps field → message; `params` fill the messages' `%(name)s`."""

    def __init__(self, errors: dict[str, str], **params: str):
        super().__init__(errors)
        self.params = params


class AttachmentCorrupted(ServiceError):
    status = 500


@dataclass(frozen=True)
class FileType:
    content_type: str
    matches: Callable[[bytes], bool]


def _starts(*magic: bytes) -> Callable[[bytes], bool]:
    return lambda data: data.startswith(magic)


def _ooxml(main_part: str) -> Callable[[bytes], bool]:
    """A zip (PK\\x03\\x04) that is an Office Open XML package with the given main part."""

    def check(data: bytes) -> bool:
        if not data.startswith(b"PK\x03\x04"):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as package:  # reads the directory, unpacks nothing
                names = set(package.namelist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
            return False
        return "[Content_Types].xml" in names and main_part in names

    return check


_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _utf8_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not _TEXT_CONTROLS.search(text)


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File Binary: .doc, .xls
TYPES: dict[str, FileType] = {
    "pdf": FileType("application/pdf", _starts(b"%PDF-")),
    "png": FileType("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    "jpg": FileType("image/jpeg", _starts(b"\xff\xd8\xff")),
    "jpeg": FileType("image/jpeg", _starts(b"\xff\xd8\xff")),
    "docx": FileType(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ooxml("word/document.xml")
    ),
    "xlsx": FileType(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ooxml("xl/workbook.xml")
    ),
    "doc": FileType("application/msword", _starts(OLE)),
    "xls": FileType("application/vnd.ms-excel", _starts(OLE)),
    "txt": FileType("text/plain; charset=utf-8", _utf8_text),
}


def clean_filename(raw: str | None) -> str:
    """The name to show and to download as: its last path part only, without control or format
    characters (no bidi tricks), without characters Windows refuses, at most MAX_FILENAME long
    (the extension kept). Empty when nothing usable is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    # Line breaks and tabs become spaces; other control, format (bidi), private-use characters go.
    name = "".join(
        " " if ch in "\t\n\r" or unicodedata.category(ch) in ("Zl", "Zp") else ch
        for ch in name
        if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C"
    )
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > MAX_FILENAME:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if len(suffix) <= 10 else ""
        name = name[: MAX_FILENAME - len(suffix)].rstrip(" .") + suffix
    return name


def _extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower().lstrip(".")


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    if size >= 1024:
        return f"{size / 1024:.3g} KB"
    return f"{size} B"


def _check(kind: str, filename: str, data: bytes | None) -> tuple[str, str]:
    """(clean file name, content type), or AttachmentRefused naming what is wrong."""
    errors: dict[str, str] = {}
    params: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = BAD_KIND
    name = clean_filename(filename)
    content_type = ""
    if not (filename or "").strip() and not data:
        errors["file"] = NO_FILE
    elif not data:
        errors["file"] = EMPTY
    elif len(data) > MAX_SIZE:
        errors["file"] = TOO_LARGE
        params["limit"] = human_size(MAX_SIZE)
    elif not name or not PurePosixPath(name).stem.strip():
        errors["file"] = BAD_NAME
    elif (file_type := TYPES.get(_extension(name))) is None:
        errors["file"] = UNSUPPORTED
    elif not file_type.matches(data):
        errors["file"] = MISMATCH
    else:
        content_type = file_type.content_type
    if errors:
        raise AttachmentRefused(errors, **params)
    return name, content_type


def _instance(s: Session, instance_id: int, lock: bool = False) -> ProcessInstance:
    instance = s.get(ProcessInstance, instance_id, with_for_update=lock or None)
    if instance is None:
        raise NotFound("项目不存在。")
    return instance


def _task(s: Session, instance: ProcessInstance, task_id: int | None) -> TaskRecord | None:
    if task_id is None:
        return None
    record = s.get(TaskRecord, task_id)
    if record is None or record.instance_id != instance.id:
        raise NotFound(NO_TASK)
    return record


FORM_FILE_KIND = OTHER_KIND  # a file a form's file field took (the task it was given at is kept with it)


def check_form_file(filename: str, data: bytes | None) -> tuple[str, str]:
    """The checks of an upload for a form's file field: (clean file name, content type), or
    AttachmentRefused with the reason under "file"."""
    return _check(FORM_FILE_KIND, filename, data)


def check_form_files(
    schema: dict, uischema: dict, submitted: dict, files: dict[str, tuple[str, bytes]], task_data: dict
) -> tuple[dict, dict, dict]:
    """The file fields of a form submission (forms.file_fields), each upload checked as an attachment is
    (size, type, content). Returns (the submission with each file field's value as its file's name,
    for JSON Schema to check `required`; the accepted uploads {field: (name, content type, bytes)};
    errors {field: message}). A field without a new file keeps the file its task data refers to."""
    typed, uploads, errors = dict(submitted), {}, {}
    for name in forms.file_fields(schema, uischema):
        filename, data = files.get(name) or ("", b"")
        typed.pop(name, None)  # a file field's value is never taken from the form's text
        if filename or data:
            try:
                uploads[name] = (*check_form_file(filename, data), data)
            except AttachmentRefused as refused:
                errors[name] = forms.FieldError(refused.errors["file"], **refused.params)
                continue
            typed[name] = uploads[name][0]
        elif forms.is_file_reference(task_data.get(name)):
            typed[name] = task_data[name]["filename"]
    return typed, uploads, errors


def store_form_files(
    s: Session,
    actor: Actor,
    instance: ProcessInstance,
    record: TaskRecord | None,
    schema: dict,
    uischema: dict,
    uploads: dict,
    task_data: dict,
) -> dict:
    """Store checked uploads (check_form_files) as attachments of the project (on the task, if any);
    returns {field: reference} for the form's file fields, the references the task data keeps instead
    of the bytes (a field without a new file keeps the one it refers to)."""
    references = {}
    for name in forms.file_fields(schema, uischema):
        if name in uploads:
            filename, content_type, data = uploads[name]
            row = store(s, actor, instance, record, FORM_FILE_KIND, filename, content_type, data, field=name)
            references[name] = {
                "attachment_id": row.id,
                "filename": row.filename,
                "content_type": row.content_type,
                "size": row.size,
                "sha256": row.sha256,
            }
        elif forms.is_file_reference(task_data.get(name)):
            references[name] = task_data[name]
    return references


def attachment_upload(
    actor: Actor, instance_id: int, kind: str, filename: str, data: bytes, task_id: int | None = None
) -> int:
    """Store a checked file on the project (on the task `task_id`, if given); returns its id."""
    kind = (kind or "").strip()
    with transaction() as s:
        # The row lock (PostgreSQL) keeps two uploads of the same file from taking the same version.
        instance = _instance(s, instance_id, lock=True)
        record = _task(s, instance, task_id)
        auth.require(auth.attachment_upload(s, actor, instance, record), MAY_NOT_UPLOAD)
        name, content_type = _check(kind, filename, data)
        return store(s, actor, instance, record, kind, name, content_type, data).id


def store(
    s: Session,
    actor: Actor,
    instance: ProcessInstance,
    record: TaskRecord | None,
    kind: str,
    name: str,
    content_type: str,
    data: bytes,
    field: str | None = None,
) -> Attachment:
    """Add a checked file (from `_check`) as the next version of its kind and name, audited, in the
    caller's transaction (which holds the instance's lock)."""
    latest = s.scalar(
        select(func.max(Attachment.version)).where(
            Attachment.instance_id == instance.id, Attachment.kind == kind, Attachment.filename == name
        )
    )
    # The bytes go to the file store first: if the transaction then fails, an unreferenced file
    # is left behind (harmless, `zhaoshang files check` lists it), never a row without its file.
    digest = filestore.store().put(data)
    row = Attachment(
        instance_id=instance.id,
        task_record_id=record.id if record else None,
        kind=kind,
        filename=name,
        content_type=content_type,
        size=len(data),
        sha256=digest,
        version=(latest or 0) + 1,
        uploaded_by_id=actor.id,
        uploaded_at=utcnow(),
    )
    s.add(row)
    s.flush()
    audit.append(
        s,
        "attachment_uploaded",
        actor=actor.username,
        role=record.lane if record else None,
        instance_id=instance.id,
        task_spec=record.spec_name if record else None,
        mi_index=record.mi_index if record else None,
        data={
            "kind": kind,
            "filename": name,
            "size": len(data),
            "sha256": digest,
            "version": row.version,
            **({"field": field} if field else {}),
        },
        address=actor.address,
    )
    return row


def stored_bytes(row: Attachment) -> bytes:
    """The attachment's bytes, checked against its SHA-256: from the file store, or from the row for
    files stored before the file store existed (`zhaoshang files migrate` moves them)."""
    try:
        if row.content is None:
            return filestore.store().get(row.sha256)
    except filestore.StoredFileMissing:
        raise AttachmentCorrupted(MISSING) from None
    except filestore.StoredFileCorrupted:
        raise AttachmentCorrupted(CORRUPTED) from None
    if hashlib.sha256(row.content).hexdigest() != row.sha256:
        raise AttachmentCorrupted(CORRUPTED)
    return row.content


def attachment_may_upload(actor: Actor, instance_id: int, task_id: int | None = None) -> bool:
    """Whether to offer the upload form (the upload itself checks again)."""
    with transaction() as s:
        instance = _instance(s, instance_id)
        return auth.attachment_upload(s, actor, instance, _task(s, instance, task_id))


def attachment_list(actor: Actor, instance_id: int) -> list[dict]:
    """Every version of every file of the project: files by latest upload, newest first; each
    file's versions newest first (`latest` marks the current one)."""
    with transaction() as s:
        instance = _instance(s, instance_id)
        auth.require(auth.attachment_list(s, actor, instance), MAY_NOT_READ)
        rows = s.scalars(
            select(Attachment)
            .where(Attachment.instance_id == instance.id)
            .order_by(Attachment.uploaded_at.desc(), Attachment.id.desc())
        ).all()
        names = dict(
            s.execute(
                select(User.id, User.display_name).where(User.id.in_({r.uploaded_by_id for r in rows}))
            ).all()
        )
        titles: dict[int | None, str] = dict(
            s.execute(
                select(TaskRecord.id, TaskRecord.title).where(
                    TaskRecord.id.in_({r.task_record_id for r in rows if r.task_record_id})
                )
            ).all()
        )
        files: dict[tuple[str, str], list[Attachment]] = {}
        for r in rows:
            files.setdefault((r.kind, r.filename), []).append(r)
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "filename": r.filename,
                "content_type": r.content_type,
                "size": r.size,
                "size_text": human_size(r.size),
                "sha256": r.sha256,
                "version": r.version,
                "latest": r is versions[0],
                "uploaded_by": names.get(r.uploaded_by_id, "") if r.uploaded_by_id else "系统",
                "uploaded_at": r.uploaded_at,
                "task_id": r.task_record_id,
                "task_title": titles.get(r.task_record_id),
            }
            for versions in files.values()
            for r in sorted(versions, key=lambda v: v.version, reverse=True)
        ]


def attachment_download(actor: Actor, attachment_id: int) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of one stored version; the download is audited."""
    with transaction() as s:
        row = s.get(Attachment, attachment_id)
        if row is None:
            raise NotFound(NO_ATTACHMENT)
        instance = _instance(s, row.instance_id)
        auth.require(auth.attachment_download(s, actor, instance), MAY_NOT_READ)
        content = stored_bytes(row)
        audit.append(
            s,
            "attachment_downloaded",
            actor=actor.username,
            instance_id=instance.id,
            data={
                "attachment_id": row.id,
                "kind": row.kind,
                "filename": row.filename,
                "version": row.version,
                "sha256": row.sha256,
            },
            address=actor.address,
        )
        return row.filename, row.content_type, content


# --- the file store, for the `zhaoshang files` command -------------------------------------------------


def move_to_store(batch: int = 100) -> tuple[int, list[int]]:
    """Move attachments still kept in their rows to the file store, a batch per transaction; returns
    (how many moved, ids whose bytes do not match their SHA-256 and stay where they are)."""
    moved, refused, after = 0, [], 0
    while True:
        with transaction() as s:
            rows = s.scalars(
                select(Attachment)
                .where(Attachment.content.is_not(None), Attachment.id > after)
                .order_by(Attachment.id)
                .limit(batch)
            ).all()
            for row in rows:
                after, content = row.id, row.content
                assert content is not None  # asked for rows that still hold their bytes
                if hashlib.sha256(content).hexdigest() != row.sha256:
                    refused.append(row.id)
                    continue
                filestore.store().put(content)
                row.content = None
                moved += 1
        if len(rows) < batch:
            return moved, refused


def check_store() -> dict:
    """Every attachment's bytes are where they belong and match their SHA-256."""
    problems: list[tuple[int, str]] = []
    with transaction() as s:
        ids = s.scalars(select(Attachment.id).order_by(Attachment.id)).all()
    for attachment_id in ids:
        with transaction() as s:
            try:
                stored_bytes(s.get_one(Attachment, attachment_id))
            except AttachmentCorrupted as err:
                problems.append((attachment_id, err.message))
    return {"checked": len(ids), "intact": len(ids) - len(problems), "problems": problems}
