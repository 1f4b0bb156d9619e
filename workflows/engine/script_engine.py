"""A script engine that really is restricted.

SpiffWorkflow's default engine is plain eval/exec with full builtins, and
TaskDataEnvironment(RestrictedPython.safe_globals) still lets `__subclasses__` walks reach `os`
(a subclass walk from a tuple reaches `os`). Here every condition, script, DMN cell
and timer expression is compiled by RestrictedPython (which rejects underscore names and imports
at compile time) and run with its guards; service tasks call only the operations registered by
the application.

Model code is also bounded (a deployed model is data an administrator uploads, not trusted code): each
evaluation has a time budget, loops, iterations and function calls tick a counter that checks it and
the process's memory growth, and the C-level operations that could run long or allocate much in one
call (`range`, `*` and `**` on sequences and numbers, `pow`, str padding/replace/join) are capped. A
budget that ran out keeps refusing, so a script cannot swallow the error in `try` and carry on.
What remains: a single capped C call still runs to its cap (about 10 ms), and the engine step waits
for the budget inside its transaction.
"""

from __future__ import annotations

import ast
import json
import math
import os
import string
import time
from collections.abc import Callable
from datetime import UTC
from functools import lru_cache
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment


class ScriptRejected(Exception):
    """A BPMN/DMN expression tried something the restricted engine does not allow."""


# Caps on what one operation may build; far above anything a process model's data needs.
MAX_ITEMS = 1_000_000  # elements of a range or sequence
MAX_CHARS = 1_000_000  # characters of a string
MAX_INT_BITS = 100_000  # bits of an integer built by ** or <<
MAX_MEMORY_GROWTH = 512 * 2**20  # bytes the process may grow while one evaluation runs


class Budget:
    """The time and memory one evaluation may use; `tick()` is called by every loop, iteration and call."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.count = 0
        self.exhausted: str | None = None
        self.memory_start = _resident_bytes()

    def tick(self) -> None:
        if self.exhausted:
            raise ScriptRejected(self.exhausted)
        self.count += 1
        if self.count % 256:
            return
        if time.monotonic() > self.deadline:
            self.exhausted = f"脚本运行超过 {self.seconds:g} 秒的时间限制"
        elif _resident_bytes() - self.memory_start > MAX_MEMORY_GROWTH:
            self.exhausted = f"脚本占用内存超过 {MAX_MEMORY_GROWTH // 2**20} MB 的限制"
        if self.exhausted:
            raise ScriptRejected(self.exhausted)

    def check(self) -> None:
        """After the evaluation: a script that caught the budget's error still fails."""
        if self.exhausted:
            raise ScriptRejected(self.exhausted)


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def script_seconds() -> float:
    return float(os.environ.get("ZS_SCRIPT_SECONDS") or 2)


def _too_big(what: str) -> ScriptRejected:
    return ScriptRejected(f"脚本构造的{what}过大")


def _mul(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        if (
            isinstance(seq, (str, bytes, list, tuple))
            and isinstance(n, int)
            and len(seq) * n > (MAX_CHARS if isinstance(seq, (str, bytes)) else MAX_ITEMS)
        ):
            raise _too_big("序列")
    return a * b


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else 0


def _add(a: Any, b: Any) -> Any:
    if _sized(a) + _sized(b) > (MAX_CHARS if isinstance(a, (str, bytes)) else MAX_ITEMS):
        raise _too_big("序列")
    return a + b


def _mod(a: Any, b: Any) -> Any:
    # '%s%s' % (s, s): the result is about as long as the template and its string arguments.
    if isinstance(a, (str, bytes)):
        values = b.values() if isinstance(b, dict) else b if isinstance(b, tuple) else (b,)
        if len(a) + sum(_sized(v) for v in values) > MAX_CHARS:
            raise _too_big("字符串")
    return a % b


def _pow(a: Any, b: Any, *mod: Any) -> Any:
    if (
        not mod
        and isinstance(a, int)
        and isinstance(b, int)
        and abs(a) > 1
        and b > 0
        and b * math.log2(abs(a)) > MAX_INT_BITS
    ):
        raise _too_big("整数")
    return pow(a, b, *mod)


def _lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > MAX_INT_BITS:
        raise _too_big("整数")
    return a << b


_BINOPS = {"+": _add, "*": _mul, "%": _mod, "**": _pow, "<<": _lshift}


def _binop(op: str, a: Any, b: Any) -> Any:
    return _BINOPS[op](a, b)


_INPLACE = {
    "+=": _add,
    "-=": lambda a, b: a - b,
    "*=": _mul,
    "/=": lambda a, b: a / b,
    "//=": lambda a, b: a // b,
    "%=": _mod,
    "**=": _pow,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    if op not in _INPLACE:
        raise ScriptRejected(f"operator {op} is not allowed")
    return _INPLACE[op](x, y)


def _range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_ITEMS:
        raise _too_big("range")
    return result


class _SafeFormatter(string.Formatter):
    """str.format with plain fields only: no attribute or index lookups ("{0.__class__}") and no
    padding wide enough to build a huge string."""

    def get_field(self, field_name, args, kwargs):
        if "." in field_name or "[" in field_name:
            raise ScriptRejected("str.format 的字段不能访问属性或下标")
        return super().get_field(field_name, args, kwargs)

    def format_field(self, value, format_spec):
        if any(len(digits) > 4 for digits in "".join(c if c.isdigit() else " " for c in format_spec).split()):
            raise _too_big("字符串")
        return super().format_field(value, format_spec)


def _safe_format(text: str) -> Callable[..., str]:
    return lambda *args, **kwargs: _SafeFormatter().vformat(text, args, kwargs)


def _padding(method: Callable) -> Callable:
    def padded(width, *rest):
        if isinstance(width, int) and width > MAX_CHARS:
            raise _too_big("字符串")
        return method(width, *rest)

    return padded


def _guarded_str_method(text: str | bytes, name: str, method: Callable) -> Callable:
    if name == "replace":

        def replace(old, new, count=-1):
            hits = text.count(old) if count < 0 else count
            if len(text) + hits * len(new) > MAX_CHARS:
                raise _too_big("字符串")
            return method(old, new, count)

        return replace
    if name == "join":

        def join(items):
            items = list(items)
            if sum(len(item) for item in items if isinstance(item, (str, bytes))) > MAX_CHARS:
                raise _too_big("字符串")
            return method(items)

        return join
    return _padding(method)


def _guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, str) and name == "format":
        return _safe_format(obj)
    # format_map (and the unbound str.format) can reach attributes through "{0.__class__}" strings.
    if (isinstance(obj, str) and name == "format_map") or (obj is str and name in ("format", "format_map")):
        raise ScriptRejected("str.format_map is not allowed in process scripts")
    value = safer_getattr(obj, name, default)
    if isinstance(obj, (str, bytes)) and name in (
        "ljust",
        "rjust",
        "center",
        "zfill",
        "expandtabs",
        "replace",
        "join",
    ):
        return _guarded_str_method(obj, name, value)
    if isinstance(obj, list) and name == "extend":
        return _guarded_extend(obj)
    return value


def _guarded_extend(items: list) -> Callable[[Any], None]:
    def extend(more):
        more = list(more)
        if len(items) + len(more) > MAX_ITEMS:
            raise _too_big("序列")
        items.extend(more)

    return extend


_GUARDED_OPS = {ast.Add: "+", ast.Mult: "*", ast.Mod: "%", ast.Pow: "**", ast.LShift: "<<"}


class _BoundedPolicy(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus a budget tick in every loop body and function, and guarded
    `+`, `*`, `%`, `**` and `<<` (the operators that can build huge values in one step)."""

    def visit_Module(self, node):
        return ast.fix_missing_locations(super().visit_Module(node))  # the nodes added below

    def visit_Expression(self, node):
        return ast.fix_missing_locations(super().visit_Expression(node))

    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        op = _GUARDED_OPS.get(type(node.op))
        if op is None:
            return node
        call = ast.Call(
            func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(op), node.left, node.right], keywords=[]
        )
        return ast.copy_location(call, node)

    def visit_Import(self, node):
        # Nothing is importable (no __import__ in scope): refuse at compile time, so a deployment sees it.
        self.error(node, "import statements are not allowed in process scripts")
        return node

    visit_ImportFrom = visit_Import

    def visit_While(self, node):
        node = super().visit_While(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        # lambda: body  →  lambda: (_tick_(), body)[1]
        pair = ast.Tuple(elts=[_tick_call(node), node.body], ctx=ast.Load())
        node.body = ast.copy_location(ast.Subscript(value=pair, slice=ast.Constant(1), ctx=ast.Load()), node)
        return node


def _tick_call(node) -> ast.Call:
    return ast.copy_location(ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[]), node)


def _tick_statement(node) -> ast.Expr:
    return ast.copy_location(ast.Expr(value=_tick_call(node)), node)


_BUILTINS = dict(safe_builtins)
for _name in ("getattr", "setattr", "delattr", "hasattr"):
    _BUILTINS.pop(_name, None)
_BUILTINS.update(
    {
        "any": any,
        "all": all,
        "max": max,
        "min": min,
        "sum": sum,
        "dict": dict,
        "list": list,
        "enumerate": enumerate,
        "set": set,
        "sorted": sorted,
        "tuple": tuple,
        "zip": zip,
        "reversed": reversed,
        "range": _range,
        "pow": _pow,
    }
)


def _guards(budget: Budget) -> dict[str, Any]:
    def getiter(obj: Any):
        for item in default_guarded_getiter(obj):
            budget.tick()
            yield item

    return {
        "__builtins__": _BUILTINS,
        "_getattr_": _guarded_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "_binop_": _binop,
        "_tick_": budget.tick,
    }


_GUARD_NAMES = frozenset(_guards(Budget(0)))


def _working_days_after(days: int) -> str:
    """For BPMN timers: the moment `days` working days from now (China's calendar), ISO UTC."""

    from workflows.deadlines import add_working_days
    from workflows.engine.clock import engine_now

    # The engine's clock: a replay runs each step at its recorded moment, live work on the real clock
    # (and a test that moves SpiffWorkflow's clock moves this one too).
    if not 0 <= int(days) <= 3660:
        raise ScriptRejected("working_days_after 的天数须在 0 到 3660 之间")
    return add_working_days(engine_now(), int(days)).replace(tzinfo=UTC).isoformat()


def _months_after(months: int, start_date: str | None = None) -> str:
    """For BPMN timers: when a limit of `months` calendar months has passed, ISO UTC.

    With `start_date` (an ISO date from a form, e.g. the contract's sign_date) the limit is the whole
    day `months` months later, China time (2026-01-31 + 1 → 2026-02-28), so the timer is due at 00:00
    of the following day: "签约到开工不超过6个月" (《郴州市关于进一步加强招商引资工作的实施意见》 §3) has
    passed only after that day. Without a date, `months` months from now. "Now" is the engine's clock (the
    moment of a replay, or the clock tests move), so timers set from a timer that just fired are relative to
    that moment.
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


def global_names() -> set[str]:
    """The names every piece of model code may read besides task data: builtins and helpers."""
    return set(_BUILTINS) | set(_HELPERS)


@lru_cache(maxsize=4096)
def compile_restricted(source: str, mode: str):
    """The code object of a condition ("eval") or script ("exec"); ScriptRejected when it does not
    compile under the restrictions (also what a deployment checks each expression with)."""
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source, policy=_BoundedPolicy)
    if result.errors or result.code is None:
        raise ScriptRejected("; ".join(result.errors) or "script rejected")
    return result.code


# Functions the application may bind for a step (SpiffArena's names), with their parameters in order;
# they are called through `services` so the step's journal records their answers for replay.
SCRIPT_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "get_current_user": (),
    "get_process_initiator_user": (),
    "get_group_members": ("group_identifier",),
    "get_toplevel_process_info": (),
}


def _script_function(name: str, operation: Callable[..., Any], context: dict) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        params = SCRIPT_FUNCTIONS[name]
        if len(args) > len(params) or set(kwargs) - set(params):
            raise ScriptRejected(f"{name} 的参数是 ({', '.join(params)})")
        return operation(context, **dict(zip(params, args, strict=False)), **kwargs)

    return call


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates task-data expressions with RestrictedPython; service tasks go to `services`."""

    def __init__(self, services: dict[str, Callable[..., dict]] | None = None):
        super().__init__({})
        self.services = services or {}

    def _functions(self, context: dict) -> dict[str, Callable[..., Any]]:
        return {
            name: _script_function(name, self.services[name], context)
            for name in SCRIPT_FUNCTIONS
            if name in self.services
        }

    def evaluate(self, expression, context, external_context=None):
        budget = Budget(script_seconds())
        # Data cannot replace the helpers, functions or guards.
        scope = {
            **(external_context or {}),
            **context,
            **_HELPERS,
            **self._functions(context),
            **_guards(budget),
        }
        result = eval(compile_restricted(expression, "eval"), scope)
        budget.check()
        return result

    def execute(self, script, context, external_context=None):
        budget = Budget(script_seconds())
        scope = {
            **(external_context or {}),
            **context,
            **_HELPERS,
            **self._functions(context),
            **_guards(budget),
        }
        exec(compile_restricted(script, "exec"), scope)  # noqa: S102 - compiled by RestrictedPython
        budget.check()
        for key, value in scope.items():
            if (
                key in _GUARD_NAMES
                or key in _HELPERS
                or key in SCRIPT_FUNCTIONS
                or (external_context and key in external_context)
                or callable(value)
            ):
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
            raise WorkflowTaskException(
                f"service {kwargs.get('operation_name')} failed: {err}", task=task, exception=err
            ) from err


def restricted_engine(services: dict[str, Callable[..., dict]] | None = None) -> PythonScriptEngine:
    """An engine for one engine step; `services` are closures bound to that step's transaction."""
    return RestrictedScriptEngine(environment=RestrictedEnvironment(services))
