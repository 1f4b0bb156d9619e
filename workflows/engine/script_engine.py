"""A script engine that really is restricted.

SpiffWorkflow's default engine is plain eval/exec with full builtins, and
TaskDataEnvironment(RestrictedPython.safe_globals) still lets `__subclasses__` walks reach `os`
(../shared/SPIFFWORKFLOW-NOTES.md, "Script engine safety"). Here every condition, script, DMN cell
and timer expression is compiled by RestrictedPython (which rejects underscore names and imports
at compile time) and run with its guards; service tasks call only the operations registered by
the application.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment


class ScriptRejected(Exception):
    """A BPMN/DMN expression tried something the restricted engine does not allow."""


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops = {"+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b}
    if op not in ops:
        raise ScriptRejected(f"operator {op} is not allowed")
    return ops[op](x, y)


def _guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    # str.format / format_map can reach attributes through "{0.__class__}" strings.
    if isinstance(obj, str) and name in ("format", "format_map"):
        raise ScriptRejected("str.format is not allowed in process scripts")
    return safer_getattr(obj, name, default)


_BUILTINS = dict(safe_builtins)
for _name in ("getattr", "setattr", "delattr", "hasattr"):
    _BUILTINS.pop(_name, None)
_BUILTINS.update({
    "any": any, "all": all, "max": max, "min": min, "sum": sum, "dict": dict, "list": list,
    "enumerate": enumerate, "set": set, "sorted": sorted, "tuple": tuple, "zip": zip, "reversed": reversed,
})

_GUARDS = {
    "__builtins__": _BUILTINS,
    "_getattr_": _guarded_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
}


def _working_days_after(days: int) -> str:
    """For BPMN timers: the moment `days` working days from now (China's calendar), ISO UTC."""

    from workflows.deadlines import add_working_days
    from workflows.engine.clock import engine_now

    # The engine's clock: a replay runs each step at its recorded moment, live work on the real clock
    # (and a test that moves SpiffWorkflow's clock moves this one too).
    return add_working_days(engine_now(), int(days)).replace(tzinfo=UTC).isoformat()


def _months_after(months: int, start_date: str | None = None) -> str:
    """For BPMN timers: when a limit of `months` calendar months has passed, ISO UTC.

    With `start_date` (an ISO date from a form, e.g. the contract's sign_date) the limit is the whole
    day `months` months later, China time (2026-01-31 + 1 → 2026-02-28), so the timer is due at 00:00
    of the following day: "签约到开工不超过6个月" (seed 003 §3) has passed only after that day. Without a
    date, `months` months from now. "Now" is the engine's clock (the moment of a replay, or the clock
    tests move), so timers set from a timer that just fired are relative to that moment.
    """
    from datetime import date, datetime, time, timedelta

    from workflows.deadlines import add_months
    from workflows.engine.clock import engine_now
    from workflows.localtime import CHINA, to_local

    now = engine_now().replace(tzinfo=UTC)
    if start_date:
        limit = add_months(date.fromisoformat(str(start_date)[:10]), months)
        due = datetime.combine(limit + timedelta(days=1), time(0, 0), CHINA)
    else:
        local = to_local(now.replace(tzinfo=None))
        due = datetime.combine(add_months(local.date(), months), local.timetz())
    return due.astimezone(UTC).isoformat()


# Functions a process model may call (the only non-builtin names in scope).
_HELPERS = {"working_days_after": _working_days_after, "months_after": _months_after}


def _compile(source: str, mode: str):
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source)
    if result.errors or result.code is None:
        raise ScriptRejected("; ".join(result.errors) or "script rejected")
    return result.code


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates task-data expressions with RestrictedPython; service tasks go to `services`."""

    def __init__(self, services: dict[str, Callable[..., dict]] | None = None):
        super().__init__({})
        self.services = services or {}

    def evaluate(self, expression, context, external_context=None):
        scope = {**(external_context or {}), **context, **_HELPERS, **_GUARDS}  # data cannot replace them
        return eval(_compile(expression, "eval"), scope)

    def execute(self, script, context, external_context=None):
        scope = {**(external_context or {}), **context, **_HELPERS, **_GUARDS}
        exec(_compile(script, "exec"), scope)  # noqa: S102 - compiled by RestrictedPython
        for key, value in scope.items():
            if key in _GUARDS or key in _HELPERS or (external_context and key in external_context) or callable(value):
                continue
            context[key] = value
        return True

    def call_service(self, context, operation_name=None, operation_params=None, **kwargs):
        operation = self.services.get(operation_name)
        if operation is None:
            raise ScriptRejected(f"unknown service operation {operation_name!r}")
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        return json.dumps(operation(context, **params), ensure_ascii=False)


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow 3.2's call_service error path refers to an undefined name; report errors plainly."""

    def call_service(self, task, **kwargs):
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            raise WorkflowTaskException(f"service {kwargs.get('operation_name')} failed: {err}",
                                        task=task, exception=err) from err


def restricted_engine(services: dict[str, Callable[..., dict]] | None = None) -> PythonScriptEngine:
    """An engine for one engine step; `services` are closures bound to that step's transaction."""
    return RestrictedScriptEngine(environment=RestrictedEnvironment(services))
