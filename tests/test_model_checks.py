"""A model whose own code cannot run is refused before it is deployed, with the element named: each
condition, script, timer, service parameter and DMN cell is compiled by the restricted engine, and
every service task must name an operator the application has."""

from __future__ import annotations

import json

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from test_script_engine_security import (
    business_rule_model,
    dmn_model,
    gateway_model,
    prescript_model,
    script_model,
    service_model,
    timer_model,
)

from workflows.engine import model_store
from workflows.engine.model_checks import code_problems
from workflows.services import operator_registry


def _specs(bpmn: str, dmn: str | None = None) -> dict[str, tuple]:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(bpmn.encode("utf-8")), filename="t.bpmn")
    if dmn:
        parser.add_dmn_xml(etree.fromstring(dmn.encode("utf-8")), filename="t.dmn")
    return {"p": (parser.get_spec("p"), parser.get_subprocess_specs("p"))}


BROKEN = {
    "condition_syntax": (lambda: _specs(gateway_model("amount_wan >=")), "条件表达式"),
    "condition_import": (lambda: _specs(gateway_model("__import__('os')")), "条件表达式"),
    "script_import": (lambda: _specs(script_model("import os")), "脚本"),
    "script_dunder": (lambda: _specs(script_model("x = ().__class__")), "脚本"),
    "prescript_syntax": (lambda: _specs(prescript_model("x = (")), "前置脚本"),
    "timer": (lambda: _specs(timer_model("working_days_after(")), "定时器表达式"),
    "service_parameter": (
        lambda: _specs(service_model("task_overdue_remind", {"task": "'a' +"})),
        "服务参数",
    ),
    "dmn_input_entry": (
        lambda: _specs(business_rule_model(), dmn_model("amount_wan", [(">= (", '"重大"')])),
        "条件",
    ),
    "dmn_output_entry": (
        lambda: _specs(business_rule_model(), dmn_model("amount_wan", [(">= 1", "x.__dict__")])),
        "结果",
    ),
    "dmn_input_expression": (
        lambda: _specs(business_rule_model(), dmn_model("amount_wan.__class__", [(">= 1", "1")])),
        "输入",
    ),
}


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
def test_code_that_cannot_run_is_reported_with_its_element(case):
    make, what = case
    problems = code_problems(make(), operator_registry.names())
    assert len(problems) == 1 and what in problems[0] and problems[0].startswith("p 的 "), problems


def test_an_unknown_service_operator_is_reported():
    problems = code_problems(_specs(service_model("send_sms", {"to": "'x'"})), operator_registry.names())
    assert problems == ["p 的 n0：服务任务调用的操作 send_sms 不存在"]


def test_code_that_runs_passes():
    specs = _specs(
        business_rule_model(), dmn_model("amount_wan", [(">= 20000", '"重大"'), ("? < 20000", '"一般"')])
    )
    assert code_problems(specs, operator_registry.names()) == []
    assert code_problems(_specs(gateway_model("amount_wan >= 20000 and currency == 'CNY'")), []) == []


def test_the_shipped_models_pass_every_check():
    files = model_store.read_model_files()
    specs = model_store.parse_specs(model_store.content_hash(files), json.dumps(files))
    assert specs and code_problems(specs, operator_registry.names()) == []


def test_an_administrator_deploying_a_model_with_broken_code_is_refused_and_nothing_is_stored(app, client):
    import io
    from pathlib import Path

    from flow_support import login
    from sqlalchemy import func, select

    from workflows.db import transaction
    from workflows.models import ModelVersion

    model = Path(__file__).parent / "models" / "visit_request"
    files = []
    for path in sorted(model.glob("*/*")):
        data = path.read_bytes()
        if path.suffix == ".bpmn":
            data = data.replace('level == "重要"'.encode(), b"level == (")
        files.append((io.BytesIO(data), path.name))
    with transaction() as s:
        before = s.scalar(select(func.count(ModelVersion.id)))
    login(client, "admin")
    response = client.post(
        "/admin/versions", content_type="multipart/form-data", data={"files": files, "note": "x"}
    )
    html = response.data.decode()
    assert response.status_code == 422 and "条件表达式无法在受限脚本引擎中编译" in html
    with transaction() as s:
        assert s.scalar(select(func.count(ModelVersion.id))) == before
