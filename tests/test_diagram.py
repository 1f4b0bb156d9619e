"""The server-side BPMN diagram: drawn from the file's own diagram interchange, lanes named
in Chinese, every element marked completed, active or pending."""
from __future__ import annotations

import pytest
from lxml import etree

from workflows.engine.model_store import read_model_files
from workflows.rendering.diagram import NS, bpmn_file_for, render_svg
from workflows.roles import ROLES

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("process_id", ["investment_project", "investor_complaint"])
def test_every_shape_and_edge_of_the_diagram_interchange_is_drawn(process_id):
    text = bpmn_file_for(read_model_files(), process_id)
    model = etree.fromstring(text.encode("utf-8"))
    shapes = {s.get("bpmnElement") for s in model.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement") for e in model.iterfind(".//bpmndi:BPMNEdge", NS)}
    svg = etree.fromstring(render_svg(text, process_id).encode("utf-8"))  # well-formed XML
    drawn = {g.get("data-element") for g in svg.iter(f"{SVG}g")}
    assert shapes <= drawn and edges <= drawn
    # Lanes carry the Chinese role names, not the role codes of the BPMN.
    texts = "".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    for lane in model.iterfind(".//bpmn:lane", NS):
        assert ROLES[lane.get("name")].name in texts
    # Positions come from the DI: the first task is where the modeler put it.
    first_task = next(model.iterfind(".//bpmn:userTask", NS)).get("id")
    bounds = next(s for s in model.iterfind(".//bpmndi:BPMNShape", NS)
                  if s.get("bpmnElement") == first_task).find("dc:Bounds", NS)
    group = next(g for g in svg.iter(f"{SVG}g") if g.get("data-element") == first_task)
    rect = group.find(f"{SVG}rect")
    assert (rect.get("x"), rect.get("y")) == (str(float(bounds.get("x"))), str(float(bounds.get("y"))))


def test_elements_are_marked_completed_active_or_pending():
    text = bpmn_file_for(read_model_files(), "investment_project")
    svg = render_svg(text, "investment_project", done={"start_lead", "register_lead", "propose_class", "screening",
                                                       "gw_screening"}, active={"negotiation"}, width=1200)
    root = etree.fromstring(svg.encode("utf-8"))
    state = {g.get("data-element"): g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("data-state")}
    assert state["screening"] == "done" and state["negotiation"] == "active" and state["signing"] == "pending"
    taken = {g.get("data-element") for g in root.iter(f"{SVG}g") if "taken" in (g.get("class") or "")}
    assert "flow_screening_to_gw_screening" in taken and "flow_gw_screening_to_negotiation" in taken
    assert not any("signing" in flow for flow in taken)
    assert root.get("width") == "1200"
    assert "项目洽谈" in svg and "研判专班" in svg  # task and lane labels in Chinese
