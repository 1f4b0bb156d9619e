"""Draw a BPMN process as SVG from the file's own diagram interchange (bpmndi), on the server.

Shapes and edges sit where the modeler put them (dc:Bounds, di:waypoint); lanes show the Chinese
role names; each flow node is marked completed, active or pending. Every name, id or label from the
model goes through markupsafe's escape (quotes included) and the drawing is returned as Markup.
Plain SVG with inline styles, so the same drawing works in a browser page and in a PDF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree
from markupsafe import Markup, escape

from workflows.roles import ROLES

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
FONT = (
    "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','WenQuanYi Micro Hei','Microsoft YaHei',"
    "sans-serif"
)
# status → (fill, stroke, stroke width)
STYLE = {
    "done": ("#e4f3e4", "#2e7d32", 2),
    "active": ("#fff1c2", "#d35400", 4),
    "pending": ("#ffffff", "#8a8f98", 1.5),
    # a comparison of two versions (workflows/model_compare.py)
    "added": ("#dff5e1", "#1b7f3b", 4),
    "changed": ("#e3ecff", "#1d4ed8", 4),
    "removed": ("#fde2e2", "#c62828", 4),
}
DIFF_EDGE = {"added": "#1b7f3b", "changed": "#1d4ed8", "removed": "#c62828"}
TASKS = {
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "manualTask",
    "sendTask",
    "receiveTask",
    "callActivity",
    "subProcess",
}
EVENTS = {"startEvent", "endEvent", "boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"}


@dataclass
class _Element:
    id: str
    kind: str
    name: str
    attrs: dict[str, str]
    markers: set[str] = field(default_factory=set)  # timer, message, multi-instance, …


@dataclass
class _Layout:
    width: float
    height: float
    min_x: float
    min_y: float
    elements: dict[str, _Element]
    shapes: list[tuple[str, tuple[float, float, float, float], tuple | None]]  # (element id, bounds, label)
    edges: list[tuple[str, list[tuple[float, float]], tuple | None]]


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _bounds(node) -> tuple[float, float, float, float] | None:
    b = node.find("dc:Bounds", NS)
    return (
        (float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height")))
        if b is not None
        else None
    )


@lru_cache(maxsize=16)
def _layout(bpmn_text: str, process_id: str) -> _Layout:
    root = etree.fromstring(bpmn_text.encode("utf-8"))
    elements: dict[str, _Element] = {}
    for node in root.iter():
        kind, node_id = _local(node.tag), node.get("id")
        if not node_id or node.getparent() is None:
            continue
        markers = {
            _local(c.tag).replace("EventDefinition", "")
            for c in node
            if _local(c.tag).endswith("EventDefinition")
        }
        if node.find("bpmn:multiInstanceLoopCharacteristics", NS) is not None:
            seq = node.find("bpmn:multiInstanceLoopCharacteristics", NS).get("isSequential") == "true"
            markers.add("sequential" if seq else "parallel")
        elements[node_id] = _Element(node_id, kind, node.get("name") or "", dict(node.attrib), markers)
    # The diagram whose plane shows this process (directly, or through the collaboration holding it).
    owners = {process_id} | {
        p.get("id") for p in root.iterfind(".//bpmn:participant", NS) if p.get("processRef") == process_id
    }
    owners |= {
        c.get("id")
        for c in root.iterfind("bpmn:collaboration", NS)
        if any(p.get("processRef") == process_id for p in c.iterfind("bpmn:participant", NS))
    }
    plane = next(
        (p for p in root.iterfind(".//bpmndi:BPMNPlane", NS) if p.get("bpmnElement") in owners), None
    )
    if plane is None:
        raise LookupError(f"no diagram for process {process_id}")
    shapes, edges, xs, ys = [], [], [], []
    for shape in plane.iterfind("bpmndi:BPMNShape", NS):
        bounds = _bounds(shape)
        label = shape.find("bpmndi:BPMNLabel", NS)
        shapes.append((shape.get("bpmnElement"), bounds, _bounds(label) if label is not None else None))
        xs += [bounds[0], bounds[0] + bounds[2]]
        ys += [bounds[1], bounds[1] + bounds[3]]
    for edge in plane.iterfind("bpmndi:BPMNEdge", NS):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.iterfind("di:waypoint", NS)]
        label = edge.find("bpmndi:BPMNLabel", NS)
        edges.append((edge.get("bpmnElement"), points, _bounds(label) if label is not None else None))
        xs += [x for x, _ in points]
        ys += [y for _, y in points]
    # Pool and lanes first, so everything else is drawn over them.
    order = {"participant": 0, "lane": 1}
    shapes.sort(key=lambda s: order.get(elements.get(s[0], _Element("", "", "", {})).kind, 2))
    min_x, min_y = min(xs) - 10, min(ys) - 10
    return _Layout(max(xs) - min_x + 10, max(ys) - min_y + 10, min_x, min_y, elements, shapes, edges)


def _text_width(text: str, size: float) -> float:
    return sum(size if ord(ch) > 0x2E7F else size * 0.55 for ch in text)


def _wrap(text: str, width: float, size: float) -> list[str]:
    """Break a label into lines that fit `width` (Chinese breaks between any two characters)."""
    lines, current = [], ""
    for ch in text:
        if current and _text_width(current + ch, size) > width:
            lines.append(current)
            current = ""
        current += ch
    return [*lines, current] if current else lines


def _text(
    lines: list[str], cx: float, top: float, size: float, color: str = "#1f2933", weight: str = "normal"
) -> str:
    out = []
    for i, line in enumerate(lines):
        y = top + size * (i + 1) * 1.15
        out.append(
            f'<text x="{cx:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="middle" '
            f'fill="{escape(color)}" font-weight="{escape(weight)}">{escape(line)}</text>'
        )
    return "".join(out)


def _centered(text: str, x: float, y: float, w: float, h: float, size: float) -> str:
    lines = _wrap(text, w - 8, size)[:4]
    top = y + (h - len(lines) * size * 1.15) / 2 - 2
    return _text(lines, x + w / 2, top, size)


def render_svg(
    bpmn_text: str,
    process_id: str,
    done: set[str] | frozenset = frozenset(),
    active: set[str] | frozenset = frozenset(),
    width: float | None = None,
    heat: dict[str, tuple[str, str]] | None = None,
    marks: dict[str, str] | None = None,
) -> Markup:
    """The process diagram as an SVG document; elements in `done` / `active` are marked, the rest pending.

    `width` scales the drawing to that many pixels (the viewBox keeps the model's coordinates).
    `heat` maps a task id to (fill colour, badge text): the waiting-time heatmap of the dashboard.
    `marks` maps an element id (node or flow) to added | changed | removed: a comparison of versions.
    """
    layout = _layout(bpmn_text, process_id)
    parts: list[str] = []
    status = {}
    for element_id in layout.elements:
        status[element_id] = "active" if element_id in active else "done" if element_id in done else "pending"
        if marks and marks.get(element_id) in DIFF_EDGE:
            status[element_id] = marks[element_id]
    for element_id, bounds, label in layout.shapes:
        element = layout.elements.get(element_id)
        if element is None or bounds is None:
            continue
        parts.append(_shape(element, bounds, label, status[element_id], (heat or {}).get(element_id)))
    edge_parts = []
    for element_id, points, label in layout.edges:
        element = layout.elements.get(element_id)
        if element is None or len(points) < 2:
            continue
        source, target = element.attrs.get("sourceRef"), element.attrs.get("targetRef")
        taken = status.get(source) == "done" and status.get(target) in ("done", "active")
        edge_parts.append(_edge(element, points, label, taken, (marks or {}).get(element_id)))
    # Edges go above lanes but below flow nodes: insert them after the pool and lane shapes.
    lanes = sum(
        1
        for e, *_ in layout.shapes
        if layout.elements.get(e) and layout.elements[e].kind in ("participant", "lane")
    )
    parts[lanes:lanes] = edge_parts
    scale = (width / layout.width) if width else 1
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bpmn-diagram" role="img" '
        f'width="{layout.width * scale:.0f}" height="{layout.height * scale:.0f}" '
        f'viewBox="{layout.min_x:.0f} {layout.min_y:.0f} {layout.width:.0f} {layout.height:.0f}" '
        f'font-family="{escape(FONT)}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#4a5160"/></marker>'
        '<marker id="arrow-done" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2e7d32"/></marker></defs>'
        + "".join(parts)
        + "</svg>"
    )


def _group(element: _Element, state: str, body: str) -> str:
    title = f"<title>{escape(element.name or element.id)}</title>"
    return (
        f'<g class="bpmn-element {escape(element.kind)} {state}" data-element="{escape(element.id)}" '
        f'data-state="{state}">{title}{body}</g>'
    )


def _shape(element: _Element, bounds, label, state: str, heat: tuple[str, str] | None = None) -> str:
    kind = element.kind
    if kind in ("participant", "lane"):
        return _pool_shape(element, bounds)
    if kind in TASKS:
        return _task_shape(element, bounds, state, heat)
    if kind in EVENTS:
        return _event_shape(element, bounds, label, state)
    if kind in GATEWAYS:
        return _gateway_shape(element, bounds, label, state)
    if kind == "dataObjectReference":
        return _data_object_shape(element, bounds, label)
    return ""


def _pool_shape(element: _Element, bounds) -> str:
    x, y, w, h = bounds
    kind = element.kind
    name = ROLES[element.name].name if kind == "lane" and element.name in ROLES else element.name
    band = 30
    fill = "#f7f8fa" if kind == "participant" else "none"
    lines = _wrap(name, h - 10, 15)[:2]
    cx, cy = x + band / 2, y + h / 2
    text = "".join(
        f'<text x="{cx + (i - (len(lines) - 1) / 2) * 17:.1f}" y="{cy:.1f}" font-size="15" '
        'text-anchor="middle" '
        'dominant-baseline="middle" fill="#334" transform="rotate(-90 '
        f'{cx + (i - (len(lines) - 1) / 2) * 17:.1f} {cy:.1f})">'
        f"{escape(line)}</text>"
        for i, line in enumerate(lines)
    )
    return (
        f'<g class="bpmn-{escape(kind)}" data-element="{escape(element.id)}">'
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{escape(fill)}" stroke="#b5bac3" '
        'stroke-width="1.5"/>'
        f'<line x1="{x + band}" y1="{y}" x2="{x + band}" y2="{y + h}" stroke="#b5bac3"/>{text}</g>'
    )


def _task_shape(element: _Element, bounds, state: str, heat: tuple[str, str] | None) -> str:
    x, y, w, h = bounds
    kind = element.kind
    fill, stroke, stroke_width = STYLE[state]
    if heat:
        fill = heat[0]
    body = (
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="10" fill="{escape(fill)}" '
        f'stroke="{escape(stroke)}" '
        f'stroke-width="{stroke_width}"/>'
        + _task_marker(kind, x, y, stroke)
        + _mi_marker(element, x, y, w, h, stroke)
        + _centered(element.name, x, y + 6 - (7 if heat else 0), w, h - 12, 12)
    )
    if heat:
        body += (
            f'<text class="heat-badge" x="{x + w / 2:.1f}" y="{y + h - 5:.1f}" font-size="11" '
            f'text-anchor="middle" font-weight="bold" fill="#1f2933">{escape(heat[1])}</text>'
        )
        return _group(element, "heat", body)
    return _group(element, state, body)


def _event_shape(element: _Element, bounds, label, state: str) -> str:
    x, y, w, h = bounds
    kind = element.kind
    fill, stroke, stroke_width = STYLE[state]
    r = w / 2
    cx, cy = x + r, y + h / 2
    width = 4 if kind == "endEvent" else stroke_width
    dash = (
        ' stroke-dasharray="4 3"'
        if kind == "boundaryEvent" and element.attrs.get("cancelActivity") == "false"
        else ""
    )
    body = (
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{escape(fill)}" stroke="{escape(stroke)}" '
        f'stroke-width="{width}"{dash}/>'
    )
    if kind in ("boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent"):
        body += (
            f'<circle cx="{cx}" cy="{cy}" r="{r - 3}" fill="none" stroke="{escape(stroke)}" '
            f'stroke-width="1"{dash}/>'
        )
    if "timer" in element.markers:
        body += (
            f'<circle cx="{cx}" cy="{cy}" r="{r - 7}" fill="#fff" stroke="{escape(stroke)}" '
            'stroke-width="1"/>'
            f'<path d="M{cx},{cy} L{cx},{cy - r + 9} M{cx},{cy} L{cx + r - 10},{cy}" '
            f'stroke="{escape(stroke)}" stroke-width="1.2"/>'
        )
    if kind != "boundaryEvent":  # boundary labels would crowd their task
        body += _label(element.name, label, x, y + h + 4, w)
    return _group(element, state, body)


def _data_object_shape(element: _Element, bounds, label) -> str:
    """A data object reference: a sheet with a folded corner, named below."""
    x, y, w, h = bounds
    fold = min(w, h) / 3
    body = (
        f'<path d="M{x},{y} L{x + w - fold},{y} L{x + w},{y + fold} L{x + w},{y + h} L{x},{y + h} z '
        f'M{x + w - fold},{y} L{x + w - fold},{y + fold} L{x + w},{y + fold}" fill="#fff" '
        f'stroke="{escape(STYLE["pending"][1])}" stroke-width="1.2"/>'
        + _label(element.name, label, x, y + h + 4, w)
    )
    return _group(element, "pending", body)


def _gateway_shape(element: _Element, bounds, label, state: str) -> str:
    x, y, w, h = bounds
    kind = element.kind
    fill, stroke, stroke_width = STYLE[state]
    cx, cy = x + w / 2, y + h / 2
    body = (
        f'<path d="M{cx},{y} L{x + w},{cy} L{cx},{y + h} L{x},{cy} z" fill="{escape(fill)}" '
        f'stroke="{escape(stroke)}" '
        f'stroke-width="{stroke_width}"/>'
    )
    d = w / 5
    if kind == "parallelGateway":
        body += (
            f'<path d="M{cx},{cy - d} L{cx},{cy + d} M{cx - d},{cy} L{cx + d},{cy}" '
            f'stroke="{escape(stroke)}" stroke-width="3"/>'
        )
    elif kind == "exclusiveGateway":
        body += (
            f'<path d="M{cx - d * 0.8},{cy - d * 0.8} L{cx + d * 0.8},{cy + d * 0.8} M{cx + d * 0.8},'
            f"{cy - d * 0.8} "
            f'L{cx - d * 0.8},{cy + d * 0.8}" stroke="{escape(stroke)}" stroke-width="3"/>'
        )
    body += _label(element.name, label, x, y - 20, w)
    return _group(element, state, body)


def _label(name: str, label, x: float, y: float, w: float) -> str:
    if not name:
        return ""
    if label is not None:
        lx, ly, lw, _ = label
        return _text(_wrap(name, max(lw, 60), 11)[:3], lx + lw / 2, ly - 2, 11)
    return _text(_wrap(name, 90, 11)[:3], x + w / 2, y, 11)


def _task_marker(kind: str, x: float, y: float, color: str) -> str:
    """A small type marker in the task's top-left corner (user, service, script, business rule)."""
    mx, my = x + 8, y + 8
    if kind == "userTask":
        return (
            f'<circle cx="{mx + 6}" cy="{my + 4}" r="3.5" fill="none" stroke="{escape(color)}"/>'
            f'<path d="M{mx},{my + 15} Q{mx + 6},{my + 5} {mx + 12},{my + 15}" fill="none" '
            f'stroke="{escape(color)}"/>'
        )
    if kind == "serviceTask":
        return (
            f'<circle cx="{mx + 6}" cy="{my + 6}" r="5.5" fill="none" stroke="{escape(color)}" '
            'stroke-width="2.5" '
            f'stroke-dasharray="2.2 1.6"/><circle cx="{mx + 6}" cy="{my + 6}" r="2" fill="none" '
            f'stroke="{escape(color)}"/>'
        )
    if kind == "scriptTask":
        return (
            f'<rect x="{mx}" y="{my}" width="11" height="13" fill="none" stroke="{escape(color)}"/>'
            f'<path d="M{mx + 2},{my + 4} h7 M{mx + 2},{my + 7} h7 M{mx + 2},{my + 10} h7" '
            f'stroke="{escape(color)}"/>'
        )
    if kind == "businessRuleTask":
        return (
            f'<rect x="{mx}" y="{my}" width="15" height="11" fill="none" stroke="{escape(color)}"/>'
            f'<path d="M{mx},{my + 4} h15 M{mx + 5},{my + 4} v7" stroke="{escape(color)}"/>'
        )
    return ""


def _mi_marker(element: _Element, x: float, y: float, w: float, h: float, color: str) -> str:
    cx, by = x + w / 2, y + h - 14
    if "parallel" in element.markers:
        return "".join(
            f'<line x1="{cx + dx}" y1="{by}" x2="{cx + dx}" y2="{by + 10}" stroke="{escape(color)}" '
            'stroke-width="2"/>'
            for dx in (-4, 0, 4)
        )
    if "sequential" in element.markers:
        return "".join(
            f'<line x1="{cx - 5}" y1="{by + dy}" x2="{cx + 5}" y2="{by + dy}" stroke="{escape(color)}" '
            'stroke-width="2"/>'
            for dy in (0, 4, 8)
        )
    return ""


def _edge(element: _Element, points, label, taken: bool, mark: str | None = None) -> str:
    color = DIFF_EDGE.get(mark or "") or ("#2e7d32" if taken else "#4a5160")
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.0f},{y:.0f}" for i, (x, y) in enumerate(points))
    width = 3.5 if mark in DIFF_EDGE else 2.2 if taken else 1.2
    dash = ' stroke-dasharray="6 4"' if mark == "removed" else ""
    if element.kind in ("dataInputAssociation", "dataOutputAssociation"):  # dotted, as BPMN draws them
        dash = ' stroke-dasharray="2 4"'
    body = (
        f'<path d="{path}" fill="none" stroke="{escape(color)}" stroke-width="{width}"{dash} '
        f'marker-end="url(#{"arrow-done" if taken else "arrow"})"/>'
    )
    if element.name:
        if label is not None:
            lx, ly, lw, _ = label
            body += _text(_wrap(element.name, max(lw, 50), 10.5)[:2], lx + lw / 2, ly - 2, 10.5, "#51606f")
        else:
            (x1, y1), (x2, y2) = points[0], points[1]
            body += _text([element.name], (x1 + x2) / 2, (y1 + y2) / 2 - 14, 10.5, "#51606f")
    state = f' data-state="{escape(mark)}"' if mark in DIFF_EDGE else ""
    return (
        f'<g class="bpmn-flow{" taken" if taken else ""}" data-element="{escape(element.id)}"{state}>'
        f"<title>{escape(element.name or element.id)}</title>{body}</g>"
    )


def bpmn_file_for(files: dict[str, str], process_id: str) -> str:
    """The text of the model file that defines `process_id`."""
    for name, text in sorted(files.items()):
        if name.endswith(".bpmn") and f'id="{process_id}"' in text:
            return text
    raise LookupError(f"no BPMN file defines process {process_id}")
