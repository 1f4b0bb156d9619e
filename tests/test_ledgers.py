"""Ledgers (台账) as a head of office uses them: filter, sort, export to Excel — the export equals the
table on screen; and the monthly / quarterly summary PDF."""

from __future__ import annotations

import io
from html.parser import HTMLParser

import pytest
from flow_support import login


class _Table(HTMLParser):
    """The cells of <table id="ledger"> as text, row by row."""

    def __init__(self):
        super().__init__()
        self.rows, self._in, self._cell = [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == "ledger":
            self._in = True
        elif self._in and tag == "tr":
            self.rows.append([])
        elif self._in and tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif self._in and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join(self._cell.split()).replace(" ▲", "").replace(" ▼", ""))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def screen_table(html: str) -> list[list[str]]:
    parser = _Table()
    parser.feed(html)
    return parser.rows


def same(screen: str, cell) -> bool:
    if cell is None:
        return screen == ""
    if isinstance(cell, (int, float)):
        return float(screen) == pytest.approx(float(cell))
    return screen == str(cell)


@pytest.fixture
def demo_client(app, client):
    from workflows.demo import seed_projects

    seed_projects()
    login(client, "zhuren")
    return client


@pytest.mark.parametrize("kind", ["projects", "signed"])
def test_the_excel_export_equals_the_table_on_screen(demo_client, kind):
    from openpyxl import load_workbook

    query = "?sort=name&desc=1" if kind == "projects" else ""
    page = demo_client.get(f"/ledgers/{kind}{query}")
    assert page.status_code == 200
    screen = screen_table(page.data.decode())
    export = demo_client.get(f"/ledgers/{kind}.xlsx{query}")
    assert export.status_code == 200
    assert export.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(export.data)).active
    rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert "台账" in sheet["A1"].value
    assert rows[0] == screen[0]  # the Chinese headers
    assert len(rows) == len(screen) and len(rows) > 1
    for on_screen, in_excel in zip(screen[1:], rows[1:], strict=True):
        assert all(same(s, c) for s, c in zip(on_screen, in_excel, strict=True)), (on_screen, in_excel)
    if kind == "projects":
        assert rows[0][:3] == ["序号", "项目名称", "投资方"]
        names = [r[1] for r in rows[1:-1]]  # the last row holds the totals
        assert names == sorted(names, reverse=True)  # sorted by name, descending, in both
    else:
        assert rows[1][1] == "年产10万吨稻虾深加工项目" and rows[-1][0] == "合计"


def test_a_filter_narrows_screen_and_export_alike(demo_client):
    from openpyxl import load_workbook

    page = demo_client.get("/ledgers/projects?f_host_site=南洲镇")
    screen = screen_table(page.data.decode())
    assert [r[1] for r in screen[1:-1]] == ["高端食品包装材料项目"]
    sheet = load_workbook(
        io.BytesIO(demo_client.get("/ledgers/projects.xlsx?f_host_site=南洲镇").data)
    ).active
    assert [r[1] for r in sheet.iter_rows(min_row=3, values_only=True)][:-1] == ["高端食品包装材料项目"]
    # 外资 stays in 万美元, 内资 in 万元.
    header = screen[0]
    assert float(screen[1][header.index("外资（万美元）")]) == 3500
    assert float(screen[1][header.index("内资（万元）")]) == 0


def test_the_overdue_ledger_lists_tasks_past_their_deadline(demo_client):
    from sqlalchemy import update

    from workflows.db import transaction
    from workflows.models import TaskRecord
    from workflows.models._types import utcnow

    with transaction() as s:  # let the clock run: the screening of the foreign lead is overdue
        s.execute(
            update(TaskRecord)
            .where(TaskRecord.state == "ready", TaskRecord.spec_name == "screening")
            .values(due_at=utcnow().replace(year=2020))
        )
    screen = screen_table(demo_client.get("/ledgers/overdue").data.decode())
    assert [r[4] for r in screen[1:]] == ["研判专班初审"]
    assert screen[1][3] == "环节超期" and int(screen[1][8]) > 300
    dashboard = demo_client.get("/dashboard/").data.decode()
    assert "研判专班" in dashboard.split('id="overdue"')[1].split("</section>")[0]


def test_others_may_not_read_the_ledgers(demo_client):
    login(demo_client, "zhaoshang")
    assert demo_client.get("/ledgers/projects").status_code == 403
    assert demo_client.get("/ledgers/projects.xlsx").status_code == 403


def test_the_prefecture_ledger_lists_only_filed_projects(demo_client):
    login(demo_client, "shishangwu")
    screen = screen_table(demo_client.get("/ledgers/projects").data.decode())
    assert sorted(r[1] for r in screen[1:-1]) == ["农机配件智能制造项目", "年产10万吨稻虾深加工项目"]


def test_the_quarterly_report_is_a_chinese_pdf_with_the_periods_figures(demo_client):
    from pypdf import PdfReader

    from workflows.localtime import to_local
    from workflows.models._types import utcnow

    today = to_local(utcnow()).date()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    response = demo_client.get(f"/dashboard/report.pdf?period={quarter}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "南县招商引资工作季度报告" in text.replace("\n", "")
    assert "履约率" in text and "资金到位率" in text and "25,000.00" in text
    monthly = demo_client.get(f"/dashboard/report.pdf?period={today.year}-{today.month:02d}")
    assert "月度报告" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(monthly.data)).pages).replace(
        "\n", ""
    )
