"""Which documents a process model has, and which of its tasks each document is built from: read from
the model's own BPMN, so a county's model with other task ids gets its documents without a change of
Python, and a model that declares none has none (only 项目办理记录, the export of the audit log, which
every instance has).

The model declares (spiffworkflow:property; the contract is in docs/process.md):

- on the process, `documents`: the documents it has, e.g. ``review-form, joint-review, contract-review``;
- on a task, `document`: the places of documents its completed data fills, as ``kind.slot`` entries
  separated by commas (SLOTS lists them), e.g. ``contract-review.head, filing-form.head``;
- on a task, what its form's fields mean on paper: `decisionField` (the step's decision, the headline
  of its opinion box), `opinionField` (its opinion text), `dateField` (the date of what it records,
  e.g. the signing date), and for the department opinions of a joint review `conditionsField` and
  `reasonsField`;
- in the form schema, on the decision field, `x-outcomes` ({answer: outcome}, docs/process.md): what
  each answer means — of ANSWER_CLASSES for the department opinions of a joint review.

Nothing here reads the database or imports the engine: only the model's files.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# The document every instance has: the audit log of the instance, whatever its model declares.
ALWAYS = "history"
# kind → the slots its template fills from declared tasks. A kind's first slot marked REQUIRED must
# have a completed task before the document can be generated.
SLOTS: dict[str, tuple[str, ...]] = {
    "review-form": ("project", "group"),     # project: the step whose data is the project itself;
                                             # group: steps shown together as one box (the joint review)
    "joint-review": ("rows", "objection"),   # rows: one row per department (its latest opinion)
    "contract-review": ("legal", "meeting", "exec", "head"),
    "filing-form": ("head", "prefecture"),   # needs the project's filing as well
    "reminder-letter": ("signed",),
}
REQUIRED: dict[str, str] = {"joint-review": "rows", "contract-review": "legal", "reminder-letter": "signed"}
# What the answers of a joint-review opinion mean: the department agrees, agrees on conditions that
# must go into the contract, or objects.
ANSWER_CLASSES = ("agree", "conditional", "objection")
FIELD_PROPERTIES = ("decisionField", "opinionField", "dateField", "conditionsField", "reasonsField")
OUTCOMES = "x-outcomes"  # on a decision field of a form schema: {answer: what it means}


@dataclass(frozen=True)
class TaskDocuments:
    """What one task of the model declares for documents."""

    task_id: str
    name: str
    form: str | None
    slots: tuple[str, ...] = ()                    # "kind.slot"
    fields: dict[str, str] = field(default_factory=dict)   # property name → form field
    answers: dict[str, str] = field(default_factory=dict)  # answer → class (its form's x-outcomes)

    def field_of(self, prop: str) -> str | None:
        return self.fields.get(prop)


@dataclass(frozen=True)
class Declarations:
    """The documents of one process: the kinds it has and its tasks' declarations."""

    kinds: tuple[str, ...]
    tasks: dict[str, TaskDocuments]

    def has(self, kind: str) -> bool:
        return kind == ALWAYS or kind in self.kinds

    def tasks_for(self, kind: str, slot: str, declared_only: bool = True) -> tuple[str, ...]:
        """The ids of the tasks filling a slot of a document (none when the process does not declare
        the document, unless `declared_only` is False)."""
        if declared_only and kind not in self.kinds:
            return ()
        return tuple(t.task_id for t in self.tasks.values() if f"{kind}.{slot}" in t.slots)

    def task(self, task_id: str) -> TaskDocuments | None:
        return self.tasks.get(task_id)

    def answering(self) -> tuple[str, ...]:
        """The ids of the tasks whose answers are classed and which record conditions: the department
        opinions whose conditions must go into the contract."""
        return tuple(t.task_id for t in self.tasks.values() if t.answers and t.field_of("conditionsField"))


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in re.split(r"[,，;；\s]+", value or "") if part.strip()]


def _properties(element) -> dict[str, str]:
    found = element.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property")
    return {p.get("name"): p.get("value", "") for p in found}


def _processes(files: dict[str, str]) -> dict[str, object]:
    found = {}
    for name, text in files.items():
        if name.endswith(".bpmn"):
            try:
                root = etree.fromstring(text.encode("utf-8"))
            except etree.XMLSyntaxError:
                continue  # the model checks report the file that does not parse
            for process in root.iter(f"{{{BPMN_NS}}}process"):
                found[process.get("id")] = process
    return found


def _reachable(processes: dict, process_id: str) -> list:
    """The process and the processes its call activities call, in that order."""
    used, order, todo = set(), [], [process_id]
    while todo:
        current = todo.pop(0)
        if current in used or current not in processes:
            continue
        used.add(current)
        order.append(processes[current])
        todo += [c.get("calledElement") for c in processes[current].iter(f"{{{BPMN_NS}}}callActivity")]
    return order


def _task_documents(element, files: dict[str, str]) -> TaskDocuments | None:
    props = _properties(element)
    slots = tuple(_split(props.get("document")))
    fields = {p: props[p].strip() for p in FIELD_PROPERTIES if props.get(p, "").strip()}
    if not (slots or fields):
        return None
    form = props.get("formJsonSchemaFilename") or None
    outcomes = (_form_fields(files, form) or {}).get(fields.get("decisionField", ""), {}).get(OUTCOMES)
    return TaskDocuments(task_id=element.get("id"), name=element.get("name") or element.get("id"), form=form,
                         slots=slots, fields=fields,
                         answers={str(k): str(v) for k, v in outcomes.items()} if isinstance(outcomes, dict) else {})


def declarations(files: dict[str, str], process_id: str) -> Declarations:
    """The documents the process `process_id` of a set of model files declares."""
    return _declarations(json.dumps({k: v for k, v in files.items() if k.endswith((".bpmn", ".json"))},
                                    sort_keys=True), process_id)


@lru_cache(maxsize=64)
def _declarations(files_json: str, process_id: str) -> Declarations:
    files = json.loads(files_json)
    processes = _processes(files)
    if process_id not in processes:
        return Declarations(kinds=(), tasks={})
    declared = _split(_properties(processes[process_id]).get("documents"))
    kinds = tuple(k for k in SLOTS if k in declared)
    tasks: dict[str, TaskDocuments] = {}
    for process in _reachable(processes, process_id):
        for element in process.iter():
            if element is process or not isinstance(element.tag, str) or not element.get("id"):
                continue
            task = _task_documents(element, files)
            if task is not None:
                tasks.setdefault(task.task_id, task)
    return Declarations(kinds=kinds, tasks=tasks)


# --- deploy-time checks -------------------------------------------------------------------------

def _form_fields(files: dict[str, str], form: str | None) -> dict | None:
    """The properties of a task's form schema, or None when the form is missing or not JSON (the
    model checks report those)."""
    if not form or f"forms/{form}" not in files:
        return None
    try:
        fields = json.loads(files[f"forms/{form}"]).get("properties") or {}
    except (ValueError, AttributeError):
        return None
    return fields if isinstance(fields, dict) else None


def _options(prop: dict) -> list:
    options = list(prop.get("enum") or [])
    options += [o.get("const") for o in prop.get("oneOf") or prop.get("anyOf") or [] if isinstance(o, dict)]
    return options


def problems(files: dict[str, str], titles: dict[str, str] | None = None) -> list[str]:
    """Why the document declarations of a set of model files cannot work (empty: they can), each
    naming the process and element: an unknown document or place, a place of a document the process
    does not declare, a required place no task fills, a field its form does not have, an answer its
    decision field cannot take or an unknown answer class. `titles`: kind → title for the messages."""
    titles = titles or {}
    found: list[str] = []
    processes = _processes(files)
    known = ", ".join([*SLOTS, ALWAYS])
    for pid, process in processes.items():
        if process.get("isExecutable", "true") != "true":
            continue
        declared = _split(_properties(process).get("documents"))
        for kind in declared:
            if kind not in SLOTS and kind != ALWAYS:
                found.append(f"流程 {pid} 声明的文书“{kind}”没有对应的文书模板（可用：{known}）")
        decl = declarations(files, pid)
        for task in decl.tasks.values():
            element = f"流程 {pid} 的任务 {task.name}（{task.task_id}）"
            for entry in task.slots:
                kind, _, slot = entry.partition(".")
                if kind not in SLOTS or slot not in SLOTS[kind]:
                    places = "、".join(f"{k}.{s}" for k, slots in SLOTS.items() for s in slots)
                    found.append(f"{element} 声明的文书位置“{entry}”不存在（可用：{places}）")
                elif kind not in declared:
                    found.append(f"{element} 填写文书“{titles.get(kind, kind)}”（{entry}），"
                                 f"但流程未在 documents 中声明该文书")
            schema = _form_fields(files, task.form)
            for prop, name in task.fields.items():
                if schema is not None and name not in schema:
                    found.append(f"{element} 的 {prop} 指向的字段 {name} 不在表单 forms/{task.form} 中")
            if "joint-review.rows" in task.slots:
                decision = task.field_of("decisionField")
                options = _options((schema or {}).get(decision or "", {}))
                if not decision or not task.answers:
                    found.append(f"{element} 填写联合会审意见汇总表的部门意见，须声明 decisionField，"
                                 f"并在表单该字段上以 {OUTCOMES} 标明各答案的含义")
                for answer, cls in task.answers.items():
                    if cls not in ANSWER_CLASSES:
                        found.append(f"{element} 的表单字段 {decision} 的 {OUTCOMES} 中“{answer}”的含义“{cls}”"
                                     f"不是部门意见的含义（可用：{', '.join(ANSWER_CLASSES)}）")
                    elif schema is not None and answer not in options:
                        found.append(f"{element} 的表单字段 {decision} 的 {OUTCOMES} 中的答案“{answer}”不是该字段的选项")
        for kind, slot in REQUIRED.items():
            if kind in decl.kinds and not decl.tasks_for(kind, slot):
                found.append(f"流程 {pid} 声明了文书“{titles.get(kind, kind)}”，但没有任务声明 {kind}.{slot}"
                             f"（document 属性）")
    return found
