"""Documents (文书, ): Chinese A4 PDFs generated from a project's data, downloaded from the project
page by those who may see the project, each generation in the audit log with the PDF's SHA-256.

The PDFs are checked the way a reader would see them, not only by their text: pdftotext extracts
Chinese even from a PDF that shows empty boxes, so the tests also ask pdffonts for an embedded CJK
font and render pages with pdftoppm (PNGs in test-output/documents/, to look at).
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from flow_support import login
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy import select

from workflows import db
from workflows.capabilities import document_service
from workflows.db import transaction
from workflows.demo import DEMO_LEAD, actor, advance
from workflows.models import AuditEvent, Filing, ProcessInstance
from workflows.rendering import documents
from workflows.services import project_service

OUT = Path(__file__).resolve().parents[1] / "test-output" / "documents"
KINDS = list(documents.KINDS)
CONDITION = "须先完成环境影响评价审批，废水须经预处理后接入园区污水处理厂。"
# Who downloads each document in the main test: a different permitted role each time.
DOWNLOADER = {"review-form": "zhuren", "joint-review": "rev_fgj", "contract-review": "fazhi",
              "filing-form": "shishangwu", "reminder-letter": "shangwu", "history": "shenji"}
A4 = (595.28, 841.89)  # points


def _signature() -> str:
    """A signature as the browser's signature pad sends it: a PNG data URL with a few strokes."""
    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 70), (60, 20), (90, 80), (130, 30), (170, 75), (220, 25), (280, 60)],
                               fill=(10, 10, 60, 255), width=5)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """One 重大 project taken through joint review (one 有条件同意), executive meeting, contract review,
    filing and signing, with drawn signatures on the leaders' decisions; plus a lead at screening."""
    from webapp import create_app

    path = tmp_path_factory.mktemp("documents") / "documents.sqlite3"
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "t"})
    pid = project_service.project_start(actor("zhaoshang"), DEMO_LEAD)
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation", special_terms="true", special_terms_detail="前三年按地方留成部分给予产业扶持。")
    advance(pid, "approve_terms", signature=_signature())
    advance(pid, "department_review", only_units={"sthj"}, review_decision="有条件同意", review_conditions=CONDITION)
    advance(pid, "department_review")
    for spec in ("review_materials", "pre_review"):
        advance(pid, spec)
    advance(pid, "review_meeting", signature=_signature())
    advance(pid, "executive_meeting", signature=_signature())
    advance(pid, "contract_review", conditions_in_contract="true")
    advance(pid, "approve_filing", signature=_signature())
    advance(pid, "prefecture_review")
    advance(pid, "signing")
    lead = project_service.project_start(actor("zhaoshang"), {**DEMO_LEAD, "project_name": "农机配件智能制造项目"})
    with transaction() as s:
        number = s.scalar(select(Filing.number).where(Filing.instance_id == pid))
    OUT.mkdir(parents=True, exist_ok=True)
    yield app, {"signed": pid, "lead": lead, "filing_number": number}
    db.engine().dispose()


def poppler(tool: str, *args: str) -> str:
    """Run a poppler-utils tool (CI installs the package; locally `apt-get install -y poppler-utils`)."""
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} (poppler-utils) is required in CI")
        pytest.skip(f"{tool} not installed (apt-get install -y poppler-utils)")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True).stdout


def download(app, username: str, instance_id: int, kind: str, expect: int = 200):
    client = app.test_client()
    login(client, username)
    response = client.get(f"/projects/{instance_id}/documents/{kind}.pdf")
    assert response.status_code == expect, response.data[:500]
    return response


def text_of(pdf: Path) -> str:
    """The PDF's text without line breaks and spaces (a name may wrap inside a table cell)."""
    return re.sub(r"\s+", "", poppler("pdftotext", "-enc", "UTF-8", str(pdf), "-"))


def generated_events(instance_id: int) -> list[AuditEvent]:
    with transaction() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                                       AuditEvent.action == "document_generated")
                              .order_by(AuditEvent.id)))


@pytest.mark.parametrize("kind", KINDS)
def test_each_document_downloads_as_a_chinese_a4_pdf_with_an_embedded_cjk_font_and_is_audited(signed, kind,
                                                                                                  tmp_path):
    app, ids = signed
    username = DOWNLOADER[kind]
    response = download(app, username, ids["signed"], kind)
    pdf = response.data

    assert response.mimetype == "application/pdf" and pdf.startswith(b"%PDF-")
    title = documents.KINDS[kind]
    filename = quote(f"{title}-{DEMO_LEAD['project_name']}.pdf", safe="")
    assert f"filename*=UTF-8''{filename}" in response.headers["Content-Disposition"]

    pages = PdfReader(io.BytesIO(pdf)).pages
    assert pages
    for page in pages:  # A4 portrait on every page
        assert abs(float(page.mediabox.width) - A4[0]) < 1 and abs(float(page.mediabox.height) - A4[1]) < 1

    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(pdf)
    fonts = [line.split() for line in poppler("pdffonts", str(path)).splitlines()[2:] if line.strip()]
    assert fonts
    assert any(re.search(r"Noto.?Serif.?CJK", f[0], re.IGNORECASE) and "yes" in f for f in fonts), fonts
    # Every font is embedded, and nothing fell back to a font without Chinese.
    assert all(re.search(r"Noto.?(Serif|Sans).?CJK", f[0], re.IGNORECASE) for f in fonts), fonts

    text = text_of(path)
    assert DEMO_LEAD["project_name"] in text and "县商务局" in text
    assert "南县" in text and "页共" in text  # issuer county; 第 X 页 共 Y 页
    if kind == "filing-form":
        assert ids["filing_number"] and ids["filing_number"] in text
    if kind == "joint-review":
        assert CONDITION in text and "有条件同意" in text
    if kind == "reminder-letter":
        assert "南县经济开发区" in text and "提醒函" in text
    if kind != "history":
        assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text)

    event = generated_events(ids["signed"])[-1]
    assert event.actor == username
    assert event.data["kind"] == kind and event.data["title"] == title
    assert event.data["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert event.outcome == title

    # The first page as a picture, for people to look at.
    poppler("pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(path), str(OUT / kind))


def test_the_filing_form_renders_as_a_visible_bordered_form(signed, tmp_path):
    app, ids = signed
    path = tmp_path / "filing-form.pdf"
    path.write_bytes(download(app, "shangwu", ids["signed"], "filing-form").data)
    target = OUT / "filing-form-page1"
    poppler("pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(path), str(target))

    image = Image.open(target.with_suffix(".png")).convert("L")
    width, height = image.size
    assert abs(width - 661) <= 2 and abs(height - 935) <= 2  # A4 at 80 dpi
    dark = sum(image.histogram()[:128]) / (width * height)
    # Text and cell borders: neither an empty page nor a black one. (Empty boxes instead of glyphs would
    # pass this too; the embedded-font check above and the PNGs to look at cover that.)
    assert 0.02 < dark < 0.25, dark
    # The form's borders: rows of pixels dark across most of the printed width.
    raw = image.tobytes()
    rules = [y for y in range(height) if sum(b < 128 for b in raw[y * width:(y + 1) * width]) > 0.6 * width]
    assert len(rules) >= 8, len(rules)


def test_a_drawn_signature_is_embedded_in_the_leaders_opinion_boxes(signed):
    app, ids = signed
    reader = PdfReader(io.BytesIO(download(app, "shangwu", ids["signed"], "review-form").data))
    images = [image for page in reader.pages for image in page.images]
    assert len(images) >= 4  # approve_terms, review_meeting, executive_meeting, approve_filing


def test_those_who_may_not_see_the_project_get_403_for_every_document(signed):
    app, ids = signed
    before = len(generated_events(ids["signed"]))
    for username in ("tj_shangwu", "luohu_nyq", "admin"):
        for kind in KINDS:
            download(app, username, ids["signed"], kind, expect=403)
    assert len(generated_events(ids["signed"])) == before


def test_only_the_county_commerce_bureau_issues_the_reminder_letter(signed):
    app, ids = signed
    before = len(generated_events(ids["signed"]))
    for username in ("shenji", "zhuren", "fazhi", "shishangwu"):
        download(app, username, ids["signed"], "reminder-letter", expect=403)
    assert len(generated_events(ids["signed"])) == before
    download(app, "shangwu", ids["signed"], "reminder-letter")


def test_an_unknown_kind_or_project_is_404(signed):
    app, ids = signed
    download(app, "shangwu", ids["signed"], "contract", expect=404)
    download(app, "shangwu", 99999, "review-form", expect=404)


def test_a_document_of_a_stage_not_reached_is_409_and_not_offered(signed):
    app, ids = signed
    lead = ids["lead"]
    for kind in ("joint-review", "contract-review", "filing-form", "reminder-letter"):
        download(app, "shangwu", lead, kind, expect=409)
    download(app, "shangwu", lead, "review-form")
    client = app.test_client()
    login(client, "shangwu")
    page = client.get(f"/projects/{lead}").get_data(as_text=True)
    assert 'id="documents"' in page
    assert f"/projects/{lead}/documents/review-form.pdf" in page and f"/projects/{lead}/documents/history.pdf" in page
    assert "filing-form.pdf" not in page and "reminder-letter.pdf" not in page


def test_the_signed_project_page_offers_every_document_and_the_letter_only_to_the_commerce_bureau(signed):
    app, ids = signed
    pid = ids["signed"]
    client = app.test_client()
    login(client, "shangwu")
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    for kind in KINDS:
        assert f'href="/projects/{pid}/documents/{kind}.pdf"' in page
    login(client, "zhuren")
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert f"/projects/{pid}/documents/review-form.pdf" in page
    assert "reminder-letter.pdf" not in page
    login(client, "tj_shangwu")
    assert client.get(f"/projects/{pid}").status_code == 403


def test_a_timer_can_issue_the_reminder_letter_with_the_days_overdue(signed, tmp_path):
    _, ids = signed
    with transaction() as s:
        instance = s.get(ProcessInstance, ids["signed"])
        filename, pdf = document_service.reminder_letter(s, instance, "jkq", 45)
    assert filename == f"项目推进提醒函-{DEMO_LEAD['project_name']}.pdf"
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    text = text_of(path)
    assert "已超过开工期限45天" in text and "南县经济开发区" in text and "县商务局" in text
    event = generated_events(ids["signed"])[-1]
    assert event.actor == "system" and event.data["days_overdue"] == 45
    assert event.data["sha256"] == hashlib.sha256(pdf).hexdigest()


def test_without_a_chinese_font_generation_fails_clearly_instead_of_printing_boxes(signed, monkeypatch):
    app, ids = signed
    before = len(generated_events(ids["signed"]))
    monkeypatch.setattr(documents, "cjk_families", lambda: frozenset({"DejaVu Sans"}))
    response = download(app, "shangwu", ids["signed"], "review-form", expect=500)
    assert "Noto Serif CJK SC" in response.get_data(as_text=True)
    assert len(generated_events(ids["signed"])) == before


def test_document_numbers_dates_and_amounts_are_written_the_official_way():
    # Stable: the county's abbreviation, 商, the kind's character, the registration year, the project id.
    assert documents.document_number("南县", "review-form", 2026, 12) == "南商审〔2026〕12号"
    assert documents.document_number("桃江县", "reminder-letter", 2027, 3) == "桃商函〔2027〕3号"
    # GB/T 9704-2012 §7.3.5.3: Arabic numerals, no leading zero; database times are UTC, paper is China time.
    assert documents.cn_date(date(2026, 5, 6)) == "2026年5月6日"
    assert documents.cn_date(datetime(2026, 5, 5, 17, 30)) == "2026年5月6日"
    assert documents.cn_date("2026-11-03") == "2026年11月3日"
    assert documents.wan(25000) == "25,000.00" and documents.wan(1234567.5) == "1,234,567.50"
    assert documents.wan(None) == "—"
