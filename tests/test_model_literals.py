"""No code names the shipped models: every id and enumerated answer of bpmn/ and forms/ lives in the
model, never as a string literal of workflows/ or webapp/ (Python by AST, Jinja templates, JSON).

A capability (filing, tracking, the joint-review summary, the funnel ...) is something a model opts into
with an extension property, a service-task operator or form-schema metadata; the code reads those
declarations. The reverse is fine: a DMN output column that feeds an operator (operators.VOCABULARY,
e.g. reward_scope) names the operator's own words. Demo seeding (workflows/demo.py) drives the demo model and is exempt, as are migrations
(history). Each hit is printed as file:line value.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from xml.etree import ElementTree

from workflows.capabilities import operators
from workflows.services import operator_registry

ROOT = Path(__file__).resolve().parent.parent
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DMN = "{https://www.omg.org/spec/DMN/20191111/MODEL/}"

# Elements whose ids a model names: processes, every task kind, gateways and events.
ELEMENTS = {
    "process", "subProcess", "callActivity", "task", "userTask", "manualTask", "scriptTask", "serviceTask",
    "businessRuleTask", "sendTask", "receiveTask", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
    "eventBasedGateway", "complexGateway", "startEvent", "endEvent", "intermediateCatchEvent",
    "intermediateThrowEvent", "boundaryEvent",
}

SCANNED = ("workflows", "webapp")
TEMPLATE_DIRS = ("webapp/templates", "workflows/rendering/documents/templates")
EXCLUDED = (
    "workflows/demo.py",  # demo seeding drives the demo model
    "workflows/migrations/",  # history: data migrations of earlier model versions
)
# Temporary: sibling branches remove these (document templates declared with the model; BPMN labels
# coming with the model's translations). Removed at merge.
EXEMPT_FOR_NOW = (
)


def _model_words() -> dict[str, str]:
    """{value: where the model declares it}."""
    words: dict[str, str] = {}
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        for el in ElementTree.parse(path).iter():
            tag = el.tag.removeprefix(BPMN)
            if tag in ELEMENTS and el.get("id"):
                words.setdefault(el.get("id"), f"{path.name} {tag}")
    for path in sorted((ROOT / "bpmn").glob("*.dmn")):
        for el in ElementTree.parse(path).iter():
            tag = el.tag.removeprefix(DMN)
            if tag == "decision" and el.get("id"):
                words.setdefault(el.get("id"), f"{path.name} decision")
            elif tag == "decisionTable":
                columns = [o.get("name") for o in el.findall(f"{DMN}output")]
                for rule in el.findall(f"{DMN}rule"):
                    for column, entry in zip(columns, rule.findall(f"{DMN}outputEntry"), strict=False):
                        text = (entry.findtext(f"{DMN}text") or "").strip()
                        if len(text) >= 2 and text[0] == text[-1] == '"' and \
                                text[1:-1] not in operators.VOCABULARY.get(column, ()):
                            words.setdefault(text[1:-1], f"{path.name} output {column}")
    for path in sorted((ROOT / "forms").glob("*-schema.json")):
        for value in _enumerated(json.loads(path.read_text(encoding="utf-8"))):
            words.setdefault(value, f"{path.name} enum/const")
    words.pop("", None)
    return words


def _enumerated(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            elif key == "const" and isinstance(value, str):
                yield value
            else:
                yield from _enumerated(value)
    elif isinstance(node, list):
        for item in node:
            yield from _enumerated(item)


def _skipped(rel: str) -> bool:
    return rel.startswith(EXCLUDED) or rel.startswith(EXEMPT_FOR_NOW)


def _python_literals(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


JINJA_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
JINJA_STRING = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)\"""")


def _template_literals(path: Path):
    text = path.read_text(encoding="utf-8")
    for block in JINJA_BLOCK.finditer(text):
        for literal in JINJA_STRING.finditer(block.group(0)):
            value = literal.group(1) if literal.group(1) is not None else literal.group(2)
            yield text.count("\n", 0, block.start() + literal.start()) + 1, value


def _json_literals(path: Path):
    text = path.read_text(encoding="utf-8")

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, str):
            yield node

    for value in walk(json.loads(text)):
        index = text.find(json.dumps(value, ensure_ascii=False))
        yield (text.count("\n", 0, index) + 1 if index >= 0 else 0), value


def _literals():
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if not path.is_file() or _skipped(rel) or "__pycache__" in rel:
                continue
            if path.suffix == ".py":
                found = _python_literals(path)
            elif path.suffix == ".json":
                found = _json_literals(path)
            elif path.suffix == ".html" and rel.startswith(TEMPLATE_DIRS):
                found = _template_literals(path)
            else:
                continue
            for line, value in found:
                yield rel, line, value


def test_the_model_words_are_collected():
    words = _model_words()
    # a process id, a task id, a gateway, an event, a DMN decision and output, a form answer and a code
    for expected in ("investment_project", "investor_complaint", "screening", "gw_screening", "end_rejected",
                     "project_class_decision", "重大", "通过", "有条件同意", "USD"):
        assert expected in words, expected


def test_no_code_names_an_id_or_answer_of_the_shipped_models():
    words = _model_words()
    hits = [f"{rel}:{line} {value!r} ({words[value]})" for rel, line, value in _literals() if value in words]
    print("\n".join(hits))
    assert not hits, f"{len(hits)} literals name the shipped models:\n" + "\n".join(hits)


def test_the_scan_finds_a_literal(tmp_path):
    """The scanner itself works on each kind of file (so an empty result means something)."""
    py = tmp_path / "x.py"
    py.write_text("KIND = 'signing'\n", encoding="utf-8")
    html = tmp_path / "x.html"
    html.write_text("<p>\n{% if d == '不同意' %}x{% endif %}</p>", encoding="utf-8")
    js = tmp_path / "x.json"
    js.write_text('{"a": ["x", "通过"]}', encoding="utf-8")
    assert (1, "signing") in list(_python_literals(py))
    assert (2, "不同意") in list(_template_literals(html))
    assert (1, "通过") in list(_json_literals(js))


# --- a model with other task ids keeps every capability ----------------------------------------------

RENAMED = {"department_review": "joint_opinions", "supplementary_review": "extra_opinions",
           "prefecture_review": "filing_check", "signing": "contract_signed", "track_progress": "progress_report",
           "supplement_lead": "amend_lead"}


def _renamed_model(tmp_path) -> Path:
    """The shipped model with the capability tasks under other ids (their forms keep their file names)."""
    import shutil

    from workflows.engine import model_store

    root = tmp_path / "model"
    shutil.copytree(model_store.ROOT / "bpmn", root / "bpmn")
    shutil.copytree(model_store.ROOT / "forms", root / "forms")
    path = root / "bpmn" / "investment_project.bpmn"
    text = path.read_text(encoding="utf-8")
    for old, new in RENAMED.items():
        text, count = re.subn(rf"(?<![\w-]){old}(?![\w-])", new, text)
        assert count, old
    path.write_text(text, encoding="utf-8")
    return root


def _drive(instance_id: int, until: str | None, **answers_for) -> None:
    """Complete what is ready, as the demo users would, until the task `until` is ready (None: until
    nothing is ready, e.g. waiting for a timer)."""
    from sqlalchemy import select

    from workflows import demo
    from workflows.db import transaction
    from workflows.models import TaskRecord
    from workflows.services import task_service

    original = {new: old for old, new in RENAMED.items()}
    for _ in range(40):
        with transaction() as s:
            records = list(s.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance_id,
                                                              TaskRecord.state == "ready").order_by(TaskRecord.id)))
        if any(r.spec_name == until for r in records) or (until is None and not records):
            return
        assert records, f"nothing ready before {until}"
        for record in records:
            spec = original.get(record.spec_name, record.spec_name)
            if spec in ("department_review", "supplementary_review"):
                username = demo.DEPT_REVIEWER[record.unit_code]
            elif spec in demo.HOST_TASKS:
                username = demo.HOSTS[record.unit_code]
            else:
                username = demo.DOER[spec]
            who = demo.actor(username)
            task_service.task_claim(who, record.id)
            answers = {**demo.DEMO_ANSWERS[demo.FORM_OF.get(spec, spec)], **answers_for.get(spec, {})}
            try:
                task_service.task_complete(who, record.id, {k: v for k, v in answers.items() if v is not None})
            except Exception as err:
                raise AssertionError(f"{record.spec_name}: {getattr(err, 'errors', err)}") from err
    raise AssertionError(f"{until} never became ready")


def test_a_model_with_other_task_ids_keeps_its_capabilities(sqlite_database, tmp_path, monkeypatch):
    from sqlalchemy import select

    from workflows.capabilities import filing_service
    from workflows.commands import deploy_model
    from workflows.db import transaction
    from workflows.demo import DEMO_LEAD, actor
    from workflows.models import ModelVersion, ProcessInstance
    from workflows.services import project_service, task_operations, task_service

    monkeypatch.setenv("DATABASE_URL", sqlite_database)
    assert deploy_model.main([str(_renamed_model(tmp_path)), "--by", "admin", "--bind", "南县"]) == 0
    pid = project_service.project_start(actor("zhaoshang"), dict(DEMO_LEAD))
    with transaction() as s:
        instance = s.get(ProcessInstance, pid)
        assert "joint_opinions" in s.get(ModelVersion, instance.model_version_id).files["bpmn/investment_project.bpmn"]

    # The joint review: 加签 is offered on the running round, the summary marks a conditional opinion.
    _drive(pid, "joint_opinions", screening={"confirmed_class": "重大"})
    shangwu = actor("shangwu")
    with transaction() as s:
        state = task_operations.review_state(s, shangwu, s.get(ProcessInstance, pid))
    assert state is not None and state["in_review"]
    _drive(pid, "filing_check", department_review={"review_decision": "有条件同意",
                                                   "review_conditions": "落实环评批复后开工"},
           contract_review={"conditions_in_contract": "true"})
    with transaction() as s:
        summary = task_service.joint_review_summary(s, pid)
    assert summary and {row["outcome"] for row in summary} == {"conditional"}

    # Filing: the prefecture sees its review task on 各县项目备案.
    filed = [f for f in filing_service.filing_list(actor("shishangwu")) if f.instance_id == pid]
    assert filed and filed[0].task_id is not None

    # Signing: the project page shows 履约跟踪 once the contract is signed.
    _drive(pid, "contract_signed", prefecture_review={"prefecture_decision": "受理"})
    assert project_service.project_detail(actor("shangwu"), pid).tracking is None
    _drive(pid, None)  # signed: tracking waits for its first period
    assert project_service.project_detail(actor("shangwu"), pid).tracking is not None
    with transaction() as s:
        assert s.scalar(select(ProcessInstance.process_id).where(ProcessInstance.id == pid))


def test_deploy_refuses_an_unknown_capability_and_outcomes_the_form_does_not_offer(sqlite_database):
    import pytest

    from workflows.db import transaction
    from workflows.engine import model_store

    files = model_store.read_model_files()
    bpmn = files["bpmn/investment_project.bpmn"]
    bad_capability = {**files, "bpmn/investment_project.bpmn": bpmn.replace('value="joint-review"', 'value="joint-reveiw"', 1)}
    schema = json.loads(files["forms/prefecture_review-schema.json"])
    schema["properties"]["prefecture_decision"]["x-outcomes"] = {"批准": "accepted", "退回": "refused"}
    bad_outcomes = {**files, "forms/prefecture_review-schema.json": json.dumps(schema, ensure_ascii=False)}
    with transaction() as s:
        with pytest.raises(ValueError) as refused:
            model_store.deploy(s, bad_capability, "admin", operators=operator_registry.names())
        assert "joint-reveiw" in str(refused.value)
        with pytest.raises(ValueError) as refused:
            model_store.deploy(s, bad_outcomes, "admin", operators=operator_registry.names())
        assert "批准" in str(refused.value) and "refused" in str(refused.value)
