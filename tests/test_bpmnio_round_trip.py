"""A model opened and saved by a standard bpmn.io editor still loads and runs.

tests/bpmnio/roundtrip.mjs parses each shipped BPMN and DMN file with bpmn.io's own bpmn-moddle /
dmn-moddle (pinned in tests/bpmnio/package-lock.json) and writes it back as a bpmn.io editor saves it
(plain: without any SpiffWorkflow descriptor; and with the browser editor's spiffworkflow descriptor,
webapp/modeler/src/spiffworkflow-moddle.json). The saved files must pass every deploy check, keep the
joint review's multi-instance collections and every spiffworkflow: extension, and run the investment
process through the joint review in SpiffWorkflow.

The collections (loopDataInputRef / loopDataOutputRef) hold task-data variable names; a plain save
keeps them only because the process declares each one as a `bpmn:property` (an item-aware element the
reference resolves to; SpiffWorkflow ignores process properties). Older versions without the
declarations get them when they are opened in the browser editor (model_store.declare_loop_collections).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from bpmnio_support import ensure_node_modules
from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from test_bpmn_model import complete, new_workflow, ready_ids, review_departments_round

from workflows.engine import model_store
from workflows.engine.model_checks import code_problems

ROOT = Path(__file__).resolve().parents[1]
BPMNIO = ROOT / "tests" / "bpmnio"
DESCRIPTOR = ROOT / "webapp" / "modeler" / "src" / "spiffworkflow-moddle.json"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def _run(cmd: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def node_ready():
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is required in CI for the bpmn.io round trip")
            pytest.skip(f"{tool} not on PATH")
    ensure_node_modules()


def save_as_bpmnio(
    files: dict[str, str], outdir: Path, extension: bool = False
) -> tuple[dict[str, str], dict]:
    """The model files after a bpmn.io open-and-save; forms unchanged. Returns (files, warnings by file)."""
    indir = outdir / "in"
    indir.mkdir(parents=True, exist_ok=True)
    names = {}
    for name, text in files.items():
        if name.endswith((".bpmn", ".dmn")):
            (indir / Path(name).name).write_text(text, encoding="utf-8")
            names[Path(name).name] = name
    cmd = ["node", str(BPMNIO / "roundtrip.mjs"), str(outdir)]
    if extension:
        cmd += ["--extension", str(DESCRIPTOR)]
    proc = _run([*cmd, *(str(indir / n) for n in sorted(names))])
    assert proc.returncode == 0, proc.stderr
    saved, warnings = dict(files), {}
    for line in proc.stdout.splitlines():
        result = json.loads(line)
        name = names[Path(result["file"]).name]
        saved[name] = Path(result["out"]).read_text(encoding="utf-8")
        warnings[name] = result["warnings"]
    return saved, warnings


@pytest.fixture(scope="module", params=["plain", "editor"])
def saved(request, node_ready, tmp_path_factory):
    files = model_store.read_model_files()
    out, warnings = save_as_bpmnio(files, tmp_path_factory.mktemp(request.param), request.param == "editor")
    return files, out, warnings


def _loops(text: str) -> dict[str, tuple[str | None, str | None]]:
    root = etree.fromstring(text.encode("utf-8"))
    found = {}
    for mi in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        task = mi.getparent().get("id")
        refs = [mi.findtext(f"{{{BPMN_NS}}}{tag}") for tag in ("loopDataInputRef", "loopDataOutputRef")]
        found[task] = tuple(refs)
    return found


def _spiff(text: str) -> list[tuple]:
    """Every spiffworkflow: element and attribute with its owner, text and attributes (order kept)."""
    root = etree.fromstring(text.encode("utf-8"))
    out = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        owner = next((a.get("id") for a in el.iterancestors() if a.get("id")), None)
        if etree.QName(el).namespace == SPIFF_NS:
            out.append((owner, etree.QName(el).localname, (el.text or "").strip(), sorted(el.attrib.items())))
        out += [(el.get("id"), k, v) for k, v in el.attrib.items() if k.startswith(f"{{{SPIFF_NS}}}")]
    return out


def test_the_save_reports_nothing_unresolved(saved):
    _, _, warnings = saved
    assert warnings and all(w == [] for w in warnings.values()), warnings


def test_the_joint_review_collections_survive_the_save(saved):
    files, out, _ = saved
    name = "bpmn/investment_project.bpmn"
    loops = _loops(out[name])
    assert loops == _loops(files[name])
    assert loops["department_review"] == ("review_departments", "dept_opinions")


def test_every_spiffworkflow_extension_survives_the_save(saved):
    files, out, _ = saved
    for name in files:
        if name.endswith(".bpmn"):
            assert _spiff(out[name]) == _spiff(files[name]), name


def test_the_saved_model_passes_every_deploy_check(saved):
    from workflows.services import operator_registry

    _, out, _ = saved
    assert model_store.validate_files(out) == []
    specs = model_store.parse_specs(model_store.content_hash(out), json.dumps(out, sort_keys=True))
    assert code_problems(specs, operator_registry.names()) == []
    assert (
        model_store.processes_in(out).keys()
        == model_store.processes_in(model_store.read_model_files()).keys()
    )


def test_the_saved_model_runs_through_the_joint_review(saved, tmp_path):
    _, out, _ = saved
    parser = SpiffBpmnParser()
    for name, text in out.items():
        if name.endswith(".bpmn"):
            parser.add_bpmn_xml(etree.fromstring(text.encode("utf-8")), filename=name)
        elif name.endswith(".dmn"):
            parser.add_dmn_xml(etree.fromstring(text.encode("utf-8")), filename=name)
    specs = parser.get_spec("investment_project"), parser.get_subprocess_specs("investment_project")
    wf, _ = new_workflow(specs)
    complete(wf, "register_lead")
    complete(wf, "screening")
    complete(wf, "negotiation")
    complete(wf, "approve_terms")
    units = review_departments_round(wf, {"sthj": ("有条件同意", "落实污水预处理设施", None)})
    assert len(units) >= 2
    assert ready_ids(wf) == ["review_materials"]
    data = next(t for t in wf.get_tasks() if t.task_spec.bpmn_id == "review_materials").data
    assert sorted(o["department"] for o in data["dept_opinions"]) == units
    assert data["review_conditions_all"] == [{"department": "sthj", "conditions": "落实污水预处理设施"}]


def test_an_older_version_opened_in_the_editor_keeps_its_collections(node_ready, tmp_path):
    """A version deployed before the declarations existed: the plain save drops its collections and
    SpiffWorkflow refuses it; declared on opening (as the editor's files endpoint does), they survive."""
    files = model_store.read_model_files()
    name = "bpmn/investment_project.bpmn"
    root = etree.fromstring(files[name].encode("utf-8"))
    for prop in list(root.iter(f"{{{BPMN_NS}}}property")):
        if prop.getparent().tag == f"{{{BPMN_NS}}}process":  # the declarations, not a task's own properties
            prop.getparent().remove(prop)
    older = {**files, name: etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")}

    dropped, warnings = save_as_bpmnio(older, tmp_path / "older")
    assert any("unresolved reference <review_departments>" in w for w in warnings[name])
    assert _loops(dropped[name])["department_review"] == (None, None)
    assert any("cardinality or a loop input" in e for e in model_store.validate_files(dropped))

    restored = {**older, name: model_store.declare_loop_collections(older[name])}
    kept, warnings = save_as_bpmnio(restored, tmp_path / "restored")
    assert warnings[name] == []
    assert _loops(kept[name])["department_review"] == ("review_departments", "dept_opinions")
    assert model_store.validate_files(kept) == []
