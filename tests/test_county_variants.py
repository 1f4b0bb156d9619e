"""Two county variants of the investment-project process (docs/process.md "County variants"), each bound to
one demo county by the model itself (process property `shippedFor`): 南县 runs the full route of
南政发〔2022〕6号 §(九); 桃江县 runs the 湘西州-style variant — the filing with the prefecture right after the
joint review (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三)), departments and meetings by
class (衡政办发〔2025〕11号 §19). Both are driven end to end over HTTP by each county's own demo staff, and
the task sequences are compared with the documented differences."""

from __future__ import annotations

import pytest
from flow_support import do_task, login, ready_tasks
from lxml import etree
from sqlalchemy import select

from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, DEMO_LEAD, DEPT_REVIEWER, DOER, FORM_OF, HOSTS, SECOND_COUNTY_USERS
from workflows.engine import model_store
from workflows.models import Filing, Organisation, ProcessInstance

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FLOW_NODES = {
    "startEvent",
    "endEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "exclusiveGateway",
    "parallelGateway",
    "intermediateCatchEvent",
    "boundaryEvent",
}
ALL_FIVE = ["fgj", "kgxj", "sthj", "swj", "zrzyj"]  # §(十三): 发改、工信、生态环境、商务、自然资源

# Who does what in each county: 南县's demo staff (workflows/demo.py) and 桃江县's (tj_*), by task and unit.
NANXIAN = {"who": DOER, "dept": DEPT_REVIEWER, "host": HOSTS, "lead": "zhaoshang"}
TJ_ROLE = {roles[0]: u for u, _n, _c, roles in SECOND_COUNTY_USERS if roles[0] != "dept_reviewer"}
TAOJIANG = {
    "who": {
        "screening": TJ_ROLE["screening_team"],
        "negotiation": TJ_ROLE["commerce_bureau"],
        "approve_terms": TJ_ROLE["head_of_office"],
        "objection_decision": TJ_ROLE["commerce_bureau"],
        "pre_review": TJ_ROLE["leading_group_office"],
        "review_meeting": TJ_ROLE["vice_county_head"],
        "supplement_materials": TJ_ROLE["commerce_bureau"],
        "executive_meeting": TJ_ROLE["exec_secretary"],
        "contract_review": TJ_ROLE["legal_reviewer"],
        "approve_filing": TJ_ROLE["head_of_office"],
        "prefecture_review": DOER["prefecture_review"],
        "revise_filing": TJ_ROLE["commerce_bureau"],
        "signing": TJ_ROLE["commerce_bureau"],
    },
    "dept": {c: u for u, _n, c, roles in SECOND_COUNTY_USERS if roles == ["dept_reviewer"]},
    "host": {"jkq": TJ_ROLE["host_site"]},
    "lead": TJ_ROLE["lead_officer"],
}
HOST_TASKS = ("review_materials", "track_progress", "reply_reminder")


def register(client, staff, **overrides) -> int:
    login(client, staff["lead"])
    data = {**DEMO_LEAD, **overrides}
    response = client.post("/projects/new", data={k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302, response.data.decode()[:2000]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def drive(
    app, client, staff, instance_id: int, answers: dict[str, dict] | None = None
) -> tuple[list[str], list[str]]:
    """Complete every task the project offers, as the county's own staff would, until it waits (signed and
    tracked, or ended). Returns the task sequence (a joint-review round counted once) and the departments
    asked in the joint review."""
    answers = answers or {}
    sequence, departments = [], []
    for _ in range(40):
        tasks = ready_tasks(app, instance_id)
        if not tasks or tasks[0][1] == "track_progress":
            return sequence, departments
        task_id, spec, unit = tasks[0]
        if spec == "department_review":
            departments = sorted(u for _t, s, u in tasks if s == spec)
            for tid, _s, u in tasks:
                do_task(client, staff["dept"][u], tid, DEMO_ANSWERS["department_review"])
        else:
            user = staff["host"][unit] if spec in HOST_TASKS else staff["who"][spec]
            do_task(client, user, task_id, {**DEMO_ANSWERS[FORM_OF.get(spec, spec)], **answers.get(spec, {})})
        sequence.append(spec)
    raise AssertionError(f"the project did not come to rest: {sequence}")


def project(instance_id: int) -> tuple[ProcessInstance, Filing | None]:
    with transaction() as s:
        return (
            s.get(ProcessInstance, instance_id),
            s.scalar(select(Filing).where(Filing.instance_id == instance_id)),
        )


FULL_GENERAL = [
    "screening",
    "negotiation",
    "approve_terms",
    "department_review",
    "review_materials",
    "pre_review",
    "review_meeting",
    "contract_review",
    "approve_filing",
    "prefecture_review",
    "signing",
]
XIANGXI_GENERAL = [
    "screening",
    "negotiation",
    "approve_terms",
    "department_review",
    "approve_filing",
    "prefecture_review",
    "review_materials",
    "pre_review",
    "contract_review",
    "signing",
]


def test_each_demo_county_runs_its_own_variant(app):
    with transaction() as s:
        counties = {
            o.name: o.id for o in s.scalars(select(Organisation).where(Organisation.kind == "county"))
        }
        nanxian = model_store.bound_version(s, counties["南县"], model_store.INVESTMENT)
        taojiang = model_store.bound_version(s, counties["桃江县"], model_store.INVESTMENT)
        assert nanxian.process_id != taojiang.process_id
        assert nanxian.purpose == taojiang.purpose == model_store.INVESTMENT
        shipped = model_store.processes_in(model_store.read_model_files())
    assert shipped[taojiang.process_id].shipped_for == ("桃江县",)
    assert shipped[nanxian.process_id].shipped_for == ()
    # Own DMN files for the departments and the meetings; the class, cadence and reward rules are shared.
    own = set(taojiang.files) - set(nanxian.files)
    assert {f for f in own if f.endswith(".dmn")} == {
        "bpmn/xiangxi_review_departments.dmn",
        "bpmn/xiangxi_meeting_rule.dmn",
    }
    assert {f for f in nanxian.files if f.startswith("forms/")} <= set(taojiang.files)


def test_general_project_full_route_and_xiangxi_route_differ_as_documented(app, client):
    """一般, no 一事一议: 南县 reviews with all five departments, holds the review meeting and files after
    contract review; 桃江县 asks three departments, files right after the joint review, skips the review
    meeting."""
    nx = register(client, NANXIAN, amount_wan="3000", project_name="南县农机配件项目", investor="甲机械公司")
    tj = register(client, TAOJIANG, amount_wan="3000", project_name="桃江竹木加工项目", investor="乙竹业公司")
    general = {"screening": {"confirmed_class": "一般"}, "negotiation": {"amount_wan": "3000"}}
    nx_sequence, nx_departments = drive(app, client, NANXIAN, nx, general)
    tj_sequence, tj_departments = drive(app, client, TAOJIANG, tj, general)

    assert nx_sequence == FULL_GENERAL
    assert tj_sequence == XIANGXI_GENERAL
    # ① the filing: after contract review (南县) — right after the joint review (桃江县).
    assert nx_sequence.index("approve_filing") > nx_sequence.index("contract_review")
    assert tj_sequence.index("department_review") + 1 == tj_sequence.index("approve_filing")
    assert tj_sequence.index("prefecture_review") < tj_sequence.index("review_materials")
    # ② departments: §(十三)'s five for every project — three for a 一般 project.
    assert nx_departments == ALL_FIVE
    assert tj_departments == ["fgj", "sthj", "zrzyj"]
    # ③ meetings: 一般 goes to the review meeting in 南县, to no meeting in 桃江县.
    assert "review_meeting" not in tj_sequence and "executive_meeting" not in tj_sequence
    for instance_id in (nx, tj):
        inst, filing = project(instance_id)
        assert (inst.status, inst.stage, inst.project_class) == ("running", "履约跟踪", "一般")
        assert filing is not None and filing.state == "已签约" and filing.number
    assert project(nx)[0].process_id != project(tj)[0].process_id


@pytest.mark.parametrize("special_terms", [False, True])
def test_key_project_meetings(app, client, special_terms):
    """重点: the review meeting in both; with 一事一议 the full route adds the executive meeting, the 湘西州
    -style route does not (the terms are filed upward with the filing)."""
    key = {
        "screening": {"confirmed_class": "重点"},
        "negotiation": {
            "amount_wan": "12000",
            "special_terms": "true" if special_terms else "false",
            "special_terms_detail": "固定资产投资奖励一事一议" if special_terms else None,
        },
    }
    nx = register(
        client, NANXIAN, amount_wan="12000", project_name="南县电池结构件项目", investor="丙新能源公司"
    )
    tj = register(
        client, TAOJIANG, amount_wan="12000", project_name="桃江电池结构件项目", investor="丁新能源公司"
    )
    nx_sequence, nx_departments = drive(app, client, NANXIAN, nx, key)
    tj_sequence, tj_departments = drive(app, client, TAOJIANG, tj, key)
    assert nx_departments == tj_departments == ALL_FIVE  # 重点: §(十三)'s five in both
    assert "review_meeting" in nx_sequence and "review_meeting" in tj_sequence
    assert ("executive_meeting" in nx_sequence) is special_terms
    assert "executive_meeting" not in tj_sequence
    assert tj_sequence[tj_sequence.index("department_review") + 1 :][:2] == [
        "approve_filing",
        "prefecture_review",
    ]
    assert nx_sequence[-3:] == ["approve_filing", "prefecture_review", "signing"]
    assert tj_sequence[-2:] == ["contract_review", "signing"]


def test_major_project_goes_to_the_executive_meeting_in_both(app, client):
    major = {"screening": {"confirmed_class": "重大"}, "negotiation": {"amount_wan": "25000"}}
    tj = register(client, TAOJIANG)
    sequence, departments = drive(app, client, TAOJIANG, tj, major)
    assert sequence == [
        "screening",
        "negotiation",
        "approve_terms",
        "department_review",
        "approve_filing",
        "prefecture_review",
        "review_materials",
        "pre_review",
        "review_meeting",
        "executive_meeting",
        "contract_review",
        "signing",
    ]
    assert departments == ALL_FIVE
    assert project(tj)[0].project_class == "重大"


# --- the variant's diagram is as complete as the full route's -----------------------------------------


def _variant_tree():
    files = model_store.read_model_files()
    for pid, model in model_store.processes_in(files).items():
        if model.shipped_for:
            name = next(f for f in model.files if f.endswith(".bpmn"))
            return pid, etree.fromstring(files[name].encode("utf-8"))
    raise AssertionError("no county variant shipped")


def test_variant_diagram_places_every_node_in_its_lane_and_every_flow_on_its_ends():
    pid, root = _variant_tree()
    process = root.find(f"bpmn:process[@id='{pid}']", NS)
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    bounds = {
        s.get("bpmnElement"): [float(s.find("dc:Bounds", NS).get(k)) for k in ("x", "y", "width", "height")]
        for s in plane.findall("bpmndi:BPMNShape", NS)
    }
    edges = {e.get("bpmnElement"): e for e in plane.findall("bpmndi:BPMNEdge", NS)}
    lane_of = {
        ref.text: lane.get("id")
        for lane in process.findall("bpmn:laneSet/bpmn:lane", NS)
        for ref in lane.findall("bpmn:flowNodeRef", NS)
    }
    nodes = [el for el in process if isinstance(el.tag, str) and etree.QName(el).localname in FLOW_NODES]
    for node in nodes:
        x, y, w, h = bounds[node.get("id")]
        lx, ly, lw, lh = bounds[lane_of[node.get("id")]]
        assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, node.get("id")
    for flow in process.findall("bpmn:sequenceFlow", NS):
        points = [
            (float(p.get("x")), float(p.get("y"))) for p in edges[flow.get("id")].findall("di:waypoint", NS)
        ]
        for (px, py), end in ((points[0], flow.get("sourceRef")), (points[-1], flow.get("targetRef"))):
            x, y, w, h = bounds[end]
            assert x - 1 <= px <= x + w + 1 and y - 1 <= py <= y + h + 1, (flow.get("id"), end)
    # No two task shapes overlap.
    boxes = [bounds[n.get("id")] for n in nodes if etree.QName(n).localname.endswith("Task")]
    for i, (x, y, w, h) in enumerate(boxes):
        for ox, oy, ow, oh in boxes[i + 1 :]:
            assert x + w <= ox or ox + ow <= x or y + h <= oy or oy + oh <= y


def test_each_county_dashboard_draws_the_process_it_runs(app, client):
    """The dashboard's heat map is drawn on the county's own process diagram."""
    with transaction() as s:
        counties = {
            o.name: o.id for o in s.scalars(select(Organisation).where(Organisation.kind == "county"))
        }
        taojiang = model_store.bound_version(s, counties["桃江县"], model_store.INVESTMENT)
    variant_only = "是否召开项目评审会"  # the variant's meeting gateway (bpmn/*_xiangxi.bpmn)
    assert variant_only in next(v for k, v in taojiang.files.items() if k.endswith(".bpmn"))
    login(client, TAOJIANG["who"]["negotiation"])
    assert variant_only in client.get("/dashboard/").data.decode()
    login(client, NANXIAN["who"]["negotiation"])
    page = client.get("/dashboard/").data.decode()
    assert "<svg" in page and variant_only not in page
