"""Compare two versions of a process element by element: tasks, events and gateways, sequence flows
and their conditions, form fields (by JSON path) and DMN rules, each added, removed or changed.

Reads the versions' files only (XML and JSON); it neither parses specs nor runs anything. Each change
names the BPMN element(s) it touches so the diagram can colour them (workflows/rendering/diagram.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/20191111/MODEL/", "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
                  "https://www.omg.org/spec/DMN/20230324/MODEL/")
NODES = {"task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "manualTask", "sendTask",
         "receiveTask", "callActivity", "subProcess", "startEvent", "endEvent", "boundaryEvent",
         "intermediateCatchEvent", "intermediateThrowEvent", "exclusiveGateway", "parallelGateway",
         "inclusiveGateway", "eventBasedGateway"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"}
SHOWN = 300  # characters of a before/after value shown


@dataclass(frozen=True)
class Change:
    """One difference. `kind`: task | event | gateway | flow | condition | form | decision | rule;
    `status`: added | removed | changed; `where`: the element id, form file or rule id; `path`: what
    in it changed (a JSON path for forms); `elements`: the BPMN elements to colour."""

    kind: str
    status: str
    where: str
    name: str
    path: str
    before: str
    after: str
    elements: tuple[str, ...] = field(default=())


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def _kind(tag: str) -> str:
    if tag in GATEWAYS:
        return "gateway"
    return "event" if tag.endswith("Event") else "task"


# --- BPMN ---------------------------------------------------------------------------------------

def _process(files: dict[str, str], process_id: str):
    for name, text in sorted(files.items()):
        if name.endswith(".bpmn"):
            root = etree.fromstring(text.encode("utf-8"))
            for process in root.iter(f"{{{BPMN}}}process"):
                if process.get("id") == process_id:
                    return process
    return None


def _aspects(node, lanes: dict[str, str]) -> dict[str, str]:
    """What an element is made of, aspect by aspect (its connections are the flows' business)."""
    aspects = {"类型": _local(node.tag), "名称": node.get("name") or ""}
    for key, value in sorted(node.attrib.items()):
        if key not in ("id", "name"):
            aspects[f"@{_local(key) if key.startswith('{') else key}"] = value
    if node.get("id") in lanes:
        aspects["泳道"] = lanes[node.get("id")]
    for child in node:
        tag = _local(child.tag)
        if tag in ("incoming", "outgoing", "conditionExpression") or tag in NODES or tag == "sequenceFlow":
            continue
        if tag == "extensionElements":
            for ext in child:
                etag = _local(ext.tag)
                if etag == "properties":
                    for prop in ext:
                        aspects[f"property:{prop.get('name')}"] = prop.get("value", "")
                else:
                    aspects[etag] = etree.tostring(ext, encoding="unicode", with_tail=False).strip() \
                        if len(ext) else (ext.text or "").strip()
        else:
            aspects[tag] = etree.tostring(child, encoding="unicode", with_tail=False).strip() \
                if len(child) or child.attrib else (child.text or "").strip()
    return aspects


def _bpmn_elements(process) -> tuple[dict, dict, dict[str, str], dict[str, set[str]], dict[str, set[str]]]:
    """(flow nodes, sequence flows, lanes by node, tasks by form file, tasks by decision id)."""
    nodes, flows, lanes, forms, decisions = {}, {}, {}, {}, {}
    if process is None:
        return nodes, flows, lanes, forms, decisions
    for lane in process.iter(f"{{{BPMN}}}lane"):
        for ref in lane.iter(f"{{{BPMN}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    for node in process.iter():
        tag = _local(node.tag)
        if tag in NODES and node.get("id"):
            nodes[node.get("id")] = node
            for prop in node.iter(f"{{{SPIFF}}}property"):
                if prop.get("name") in ("formJsonSchemaFilename", "formUiSchemaFilename") and prop.get("value"):
                    forms.setdefault(f"forms/{prop.get('value')}", set()).add(node.get("id"))
            for called in node.iter(f"{{{SPIFF}}}calledDecisionId"):
                decisions.setdefault((called.text or "").strip(), set()).add(node.get("id"))
        elif tag == "sequenceFlow" and node.get("id"):
            flows[node.get("id")] = node
    return nodes, flows, lanes, forms, decisions


def _condition(flow) -> str | None:
    expr = flow.find(f"{{{BPMN}}}conditionExpression")
    return (expr.text or "").strip() if expr is not None else None


def _flow_aspects(flow) -> dict[str, str]:
    return {"名称": flow.get("name") or "", "起点": flow.get("sourceRef") or "", "终点": flow.get("targetRef") or ""}


def _aspect_change(kind: str, where: str, name: str, before: dict, after: dict, elements) -> Change | None:
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    if not keys:
        return None
    return Change(kind, "changed", where, name, "、".join(keys),
                  _short("；".join(f"{k}={before.get(k, '')}" for k in keys)),
                  _short("；".join(f"{k}={after.get(k, '')}" for k in keys)), tuple(elements))


def _compare_bpmn(old, new) -> list[Change]:
    o_nodes, o_flows, o_lanes, _, _ = _bpmn_elements(old)
    n_nodes, n_flows, n_lanes, _, _ = _bpmn_elements(new)
    changes = []
    for eid in dict.fromkeys([*o_nodes, *n_nodes]):
        before, after = o_nodes.get(eid), n_nodes.get(eid)
        node = after if after is not None else before
        kind, name = _kind(_local(node.tag)), node.get("name") or ""
        if before is None:
            changes.append(Change(kind, "added", eid, name, "", "", _local(node.tag), (eid,)))
        elif after is None:
            changes.append(Change(kind, "removed", eid, name, "", _local(node.tag), "", (eid,)))
        else:
            change = _aspect_change(kind, eid, name, _aspects(before, o_lanes), _aspects(after, n_lanes), (eid,))
            if change:
                changes.append(change)
    for fid in dict.fromkeys([*o_flows, *n_flows]):
        before, after = o_flows.get(fid), n_flows.get(fid)
        flow = after if after is not None else before
        name = flow.get("name") or ""
        if before is None or after is None:
            status = "added" if before is None else "removed"
            text = f"{flow.get('sourceRef')} → {flow.get('targetRef')}"
            changes.append(Change("flow", status, fid, name, "", text if after is None else "",
                                  text if before is None else "", (fid,)))
            continue
        change = _aspect_change("flow", fid, name, _flow_aspects(before), _flow_aspects(after), (fid,))
        if change:
            changes.append(change)
        cond_before, cond_after = _condition(before), _condition(after)
        if cond_before != cond_after:
            status = "added" if cond_before is None else "removed" if cond_after is None else "changed"
            changes.append(Change("condition", status, fid, name, "conditionExpression", cond_before or "",
                                  cond_after or "", (fid, after.get("sourceRef") or "")))
    return changes


# --- forms (JSON Schema and UI schema, by JSON path) ---------------------------------------------

def _leaves(before, after, path: str) -> list[tuple[str, object, object]]:
    """(JSON path, before, after) of every difference; objects are walked key by key."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in dict.fromkeys([*before, *after]):
            if before.get(key, _MISSING) != after.get(key, _MISSING):
                out += _leaves(before.get(key, _MISSING), after.get(key, _MISSING), f"{path}.{key}")
        return out
    return [(path, before, after)] if before != after else []


_MISSING = object()


def _field_of(path: str, ui: bool) -> str:
    """The form field a path belongs to: up to its last `properties.<name>` (a UI schema: its first key)."""
    parts = path.split(".")
    if ui:
        return ".".join(parts[:2])
    last = max((i for i, p in enumerate(parts[:-1]) if p == "properties"), default=None)
    return ".".join(parts[: last + 2]) if last is not None else path


def _compare_forms(old_files: dict[str, str], new_files: dict[str, str], used: dict[str, set[str]]) -> list[Change]:
    changes = []
    names = sorted(n for n in {*old_files, *new_files} if n.startswith("forms/") and n.endswith(".json"))
    for name in names:
        elements = tuple(sorted(used.get(name, ())))
        before, after = old_files.get(name), new_files.get(name)
        if before == after:
            continue
        if before is None or after is None:
            changes.append(Change("form", "added" if before is None else "removed", name, "", "$", "", "", elements))
            continue
        try:
            old_json, new_json = json.loads(before), json.loads(after)
        except ValueError:
            changes.append(Change("form", "changed", name, "", "$", "", "", elements))
            continue
        ui = name.endswith("-uischema.json") or "properties" not in new_json
        grouped: dict[str, list[tuple[str, object, object]]] = {}
        for path, b, a in _leaves(old_json, new_json, "$"):
            grouped.setdefault(_field_of(path, ui), []).append((path, b, a))
        for field_path, leaves in grouped.items():
            whole = [leaf for leaf in leaves if leaf[0] == field_path]
            if whole and whole[0][1] is _MISSING:
                status, b, a = "added", "", _short(whole[0][2])
            elif whole and whole[0][2] is _MISSING:
                status, b, a = "removed", _short(whole[0][1]), ""
            else:
                status = "changed"
                b = _short("；".join(f"{p.removeprefix(field_path) or '$'}={_shown(v)}" for p, v, _ in leaves))
                a = _short("；".join(f"{p.removeprefix(field_path) or '$'}={_shown(v)}" for p, _, v in leaves))
            changes.append(Change("form", status, name, field_path.rsplit(".", 1)[-1], field_path, b, a, elements))
    return changes


def _shown(value) -> str:
    return "（无）" if value is _MISSING else _short(value)


# --- DMN --------------------------------------------------------------------------------------------

def _decisions(files: dict[str, str]) -> dict[str, dict]:
    """{decision id: {"name", "columns", "rules": {rule id: (cells, description)}}}."""
    found = {}
    for name, text in sorted(files.items()):
        if not name.endswith(".dmn"):
            continue
        root = etree.fromstring(text.encode("utf-8"))
        for ns in DMN_NAMESPACES:
            for decision in root.iter(f"{{{ns}}}decision"):
                table = decision.find(f"{{{ns}}}decisionTable")
                columns, rules = [], {}
                if table is not None:
                    for col in table:
                        if _local(col.tag) == "input":
                            expr = col.find(f"{{{ns}}}inputExpression/{{{ns}}}text")
                            columns.append(f"{col.get('label') or col.get('id')}: {(expr.text or '').strip() if expr is not None else ''}")
                        elif _local(col.tag) == "output":
                            columns.append(f"{col.get('label') or col.get('id')} → {col.get('name') or ''}")
                    columns.append(f"hitPolicy={table.get('hitPolicy') or 'UNIQUE'}")
                    for rule in table.iter(f"{{{ns}}}rule"):
                        cells = [(e.findtext(f"{{{ns}}}text") or "").strip() for e in rule
                                 if _local(e.tag) in ("inputEntry", "outputEntry")]
                        rules[rule.get("id")] = (" | ".join(cells), (rule.findtext(f"{{{ns}}}description") or "").strip())
                found[decision.get("id")] = {"name": decision.get("name") or "", "columns": columns, "rules": rules}
    return found


def _compare_dmn(old_files: dict[str, str], new_files: dict[str, str], used: dict[str, set[str]]) -> list[Change]:
    old, new = _decisions(old_files), _decisions(new_files)
    changes = []
    for did in dict.fromkeys([*old, *new]):
        before, after = old.get(did), new.get(did)
        elements = tuple(sorted(used.get(did, ())))
        if before is None or after is None:
            changes.append(Change("decision", "added" if before is None else "removed", did,
                                  (after or before)["name"], "", "", "", elements))
            continue
        if before["columns"] != after["columns"]:
            changes.append(Change("decision", "changed", did, after["name"], "columns",
                                  _short("；".join(before["columns"])), _short("；".join(after["columns"])), elements))
        for rid in dict.fromkeys([*before["rules"], *after["rules"]]):
            b, a = before["rules"].get(rid), after["rules"].get(rid)
            if b == a:
                continue
            status = "added" if b is None else "removed" if a is None else "changed"
            path = "description" if b and a and b[0] == a[0] else "cells"
            changes.append(Change("rule", status, rid, after["name"], f"{did} · {path}",
                                  _short(b[0] if path == "cells" else b[1]) if b else "",
                                  _short(a[0] if path == "cells" else a[1]) if a else "", elements))
    return changes


# --- together ---------------------------------------------------------------------------------------

def compare(old_files: dict[str, str], old_process: str, new_files: dict[str, str], new_process: str) -> list[Change]:
    """Every element-level difference between two versions of a process, in a stable order: the
    diagram's elements, then flows and conditions, then forms, then DMN."""
    old, new = _process(old_files, old_process), _process(new_files, new_process)
    _, _, _, o_forms, o_decisions = _bpmn_elements(old)
    _, _, _, n_forms, n_decisions = _bpmn_elements(new)
    forms = {k: o_forms.get(k, set()) | n_forms.get(k, set()) for k in {*o_forms, *n_forms}}
    decisions = {k: o_decisions.get(k, set()) | n_decisions.get(k, set()) for k in {*o_decisions, *n_decisions}}
    return [*_compare_bpmn(old, new), *_compare_forms(old_files, new_files, forms),
            *_compare_dmn(old_files, new_files, decisions)]


def diagram_marks(changes: list[Change]) -> tuple[dict[str, str], dict[str, str]]:
    """(marks on the new version's diagram, marks on the old one's): element id → added | changed |
    removed. Forms and rules mark the tasks that use them as changed."""
    new_marks: dict[str, str] = {}
    old_marks: dict[str, str] = {}
    for change in changes:
        for element in change.elements:
            if not element:
                continue
            if change.kind in ("task", "event", "gateway", "flow") and change.status == "removed":
                old_marks[element] = "removed"
            elif change.kind in ("task", "event", "gateway", "flow") and change.status == "added":
                new_marks[element] = "added"
            else:
                new_marks.setdefault(element, "changed")
    return new_marks, old_marks
