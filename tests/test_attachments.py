"""Attachments: checked uploads, SHA-256, versions, downloads only for those who may see
the project; a refused file leaves nothing stored and says why."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import render_template_string
from flask_login import login_user
from flow_support import login, ready_tasks, register_lead, step
from sqlalchemy import func, select

from webapp.i18n_extra import DYNAMIC_STRINGS
from webapp.session_user import SessionUser
from workflows.db import transaction
from workflows.demo import actor
from workflows.models import Attachment, AuditEvent
from workflows.services import attachment_service

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"This program cannot be run"
)
PLAN = "投资计划书.pdf"


def upload(
    client,
    instance_id: int,
    name: str | None,
    data: bytes = PDF,
    kind: str = "投资计划书",
    task_id: int | None = None,
):
    form: dict = {"kind": kind}
    if name is not None:
        form["file"] = (io.BytesIO(data), name)
    if task_id is not None:
        form["task_id"] = str(task_id)
    return client.post(f"/projects/{instance_id}/attachments", data=form, content_type="multipart/form-data")


def stored() -> tuple[int, int]:
    """(attachments stored, attachment_uploaded events) in the whole database."""
    with transaction() as s:
        return (
            s.scalar(select(func.count()).select_from(Attachment)),
            s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "attachment_uploaded")
            ),
        )


def panel(app, username: str, instance_id: int, task_id: int | None = None) -> str:
    """The attachments card as the project and task pages include it, rendered for `username`."""
    with app.test_request_context("/"):
        login_user(SessionUser(actor(username)))
        return render_template_string(
            "{% set attachments, can_upload = project_attachments(iid, tid) %}{% set instance_id = iid %}"
            "{% set task_id = tid %}{% include 'attachments/_list.html' %}",
            iid=instance_id,
            tid=task_id,
        )


def listed(username: str, instance_id: int) -> list[dict]:
    return attachment_service.attachment_list(actor(username), instance_id)


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def test_an_upload_is_listed_with_its_hash_and_a_second_one_becomes_version_2(app, client):
    pid = register_lead(client)  # signed in as zhaoshang
    response = upload(client, pid, PLAN)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/projects/{pid}#attachments")
    assert "附件已上传。" in client.get(response.headers["Location"]).data.decode()

    html = panel(app, "zhaoshang", pid)
    assert PLAN in html and "v1" in html and hashlib.sha256(PDF).hexdigest()[:12] in html
    assert 'id="attachment-upload"' in html and 'enctype="multipart/form-data"' in html

    second = PDF.replace(b"Catalog", b"Catalog /Lang (zh-CN)")
    assert upload(client, pid, PLAN, second).status_code == 302
    assert upload(client, pid, PLAN, PDF, kind="合同草案").status_code == 302  # another kind: its own v1
    rows = listed("zhaoshang", pid)
    plans = [r for r in rows if r["kind"] == "投资计划书"]
    assert [(r["version"], r["latest"]) for r in plans] == [(2, True), (1, False)]
    assert [r["sha256"] for r in plans] == [
        hashlib.sha256(second).hexdigest(),
        hashlib.sha256(PDF).hexdigest(),
    ]
    assert [r["version"] for r in rows if r["kind"] == "合同草案"] == [1]
    assert all(r["uploaded_by"] and r["content_type"] == "application/pdf" for r in rows)

    login(client, "shangwu")  # the commerce bureau sees every project of the county
    old = client.get(f"/attachments/{plans[1]['id']}")
    assert old.status_code == 200 and old.data == PDF
    assert hashlib.sha256(old.data).hexdigest() == plans[1]["sha256"]
    assert old.headers["X-Content-Type-Options"] == "nosniff"
    assert old.headers["Content-Type"] == "application/pdf"
    disposition = old.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(PLAN, safe='')}" in disposition
    assert disposition.isascii()
    assert client.get(f"/attachments/{plans[0]['id']}").data == second

    with transaction() as s:
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == pid, AuditEvent.action.like("attachment_%"))
            .order_by(AuditEvent.id)
        ).all()
        assert [e.action for e in events] == ["attachment_uploaded"] * 3 + ["attachment_downloaded"] * 2
        assert events[1].data == {
            "kind": "投资计划书",
            "filename": PLAN,
            "size": len(second),
            "sha256": hashlib.sha256(second).hexdigest(),
            "version": 2,
        }
    history = client.get(f"/projects/{pid}").data.decode()
    assert "上传附件" in history and "下载附件" in history


@pytest.mark.parametrize(
    ("name", "data", "kind", "message"),
    [
        ("setup.exe", EXE, "其他材料", attachment_service.UNSUPPORTED),
        ("合同.pdf", EXE, "合同草案", attachment_service.MISMATCH),  # an .exe renamed .pdf
        (
            "纪要.docx",
            b"PK\x03\x04" + b"\x00" * 40,
            "洽谈纪要",
            attachment_service.MISMATCH,
        ),  # not a real package
        ("纪要.docx", xlsx(), "洽谈纪要", attachment_service.MISMATCH),  # a workbook named .docx
        ("照片.png", b"\xff\xd8\xff\xe0 jpeg bytes", "其他材料", attachment_service.MISMATCH),
        ("说明.txt", "说明".encode("gbk"), "其他材料", attachment_service.MISMATCH),  # not UTF-8
        ("说明.txt", b"plain\x00binary", "其他材料", attachment_service.MISMATCH),
        ("notes.md", b"# notes", "其他材料", attachment_service.UNSUPPORTED),  # unknown extension
        ("noextension", PDF, "其他材料", attachment_service.UNSUPPORTED),
        (PLAN, b"", "投资计划书", attachment_service.EMPTY),
        (None, b"", "投资计划书", attachment_service.NO_FILE),
        ("..", PDF, "投资计划书", attachment_service.BAD_NAME),
        ("\u202e\x01 . ", PDF, "投资计划书", attachment_service.BAD_NAME),
        (".pdf", PDF, "投资计划书", attachment_service.UNSUPPORTED),  # a dot file: "pdf", no extension
        (PLAN, PDF, "", attachment_service.BAD_KIND),
        (PLAN, PDF, "可执行文件", attachment_service.BAD_KIND),
    ],
)
def test_a_refused_file_is_not_stored_and_the_reason_is_shown(app, client, name, data, kind, message):
    pid = register_lead(client)
    response = upload(client, pid, name, data, kind)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).data.decode()
    assert message in page
    assert "附件已上传" not in page
    assert stored() == (0, 0)


def test_a_file_over_the_size_limit_is_refused_with_the_limit(app, client, monkeypatch):
    monkeypatch.setattr(attachment_service, "MAX_SIZE", 64)
    pid = register_lead(client)
    assert upload(client, pid, "小.pdf", PDF[:64]).status_code == 302
    assert stored() == (1, 1)  # exactly at the limit: accepted
    response = upload(client, pid, "大.pdf", PDF + b" " * 64)
    page = client.get(response.headers["Location"]).data.decode()
    assert "文件过大：附件不能超过 64 B。" in page
    assert stored() == (1, 1)


def test_a_request_body_over_the_server_limit_gets_413_with_a_chinese_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    pid = register_lead(client)
    response = upload(client, pid, PLAN, PDF + b" " * 4096)
    assert response.status_code == 413
    assert "上传的文件过大" in response.data.decode()
    assert stored() == (0, 0)


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("图纸.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        ("现场.JPG", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        ("纪要.docx", docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("测算.xlsx", xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("旧合同.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "application/msword"),
        ("旧测算.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "application/vnd.ms-excel"),
        ("说明.txt", "洽谈要点：\n1. 用地 120 亩\r\n\t2. 税收".encode(), "text/plain; charset=utf-8"),
    ],
)
def test_each_allowed_type_is_accepted_and_served_with_its_checked_content_type(
    app, client, name, data, content_type
):
    pid = register_lead(client)
    # The browser's claimed type is ignored: the stored type comes from the checked content.
    response = client.post(
        f"/projects/{pid}/attachments",
        content_type="multipart/form-data",
        data={"kind": "其他材料", "file": (io.BytesIO(data), name, "application/x-msdownload")},
    )
    assert response.status_code == 302
    (row,) = listed("zhaoshang", pid)
    assert row["content_type"] == content_type and row["size"] == len(data)
    download = client.get(f"/attachments/{row['id']}")
    assert download.data == data and download.headers["Content-Type"] == content_type


def test_file_names_are_reduced_to_a_safe_display_name(app, client):
    clean = attachment_service.clean_filename
    assert clean("../../etc/passwd.pdf") == "passwd.pdf"
    assert clean("C:\\Users\\招商\\计划书.pdf") == "计划书.pdf"
    assert clean("报告\u202egpj.exe") == "报告gpj.exe"  # no right-to-left override trick
    assert clean("纪\x00要\r\n第二稿.docx") == "纪要 第二稿.docx"
    assert clean('a<b>:"c"|?*.pdf') == "a_b___c____.pdf"
    long = clean("长" * 300 + ".pdf")
    assert len(long) == attachment_service.MAX_FILENAME and long.endswith(".pdf")

    pid = register_lead(client)
    assert upload(client, pid, "..\\..\\投资\u202e计划书.pdf").status_code == 302
    assert [r["filename"] for r in listed("zhaoshang", pid)] == [PLAN]


def test_only_those_who_may_see_the_project_download_and_only_its_workers_upload(app, client):
    pid = register_lead(client)
    upload(client, pid, PLAN)
    (row,) = listed("zhaoshang", pid)
    url = f"/attachments/{row['id']}"

    client.post("/logout")
    assert "/login" in client.get(url).headers["Location"]
    assert "/login" in upload(client, pid, "x.pdf").headers["Location"]

    for outsider in ("tj_shangwu", "rev_fgj", "luohu", "admin"):  # another county; not (yet) on the project
        login(client, outsider)
        assert client.get(url).status_code == 403, outsider
        assert upload(client, pid, "x.pdf").status_code == 403, outsider
        assert panel(app, outsider, pid).strip() == ""

    login(client, "shenji")  # the auditor reads, never adds
    assert client.get(url).status_code == 200
    assert upload(client, pid, "x.pdf").status_code == 403
    html = panel(app, "shenji", pid)
    assert PLAN in html and 'id="attachment-upload"' not in html

    login(client, "yanpan")  # the screening team, whose task is open, adds material
    assert upload(client, pid, "研判.pdf", kind="评审材料").status_code == 302
    assert stored() == (2, 2)


def test_on_a_task_only_those_who_may_work_on_it_upload_and_the_file_names_the_task(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms")
    tasks = {unit: tid for tid, spec, unit in ready_tasks(app, pid) if spec == "department_review"}

    login(client, "rev_fgj")  # now on the project: may read and add material to the own opinion
    response = upload(client, pid, "发改意见.pdf", kind="评审材料", task_id=tasks["fgj"])
    assert response.headers["Location"].endswith(f"/tasks/{tasks['fgj']}#attachments")
    (row,) = [r for r in listed("rev_fgj", pid) if r["filename"] == "发改意见.pdf"]
    assert row["task_id"] == tasks["fgj"] and row["task_title"]
    assert client.get(f"/attachments/{row['id']}").status_code == 200
    html = panel(app, "rev_fgj", pid, tasks["fgj"])
    assert f'name="task_id" value="{tasks["fgj"]}"' in html

    # Not on another department's task, nor on a task of another project.
    assert upload(client, pid, "x.pdf", task_id=tasks["sthj"]).status_code == 403
    assert 'id="attachment-upload"' not in panel(app, "rev_fgj", pid, tasks["sthj"])
    other = register_lead(client, investor="另一家投资有限公司")
    login(client, "rev_fgj")
    assert upload(client, other, "x.pdf", task_id=tasks["fgj"]).status_code == 404
    assert upload(client, pid, "x.pdf", task_id="abc").status_code == 400
    assert stored()[0] == 1


def test_a_cancelled_project_keeps_its_files_readable_but_takes_no_more(app, client):
    pid = register_lead(client)
    upload(client, pid, PLAN)
    assert client.post(f"/projects/{pid}/cancel", data={"reason": "投资方撤回投资意向"}).status_code == 302
    assert upload(client, pid, "x.pdf").status_code == 403
    (row,) = listed("zhaoshang", pid)
    assert client.get(f"/attachments/{row['id']}").data == PDF
    assert 'id="attachment-upload"' not in panel(app, "zhaoshang", pid)


def test_a_download_whose_bytes_no_longer_match_their_hash_is_refused(app, client):
    pid = register_lead(client)
    upload(client, pid, PLAN)
    (row,) = listed("zhaoshang", pid)
    with transaction() as s:
        s.get(Attachment, row["id"]).content = PDF + b"tampered"
    assert client.get(f"/attachments/{row['id']}").status_code == 500
    assert client.get("/attachments/999999").status_code == 404


@pytest.fixture
def english(client):
    """The English catalogue compiled (a fresh clone has no .mo) and chosen for this client."""
    translations = Path(__file__).resolve().parents[1] / "webapp" / "translations"
    po = translations / "en" / "LC_MESSAGES" / "messages.po"
    if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime:
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "compile", "-f", "-d", str(translations)],
            check=True,
            capture_output=True,
        )
    assert client.post("/lang/en", data={"next": "/"}).status_code == 302


def test_refusals_and_the_card_are_in_english_once_chosen(app, client, english, monkeypatch):
    monkeypatch.setattr(attachment_service, "MAX_SIZE", 64)
    pid = register_lead(client)
    page = client.get(upload(client, pid, "setup.exe", EXE[:32]).headers["Location"]).data.decode()
    assert "File type not supported" in page and "不支持" not in page
    page = client.get(upload(client, pid, PLAN, PDF + b" " * 64).headers["Location"]).data.decode()
    assert "File too large: attachments may not exceed 64 B." in page
    upload(client, pid, PLAN)
    with app.test_request_context("/"):
        from flask import session

        session["lang"] = "en"
        login_user(SessionUser(actor("zhaoshang")))
        html = render_template_string(
            "{% set attachments, can_upload = project_attachments(iid) %}{% set instance_id = iid %}"
            "{% include 'attachments/_list.html' %}",
            iid=pid,
        )
    assert "Investment plan" in html and "Upload attachment" in html and "附件" not in html


def test_every_attachment_message_and_kind_is_in_the_catalogue_sources():
    messages = [
        v
        for k, v in vars(attachment_service).items()
        if k.isupper() and isinstance(v, str) and re.search(r"[\u4e00-\u9fff]", v)
    ]
    assert len(messages) >= 10
    po = (
        Path(__file__).resolve().parent.parent / "webapp/translations/en/LC_MESSAGES/messages.po"
    ).read_text("utf-8")
    marked = re.findall(r'N_\("([^"]+)"\)', Path(attachment_service.__file__).read_text("utf-8"))
    missing = [
        m
        for m in [*messages, *attachment_service.KINDS]
        if m not in DYNAMIC_STRINGS and not (m in marked and f'msgid "{m}"' in po)
    ]
    assert not missing
