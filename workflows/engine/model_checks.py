"""Checks of a model's own code before it is deployed: every condition, script, timer expression,
service parameter, multi-instance expression and DMN cell must compile under the restricted engine,
and every service task must name an operator the application has. A model that would fail at run time
is refused at deploy, with the process and element named, instead of failing every project later."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from workflows.engine.script_engine import ScriptRejected, compile_restricted

# The features a task opts into with its `capability` property (comma-separated; docs/process.md). The
# application finds these tasks by the property, never by task id; deploy refuses an unknown one.
CAPABILITIES = {
    "restart-form": "its answers prefill the registration form when a cancelled instance is registered again",
    "joint-review": "a joint-review round: its opinions make the 联合会审意见汇总, 加签/减签 change it while it runs",
    "filing-review": "the prefecture's review of a filing (completed through the filing API by a remote prefecture)",
    "contract-signing": "the contract is signed here: after-signing tracking, 五个一 and the start deadline follow",
    "tracking-report": "a tracking report after signing (履约跟踪: funds, construction, production)",
}


def capabilities_of(props: dict[str, str]) -> set[str]:
    return {c.strip() for c in (props.get("capability") or "").split(",") if c.strip()}


_QUESTION = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")  # "?" outside quotes, as the DMN engine does


def code_problems(specs: dict[str, tuple], operators: Iterable[str] | None) -> list[str]:
    """Why the code of parsed processes {process id: (spec, subprocess specs)} cannot run (empty: it can).
    `operators`: the service-task operators the application has (None: not checked)."""
    known = None if operators is None else set(operators)
    problems: list[str] = []
    seen: set[int] = set()
    for pid, (spec, subprocess_specs) in specs.items():
        for process in [spec, *subprocess_specs.values()]:
            if id(process) in seen:
                continue
            seen.add(id(process))
            for task_spec in process.task_specs.values():
                element = f"{pid} 的 {task_spec.bpmn_name or task_spec.bpmn_id or task_spec.name}"
                props = task_spec.extensions.get("properties", {}) if hasattr(task_spec, "extensions") else {}
                for unknown in sorted(capabilities_of(props) - set(CAPABILITIES)):
                    problems.append(f"{element}：未知的 capability “{unknown}”（可用：{'、'.join(CAPABILITIES)}）")
                operator = getattr(task_spec, "operation_name", None)
                if operator is not None and known is not None and operator not in known:
                    problems.append(f"{element}：服务任务调用的操作 {operator} 不存在")
                for what, source, mode in _code_of(task_spec):
                    try:
                        _compile(source, mode)
                    except ScriptRejected as err:
                        problems.append(f"{element}：{what}无法在受限脚本引擎中编译（{str(err)[:160]}）")
    return problems


def _compile(source: str, mode: str) -> None:
    if mode != "dmn":
        compile_restricted(source, mode)
        return
    entry = _QUESTION.sub("dmninputexpr", source)
    try:
        compile_restricted(entry, "eval")
    except ScriptRejected:
        compile_restricted(f"dmninputexpr {entry}", "eval")  # "> 5" is compared with the input


def _code_of(task_spec) -> Iterator[tuple[str, str, str]]:
    """(what, source, mode) of each piece of code one task spec carries."""
    for condition, _target in getattr(task_spec, "cond_task_specs", None) or []:
        if condition is not None and condition.args and condition.args[0]:
            yield "条件表达式", condition.args[0], "eval"
    for attribute, what in (("script", "脚本"), ("prescript", "前置脚本"), ("postscript", "后置脚本")):
        source = getattr(task_spec, attribute, None)
        if isinstance(source, str) and source.strip():
            yield what, source, "exec"
    event = getattr(task_spec, "event_definition", None)
    if isinstance(event, TimerEventDefinition) and event.expression:
        yield "定时器表达式", event.expression, "eval"
    for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
        if isinstance(param, dict) and param.get("value"):
            yield f"服务参数 {name} ", str(param["value"]), "eval"
    for attribute, what in (("cardinality", "多实例数量"), ("condition", "完成条件")):
        source = getattr(task_spec, attribute, None)
        if isinstance(source, str) and source.strip():
            yield what, source, "eval"
    engine = getattr(task_spec, "dmnEngine", None)
    table = getattr(engine, "decision_table", None)
    if table is not None:
        yield from _decision_code(table)


def _decision_code(table) -> Iterator[tuple[str, str, str]]:
    for column in table.inputs:
        if column.expression:
            yield f"决策表 {table.name or table.id} 的输入“{column.label or column.id}”", column.expression, "eval"
    for rule in table.rules:
        for entry in rule.inputEntries:
            for lhs in entry.lhs or []:
                if lhs and lhs.strip() not in ("-", ""):
                    yield f"决策表 {table.name or table.id} 第 {rule.row_number} 行的条件", lhs, "dmn"
        for entry in rule.outputEntries:
            if entry.text and entry.text.strip():
                yield f"决策表 {table.name or table.id} 第 {rule.row_number} 行的结果", entry.text, "eval"
