"""bpmn/*.bpmn and bpmn/*.dmn open cleanly in bpmn.io.

Parses the files with bpmn.io's own parsers (bpmn-moddle, dmn-moddle, pinned in
tests/bpmnio/package-lock.json) through tests/bpmnio/check.mjs, and checks that the
BPMN diagram has DI (a BPMNShape / BPMNEdge) for every flow node, lane, participant
and sequence flow. Needs node and npm; in CI (env CI set) their absence is a failure.

No warning is tolerated in the shipped files. check.mjs would accept SpiffWorkflow-style
multi-instance collection references that name an undeclared variable (bpmn.io opens the file
but drops them on save); the shipped process declares each collection as a bpmn:property, so
they resolve and survive a save (tests/test_bpmnio_round_trip.py).
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

ROOT = Path(__file__).resolve().parents[1]
BPMNIO = ROOT / "tests" / "bpmnio"
CHECK = BPMNIO / "check.mjs"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

EXPECTED = {
    "bpmn/investment_project.bpmn": {
        "kind": "bpmn",
        "flowNodes": 187,
        "sequenceFlows": 160,
        "lanes": 11,
        "participants": 1,
        "shapes": 204,
        "edges": 165,
    },
    "bpmn/investment_project_xiangxi.bpmn": {
        "kind": "bpmn",
        "flowNodes": 187,
        "sequenceFlows": 160,
        "lanes": 11,
        "participants": 1,
        "shapes": 204,
        "edges": 165,
    },
    "bpmn/xiangxi_meeting_rule.dmn": {
        "kind": "dmn",
        "shapes": 1,
        "edges": 0,
        "decisions": [
            {
                "id": "xiangxi_meeting_rule_decision",
                "hitPolicy": "FIRST",
                "inputs": 1,
                "outputs": 2,
                "rules": 3,
            }
        ],
    },
    "bpmn/xiangxi_review_departments.dmn": {
        "kind": "dmn",
        "shapes": 1,
        "edges": 0,
        "decisions": [
            {
                "id": "xiangxi_review_departments_decision",
                "hitPolicy": "COLLECT",
                "inputs": 5,
                "outputs": 1,
                "rules": 9,
            }
        ],
    },
    "bpmn/investor_complaint.bpmn": {
        "kind": "bpmn",
        "flowNodes": 16,
        "sequenceFlows": 14,
        "lanes": 3,
        "participants": 1,
        "shapes": 20,
        "edges": 14,
    },
    "bpmn/project_class.dmn": {
        "kind": "dmn",
        "shapes": 1,
        "edges": 0,
        "decisions": [
            {"id": "project_class_decision", "hitPolicy": "FIRST", "inputs": 3, "outputs": 1, "rules": 5}
        ],
    },
    "bpmn/rewards.dmn": {
        "kind": "dmn",
        "shapes": 1,
        "edges": 0,
        "decisions": [
            {"id": "rewards_decision", "hitPolicy": "COLLECT", "inputs": 10, "outputs": 9, "rules": 5}
        ],
    },
    "bpmn/tracking_cadence.dmn": {
        "kind": "dmn",
        "shapes": 1,
        "edges": 0,
        "decisions": [
            {"id": "tracking_cadence_decision", "hitPolicy": "FIRST", "inputs": 1, "outputs": 2, "rules": 2}
        ],
    },
    "bpmn/review_departments.dmn": {
        "kind": "dmn",
        "shapes": 1,
        "edges": 0,
        "decisions": [
            {
                "id": "review_departments_decision",
                "hitPolicy": "COLLECT",
                "inputs": 4,
                "outputs": 1,
                "rules": 9,
            }
        ],
    },
}

# (property, unresolved value) of accepted SpiffWorkflow multi-instance references: none, since the
# process declares each collection as a bpmn:property the reference resolves to (so a bpmn.io save
# keeps it: tests/test_bpmnio_round_trip.py).
EXPECTED_ACCEPTED_WARNINGS: dict[str, set] = {}


def _node_tools_missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI to check the diagrams against bpmn.io, but is not on PATH")
    pytest.skip(f"{what} not on PATH: cannot check the diagrams against bpmn.io")


def _run(cmd: list[str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            _node_tools_missing(tool)

    ensure_node_modules()

    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bpmn").glob("*.bpmn"))
    files += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bpmn").glob("*.dmn"))
    proc = _run(["node", str(CHECK.relative_to(ROOT)), *files], timeout=120)
    assert proc.returncode == 0, f"check.mjs exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    out = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            result = json.loads(line)
            out[result["file"]] = result
    assert sorted(out) == sorted(files)
    return out


def test_every_model_file_is_covered(results):
    assert sorted(results) == sorted(EXPECTED), "add the new bpmn/ file to EXPECTED"


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_opens_without_errors_or_warnings(results, file):
    result = results[file]
    assert result["errors"] == []
    assert result["warnings"] == []
    accepted = {(w.get("property"), w.get("value")) for w in result["acceptedWarnings"]}
    assert accepted == EXPECTED_ACCEPTED_WARNINGS.get(file, set()), result["acceptedWarnings"]


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_every_element_has_di(results, file):
    assert results[file]["missingDi"] == []


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_element_counts(results, file):
    result = results[file]
    for key, value in EXPECTED[file].items():
        assert result[key] == value, key
    # Every element with an id outside the spiffworkflow namespace made it into the
    # bpmn.io model (spiffworkflow extension elements are kept, but as generic elements).
    tree = etree.parse(str(ROOT / file))
    ids = [
        el
        for el in tree.iter()
        if isinstance(el.tag, str) and el.get("id") is not None and etree.QName(el).namespace != SPIFF_NS
    ]
    assert result["elements"] == len(ids)
