"""Checks of a model's own code before it is deployed: every condition, script, timer expression,
service parameter, multi-instance expression and DMN cell must compile under the restricted engine,
and every service task must name an operator the application has. A model that would fail at run time
is refused at deploy, with the process and element named, instead of failing every project later."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from workflows.engine.script_engine import ScriptRejected, compile_restricted, global_names
from workflows.personal_data import personal_fields

# The features a task opts into with its `capability` property (comma-separated; docs/process.md). The
# application finds these tasks by the property, never by task id; deploy refuses an unknown one.
CAPABILITIES = {
    "restart-form": "its answers prefill the registration form when a cancelled instance is registered again",
    "joint-review": "a joint-review round: its opinions make the 联合会审意见汇总, 加签/减签 change it "
    "while it runs",
    "filing-review": "the prefecture's review of a filing (completed through the filing API by a remote "
    "prefecture)",
    "contract-signing": "the contract is signed here: after-signing tracking, 五个一 and the start deadline "
    "follow",
    "tracking-report": "a tracking report after signing (履约跟踪: funds, construction, production)",
}


def capabilities_of(props: dict[str, str]) -> set[str]:
    return {c.strip() for c in (props.get("capability") or "").split(",") if c.strip()}


_QUESTION = re.compile(
    r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)"
)  # "?" outside quotes, as the DMN engine does


def code_problems(specs: dict[str, tuple], operators: Iterable[str] | None) -> list[str]:
    """Why the code of parsed processes {process id: (spec, subprocess specs)} cannot run (empty: it can).
    `operators`: the service-task operators the application has (None: not checked)."""
    known = None if operators is None else set(operators)
    problems: list[str] = []
    for pid, process in _processes(specs):
        for task_spec in process.task_specs.values():
            element = _element(pid, task_spec)
            props = task_spec.extensions.get("properties", {}) if hasattr(task_spec, "extensions") else {}
            for unknown in sorted(capabilities_of(props) - set(CAPABILITIES)):
                problems.append(
                    f"{element}：未知的 capability “{unknown}”（可用：{'、'.join(CAPABILITIES)}）"
                )
            operator = getattr(task_spec, "operation_name", None)
            if operator is not None and known is not None and operator not in known:
                problems.append(f"{element}：服务任务调用的操作 {operator} 不存在")
            for what, source, mode in _code_of(task_spec):
                try:
                    _compile(source, mode)
                except ScriptRejected as err:
                    problems.append(f"{element}：{what}无法在受限脚本引擎中编译（{str(err)[:160]}）")
    return problems


def personal_reads(specs: dict[str, tuple], files: dict[str, str]) -> list[str]:
    """Why the model cannot be deployed because its code reads personal data: a condition, script,
    expression or DMN input that names a field some form marks `"x-personal": true` would get the
    sealed value (SECURITY.md 个人信息保护), so such a model is refused, the element named."""
    personal: set[str] = set()
    for schema in _form_schemas(files):
        personal |= set(personal_fields(schema))
    problems: dict[str, None] = {}
    for pid, process in _processes(specs) if personal else ():
        for task_spec in process.task_specs.values():
            for what, source, mode in _code_of(task_spec):
                for field in sorted(_read_names(source, mode) & personal if mode != "dmn" else ()):
                    problems[
                        f"{_element(pid, task_spec)}：{what}读取了个人信息字段 {field}（x-personal），"
                        "网关、脚本和决策表不得读取个人信息"
                    ] = None
    return list(problems)


def _processes(specs: dict[str, tuple]) -> Iterator[tuple[str, Any]]:
    """(process id, process or subprocess spec) of parsed processes, each spec once."""
    seen: set[int] = set()
    for pid, (spec, subprocess_specs) in specs.items():
        for process in [spec, *subprocess_specs.values()]:
            if id(process) not in seen:
                seen.add(id(process))
                yield pid, process


def _element(pid: str, task_spec) -> str:
    return f"{pid} 的 {task_spec.bpmn_name or task_spec.bpmn_id or task_spec.name}"


def _form_schemas(files: dict[str, str]) -> Iterator[dict]:
    """The JSON form schemas among a model's files (a file that is not JSON is checked elsewhere)."""
    for name, text in files.items():
        if name.startswith("forms/") and name.endswith(".json"):
            try:
                schema = json.loads(text)
            except ValueError:
                continue
            if isinstance(schema, dict):
                yield schema


def _compile(source: str, mode: str) -> None:
    if mode != "dmn":
        compile_restricted(source, mode)
        return
    entry = _QUESTION.sub("dmninputexpr", source)
    try:
        compile_restricted(entry, "eval")
    except ScriptRejected:
        compile_restricted(f"dmninputexpr {entry}", "eval")  # "> 5" is compared with the input


_SCRIPTS = (("script", "脚本"), ("prescript", "前置脚本"), ("postscript", "后置脚本"))
_MULTI_INSTANCE = (("cardinality", "多实例数量"), ("condition", "完成条件"))


def _code_of(task_spec) -> Iterator[tuple[str, str, str]]:
    """(what, source, mode) of each piece of code one task spec carries."""
    for condition, _target in getattr(task_spec, "cond_task_specs", None) or []:
        if condition is not None and condition.args and condition.args[0]:
            yield "条件表达式", condition.args[0], "eval"
    yield from _text_attributes(task_spec, _SCRIPTS, "exec")
    event = getattr(task_spec, "event_definition", None)
    if isinstance(event, TimerEventDefinition) and event.expression:
        yield "定时器表达式", event.expression, "eval"
    for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
        if isinstance(param, dict) and param.get("value"):
            yield f"服务参数 {name} ", str(param["value"]), "eval"
    yield from _text_attributes(task_spec, _MULTI_INSTANCE, "eval")
    yield from _dmn_code(task_spec)


def _text_attributes(
    task_spec, attributes: tuple[tuple[str, str], ...], mode: str
) -> Iterator[tuple[str, str, str]]:
    for attribute, what in attributes:
        source = getattr(task_spec, attribute, None)
        if isinstance(source, str) and source.strip():
            yield what, source, mode


def _dmn_code(task_spec) -> Iterator[tuple[str, str, str]]:
    engine = getattr(task_spec, "dmnEngine", None)
    table = getattr(engine, "decision_table", None)
    if table is not None:
        yield from _decision_code(table)


def _decision_code(table) -> Iterator[tuple[str, str, str]]:
    for column in table.inputs:
        if column.expression:
            yield (
                f"决策表 {table.name or table.id} 的输入“{column.label or column.id}”",
                column.expression,
                "eval",
            )
    for rule in table.rules:
        for entry in rule.inputEntries:
            for lhs in entry.lhs or []:
                if lhs and lhs.strip() not in ("-", ""):
                    yield f"决策表 {table.name or table.id} 第 {rule.row_number} 行的条件", lhs, "dmn"
        for entry in rule.outputEntries:
            if entry.text and entry.text.strip():
                yield f"决策表 {table.name or table.id} 第 {rule.row_number} 行的结果", entry.text, "eval"


def undefined_names(
    specs: dict[str, tuple], files: dict[str, str], provided: Iterable[str] = ()
) -> list[str]:
    """Warnings (the deploy goes ahead): each variable a condition, script or expression reads that no
    form field, DMN output, script assignment, result variable, multi-instance item or data object of
    the model produces, nor the application (`provided`, the engine's builtins and helpers). Order is
    not followed (a script later in the flow counts as producing), so a warning is most likely a typo."""
    produced = set(provided) | global_names()
    for schema in _form_schemas(files):
        produced |= _schema_names(schema)
    uses: list[tuple[str, str, str, str]] = []
    for pid, process in _processes(specs):
        produced |= set(getattr(process, "data_objects", None) or {})
        for task_spec in process.task_specs.values():
            produced |= _produced_by(task_spec)
            element = _element(pid, task_spec)
            uses += [
                (element, what, source, mode) for what, source, mode in _code_of(task_spec) if mode != "dmn"
            ]
    warnings: dict[str, None] = {}
    for element, what, source, mode in uses:
        for name in sorted(_read_names(source, mode) - produced):
            warnings[f"{element}：{what}用到的变量 {name} 没有任何表单、决策表或脚本产生（请检查拼写）"] = (
                None
            )
    return list(warnings)


def _schema_names(schema) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        names |= set((schema.get("properties") or {}) if isinstance(schema.get("properties"), dict) else {})
        for value in schema.values():
            names |= _schema_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= _schema_names(value)
    return names


def _produced_by(task_spec) -> set[str]:
    names: set[str] = set()
    for attribute in ("script", "prescript", "postscript"):
        source = getattr(task_spec, attribute, None)
        if isinstance(source, str) and source.strip():
            names |= _bound_names(source, "exec")
    result = getattr(task_spec, "result_variable", None)
    if result:
        names.add(result)
    for attribute in ("input_item", "output_item", "data_input", "data_output"):
        item = getattr(task_spec, attribute, None)
        name = getattr(item, "bpmn_id", None) or getattr(item, "name", None)
        if name:
            names.add(name)
    table = getattr(getattr(task_spec, "dmnEngine", None), "decision_table", None)
    if table is not None:
        names |= {column.name for column in table.outputs if column.name}
    return names


def _tree(source: str, mode: str):
    try:
        return ast.parse(source.strip(), mode=mode)
    except (SyntaxError, ValueError):
        return None  # refused by the compile check already


def _bound_names(source: str, mode: str) -> set[str]:
    tree = _tree(source, mode)
    names: set[str] = set()
    for node in ast.walk(tree) if tree is not None else []:
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.ExceptHandler)) and node.name:
            names.add(node.name)
    return names


def _read_names(source: str, mode: str) -> set[str]:
    tree = _tree(source, mode)
    if tree is None:
        return set()
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return read - _bound_names(source, mode)
