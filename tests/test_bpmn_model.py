"""Tests of the BPMN/DMN process model alone (bpmn/), using SpiffWorkflow only.

The contract being tested is docs/process.md: task ids, lanes, form properties,
decision fields and routes, end events. No project code is imported.
"""

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parents[1]
BPMN_DIR = ROOT / "bpmn"
BPMN_FILE = BPMN_DIR / "investment_project.bpmn"
DMN_FILES = sorted(BPMN_DIR.glob("*.dmn"))  # the application loads every bpmn/*.dmn
FORMS_DIR = ROOT / "forms"
PROCESS_ID = "investment_project"

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}

ROLE_CODES = {
    "lead_officer",
    "screening_team",
    "commerce_bureau",
    "head_of_office",
    "dept_reviewer",
    "host_site",
    "leading_group_office",
    "vice_county_head",
    "exec_secretary",
    "legal_reviewer",
    "prefecture_bureau",
}

# docs/process.md: user task id -> lane (role code)
USER_TASKS = {
    "register_lead": "lead_officer",
    "screening": "screening_team",
    "supplement_lead": "lead_officer",
    "negotiation": "commerce_bureau",
    "approve_terms": "head_of_office",
    "department_review": "dept_reviewer",
    "supplementary_review": "dept_reviewer",  # 加签 round
    "objection_decision": "commerce_bureau",
    "review_materials": "host_site",
    "pre_review": "leading_group_office",
    "review_meeting": "vice_county_head",
    "supplement_materials": "commerce_bureau",
    "executive_meeting": "exec_secretary",
    "contract_review": "legal_reviewer",
    "approve_filing": "head_of_office",
    "prefecture_review": "prefecture_bureau",
    "revise_filing": "commerce_bureau",
    "signing": "commerce_bureau",
    # after signing (履约跟踪, )
    "track_progress": "host_site",
    "reply_reminder": "host_site",
}
AUTOMATED_TASKS = {
    "propose_class": ("businessRuleTask", "screening_team"),
    "recompute_class": ("businessRuleTask", "commerce_bureau"),
    "set_project_class": ("scriptTask", "commerce_bureau"),
    "select_departments": ("businessRuleTask", "commerce_bureau"),
    "summarize_review": ("scriptTask", "commerce_bureau"),
    "start_supplementary_round": ("scriptTask", "dept_reviewer"),
    "merge_supplementary": ("scriptTask", "dept_reviewer"),
    "submit_filing": ("serviceTask", "commerce_bureau"),
    "accept_filing": ("serviceTask", "prefecture_bureau"),
    "return_filing": ("serviceTask", "prefecture_bureau"),
    "report_signing": ("serviceTask", "commerce_bureau"),
    "tracking_plan": ("businessRuleTask", "commerce_bureau"),
    "send_reminder_letter": ("serviceTask", "commerce_bureau"),
    "compute_rewards": ("businessRuleTask", "host_site"),
    "record_rewards": ("serviceTask", "host_site"),
}
MULTI_INSTANCE = {"department_review", "supplementary_review"}
# The 加签 round asks for the same opinion as the joint review, with the same form.
FORM_OF = {"supplementary_review": "department_review"}
SERVICE_OPERATORS = {
    "submit_filing": "filing_submit",
    "accept_filing": "filing_accept",
    "return_filing": "filing_return",
    "report_signing": "filing_report_signing",
    "send_reminder_letter": "tracking_reminder_letter",
    "record_rewards": "rewards_record",
}
END_EVENTS = {
    "end_rejected",
    "end_abandoned",
    "end_terminated",
    "end_meeting_rejected",
    "end_exec_rejected",
    "end_contract_rejected",
    "end_in_production",
}
ALWAYS_DEPARTMENTS = [
    "fgj",
    "sthj",
    "zrzyj",
    "swj",
    "kgxj",
]  # 《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三)

FLOW_NODE_TAGS = {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "task",
    "userTask",
    "manualTask",
    "scriptTask",
    "serviceTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "callActivity",
    "subProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}


# ------------------------------------------------------------------ fixtures / helpers


def make_parser():
    parser = SpiffBpmnParser(validator=BpmnValidator())
    parser.add_bpmn_file(str(BPMN_FILE))
    parser.add_dmn_files([str(f) for f in DMN_FILES])
    return parser


@pytest.fixture(scope="module")
def specs():
    parser = make_parser()
    return parser.get_spec(PROCESS_ID), parser.get_subprocess_specs(PROCESS_ID)


@pytest.fixture(scope="module")
def bpmn_tree():
    return etree.parse(str(BPMN_FILE))


def process_node(tree):
    return tree.find(f'bpmn:process[@id="{PROCESS_ID}"]', NS)


def flow_nodes(tree):
    return [el for el in process_node(tree) if etree.QName(el).localname in FLOW_NODE_TAGS]


class FakeServiceEnvironment(TaskDataEnvironment):
    """Task-data environment whose service calls are recorded and answered with canned JSON."""

    def __init__(self):
        # The application provides working_days_after() to timer expressions; far-future here, so
        # the overdue-reminder timers never fire during these walks.
        # months_after (the 6-month start deadline) likewise; the tracking period is data (P7D/P1M).
        super().__init__(
            {
                "working_days_after": lambda days: "2999-01-01T00:00:00+00:00",
                "months_after": lambda months, start=None: "2999-01-01T00:00:00+00:00",
            }
        )
        self.calls = []

    def call_service(self, context, operation_name=None, operation_params=None, **kwargs):
        self.calls.append(operation_name)
        if operation_name == "filing_accept":
            return json.dumps({"number": "X"})
        if operation_name == "tracking_reminder_letter":
            return json.dumps({"sent": True})
        return json.dumps({"ok": True, "operation": operation_name})


def new_workflow(specs, environment=None):
    spec, subprocess_specs = specs
    environment = environment or FakeServiceEnvironment()
    wf = BpmnWorkflow(spec, subprocess_specs, script_engine=PythonScriptEngine(environment=environment))
    wf.do_engine_steps()
    return wf, environment


def ready_user_tasks(wf):
    return wf.get_tasks(state=TaskState.READY, manual=True)


def ready_ids(wf):
    return sorted(t.task_spec.bpmn_id for t in ready_user_tasks(wf))


def reached(wf, spec_id):
    return any(t.task_spec.bpmn_id == spec_id for t in wf.get_tasks(state=TaskState.COMPLETED))


def count_completed(wf, spec_id):
    return sum(1 for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == spec_id)


# Every field of every form (docs/process.md), with a plausible value; optional ones None.
FORM_DATA = {
    "register_lead": {
        "project_name": "新能源电池材料项目",
        "investor": "湖南某新材料有限公司",
        "industry": "新能源/电池材料",
        "amount_wan": 5000,
        "currency": "CNY",
        "amount_usd_wan": None,
        "host_site": "jkq",
        "source_channel": "商协会",
        "source_org": "南县湖北商会",
        "contact_name": "张三",
        "contact_phone": "13800000000",
        "plan_summary": "年产1万吨电池材料",
        "started_by": "officer1",
        "imported_stage": None,
    },
    "supplement_lead": {
        "project_name": "新能源电池材料项目",
        "investor": "湖南某新材料有限公司",
        "industry": "新能源/电池材料",
        "amount_wan": 5000,
        "currency": "CNY",
        "amount_usd_wan": None,
        "host_site": "jkq",
        "source_channel": "商协会",
        "source_org": "南县湖北商会",
        "contact_name": "张三",
        "contact_phone": "13800000000",
        "plan_summary": "年产1万吨电池材料（补充）",
        "supplement_note": "已补充投资计划书",
    },
    "screening": {
        "screening_decision": "通过",
        "confirmed_class": "一般",
        "class_reason": None,
        "negative_list_ok": True,
        "industry_policy_ok": True,
        "eco_redline_ok": True,
        "land_plan_ok": True,
        "energy_ok": True,
        "screening_opinion": "无准入障碍",
    },
    "negotiation": {
        "negotiation_decision": "达成一致",
        "amount_wan": 5000,
        "currency": "CNY",
        "amount_usd_wan": None,
        "land_mu": 50,
        "tax_per_mu_wan": 20,
        "annual_output_wan": 30000,
        "jobs": 200,
        "incentives": None,
        "special_terms": False,
        "special_terms_detail": None,
        "needs_new_land": False,
        "water_use": False,
        "hazardous": False,
        "forestry": False,
        "negotiation_minutes": "洽谈纪要",
        "negotiation_opinion": None,
    },
    "approve_terms": {"terms_decision": "同意", "terms_opinion": None},
    "department_review": {
        "review_decision": "同意",
        "review_conditions": None,
        "review_reasons": None,
        "review_opinion": None,
    },
    "objection_decision": {"objection_decision": "重新洽谈", "objection_opinion": "调整用地方案后重新洽谈"},
    "review_materials": {
        "materials_summary": "评审材料",
        "land_guarantee": "有",
        "power_guarantee": "有",
        "water_guarantee": "有",
        "factor_guarantee_opinion": None,
    },
    "pre_review": {"pre_review_decision": "通过", "pre_review_opinion": None},
    "review_meeting": {"meeting_decision": "通过", "meeting_date": "2024-05-20", "meeting_opinion": None},
    "supplement_materials": {"supplement_materials_note": "已补充"},
    "executive_meeting": {
        "exec_decision": "同意",
        "exec_meeting_type": "县政府常务会议",
        "exec_minutes_number": "〔2024〕5号",
        "exec_meeting_date": "2024-06-01",
        "exec_opinion": None,
    },
    "contract_review": {
        "contract_decision": "通过",
        "legality_ok": True,
        "fair_competition_ok": True,
        "contract_opinion": None,
    },
    "approve_filing": {"filing_approval": "同意报备", "filing_approval_opinion": None},
    "prefecture_review": {"prefecture_decision": "受理", "prefecture_opinion": None},
    "revise_filing": {"revise_note": "已按意见修改"},
    "signing": {
        "contract_number": "NX-2024-001",
        "sign_date": "2024-07-01",
        "signatories": "县长；投资方董事长",
        "signing_place": "南县",
        "signing_opinion": None,
        "sector": "工业",
        "chain_project": False,
        "investor_origin": None,
        "lead_leader": None,
        "responsible_department": None,
        "task_force": None,
        "advance_plan": None,
    },
    "track_progress": {
        "funds_in_place_wan": 3000,
        "funds_this_year_wan": 3000,
        "foreign_paid_in_usd_wan": None,
        "construction_started": False,
        "construction_start_date": None,
        "production_started": False,
        "production_start_date": None,
        "jobs_created": 0,
        "tax_paid_wan": 0,
        "progress_note": "办理用地手续",
    },
    "reply_reminder": {
        "delay_reasons": "用地报批未完成",
        "measures": "加快组卷报批",
        "planned_start_date": None,
    },
}


def complete(wf, task_id, **overrides):
    """Complete the single READY user task `task_id` with its form data plus overrides."""
    tasks = [t for t in ready_user_tasks(wf) if t.task_spec.bpmn_id == task_id]
    assert len(tasks) == 1, f"expected one READY {task_id}, READY: {ready_ids(wf)}"
    task = tasks[0]
    data = copy.deepcopy(FORM_DATA[task_id])
    data.update(overrides)
    task.set_data(**data)
    task.run()
    wf.do_engine_steps()
    return task


def review_departments_round(wf, decisions=None):
    """Complete every READY department_review instance; decisions: {unit code: (decision, conditions,
    reasons)}."""
    decisions = decisions or {}
    tasks = [t for t in ready_user_tasks(wf) if t.task_spec.bpmn_id == "department_review"]
    assert tasks, f"no department_review READY: {ready_ids(wf)}"
    # complete in reverse order to show that nothing depends on completion order
    units = []
    for task in reversed(tasks):
        unit = task.data["department"]
        units.append(unit)
        decision, conditions, reasons = decisions.get(unit, ("同意", None, None))
        data = dict(
            FORM_DATA["department_review"],
            review_decision=decision,
            review_conditions=conditions,
            review_reasons=reasons,
        )
        task.set_data(**data)
        task.run()
    wf.do_engine_steps()
    return sorted(units)


def to_negotiation(wf, **lead):
    complete(wf, "register_lead", **lead)
    assert ready_ids(wf) == ["screening"]
    complete(wf, "screening")
    assert ready_ids(wf) == ["negotiation"]


def through_review(wf, negotiation=None, decisions=None):
    """negotiation → … → department review (all 同意 unless decisions given)."""
    complete(wf, "negotiation", **(negotiation or {}))
    assert ready_ids(wf) == ["approve_terms"]
    complete(wf, "approve_terms")
    return review_departments_round(wf, decisions)


def from_materials_to_contract(wf):
    assert ready_ids(wf) == ["review_materials"]
    complete(wf, "review_materials")
    complete(wf, "pre_review")
    complete(wf, "review_meeting")


def finish_filing_and_signing(wf):
    complete(wf, "approve_filing")
    assert ready_ids(wf) == ["prefecture_review"]
    complete(wf, "prefecture_review")
    assert ready_ids(wf) == ["signing"]
    complete(wf, "signing")


def assert_signed_and_tracked(wf):
    """After signing the project is tracked: it waits for the first report and for the
    6-month start deadline; the signature was reported to the prefecture."""
    assert not wf.is_completed() and ready_ids(wf) == []
    assert reached(wf, "report_signing") and reached(wf, "tracking_plan")
    waiting = {t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.WAITING)}
    assert {"wait_tracking", "start_deadline_timer"} <= waiting


def assert_ended_at(wf, end_id):
    assert wf.is_completed(), f"workflow not completed, READY: {ready_ids(wf)}"
    assert reached(wf, end_id)
    for other in END_EVENTS - {end_id}:
        assert not reached(wf, other), other


# ------------------------------------------------------------------ structure


def test_files_parse_with_validation(specs):
    spec, _ = specs
    assert spec.name == PROCESS_ID
    for task_id in list(USER_TASKS) + list(AUTOMATED_TASKS) + list(END_EVENTS):
        assert task_id in spec.task_specs, task_id


def test_process_is_executable_and_in_a_collaboration(bpmn_tree):
    proc = process_node(bpmn_tree)
    assert proc.get("isExecutable") == "true"
    participants = bpmn_tree.findall("bpmn:collaboration/bpmn:participant", NS)
    assert [p.get("processRef") for p in participants] == [PROCESS_ID]


def test_lanes_are_role_codes(bpmn_tree, specs):
    lanes = process_node(bpmn_tree).findall("bpmn:laneSet/bpmn:lane", NS)
    names = [lane.get("name") for lane in lanes]
    assert set(names) == ROLE_CODES and len(names) == len(ROLE_CODES)
    # every flow node sits in exactly one lane
    refs = [ref.text for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)]
    node_ids = [el.get("id") for el in flow_nodes(bpmn_tree)]
    assert sorted(refs) == sorted(node_ids)
    spec, _ = specs
    for task_id, lane in USER_TASKS.items():
        name = f"{task_id} [child]" if task_id in MULTI_INSTANCE else task_id
        assert spec.task_specs[name].lane == lane, task_id
    for task_id, (_, lane) in AUTOMATED_TASKS.items():
        assert spec.task_specs[task_id].lane == lane, task_id


def test_task_kinds_and_extensions(bpmn_tree):
    proc = process_node(bpmn_tree)
    for task_id, (kind, _) in AUTOMATED_TASKS.items():
        el = proc.find(f'bpmn:{kind}[@id="{task_id}"]', NS)
        assert el is not None, task_id
    for task_id in ("propose_class", "recompute_class"):
        el = proc.find(f'bpmn:businessRuleTask[@id="{task_id}"]', NS)
        assert (
            el.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", namespaces=NS)
            == "project_class_decision"
        )
    el = proc.find('bpmn:businessRuleTask[@id="select_departments"]', NS)
    assert (
        el.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", namespaces=NS)
        == "review_departments_decision"
    )
    for task_id, operator in SERVICE_OPERATORS.items():
        op = proc.find(
            f'bpmn:serviceTask[@id="{task_id}"]/bpmn:extensionElements/spiffworkflow:serviceTaskOperator', NS
        )
        assert op.get("id") == operator
    op = proc.find(
        'bpmn:serviceTask[@id="accept_filing"]/bpmn:extensionElements/spiffworkflow:serviceTaskOperator', NS
    )
    assert op.get("resultVariable") == "filing"
    mi = proc.find('bpmn:userTask[@id="department_review"]/bpmn:multiInstanceLoopCharacteristics', NS)
    assert mi.get("isSequential") == "false"
    assert mi.findtext("bpmn:loopDataInputRef", namespaces=NS) == "review_departments"
    assert mi.findtext("bpmn:loopDataOutputRef", namespaces=NS) == "dept_opinions"
    assert mi.find("bpmn:inputDataItem", NS).get("name") == "department"
    assert mi.find("bpmn:outputDataItem", NS).get("name") == "dept_opinion"


def test_user_tasks_have_form_properties(specs, bpmn_tree):
    spec, _ = specs
    user_task_ids = {el.get("id") for el in process_node(bpmn_tree).findall("bpmn:userTask", NS)}
    assert user_task_ids == set(USER_TASKS)
    for task_id in USER_TASKS:
        name = f"{task_id} [child]" if task_id in MULTI_INSTANCE else task_id
        task_spec = spec.task_specs[name]
        props = task_spec.extensions["properties"]
        form = FORM_OF.get(task_id, task_id)
        assert props["formJsonSchemaFilename"] == f"{form}-schema.json"
        assert props["formUiSchemaFilename"] == f"{form}-uischema.json"
        assert props["stage"] and all(ord(c) > 127 or c in "/" for c in props["stage"])
        due = int(props["dueWorkingDays"])
        assert due == {"prefecture_review": 5, "track_progress": 5, "reply_reminder": 10}.get(
            task_id, 5 if task_id in MULTI_INSTANCE else 3
        )
        assert task_spec.bpmn_name  # Chinese task name

    def props(t):
        return spec.task_specs[t].extensions["properties"]

    assert props("department_review [child]")["unitField"] == "department"
    assert props("review_materials")["unitField"] == "host_site"
    assert props("supplement_lead")["assigneeField"] == "started_by"
    assert props("track_progress")["unitField"] == props("reply_reminder")["unitField"] == "host_site"
    assert props("track_progress")["recurring"] == "true"


def test_form_files_exist():
    if not FORMS_DIR.is_dir():
        pytest.skip("forms/ not present yet")
    forms = {FORM_OF.get(task_id, task_id) for task_id in USER_TASKS}
    missing = [
        f
        for form in forms
        for f in (f"{form}-schema.json", f"{form}-uischema.json")
        if not (FORMS_DIR / f).is_file()
    ]
    assert not missing, missing


def test_gateway_conditions_match_form_enums(bpmn_tree):
    """`field == '值'` conditions use values of the upstream form's enum; one value is left to the default."""
    if not FORMS_DIR.is_dir():
        pytest.skip("forms/ not present yet")
    import re

    proc = process_node(bpmn_tree)
    flows = proc.findall("bpmn:sequenceFlow", NS)
    checked = 0
    for gw in proc.findall("bpmn:exclusiveGateway", NS):
        upstream = [f.get("sourceRef") for f in flows if f.get("targetRef") == gw.get("id")]
        if len(upstream) != 1 or upstream[0] not in USER_TASKS:
            continue
        schema = json.loads((FORMS_DIR / f"{upstream[0]}-schema.json").read_text(encoding="utf-8"))
        outgoing = [
            f for f in flows if f.get("sourceRef") == gw.get("id") and f.get("id") != gw.get("default")
        ]
        for f in outgoing:
            m = re.fullmatch(
                r"(\w+) == '([^']+)'", f.findtext("bpmn:conditionExpression", namespaces=NS).strip()
            )
            assert m, f.get("id")
            field, value = m.groups()
            enum = schema["properties"][field]["enum"]
            assert value in enum, (f.get("id"), value, enum)
            assert len(outgoing) == len(enum) - 1, gw.get("id")
            checked += 1
    assert checked >= 10
    units = [
        o["const"]
        for o in json.loads((FORMS_DIR / "department_review-schema.json").read_text(encoding="utf-8"))[
            "properties"
        ]["department"]["oneOf"]
    ]
    all_flags = {"needs_new_land": True, "water_use": True, "hazardous": True, "forestry": True}
    assert set(dmn_result("review_departments_decision", all_flags)["review_departments"]) <= set(units)


def test_every_exclusive_gateway_has_a_default(bpmn_tree):
    proc = process_node(bpmn_tree)
    flows = {f.get("id"): f for f in proc.findall("bpmn:sequenceFlow", NS)}
    gateways = proc.findall("bpmn:exclusiveGateway", NS)
    assert gateways
    for gw in gateways:
        default = gw.get("default")
        assert default in flows, gw.get("id")
        assert flows[default].get("sourceRef") == gw.get("id")
        assert flows[default].find("bpmn:conditionExpression", NS) is None
        others = [f for f in flows.values() if f.get("sourceRef") == gw.get("id") and f.get("id") != default]
        for f in others:
            assert (f.findtext("bpmn:conditionExpression", namespaces=NS) or "").strip(), f.get("id")


def test_diagram_interchange_is_complete(bpmn_tree):
    root = bpmn_tree.getroot()
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    collaboration = root.find("bpmn:collaboration", NS)
    assert plane.get("bpmnElement") == collaboration.get("id")
    shapes = {s.get("bpmnElement"): s for s in plane.findall("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in plane.findall("bpmndi:BPMNEdge", NS)}

    def bounds(element_id):
        b = shapes[element_id].find("dc:Bounds", NS)
        assert b is not None, element_id
        return [float(b.get(k)) for k in ("x", "y", "width", "height")]

    participant = collaboration.find("bpmn:participant", NS).get("id")
    assert shapes[participant].get("isHorizontal") == "true"
    px, py, pw, ph = bounds(participant)
    for lane in process_node(bpmn_tree).findall("bpmn:laneSet/bpmn:lane", NS):
        assert shapes[lane.get("id")].get("isHorizontal") == "true"
        lx, ly, lw, lh = bounds(lane.get("id"))
        assert px <= lx and lx + lw <= px + pw and py <= ly and ly + lh <= py + ph
    lane_of = {
        ref.text: lane.get("id")
        for lane in process_node(bpmn_tree).findall("bpmn:laneSet/bpmn:lane", NS)
        for ref in lane.findall("bpmn:flowNodeRef", NS)
    }
    for node in flow_nodes(bpmn_tree):
        node_id = node.get("id")
        assert node_id in shapes, f"no BPMNShape for {node_id}"
        x, y, w, h = bounds(node_id)
        lx, ly, lw, lh = bounds(lane_of[node_id])
        assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, f"{node_id} outside its lane"
    for flow in process_node(bpmn_tree).findall("bpmn:sequenceFlow", NS):
        fid = flow.get("id")
        assert fid in edges, f"no BPMNEdge for {fid}"
        points = [(float(p.get("x")), float(p.get("y"))) for p in edges[fid].findall("di:waypoint", NS)]
        assert len(points) >= 2, fid
        for (px_, py_), node_id in ((points[0], flow.get("sourceRef")), (points[-1], flow.get("targetRef"))):
            x, y, w, h = bounds(node_id)
            assert x - 1 <= px_ <= x + w + 1 and y - 1 <= py_ <= y + h + 1, f"{fid} does not touch {node_id}"


# ------------------------------------------------------------------ overdue timers

# Every user task with a deadline (dueWorkingDays) carries two non-interrupting boundary timers:
# (id prefix, end event prefix, Chinese name, service operator, working days after the deadline).
OVERDUE_TIMERS = (
    ("remind", "reminded", "到期提醒", "task_overdue_remind", 0),
    ("escalate", "escalated", "超期督办", "task_overdue_escalate", 2),
)


def due_working_days(tree):
    """{user task id: dueWorkingDays} of every user task that has a deadline."""
    due = {}
    for task in process_node(tree).findall("bpmn:userTask", NS):
        prop = task.find(
            'bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name="dueWorkingDays"]',
            NS,
        )
        if prop is not None:
            due[task.get("id")] = int(prop.get("value"))
    return due


def test_every_task_with_a_deadline_has_a_reminder_and_an_escalation_timer(bpmn_tree, specs):
    spec, _ = specs
    proc = process_node(bpmn_tree)
    nodes = {el.get("id"): el for el in flow_nodes(bpmn_tree)}
    flows = proc.findall("bpmn:sequenceFlow", NS)
    lane_of = {
        ref.text: lane.get("name")
        for lane in proc.findall("bpmn:laneSet/bpmn:lane", NS)
        for ref in lane.findall("bpmn:flowNodeRef", NS)
    }

    def only_successor(node_id):
        targets = [f.get("targetRef") for f in flows if f.get("sourceRef") == node_id]
        assert len(targets) == 1, (node_id, targets)
        return nodes[targets[0]]

    due = due_working_days(bpmn_tree)
    assert set(due) == set(USER_TASKS)
    timers = set()
    for task_id, days in due.items():
        for prefix, ended, name, operator, extra in OVERDUE_TIMERS:
            timer = nodes.get(f"{prefix}_{task_id}_timer")
            assert timer is not None, f"no {prefix} timer on {task_id}"
            assert etree.QName(timer).localname == "boundaryEvent", timer.get("id")
            assert timer.get("attachedToRef") == task_id, timer.get("id")
            assert timer.get("cancelActivity") == "false", timer.get("id")  # the task stays open
            assert timer.get("name") == f"{name}（{days + extra}个工作日）", timer.get("id")
            expression = timer.findtext("bpmn:timerEventDefinition/bpmn:timeDate", namespaces=NS)
            assert expression == f"working_days_after({days + extra})", timer.get("id")
            assert spec.task_specs[timer.get("id")].event_definition.expression == expression
            service = only_successor(timer.get("id"))
            assert etree.QName(service).localname == "serviceTask"
            assert (service.get("id"), service.get("name")) == (f"{prefix}_{task_id}", name)
            op = service.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
            assert op.get("id") == operator and op.get("resultVariable") == f"{prefix}_{task_id}_result"
            params = {
                p.get("id"): p.get("value")
                for p in op.findall("spiffworkflow:parameters/spiffworkflow:parameter", NS)
            }
            assert params == {"task": f"'{task_id}'"}
            end = only_successor(service.get("id"))
            assert etree.QName(end).localname == "endEvent" and len(end) == 1  # no event definition
            # Not end_*: the process's outcome is read from the end_* events only.
            assert (end.get("id"), end.get("name")) == (f"{ended}_{task_id}", f"{name}已发出")
            for el in (timer, service, end):
                assert lane_of[el.get("id")] == lane_of[task_id], el.get("id")
            timers.add(timer.get("id"))
    assert {el.get("id") for el in proc.findall("bpmn:boundaryEvent", NS)} == timers


def test_timer_stacks_hang_under_their_task(bpmn_tree):
    plane = bpmn_tree.getroot().find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    bounds = {}
    for shape in plane.findall("bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        bounds[shape.get("bpmnElement")] = [float(b.get(k)) for k in ("x", "y", "width", "height")]
    for task_id in due_working_days(bpmn_tree):
        tx, ty, tw, th = bounds[task_id]
        for prefix, ended, *_ in OVERDUE_TIMERS:
            x, y, w, h = bounds[f"{prefix}_{task_id}_timer"]
            on_edge = y + h / 2 == ty + th and tx <= x + w / 2 <= tx + tw
            assert on_edge, f"{prefix} timer of {task_id} not on its bottom edge"
            _, sy, _, sh = bounds[f"{prefix}_{task_id}"]
            _, ey, _, _ = bounds[f"{ended}_{task_id}"]
            assert y + h < sy and sy + sh < ey, f"{prefix} stack of {task_id} not below it"


# ------------------------------------------------------------------ DMN


def dmn_result(decision_id, data):
    parser = make_parser()
    engine = parser.get_engine(decision_id, None)
    task = SimpleNamespace(data=dict(data), workflow=SimpleNamespace(script_engine=PythonScriptEngine()))
    return engine.result(task)


# Worked out by hand from 《郴州市关于进一步加强招商引资工作的实施意见》§9 (内资 2亿元以上、外资 3000万美元以
# 上, inclusive, one threshold per currency) and 衡政办发〔2025〕11号《推进招商引资机制改革实施方案》§19 (the
# classes; 重点 at 1亿元 / 1500万美元 is the county default of bpmn/project_class.dmn).
@pytest.mark.parametrize(
    "amount_wan, currency, amount_usd_wan, expected",
    [
        (19999.99, "CNY", None, "重点"),
        (20000, "CNY", None, "重大"),  # 2亿元 reached (§9 "以上" includes it)
        (9999, "CNY", None, "一般"),
        (10000, "CNY", None, "重点"),
        (0, "CNY", None, "一般"),
        (None, "CNY", None, "一般"),
        (15000, "USD", 3000, "重大"),  # 3000万美元 reached
        (
            21293,
            "USD",
            2999,
            "重点",
        ),  # just under 3000万美元: the RMB equivalent (× 7.1) does not make it 重大
        (0, "USD", 2999.99, "重点"),  # no RMB part, just under 3000万美元: not 重大
        (2000, "USD", 3000, "重大"),
        (25000, "USD", 100, "一般"),  # a converted figure never counts against the RMB threshold
        (8000, "USD", 1500, "重点"),
        (8000, "USD", 1499, "一般"),
        (5000, "CNY", 5000, "一般"),  # a stray USD figure on a CNY project is ignored
    ],
)
def test_project_class_decision(amount_wan, currency, amount_usd_wan, expected):
    data = {"amount_wan": amount_wan, "currency": currency, "amount_usd_wan": amount_usd_wan}
    assert dmn_result("project_class_decision", data) == {"proposed_class": expected}


@pytest.mark.parametrize(
    "flags, extra",
    [
        ({}, []),
        ({"needs_new_land": True}, ["zjj"]),
        ({"water_use": True}, ["slj"]),
        ({"hazardous": True}, ["yjglj"]),
        ({"forestry": True}, ["lyj"]),
        (
            {"needs_new_land": True, "water_use": True, "hazardous": True, "forestry": True},
            ["zjj", "slj", "yjglj", "lyj"],
        ),
        ({"needs_new_land": None, "water_use": None, "hazardous": None, "forestry": None}, []),
    ],
)
def test_review_departments_decision(flags, extra):
    data = {"needs_new_land": False, "water_use": False, "hazardous": False, "forestry": False}
    data.update(flags)
    result = dmn_result("review_departments_decision", data)
    assert result == {"review_departments": ALWAYS_DEPARTMENTS + extra}


# ------------------------------------------------------------------ walks


def test_general_class_happy_path_skips_executive_meeting(specs):
    wf, env = new_workflow(specs)
    assert ready_ids(wf) == ["register_lead"]
    complete(wf, "register_lead")
    screening = ready_user_tasks(wf)[0]
    assert screening.task_spec.bpmn_id == "screening"
    assert screening.data["proposed_class"] == "一般"
    complete(wf, "screening")
    units = through_review(wf, decisions={"sthj": ("有条件同意", "落实污水预处理设施", None)})
    assert units == sorted(ALWAYS_DEPARTMENTS)
    task = ready_user_tasks(wf)[0]
    assert task.task_spec.bpmn_id == "review_materials"
    assert task.data["project_class"] == "一般"
    assert task.data["has_objection"] is False
    assert task.data["review_conditions_all"] == [{"department": "sthj", "conditions": "落实污水预处理设施"}]
    assert sorted(o["department"] for o in task.data["dept_opinions"]) == sorted(ALWAYS_DEPARTMENTS)
    assert "department" not in task.data and "dept_opinion" not in task.data
    from_materials_to_contract(wf)
    assert ready_ids(wf) == ["contract_review"]  # 一般, no 一事一议: no executive meeting
    complete(wf, "contract_review")
    finish_filing_and_signing(wf)
    assert_signed_and_tracked(wf)
    assert not reached(wf, "executive_meeting")
    assert env.calls == ["filing_submit", "filing_accept", "filing_report_signing"]
    data = wf.get_tasks(spec_name="tracking_plan")[0].data
    assert data["filing"] == {"number": "X"}
    assert data["filing_submit_result"]["ok"] is True
    assert (data["tracking_period"], data["tracking_cycle"]) == ("P1M", "每月")  # 一般: monthly


def test_major_class_goes_through_executive_meeting(specs):
    wf, _ = new_workflow(specs)
    complete(wf, "register_lead", amount_wan=25000)
    assert ready_user_tasks(wf)[0].data["proposed_class"] == "重大"
    complete(wf, "screening", confirmed_class="重大")
    units = through_review(wf, negotiation={"amount_wan": 25000, "needs_new_land": True, "water_use": True})
    assert units == sorted(ALWAYS_DEPARTMENTS + ["zjj", "slj"])
    from_materials_to_contract(wf)
    task = ready_user_tasks(wf)[0]
    assert task.task_spec.bpmn_id == "executive_meeting"
    assert task.data["project_class"] == "重大"
    complete(wf, "executive_meeting")
    complete(wf, "contract_review")
    finish_filing_and_signing(wf)
    assert_signed_and_tracked(wf)


def test_foreign_capital_major_by_usd_amount(specs):
    wf, _ = new_workflow(specs)
    complete(wf, "register_lead", amount_wan=15000, currency="USD", amount_usd_wan=3000)
    assert ready_user_tasks(wf)[0].data["proposed_class"] == "重大"


def test_special_terms_go_to_executive_meeting_and_class_is_never_lowered(specs):
    wf, _ = new_workflow(specs)
    complete(wf, "register_lead", amount_wan=5000)
    # screening team raises the class to 重点; the negotiated amount would only give 一般
    complete(wf, "screening", confirmed_class="重点", class_reason="产业链龙头")
    through_review(wf, negotiation={"special_terms": True, "special_terms_detail": "一事一议：土地款分期"})
    from_materials_to_contract(wf)
    task = ready_user_tasks(wf)[0]
    assert task.task_spec.bpmn_id == "executive_meeting"
    assert task.data["project_class"] == "重点"


def test_negotiated_amount_raises_the_class(specs):
    wf, _ = new_workflow(specs)
    to_negotiation(wf)
    through_review(wf, negotiation={"amount_wan": 20000})
    assert ready_user_tasks(wf)[0].data["project_class"] == "重大"


def test_screening_return_for_supplement_loop_then_rejected(specs):
    wf, _ = new_workflow(specs)
    complete(wf, "register_lead")
    complete(wf, "screening", screening_decision="退回补充", screening_opinion="请补充投资计划书")
    task = ready_user_tasks(wf)[0]
    assert task.task_spec.bpmn_id == "supplement_lead"
    assert task.task_spec.lane == "lead_officer"
    assert task.data["started_by"] == "officer1"
    complete(wf, "supplement_lead", amount_wan=12000)
    task = ready_user_tasks(wf)[0]
    assert task.task_spec.bpmn_id == "screening"
    assert task.data["proposed_class"] == "重点"  # propose_class ran again
    assert count_completed(wf, "propose_class") == 2
    complete(wf, "screening", screening_decision="不予通过", screening_opinion="属淘汰类产业")
    assert_ended_at(wf, "end_rejected")


def test_objection_renegotiate_then_terminate(specs):
    wf, _ = new_workflow(specs)
    to_negotiation(wf)
    units = through_review(
        wf,
        negotiation={"forestry": True, "hazardous": True},
        decisions={"lyj": ("不同意", None, "占用公益林")},
    )
    assert units == sorted(ALWAYS_DEPARTMENTS + ["yjglj", "lyj"])
    task = ready_user_tasks(wf)[0]
    assert task.task_spec.bpmn_id == "objection_decision"
    assert task.data["has_objection"] is True
    complete(wf, "objection_decision", objection_decision="重新洽谈")
    assert ready_ids(wf) == ["negotiation"]
    # second round: forestry no longer needed → the list shrinks, opinions start empty
    units = through_review(
        wf,
        negotiation={"forestry": False, "hazardous": True},
        decisions={"fgj": ("不同意", None, "不符合产业规划")},
    )
    assert units == sorted(ALWAYS_DEPARTMENTS + ["yjglj"])
    task = ready_user_tasks(wf)[0]
    assert task.task_spec.bpmn_id == "objection_decision"
    assert task.data["review_departments"] == ALWAYS_DEPARTMENTS + ["yjglj"]
    assert len(task.data["dept_opinions"]) == 6
    assert [o["reasons"] for o in task.data["dept_opinions"] if o["decision"] == "不同意"] == [
        "不符合产业规划"
    ]
    complete(wf, "objection_decision", objection_decision="终止项目", objection_opinion="产业规划不符")
    assert_ended_at(wf, "end_terminated")


def test_objection_renegotiate_then_signed(specs):
    wf, _ = new_workflow(specs)
    to_negotiation(wf)
    through_review(wf, decisions={"zrzyj": ("不同意", None, "用地指标不足")})
    complete(wf, "objection_decision")
    through_review(wf)
    task = ready_user_tasks(wf)[0]
    assert task.task_spec.bpmn_id == "review_materials"
    assert task.data["has_objection"] is False
    assert all(o["decision"] == "同意" for o in task.data["dept_opinions"])
    from_materials_to_contract(wf)
    complete(wf, "contract_review")
    finish_filing_and_signing(wf)
    assert_signed_and_tracked(wf)


def test_review_meeting_postpone_loop_and_pre_review_return(specs):
    wf, _ = new_workflow(specs)
    to_negotiation(wf)
    through_review(wf)
    complete(wf, "review_materials")
    complete(wf, "pre_review", pre_review_decision="退回落户地")
    assert ready_ids(wf) == ["review_materials"]
    complete(wf, "review_materials")
    complete(wf, "pre_review")
    complete(wf, "review_meeting", meeting_decision="暂缓")
    assert ready_ids(wf) == ["supplement_materials"]
    complete(wf, "supplement_materials")
    assert ready_ids(wf) == ["pre_review"]
    complete(wf, "pre_review")
    complete(wf, "review_meeting", meeting_decision="不通过")
    assert_ended_at(wf, "end_meeting_rejected")


def test_prefecture_return_revise_loop(specs):
    wf, env = new_workflow(specs)
    to_negotiation(wf)
    through_review(wf)
    from_materials_to_contract(wf)
    complete(wf, "contract_review")
    complete(wf, "approve_filing")
    complete(wf, "prefecture_review", prefecture_decision="退回", prefecture_opinion="与某县重复签约，请核实")
    assert ready_ids(wf) == ["revise_filing"]
    assert ready_user_tasks(wf)[0].task_spec.lane == "commerce_bureau"
    complete(wf, "revise_filing")
    assert ready_ids(wf) == ["approve_filing"]
    finish_filing_and_signing(wf)
    assert_signed_and_tracked(wf)
    assert env.calls == [
        "filing_submit",
        "filing_return",
        "filing_submit",
        "filing_accept",
        "filing_report_signing",
    ]
    assert wf.get_tasks(spec_name="tracking_plan")[0].data["filing"]["number"] == "X"


@pytest.mark.parametrize(
    "task_id, field, value",
    [
        ("approve_terms", "terms_decision", "退回洽谈"),
        ("executive_meeting", "exec_decision", "修改后再议"),
        ("contract_review", "contract_decision", "修改"),
        ("approve_filing", "filing_approval", "退回洽谈"),
    ],
)
def test_back_to_negotiation(specs, task_id, field, value):
    wf, _ = new_workflow(specs)
    complete(wf, "register_lead", amount_wan=30000)
    complete(wf, "screening", confirmed_class="重大")
    complete(wf, "negotiation", amount_wan=30000)
    complete_until = [
        "approve_terms",
        "department_review",
        "review_materials",
        "pre_review",
        "review_meeting",
        "executive_meeting",
        "contract_review",
        "approve_filing",
    ]
    for step in complete_until:
        if step == task_id:
            break
        if step == "department_review":
            review_departments_round(wf)
        else:
            complete(wf, step)
    complete(wf, task_id, **{field: value})
    assert ready_ids(wf) == ["negotiation"]
    assert count_completed(wf, "negotiation") == 1
    # the second round runs through to the end
    through_review(wf, negotiation={"amount_wan": 30000})
    from_materials_to_contract(wf)
    complete(wf, "executive_meeting")
    complete(wf, "contract_review")
    finish_filing_and_signing(wf)
    assert_signed_and_tracked(wf)
    assert count_completed(wf, "department_review") >= 1


def test_end_abandoned(specs):
    wf, _ = new_workflow(specs)
    to_negotiation(wf)
    complete(wf, "negotiation", negotiation_decision="放弃")
    assert_ended_at(wf, "end_abandoned")


def test_end_exec_rejected(specs):
    wf, _ = new_workflow(specs)
    complete(wf, "register_lead", amount_wan=20000)
    complete(wf, "screening", confirmed_class="重大")
    through_review(wf, negotiation={"amount_wan": 20000})
    from_materials_to_contract(wf)
    complete(wf, "executive_meeting", exec_decision="不同意")
    assert_ended_at(wf, "end_exec_rejected")


def test_end_contract_rejected(specs):
    wf, _ = new_workflow(specs)
    to_negotiation(wf)
    through_review(wf)
    from_materials_to_contract(wf)
    complete(wf, "contract_review", contract_decision="不予通过", fair_competition_ok=False)
    assert_ended_at(wf, "end_contract_rejected")


def test_department_review_instances_carry_unit_and_lane(specs):
    wf, _ = new_workflow(specs)
    to_negotiation(wf)
    complete(wf, "negotiation", water_use=True)
    complete(wf, "approve_terms")
    tasks = [t for t in ready_user_tasks(wf) if t.task_spec.bpmn_id == "department_review"]
    assert sorted(t.data["department"] for t in tasks) == sorted(ALWAYS_DEPARTMENTS + ["slj"])
    assert {t.task_spec.lane for t in tasks} == {"dept_reviewer"}
    props = tasks[0].task_spec.extensions["properties"]
    assert props["unitField"] == "department"


# ------------------------------------------------------------------ restricted-engine compatibility


def _restricted_environment():
    """A minimal RestrictedPython environment (what the application is expected to use)."""
    pytest.importorskip("RestrictedPython")
    from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
    from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
    from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, safer_getattr

    allowed = ("any", "all", "len", "max", "min", "sorted", "dict", "list", "str", "int", "float", "bool")
    builtins = dict(safe_builtins)
    builtins.update(
        {
            name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
            for name in allowed
        }
    )
    guards = {
        "__builtins__": builtins,
        "_getattr_": safer_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_write_": full_write_guard,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "working_days_after": lambda days: "2999-01-01T00:00:00+00:00",
        "months_after": lambda months, start=None: "2999-01-01T00:00:00+00:00",
    }

    class RestrictedEnvironment(FakeServiceEnvironment):
        def evaluate(self, expression, context, external_context=None):
            result = compile_restricted_eval(expression)
            assert not result.errors, result.errors
            return eval(result.code, {**guards, **(external_context or {}), **context})

        def execute(self, script, context, external_context=None):
            result = compile_restricted_exec(script)
            assert not result.errors, result.errors
            scope = {**guards, **(external_context or {}), **context}
            exec(result.code, scope)  # noqa: S102 - compiled by RestrictedPython
            for key, value in scope.items():
                if key not in guards and not callable(value) and key not in (external_context or {}):
                    context[key] = value
            return True

    return RestrictedEnvironment()


def test_scripts_and_conditions_compile_restricted(bpmn_tree):
    pytest.importorskip("RestrictedPython")
    from RestrictedPython import compile_restricted_eval, compile_restricted_exec

    proc = process_node(bpmn_tree)
    scripts = [el.text for el in proc.iter(f"{{{NS['bpmn']}}}script")]
    scripts += [
        el.text for tag in ("preScript", "postScript") for el in proc.iter(f"{{{NS['spiffworkflow']}}}{tag}")
    ]
    assert len(scripts) == 13  # + executive_meeting keeps its answers for a direct resubmission
    for script in scripts:
        assert not compile_restricted_exec(script).errors, script
    conditions = [el.text for el in proc.iter(f"{{{NS['bpmn']}}}conditionExpression")]
    assert conditions
    for condition in conditions:
        assert not compile_restricted_eval(condition).errors, condition


def test_major_path_runs_under_restricted_python(specs):
    wf, env = new_workflow(specs, environment=_restricted_environment())
    complete(wf, "register_lead", amount_wan=15000, currency="USD", amount_usd_wan=3500)
    complete(wf, "screening", confirmed_class="重大")
    through_review(
        wf,
        negotiation={"amount_wan": 15000, "currency": "USD", "amount_usd_wan": 3500, "hazardous": True},
        decisions={"yjglj": ("有条件同意", "编制安全评价报告", None)},
    )
    task = ready_user_tasks(wf)[0]
    assert task.data["project_class"] == "重大"
    assert task.data["review_conditions_all"] == [{"department": "yjglj", "conditions": "编制安全评价报告"}]
    from_materials_to_contract(wf)
    complete(wf, "executive_meeting")
    complete(wf, "contract_review")
    complete(wf, "approve_filing")
    complete(wf, "prefecture_review", prefecture_decision="退回", prefecture_opinion="补充一事一议文件")
    complete(wf, "revise_filing")
    finish_filing_and_signing(wf)
    assert_signed_and_tracked(wf)
    assert wf.get_tasks(spec_name="tracking_plan")[0].data["filing"] == {"number": "X"}
    assert env.calls == [
        "filing_submit",
        "filing_return",
        "filing_submit",
        "filing_accept",
        "filing_report_signing",
    ]
