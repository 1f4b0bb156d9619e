"""The restricted script engine: every place a BPMN/DMN model can carry Python refuses escapes, and
legitimate expressions still work (../shared/SPIFFWORKFLOW-NOTES.md, "Script engine safety").

Each attack is put into a tiny BPMN/DMN document built here — a gateway condition, a script task, a
pre-script, a DMN input expression / input entry / output entry, a timer duration and a service-task
parameter — and run with `restricted_engine()`. An attack passes when the engine raises a clean
SpiffWorkflow exception (or ScriptRejected) caused by a refusal, the guarded path is not taken and the
marker file a successful shell escape would create does not exist.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from xml.sax.saxutils import escape, quoteattr

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from workflows.engine.script_engine import (
    RestrictedEnvironment,
    RestrictedScriptEngine,
    ScriptRejected,
    restricted_engine,
)

# ---------------------------------------------------------------------------------------------------
# Tiny models
# ---------------------------------------------------------------------------------------------------

BPMN_NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
DMN_NS = 'xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"'


def _definitions(body: str) -> str:
    return (
        f'<bpmn:definitions {BPMN_NS} id="defs" targetNamespace="http://example.org/test">'
        f'<bpmn:process id="p" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'
    )


def _chain(*nodes: str) -> str:
    """start → nodes… → end; each node is an XML fragment with `{incoming}`/`{outgoing}` slots."""
    ids = ["start"] + [f"n{i}" for i in range(len(nodes))] + ["end"]
    flows = [f"flow_{a}_{b}" for a, b in itertools.pairwise(ids)]
    parts = [f'<bpmn:startEvent id="start"><bpmn:outgoing>{flows[0]}</bpmn:outgoing></bpmn:startEvent>']
    for i, node in enumerate(nodes):
        parts.append(
            node.format(
                id=ids[i + 1],
                incoming=f"<bpmn:incoming>{flows[i]}</bpmn:incoming>",
                outgoing=f"<bpmn:outgoing>{flows[i + 1]}</bpmn:outgoing>",
            )
        )
    parts.append(f'<bpmn:endEvent id="end"><bpmn:incoming>{flows[-1]}</bpmn:incoming></bpmn:endEvent>')
    parts += [
        f'<bpmn:sequenceFlow id="{f}" sourceRef="{a}" targetRef="{b}"/>'
        for f, (a, b) in zip(flows, itertools.pairwise(ids), strict=True)
    ]
    return _definitions("".join(parts))


def gateway_model(condition: str) -> str:
    """start → gateway: `condition` → end_guarded, otherwise (default) → end_default."""
    return _definitions(f"""
<bpmn:startEvent id="start"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>
<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="gw"/>
<bpmn:exclusiveGateway id="gw" default="f_default">
  <bpmn:incoming>f_start</bpmn:incoming><bpmn:outgoing>f_guarded</bpmn:outgoing>
  <bpmn:outgoing>f_default</bpmn:outgoing>
</bpmn:exclusiveGateway>
<bpmn:sequenceFlow id="f_guarded" sourceRef="gw" targetRef="end_guarded">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}</bpmn:conditionExpression>
</bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f_default" sourceRef="gw" targetRef="end_default"/>
<bpmn:endEvent id="end_guarded"><bpmn:incoming>f_guarded</bpmn:incoming></bpmn:endEvent>
<bpmn:endEvent id="end_default"><bpmn:incoming>f_default</bpmn:incoming></bpmn:endEvent>""")


def script_model(script: str) -> str:
    return _chain(
        f'<bpmn:scriptTask id="{{id}}">{{incoming}}{{outgoing}}'
        f"<bpmn:script>{_braces(escape(script))}</bpmn:script></bpmn:scriptTask>"
    )


def prescript_model(script: str) -> str:
    """A manual task whose spiffworkflow:preScript runs when the task becomes ready."""
    return _chain(
        f'<bpmn:manualTask id="{{id}}"><bpmn:extensionElements>'
        f"<spiffworkflow:preScript>{_braces(escape(script))}</spiffworkflow:preScript>"
        f"</bpmn:extensionElements>{{incoming}}{{outgoing}}</bpmn:manualTask>"
    )


def business_rule_model(decision_id: str = "decision") -> str:
    return _chain(
        f'<bpmn:businessRuleTask id="{{id}}"><bpmn:extensionElements>'
        f"<spiffworkflow:calledDecisionId>{decision_id}</spiffworkflow:calledDecisionId>"
        f"</bpmn:extensionElements>{{incoming}}{{outgoing}}</bpmn:businessRuleTask>"
    )


def timer_model(duration_expression: str) -> str:
    return _chain(
        f'<bpmn:intermediateCatchEvent id="{{id}}">{{incoming}}{{outgoing}}'
        f'<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        f"{_braces(escape(duration_expression))}</bpmn:timeDuration></bpmn:timerEventDefinition>"
        f"</bpmn:intermediateCatchEvent>"
    )


def service_model(operation: str, params: dict[str, str]) -> str:
    parameters = "".join(
        f'<spiffworkflow:parameter id="{name}" type="any" value={_braces(quoteattr(value))}/>'
        for name, value in params.items()
    )
    return _chain(
        f'<bpmn:serviceTask id="{{id}}"><bpmn:extensionElements>'
        f"<spiffworkflow:serviceTaskOperator id={_braces(quoteattr(operation))} "
        f'resultVariable="service_result"><spiffworkflow:parameters>{parameters}'
        f"</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>"
        f"</bpmn:extensionElements>{{incoming}}{{outgoing}}</bpmn:serviceTask>"
    )


def dmn_model(input_expression: str, rules: list[tuple[str, str]], hit_policy: str = "FIRST") -> str:
    """One input column, one output column `decision_result`; rules are (input entry, output entry)."""
    rule_xml = "".join(
        f'<rule id="rule_{i}"><inputEntry id="in_{i}"><text>{escape(entry)}</text></inputEntry>'
        f'<outputEntry id="out_{i}"><text>{escape(output)}</text></outputEntry></rule>'
        for i, (entry, output) in enumerate(rules)
    )
    return (
        f'<definitions {DMN_NS} id="dmn_defs" name="test" namespace="http://example.org/dmn">'
        f'<decision id="decision" name="test decision">'
        f'<decisionTable id="table" hitPolicy="{hit_policy}">'
        f'<input id="input_1" label="input"><inputExpression id="input_expr_1" typeRef="string">'
        f"<text>{escape(input_expression)}</text></inputExpression></input>"
        f'<output id="output_1" label="result" name="decision_result" typeRef="string"/>'
        f"{rule_xml}</decisionTable></decision></definitions>"
    )


def _braces(text: str) -> str:
    # Fragments go through str.format in _chain: keep literal braces of the payload.
    return text.replace("{", "{{").replace("}", "}}")


def run(
    bpmn: str,
    dmn: str | None = None,
    data: dict | None = None,
    services=None,
    engine: RestrictedScriptEngine | None = None,
) -> BpmnWorkflow:
    wf = build(bpmn, dmn, data, services, engine)
    wf.do_engine_steps()
    return wf


def build(
    bpmn: str,
    dmn: str | None = None,
    data: dict | None = None,
    services=None,
    engine: RestrictedScriptEngine | None = None,
) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(bpmn.encode("utf-8")), filename="test.bpmn")
    if dmn is not None:
        parser.add_dmn_xml(etree.fromstring(dmn.encode("utf-8")), filename="test.dmn")
    wf = BpmnWorkflow(
        parser.get_spec("p"),
        parser.get_subprocess_specs("p"),
        script_engine=engine or restricted_engine(services),
    )
    if data:
        # Task data starts with the start event's data and is copied forward.
        wf.get_tasks(state=TaskState.READY)[0].set_data(**data)
    return wf


def reached(wf: BpmnWorkflow, bpmn_id: str) -> bool:
    return any(t.task_spec.bpmn_id == bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED))


def newest_data(wf: BpmnWorkflow) -> dict:
    data: dict = {}
    for task in wf.get_tasks():
        data.update(task.data)
    return data | dict(wf.data)


# ---------------------------------------------------------------------------------------------------
# Attacks
# ---------------------------------------------------------------------------------------------------

# `{marker}` becomes a fresh /tmp/pwned_<random> path: a successful escape would create it.
EXPRESSION_ATTACKS = {
    "import_os_system": "__import__('os').system('touch {marker}')",
    "import_statement": "import os",
    "subclasses_walk": "().__class__.__base__.__subclasses__()",
    "subclasses_to_os_system": (
        "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "
        "'_wrap_close'][0].__init__.__globals__['system']('touch {marker}')"
    ),
    "bases_comprehension": "[c for c in ().__class__.__bases__]",
    "mro_method": "''.__class__.mro()",
    "str_format_class": "'{0.__class__}'.format(1)",
    "str_format_globals": "'{0.__globals__}'.format(lambda: 0)",
    "str_format_map_globals": "'{f.__globals__}'.format_map({'f': lambda: 0})",
    "str_format_map_builtins": "'{f.__self__}'.format_map(dict(f=len))",
    "str_type_format": "str.format('{0.__class__.__mro__}', 1)",
    "str_type_format_map": "str.format_map('{a.__class__}', {'a': 1})",
    "fstring_dunder": "f'{(1).__class__}'",
    "getattr_dunder": "getattr(1, '__class__')",
    "getattr_concatenated_name": "getattr(1, '__cla' + 'ss__')",
    "hasattr_probe": "hasattr(1, '__class__')",
    "open_passwd": "open('/etc/passwd').read()",
    "type_call": "type(1)",
    "type_new_class": "type('X', (object,), {})",
    "vars": "vars()",
    "globals": "globals()",
    "locals": "locals()",
    "dir": "dir()",
    "eval": "eval('1')",
    "exec": "exec('x=1')",
    "compile": "compile('1', 'x', 'eval')",
    "breakpoint": "breakpoint()",
    "builtins_name": "__builtins__",
    "lambda_globals": "(lambda: 0).__globals__",
    "lambda_code": "(lambda: 0).__code__.co_consts",
    "lambda_default_open": "(lambda f=open: f('/etc/passwd').read())()",
    "lambda_closure_import": "(lambda i=__import__: i('os').system('touch {marker}'))()",
    "generator_gi_frame": "(x for x in []).gi_frame",
    "generator_frame_walk": (
        "[(g := (g.gi_frame.f_back.f_builtins['__import__']('os').system('touch {marker}')"
        " for _ in [1])), list(g)][1]"
    ),
    "generator_gi_code": "(x for x in []).gi_code",
    "generator_gi_yieldfrom": "(x for x in []).gi_yieldfrom",
}

# Statements only make sense where a script runs (script task, pre-script).
STATEMENT_ATTACKS = {
    "from_import": "from os import system\nsystem('touch {marker}')",
    "traceback_frame": "try:\n    1 / 0\nexcept Exception as e:\n    leaked = e.__traceback__.tb_frame",
    "traceback_tb_frame_attr": "try:\n    1 / 0\nexcept Exception as e:\n    leaked = "
    "e.with_traceback(None)\n"
    "    leaked = leaked.tb_frame",
    "class_statement": "class A:\n    pass\nleaked = A()",
    "function_globals": "def f():\n    return 1\nleaked = f.__globals__",
    "attribute_write_on_function": "def f():\n    return 1\nf.x = 1",
    "async_def": "async def f():\n    pass",
}

# What a refusal looks like: compile-time rejection, missing builtin, RestrictedPython guard.
REFUSALS = {
    "ScriptRejected",
    "NameError",
    "ImportError",
    "NotImplementedError",
    "AttributeError",
    "SyntaxError",
}
# What would show that a payload actually did something outside the sandbox.
ESCAPES = {"OSError", "FileNotFoundError", "PermissionError", "IsADirectoryError"}


def _causes(err: BaseException) -> set[str]:
    names, seen = set(), set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        names.add(type(err).__name__)
        if getattr(err, "error_type", None):
            names.add(err.error_type)
        err = err.__cause__ or err.__context__
    return names


@pytest.fixture
def marker():
    path = f"/tmp/pwned_{uuid.uuid4().hex}"
    yield path
    if os.path.exists(path):  # never leave it behind, but the test has already failed
        os.remove(path)


def assert_refused(excinfo, marker: str) -> None:
    causes = _causes(excinfo.value)
    assert causes & REFUSALS, f"not a refusal: {causes} {excinfo.value}"
    assert not causes & ESCAPES, f"the payload reached the file system: {causes}"
    assert not os.path.exists(marker), "the payload ran a shell command"


def _payload(source: str, marker: str) -> str:
    return source.replace("{marker}", marker)


CLEAN = (WorkflowException, ScriptRejected)


@pytest.mark.parametrize("source", EXPRESSION_ATTACKS.values(), ids=EXPRESSION_ATTACKS.keys())
def test_gateway_condition_refuses(source, marker):
    wf = build(gateway_model(_payload(source, marker)), data={"amount_wan": 25000})
    with pytest.raises(CLEAN) as excinfo:
        wf.do_engine_steps()
    assert_refused(excinfo, marker)
    assert not wf.is_completed()
    assert not reached(wf, "end_guarded") and not reached(wf, "end_default")


@pytest.mark.parametrize(
    "source",
    list(EXPRESSION_ATTACKS.values()) + list(STATEMENT_ATTACKS.values()),
    ids=list(EXPRESSION_ATTACKS.keys()) + list(STATEMENT_ATTACKS.keys()),
)
@pytest.mark.parametrize("where", ["script_task", "pre_script"])
def test_script_refuses(where, source, marker):
    payload = _payload(source, marker)
    if source in EXPRESSION_ATTACKS.values() and not payload.startswith("import"):
        payload = f"leaked = {payload}"
    model = script_model(payload) if where == "script_task" else prescript_model(payload)
    wf = build(model, data={"amount_wan": 25000})
    with pytest.raises(CLEAN) as excinfo:
        wf.do_engine_steps()
    assert_refused(excinfo, marker)
    assert not wf.is_completed() and not reached(wf, "n0") and not reached(wf, "end")
    assert "leaked" not in newest_data(wf)
    if where == "pre_script":  # the manual task must not be offered to anyone
        assert not [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "n0"]


@pytest.mark.parametrize("source", EXPRESSION_ATTACKS.values(), ids=EXPRESSION_ATTACKS.keys())
@pytest.mark.parametrize("where", ["input_expression", "input_entry", "output_entry"])
def test_dmn_refuses(where, source, marker):
    payload = _payload(source, marker)
    input_expression, entry, output = "amount_wan", ">= 20000", '"重大"'
    if where == "input_expression":
        # "?" makes the engine evaluate the input expression on its own (not spliced into a comparison).
        input_expression, entry = payload, "? is not None"
    elif where == "input_entry":
        entry = payload
    else:
        output = payload
    dmn = dmn_model(input_expression, [(entry, output)])
    wf = build(business_rule_model(), dmn, data={"amount_wan": 25000})
    with pytest.raises(CLEAN) as excinfo:
        wf.do_engine_steps()
    assert_refused(excinfo, marker)
    assert not wf.is_completed() and not reached(wf, "n0")
    assert "decision_result" not in newest_data(wf)


@pytest.mark.parametrize("source", EXPRESSION_ATTACKS.values(), ids=EXPRESSION_ATTACKS.keys())
def test_timer_duration_refuses(source, marker):
    wf = build(timer_model(_payload(source, marker)), data={"duration": "P3D"})
    with pytest.raises(CLEAN) as excinfo:
        wf.do_engine_steps()
    assert_refused(excinfo, marker)
    timer = [t for t in wf.get_tasks() if t.task_spec.bpmn_id == "n0"]
    assert timer and "event_value" not in timer[0].internal_data
    assert not wf.is_completed() and not reached(wf, "end")


@pytest.mark.parametrize("source", EXPRESSION_ATTACKS.values(), ids=EXPRESSION_ATTACKS.keys())
def test_service_parameter_refuses(source, marker):
    calls = []
    services = {"echo": lambda context, **params: calls.append(params) or {"ok": True}}
    wf = build(
        service_model("echo", {"value": _payload(source, marker)}),
        services=services,
        data={"amount_wan": 25000},
    )
    with pytest.raises(CLEAN) as excinfo:
        wf.do_engine_steps()
    assert_refused(excinfo, marker)
    assert calls == [], "the service ran with an attacker-controlled parameter"
    assert "service_result" not in newest_data(wf) and not wf.is_completed()


UNKNOWN_OPERATIONS = [
    "os.system",
    "__import__",
    "eval",
    "system",
    "echo ",
    "ECHO",
    "call_service",
    "__class__",
    "environment.services",
]


@pytest.mark.parametrize("operation", UNKNOWN_OPERATIONS)
def test_service_unknown_operation_refuses(operation, marker):
    calls = []
    services = {"echo": lambda context, **params: calls.append(params) or {"ok": True}}
    wf = build(service_model(operation, {"value": f"'touch {marker}'"}), services=services)
    with pytest.raises(CLEAN) as excinfo:
        wf.do_engine_steps()
    assert "ScriptRejected" in _causes(excinfo.value)
    assert "unknown service operation" in str(excinfo.value)
    assert calls == [] and not os.path.exists(marker)
    assert "service_result" not in newest_data(wf) and not wf.is_completed()


def test_refusals_are_spiff_task_exceptions_naming_the_task(marker):
    """What the worker logs: a WorkflowTaskException pointing at the task, not a bare error."""
    from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

    wf = build(script_model(f"__import__('os').system('touch {marker}')"))
    with pytest.raises(WorkflowTaskException) as excinfo:
        wf.do_engine_steps()
    assert excinfo.value.task.task_spec.bpmn_id == "n0"
    assert excinfo.value.task.state == TaskState.ERROR
    assert not os.path.exists(marker)


def test_scriptrejected_raised_directly_by_the_environment():
    env = RestrictedEnvironment()
    with pytest.raises(ScriptRejected):
        env.evaluate("().__class__", {})
    with pytest.raises(ScriptRejected):
        env.execute("x = ().__class__", {})
    with pytest.raises(ScriptRejected):
        env.evaluate("'{0.__class__}'.format(1)", {})
    with pytest.raises(ScriptRejected):
        env.call_service({}, operation_name="os.system", operation_params={})


# ---------------------------------------------------------------------------------------------------
# Legitimate models still work
# ---------------------------------------------------------------------------------------------------

LEGIT_CONDITION = "amount_wan >= 20000 and currency == 'CNY'"


@pytest.mark.parametrize(
    ("data", "end"),
    [
        ({"amount_wan": 25000, "currency": "CNY"}, "end_guarded"),
        ({"amount_wan": 20000, "currency": "CNY"}, "end_guarded"),
        ({"amount_wan": 19999.99, "currency": "CNY"}, "end_default"),
        ({"amount_wan": 25000, "currency": "USD"}, "end_default"),
    ],
    ids=["above", "boundary", "below", "foreign"],
)
def test_legitimate_condition(data, end):
    wf = run(gateway_model(LEGIT_CONDITION), data=data)
    assert wf.is_completed() and reached(wf, end)


LEGIT_SCRIPT = """\
order = ['一般', '重点', '重大']
levels = [order.index(c) for c in classes]
highest = order[max(levels)]
has_major = any(c == '重大' for c in classes)
all_known = all(c in order for c in classes)
summary = {'count': len(classes), 'highest': highest, 'major': has_major, 'rank': order.index(highest)}
units = {u: {'agreed': u != 'zrzyj'} for u in ['fgj', 'zrzyj']}
objections = [u for u, v in units.items() if not v['agreed']]
total = 0
for i, amount in enumerate(amounts):
    total += amount * (i + 1)
pair = divmod(total, 7)
first, second = pair
label = '%s：%d' % (highest, total)
"""


def test_legitimate_script():
    wf = run(script_model(LEGIT_SCRIPT), data={"classes": ["一般", "重大", "重点"], "amounts": [1, 2, 3]})
    assert wf.is_completed()
    data = wf.data
    assert data["levels"] == [0, 2, 1]
    assert data["summary"] == {"count": 3, "highest": "重大", "major": True, "rank": 2}
    assert data["has_major"] is True and data["all_known"] is True
    assert data["objections"] == ["zrzyj"]
    assert data["total"] == 14 and (data["first"], data["second"]) == (2, 0)
    assert data["label"] == "重大：14"


def test_legitimate_prescript_sets_data_before_the_task_is_offered():
    wf = run(
        prescript_model("reviewers = [u for u in units if u != 'swj']"),
        data={"units": ["fgj", "swj", "zrzyj"]},
    )
    task = next(t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "n0")
    assert task.data["reviewers"] == ["fgj", "zrzyj"]


CLASS_RULES = [(">= 20000", '"重大"'), (">= 10000", '"重点"'), ("", '"一般"')]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (25000, "重大"),
        (20000, "重大"),
        (19999.99, "重点"),
        (10000, "重点"),
        (500, "一般"),
        (0, "一般"),
    ],
)
def test_legitimate_dmn_table(amount, expected):
    wf = run(business_rule_model(), dmn_model("(amount_wan or 0)", CLASS_RULES), data={"amount_wan": amount})
    assert wf.is_completed()
    assert wf.data["decision_result"] == expected


def test_legitimate_dmn_with_question_mark_range_and_collect():
    dmn = dmn_model(
        "amount_wan",
        [("10000 <= ? < 20000", '"重点"'), ("? >= 20000", '"重大"'), ("? >= 0", '"有金额"')],
        hit_policy="COLLECT",
    )
    wf = run(business_rule_model(), dmn, data={"amount_wan": 25000})
    assert wf.data["decision_result"] == ["重大", "有金额"]


def test_legitimate_timer_duration_waits_with_a_deadline():
    before = datetime.now(UTC)
    wf = run(timer_model("duration"), data={"duration": "P3D"})
    after = datetime.now(UTC)
    timer = next(t for t in wf.get_tasks() if t.task_spec.bpmn_id == "n0")
    assert timer.state == TaskState.WAITING
    deadline = datetime.fromisoformat(timer.internal_data["event_value"])
    assert before + timedelta(days=3) <= deadline <= after + timedelta(days=3)
    wf.refresh_timers()
    wf.do_engine_steps()
    assert timer.state == TaskState.WAITING and not wf.is_completed()


def test_legitimate_timer_literal_expression():
    wf = run(timer_model("'PT0S'"))
    wf.refresh_timers()
    wf.do_engine_steps()
    assert wf.is_completed()


def test_legitimate_service_call_gets_evaluated_parameters():
    calls = []

    def echo(context, **params):
        calls.append((context.get("project_name"), params))
        return {"doubled": params["amount"] * 2, "units": params["units"]}

    wf = run(
        service_model("echo", {"amount": "amount_wan * 2", "units": "[u.upper() for u in units]"}),
        data={"amount_wan": 100, "units": ["fgj"], "project_name": "稻虾"},
        services={"echo": echo},
    )
    assert wf.is_completed()
    assert calls == [("稻虾", {"amount": 200, "units": ["FGJ"]})]
    assert wf.data["service_result"] == {"doubled": 400, "units": ["FGJ"]}
    json.dumps(wf.data["service_result"])


# ---------------------------------------------------------------------------------------------------
# The application's model uses the restricted engine
# ---------------------------------------------------------------------------------------------------


def _app_version():
    from workflows.engine.model_store import content_hash, read_model_files

    files = read_model_files()
    assert {"bpmn/investment_project.bpmn", "bpmn/project_class.dmn", "bpmn/review_departments.dmn"} <= set(
        files
    )
    return SimpleNamespace(content_hash=content_hash(files), files=files, process_id="investment_project")


def test_app_model_runs_with_the_restricted_engine():
    from workflows.engine.runtime import ProcessRuntime

    runtime = ProcessRuntime(_app_version())
    assert isinstance(runtime.script_engine, RestrictedScriptEngine)
    assert isinstance(runtime.script_engine.environment, RestrictedEnvironment)

    wf = runtime.start()
    assert wf.script_engine is runtime.script_engine
    first = [t for t in runtime.ready_tasks(wf) if t.spec_name == "register_lead"]
    assert first
    # The first business rule task (project_class.dmn, ">= 20000" cells) runs on the restricted engine.
    runtime.complete(
        wf,
        first[0].uuid,
        {
            "project_name": "测试项目",
            "investor": "测试公司",
            "amount_wan": 25000.0,
            "currency": "CNY",
            "amount_usd_wan": None,
            "host_site": "jkq",
            "imported_stage": None,
        },
    )
    assert [t.spec_name for t in runtime.ready_tasks(wf)] == ["screening"]
    assert runtime.data(wf)["proposed_class"] == "重大"

    # After a save/load round trip the engine is ours again (the serializer does not keep it).
    state, _ = runtime.dump(wf)
    loaded = runtime.load(state)
    assert loaded.script_engine is runtime.script_engine
    assert all(sub.script_engine is runtime.script_engine for sub in loaded.subprocesses.values())


@pytest.mark.parametrize(("amount", "expected"), [(20000.0, "重大"), (19999.0, "重点"), (3000.0, "一般")])
def test_app_project_class_dmn_thresholds(amount, expected):
    from workflows.engine.runtime import ProcessRuntime

    runtime = ProcessRuntime(_app_version())
    wf = runtime.start()
    first = runtime.ready_tasks(wf)[0]
    runtime.complete(
        wf,
        first.uuid,
        {
            "project_name": "测试项目",
            "investor": "测试公司",
            "amount_wan": amount,
            "currency": "CNY",
            "amount_usd_wan": None,
            "host_site": "jkq",
            "imported_stage": None,
        },
    )
    assert runtime.data(wf)["proposed_class"] == expected


def test_app_model_refuses_an_attack_in_task_data_driven_expression(marker):
    """Form data is data, never code: a hostile string in a field is not evaluated."""
    from workflows.engine.runtime import ProcessRuntime

    runtime = ProcessRuntime(_app_version())
    wf = runtime.start()
    first = runtime.ready_tasks(wf)[0]
    hostile = f"__import__('os').system('touch {marker}')"
    runtime.complete(
        wf,
        first.uuid,
        {
            "project_name": hostile,
            "investor": hostile,
            "amount_wan": 25000.0,
            "currency": "CNY",
            "amount_usd_wan": None,
            "host_site": "jkq",
            "imported_stage": None,
        },
    )
    assert runtime.data(wf)["project_name"] == hostile
    assert not os.path.exists(marker)


# ---------------------------------------------------------------------------------------------------
# Bounded: a model's code cannot hold a step (and the database lock it runs under) for long, nor
# exhaust memory — in a condition, a script and a DMN cell alike.
# ---------------------------------------------------------------------------------------------------

RUNAWAY_EXPRESSIONS = {
    "sum_of_huge_range": "sum(range(10**9)) > 0",
    "huge_string": "len('a' * 10**10) > 0",
    "huge_list": "len([0] * 10**10) > 0",
    "huge_power": "10**10**10 > 0",
    "huge_shift": "(1 << 10**10) > 0",
    "huge_pow_builtin": "pow(10, 10**10) > 0",
    "nested_comprehension": "len([1 for x in range(10**6) for y in range(10**6)]) > 0",
    "huge_padding": "len('x'.ljust(10**10)) > 0",
    "huge_format_width": "len('{:>1000000000}'.format(1)) > 0",
    "huge_replace": "len(('a' * 10**6).replace('a', 'a' * 10**6)) > 0",
}
RUNAWAY_SCRIPTS = {
    "while_true": "while True:\n    pass",
    "while_true_swallowing_errors": "while True:\n    try:\n        x = 1\n    except BaseException:\n      "
    "  pass",
    "recursive_lambda": "f = lambda g, n: g(g, n + 1) if n < 10**9 else n\nr = [f(f, 0) for i in "
    "range(10**6)]",
    "growing_string": "s = 'a'\nwhile True:\n    s = s + s",
    "growing_list": "items = [1]\nwhile True:\n    items.extend(items)",
    "growing_inplace": "s = 'a'\nwhile True:\n    s += s",
    "growing_template": "s = 'a' * 900000\nt = '%s%s' % (s, s)",
}


@pytest.fixture
def short_budget(monkeypatch):
    monkeypatch.setenv("ZS_SCRIPT_SECONDS", "0.5")


def _refused_quickly(run_it, limit: float = 5.0) -> None:
    import time

    started = time.monotonic()
    with pytest.raises(CLEAN) as excinfo:
        run_it()
    assert "ScriptRejected" in _causes(excinfo.value) or "RecursionError" in _causes(excinfo.value)
    # Not a timing assertion on the machine's speed: the budget is 0.5 s and a runaway would take hours.
    assert time.monotonic() - started < limit


@pytest.mark.parametrize("source", RUNAWAY_EXPRESSIONS.values(), ids=RUNAWAY_EXPRESSIONS.keys())
def test_a_runaway_condition_fails_within_the_budget(source, short_budget):
    wf = build(gateway_model(source), data={"amount_wan": 25000})
    _refused_quickly(wf.do_engine_steps)
    assert not reached(wf, "end_guarded") and not reached(wf, "end_default")


@pytest.mark.parametrize(
    "source",
    list(RUNAWAY_SCRIPTS.values()) + [f"ok = {e}" for e in RUNAWAY_EXPRESSIONS.values()],
    ids=list(RUNAWAY_SCRIPTS.keys()) + list(RUNAWAY_EXPRESSIONS.keys()),
)
def test_a_runaway_script_fails_within_the_budget(source, short_budget):
    wf = build(script_model(source), data={"amount_wan": 25000})
    _refused_quickly(wf.do_engine_steps)
    assert not wf.is_completed() and not reached(wf, "end")


@pytest.mark.parametrize("source", ["sum(range(10**9))", "len('a' * 10**10)", "10**10**10"])
def test_a_runaway_dmn_cell_fails_within_the_budget(source, short_budget):
    dmn = dmn_model("amount_wan", [(">= 20000", source)])
    wf = build(business_rule_model(), dmn, data={"amount_wan": 25000})
    _refused_quickly(wf.do_engine_steps)
    assert "decision_result" not in newest_data(wf)


def test_other_threads_keep_running_while_a_script_spins(short_budget):
    """A sign-in in another thread of the same worker is served while a model's loop spins."""
    import threading
    import time

    env = RestrictedEnvironment()
    done = []
    spinner = threading.Thread(
        target=lambda: pytest.raises(ScriptRejected, env.execute, "while True:\n    pass", {})
    )
    spinner.start()
    started = time.monotonic()
    threading.Thread(target=lambda: done.append(time.monotonic() - started)).start()
    spinner.join()
    assert done and done[0] < 0.5


def test_safe_string_formatting_and_augmented_assignment_work():
    context = {"amount": 12500, "name": "南县"}
    RestrictedEnvironment().execute(
        "title = '{}：{:.1f} 万元'.format(name, amount)\nhalf = amount\nhalf /= 2\nq = 7\nq //= 2\n"
        "r = 7\nr %= 4\nlabel = '{who}办理'.format(who=name)",
        context,
    )
    assert context["title"] == "南县：12500.0 万元" and context["half"] == 6250
    assert context["q"] == 3 and context["r"] == 3 and context["label"] == "南县办理"


def test_expressions_are_checked_for_compilation_without_running(marker):
    from workflows.engine.script_engine import compile_restricted

    assert compile_restricted("amount_wan >= 20000", "eval") is not None
    with pytest.raises(ScriptRejected):
        compile_restricted("__import__('os')", "eval")
    with pytest.raises(ScriptRejected):
        compile_restricted("x = (", "exec")


def test_spiffarena_script_functions_are_called_with_the_task_data():
    calls = []
    services = {
        "get_current_user": lambda data: {"username": "yanpan", "seen": sorted(data)},
        "get_group_members": lambda data, group_identifier: (
            calls.append(group_identifier) or ["rev_fgj", "rev_fgj2"]
        ),
    }
    context = {"amount_wan": 1}
    RestrictedEnvironment(services).execute(
        "me = get_current_user()['username']\nreviewers = get_group_members('department_reviewer')\n"
        "also = get_group_members(group_identifier='x')",
        context,
    )
    assert context["me"] == "yanpan" and context["reviewers"] == ["rev_fgj", "rev_fgj2"]
    assert calls == ["department_reviewer", "x"]
    assert "get_current_user" not in context  # functions are not stored as task data
    with pytest.raises(ScriptRejected):
        RestrictedEnvironment(services).evaluate("get_group_members('a', 'b')", {})
    with pytest.raises(NameError):  # not bound for this step: unknown, as any other name
        RestrictedEnvironment({}).evaluate("get_current_user()", {})
