"""Comparing two versions of a process element by element, over HTTP: tasks, flows, gateway conditions,
form fields (by JSON path) and DMN rules, in a table and coloured on the diagram."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile

from flow_support import login
from sqlalchemy import select

from workflows.db import transaction
from workflows.engine import model_store
from workflows.models import ModelVersion

PROCESS = "investment_project"
CONDITION = "screening_decision == '不予通过'"


def _deploy(client, files: dict[str, str]) -> tuple[int, int]:
    """Deploy the files as the administrator; (old id, new id) of the investment process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    login(client, "admin")
    response = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"files": (io.BytesIO(buffer.getvalue()), "model.zip"), "note": "比较"},
    )
    assert response.status_code == 302, re.findall(r'class="error"[^>]*>([^<]*)', response.data.decode())
    with transaction() as s:
        ids = list(
            s.scalars(
                select(ModelVersion.id).where(ModelVersion.process_id == PROCESS).order_by(ModelVersion.id)
            )
        )
    return ids[-2], ids[-1]


def _rows(page: str) -> list[dict]:
    table = page.split('id="element-changes"')[1].split("</table>")[0]
    return [
        {k: html.unescape(v) for k, v in re.findall(r'data-(status|kind|where|path)="([^"]*)"', row)}
        for row in re.findall(r"<tr class=\"change-[^>]*>", table)
    ]


def _form_and_condition_changed() -> dict[str, str]:
    files = model_store.read_model_files()
    schema = json.loads(files["forms/screening-schema.json"])
    schema["properties"]["class_reason"]["maxLength"] = 1000
    files["forms/screening-schema.json"] = json.dumps(schema, ensure_ascii=False, indent=2)
    bpmn = files[f"bpmn/{PROCESS}.bpmn"]
    assert bpmn.count(CONDITION) == 1
    files[f"bpmn/{PROCESS}.bpmn"] = bpmn.replace(CONDITION, "screening_decision in ('不予通过', '否决')")
    return files


def test_one_changed_form_field_and_one_changed_condition_show_exactly_those_two_changes(app, client):
    old, new = _deploy(client, _form_and_condition_changed())
    page = client.get(f"/audit/versions/diff?old={old}&new={new}")
    assert page.status_code == 200
    text = page.data.decode()
    rows = _rows(text)
    assert sorted((r["kind"], r["status"], r["where"], r["path"]) for r in rows) == [
        ("condition", "changed", "flow_gw_screening_to_end_rejected", "conditionExpression"),
        ("form", "changed", "forms/screening-schema.json", "$.properties.class_reason"),
    ]
    assert "maxLength=2000" in html.unescape(text) and "maxLength=1000" in html.unescape(text)
    # On the new diagram: the flow whose condition changed, and the task whose form changed.
    diagram = text.split('id="new-diagram"')[1]
    assert 'data-element="flow_gw_screening_to_end_rejected" data-state="changed"' in diagram
    assert re.search(r'data-element="screening" data-state="changed"', diagram)
    assert 'data-state="added"' not in diagram and 'id="old-diagram"' not in text  # nothing removed
    # The auditor sees the same comparison.
    login(client, "shenji")
    assert _rows(client.get(f"/audit/versions/diff?old={old}&new={new}").data.decode()) == rows


def test_added_and_removed_tasks_and_a_changed_dmn_rule_are_listed_and_drawn_escaped(app, client):
    files = model_store.read_model_files()
    bpmn = files[f"bpmn/{PROCESS}.bpmn"]
    # Rename a task to a name with markup, and change a DMN cell: both must come out escaped.
    assert bpmn.count('name="研判专班初审"') == 1
    files[f"bpmn/{PROCESS}.bpmn"] = bpmn.replace(
        'name="研判专班初审"', 'name="初审&lt;script&gt;x()&lt;/script&gt;"'
    )
    files["bpmn/project_class.dmn"] = files["bpmn/project_class.dmn"].replace("&gt;= 20000", "&gt;= 30000")
    old, new = _deploy(client, files)
    text = client.get(f"/audit/versions/diff?old={old}&new={new}").data.decode()
    rows = _rows(text)
    kinds = sorted((r["kind"], r["status"], r["where"]) for r in rows)
    assert ("task", "changed", "screening") in kinds
    assert ("rule", "changed", "rule_major_domestic") in kinds
    assert "<script>x()" not in text and "&lt;script&gt;x()" in text
    diagram = text.split('id="new-diagram"')[1]
    # the business rule tasks calling the changed decision are marked
    assert 'data-state="changed"' in diagram

    # Comparing the other way round: nothing is added or removed, the same elements are changed.
    back = _rows(client.get(f"/audit/versions/diff?old={new}&new={old}").data.decode())
    assert sorted((r["kind"], r["where"]) for r in back) == sorted((r["kind"], r["where"]) for r in rows)


def test_an_added_task_is_green_on_the_new_diagram_and_a_removed_flow_red_on_the_old(app, client):
    files = model_store.read_model_files()
    bpmn = files[f"bpmn/{PROCESS}.bpmn"]
    # Re-route 退回补充 through a new manual task (its shape is placed beside the gateway).
    flow = (
        '<bpmn:sequenceFlow id="flow_gw_screening_to_supplement_lead" name="退回补充" '
        'sourceRef="gw_screening" targetRef="supplement_lead" />'
    )
    assert bpmn.count(flow) == 1
    bpmn = bpmn.replace(
        flow,
        '<bpmn:manualTask id="phone_investor" name="电话告知投资方" />'
        '<bpmn:sequenceFlow id="flow_gw_to_phone" name="退回补充" sourceRef="gw_screening" '
        'targetRef="phone_investor" /><bpmn:sequenceFlow id="flow_phone_to_supplement" '
        'sourceRef="phone_investor" targetRef="supplement_lead" />',
    )
    edge = re.search(
        r'<bpmndi:BPMNEdge id="[^"]*" '
        r'bpmnElement="flow_gw_screening_to_supplement_lead">.*?</bpmndi:BPMNEdge>',
        bpmn,
        re.DOTALL,
    ).group(0)
    points = re.findall(r'<di:waypoint x="([\d.]+)" y="([\d.]+)" />', edge)
    (x1, y1), (x2, y2) = points[0], points[-1]
    bpmn = bpmn.replace(
        edge,
        f'<bpmndi:BPMNShape id="phone_investor_di" bpmnElement="phone_investor">'
        f'<dc:Bounds x="{x1}" y="{float(y1) + 60}" width="100" height="80" /></bpmndi:BPMNShape>'
        f'<bpmndi:BPMNEdge id="e1" bpmnElement="flow_gw_to_phone"><di:waypoint x="{x1}" y="{y1}" />'
        f'<di:waypoint x="{x1}" y="{float(y1) + 60}" /></bpmndi:BPMNEdge>'
        f'<bpmndi:BPMNEdge id="e2" bpmnElement="flow_phone_to_supplement">'
        f'<di:waypoint x="{x1}" y="{float(y1) + 140}" /><di:waypoint x="{x2}" y="{y2}" />'
        f"</bpmndi:BPMNEdge>",
    )
    files[f"bpmn/{PROCESS}.bpmn"] = bpmn.replace(
        'default="flow_gw_screening_to_supplement_lead"', 'default="flow_gw_to_phone"'
    )
    old, new = _deploy(client, files)
    text = client.get(f"/audit/versions/diff?old={old}&new={new}").data.decode()
    got = {(r["kind"], r["status"], r["where"]) for r in _rows(text)}
    assert {
        ("task", "added", "phone_investor"),
        ("flow", "added", "flow_gw_to_phone"),
        ("flow", "added", "flow_phone_to_supplement"),
        ("flow", "removed", "flow_gw_screening_to_supplement_lead"),
        ("gateway", "changed", "gw_screening"),
    } <= got
    new_diagram = text.split('id="new-diagram"')[1].split('id="old-diagram"')[0]
    assert 'data-element="phone_investor" data-state="added"' in new_diagram
    old_diagram = text.split('id="old-diagram"')[1]
    assert 'data-element="flow_gw_screening_to_supplement_lead" data-state="removed"' in old_diagram


def test_the_same_version_compared_with_itself_has_no_element_change(app, client):
    login(client, "shenji")
    with transaction() as s:
        vid = s.scalar(select(ModelVersion.id).where(ModelVersion.process_id == PROCESS))
    text = client.get(f"/audit/versions/diff?old={vid}&new={vid}").data.decode()
    assert 'id="no-element-change"' in text and 'id="element-changes"' not in text
