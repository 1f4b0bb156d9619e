"""Models written as a SpiffArena modeler writes them (tests/models/site_visit, joint_inspection,
permit_reminder) are deployed at 流程版本, bound to one county, started from the 发起 page and worked
through the inbox over HTTP to the end: manual and form-less tasks with their instructions, forms with
nested objects, repeating rows and checkboxes, a script calling get_current_user(), a message thrown and
caught, intermediate and boundary timers, a DMN table, a parallel multi-instance task and a call
activity. A model whose condition never ends fails the step with 422 and leaves the instance as it was."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flow_support import login, ready_tasks, status_of

from workflows.models._types import utcnow

MODELS = Path(__file__).parent / "models"
STARTER = "shangwu"  # 县商务局 of the first demo county


def deploy(client, name: str, county_of: str = STARTER, expect: int = 302) -> str:
    from workflows.demo import actor

    login(client, "admin")
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted((MODELS / name).glob("*/*")) if p.is_file()]
    response = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"files": files, "note": name, "bind": [str(actor(county_of).org_id)]},
    )
    assert response.status_code == expect, response.data.decode()[:3000]
    return response.data.decode()


def start(client, process_id: str, data: dict | None = None) -> int:
    login(client, STARTER)
    assert f'data-process-id="{process_id}"' in client.get("/start/").data.decode()
    response = client.post(f"/start/{process_id}", data=data or {})
    assert response.status_code == 302, response.data.decode()[:3000]
    return int(re.search(r"/projects/(\d+)", response.headers["Location"]).group(1))


def only_task(app, instance_id: int, spec: str) -> int:
    tasks = [t for t in ready_tasks(app, instance_id) if t[1] == spec]
    assert len(tasks) == 1, ready_tasks(app, instance_id)
    return tasks[0][0]


def submit(client, task_id: int, data: dict, expect: int = 302):
    response = client.post(f"/tasks/{task_id}", data=data)
    assert response.status_code == expect, response.data.decode()[:3000]
    return response


def task_data(app, instance_id: int) -> dict:
    from workflows.db import transaction
    from workflows.engine.runtime import ProcessRuntime
    from workflows.models import ModelVersion, ProcessInstance

    with transaction() as s:
        instance = s.get(ProcessInstance, instance_id)
        runtime = ProcessRuntime(s.get(ModelVersion, instance.model_version_id), {})
        return runtime.data(runtime.load(instance.state))


DELEGATION = {
    "company": "湖南锂晟新能源科技有限公司",
    "visit_date": "2026-12-08",
    "leader-name": "王建国",
    "leader-phone": "13900001111",
    "members-0-name": "李明",
    "members-0-position": "总经理",
    "members-1-name": "赵敏",
    "members-1-position": "",
    "members-2-name": "",
    "members-2-position": "",  # the empty row offered for a new member
    "interests": ["land", "policy"],
    "hotel": "county",
    "_booleans": "needs_interpreter",
    "notes": "清真餐",
}  # 需要翻译 shown and left unticked


@pytest.fixture
def app_on(database):
    """The app on each kind of database (SQLite, and PostgreSQL with -m postgres)."""
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "SERVER_NAME": "localhost",
        }
    )


def test_a_visit_model_with_a_manual_first_task_runs_from_the_start_page_to_its_end(app, client, clock):
    deploy(client, "site_visit")
    login(client, STARTER)
    start_page = client.get("/start/site_visit").data.decode()
    assert "<h2>接待准备</h2>" in start_page and "<strong>园区简介</strong>" in start_page
    instance_id = start(client, "site_visit")  # the manual task is done by starting

    # The form named delegation.json: nested object, repeating rows, checkboxes, radio, defaults.
    register = only_task(app, instance_id, "sv_register")
    page = client.get(f"/tasks/{register}").data.decode()
    assert "请如实填写团组成员，每人一行。" in page
    assert 'name="leader-name"' in page and 'name="members-0-name"' in page and "添加一行" in page
    assert re.search(r'name="needs_interpreter" value="true"\s+checked', page)  # default: true
    assert 'value="land"' in page and "用地" in page and 'type="radio" name="hotel" value="county"' in page
    assert '<textarea id="in-notes"' in page and 'type="date"' in page

    refused = submit(
        client,
        register,
        {
            **DELEGATION,
            "leader-name": "",
            "leader-phone": "123",
            "members-1-name": "",
            "members-1-position": "副总",
        },
        expect=422,
    )
    text = refused.data.decode()
    for field in ("leader-name", "leader-phone", "members-1-name"):
        assert f'data-error-for="{field}"' in text, field
    assert "带队人 · 姓名" in text and "团组成员 · 第2行 · 姓名" in text
    assert 'value="副总"' in text and "清真餐" in text  # nothing typed is lost

    submit(client, register, DELEGATION)
    data = task_data(app, instance_id)
    assert data["leader"] == {"name": "王建国", "phone": "13900001111"}
    assert data["members"] == [{"name": "李明", "position": "总经理"}, {"name": "赵敏", "position": None}]
    assert data["interests"] == ["land", "policy"] and data["needs_interpreter"] is False
    assert data["registrar"] and data["member_count"] == 2  # the script's get_current_user()

    # A form-less user task: its instructions over the task data, and 完成.
    confirm = only_task(app, instance_id, "sv_confirm_arrival")
    page = client.get(f"/tasks/{confirm}").data.decode()
    assert "<strong>湖南锂晟新能源科技有限公司 一行 2 人</strong>" in page and ">完成</button>" in page
    assert 'id="save-draft"' not in page
    submit(client, confirm, {})
    # The message thrown after the confirmation was caught: the process now waits at the timer.
    assert ready_tasks(app, instance_id) == [] and status_of(app, instance_id)[0] == "running"

    from workflows.services.timer_service import fire_due_timers

    now = utcnow()
    assert fire_due_timers(clock(now + timedelta(minutes=30))) == 0
    assert fire_due_timers(clock(now + timedelta(hours=3))) == 1
    debrief = only_task(app, instance_id, "sv_debrief")
    page = client.get(f"/tasks/{debrief}").data.decode()
    assert f"登记人 {data['registrar']}" in page
    submit(client, debrief, {})
    assert status_of(app, instance_id)[0] == "completed"


def test_an_inspection_model_with_a_decision_table_parallel_instances_and_a_call_activity_runs_to_its_end(
    app_on,
):
    app, client = app_on, app_on.test_client()
    deploy(client, "joint_inspection")
    login(client, STARTER)
    form = client.get("/start/joint_inspection").data.decode()
    assert 'name="sites-0-name"' in form and "每个地块一行" in form
    refused = client.post("/start/joint_inspection", data={"sites-0-name": "", "area_mu": "80"})
    assert refused.status_code == 422 and 'data-error-for="sites"' in refused.data.decode()
    instance_id = start(
        client,
        "joint_inspection",
        {
            "sites-0-name": "经开区 A-12 地块",
            "sites-0-area": "60",
            "sites-1-name": "经开区 B-3 地块",
            "sites-1-area": "25",
            "area_mu": "85",
            "hazardous": "true",
            "_booleans": "hazardous",
        },
    )

    # The DMN table (COLLECT) picked three departments: one parallel task each, in any order.
    tasks = [t for t in ready_tasks(app, instance_id) if t[1] == "ji_finding"]
    assert len(tasks) == 3
    pages = {t[0]: client.get(f"/tasks/{t[0]}").data.decode() for t in tasks}
    departments = {
        tid: re.search(r"代表 <strong>(.+?)</strong> 踏勘 2 个地块", p).group(1) for tid, p in pages.items()
    }
    assert sorted(departments.values()) == sorted(["县应急管理局", "县发改局", "县自然资源局"])
    for task_id in reversed(list(departments)):
        # The form names the checkbox it showed (_booleans): unticked is 否 although its default is 是.
        ticked = {} if departments[task_id] == "县应急管理局" else {"suitable": "true"}
        submit(client, task_id, {**ticked, "_booleans": "suitable", "remark": f"{departments[task_id]}意见"})

    # The called process's task, with the caller's data in its instructions.
    report = only_task(app, instance_id, "ir_write")
    page = client.get(f"/tasks/{report}").data.decode()
    assert "提出异议的部门：县应急管理局。" in page and ">调整后通过</option>" in page
    submit(client, report, {"conclusion": "adjust", "report": "调整危化品仓储位置后通过"})
    assert status_of(app, instance_id)[0] == "completed"
    data = task_data(app, instance_id)
    assert data["conclusion"] == "adjust" and data["objections"] == ["县应急管理局"]
    assert len(data["findings"]) == 3


def test_a_form_less_first_task_starts_and_a_boundary_timer_hands_the_case_to_a_manual_task(
    app, client, clock
):
    deploy(client, "permit_reminder")
    login(client, STARTER)
    form = client.get("/start/permit_reminder").data.decode()
    assert "核对委托书原件后点击下方按钮受理。" in form and 'id="submit"' in form
    first = start(client, "permit_reminder")
    second = start(client, "permit_reminder")

    # The first case: materials arrive in time (checkboxes of a oneOf list).
    collect = only_task(app, first, "pr_collect")
    page = client.get(f"/tasks/{collect}").data.decode()
    assert 'type="checkbox" name="documents" value="lease"' in page and "租赁合同" in page
    submit(client, collect, {"documents": ["licence", "lease", "plan"]})
    assert status_of(app, first)[0] == "completed"
    assert task_data(app, first)["documents"] == ["licence", "lease", "plan"]

    # The second: a day passes; the boundary timer cancels the task and offers the escalation.
    from workflows.services.timer_service import fire_due_timers

    assert fire_due_timers(clock(utcnow() + timedelta(days=1, minutes=5))) == 1
    assert [t[1] for t in ready_tasks(app, second)] == ["pr_escalate"]
    escalate = only_task(app, second, "pr_escalate")
    page = client.get(f"/tasks/{escalate}").data.decode()
    assert "<strong>记录原因</strong>" in page and ">完成</button>" in page
    assert client.get(f"/tasks/{collect}").status_code == 409  # the first case's task is done
    submit(client, escalate, {})
    assert status_of(app, second)[0] == "completed" and "documents" not in task_data(app, second)


def _state(app, instance_id: int) -> tuple:
    from workflows.db import transaction
    from workflows.models import ProcessInstance

    with transaction() as s:
        instance = s.get(ProcessInstance, instance_id)
        stored = instance.state_hash, instance.status
    return (*stored, tuple(ready_tasks(app, instance_id)))


def test_a_condition_or_script_that_never_ends_fails_the_step_and_changes_nothing(app_on, monkeypatch):
    import time

    app, client = app_on, app_on.test_client()
    monkeypatch.setenv("ZS_SCRIPT_SECONDS", "0.5")
    deploy(client, "runaway")
    for route in ("sum", "loop"):
        instance_id = start(client, "runaway", {"route": route})
        task_id = only_task(app, instance_id, "ra_next")
        before = _state(app, instance_id)
        began = time.monotonic()
        response = client.post(f"/tasks/{task_id}", data={})
        assert response.status_code == 422, route
        assert time.monotonic() - began < 5, route
        assert "本次办理未生效" in response.data.decode()
        assert _state(app, instance_id) == before, route  # still at 下一步, nothing stored
    plain = start(client, "runaway", {"route": "plain"})
    submit(client, only_task(app, plain, "ra_next"), {})
    assert status_of(app, plain)[0] == "completed"


def test_a_model_whose_condition_cannot_compile_is_refused_at_deploy_with_the_element_named(app, client):
    bpmn = (MODELS / "runaway" / "bpmn" / "runaway.bpmn").read_text(encoding="utf-8")
    broken = bpmn.replace('route == "loop"', 'route.__class__.__mro__ == "loop"')
    login(client, "admin")
    response = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={
            "files": [
                (io.BytesIO(broken.encode()), "runaway.bpmn"),
                (io.BytesIO((MODELS / "runaway" / "forms" / "choose.json").read_bytes()), "choose.json"),
            ],
            "note": "broken",
        },
    )
    assert response.status_code == 422
    text = response.data.decode()
    assert "runaway" in text and "无法在受限脚本引擎中编译" in text
    login(client, STARTER)
    assert 'data-process-id="runaway"' not in client.get("/start/").data.decode()  # nothing deployed


def test_without_javascript_adding_a_row_saves_a_draft_and_offers_one_more_empty_row(app, client):
    deploy(client, "site_visit")
    instance_id = start(client, "site_visit")
    register = only_task(app, instance_id, "sv_register")
    response = client.post(
        f"/tasks/{register}",
        data={
            "company": "湖南锂晟",
            "members-0-name": "李明",
            "interests": ["land", "policy"],
            "action": "add_row",
            "_booleans": "needs_interpreter",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/tasks/{register}").data.decode()
    assert 'value="李明"' in page and 'name="members-1-name"' in page and 'name="members-2-name"' not in page
    assert re.search(r'value="land"\s+checked', page) and re.search(r'value="policy"\s+checked', page)
    assert 'value="湖南锂晟"' in page
    assert not re.search(r'name="needs_interpreter" value="true"\s+checked', page)  # unticked stays unticked


def test_a_boolean_the_submission_leaves_out_takes_the_schemas_default(app, client):
    deploy(client, "site_visit")
    instance_id = start(client, "site_visit")
    register = only_task(app, instance_id, "sv_register")
    submit(client, register, {"company": "湖南锂晟", "leader-name": "王建国", "members-0-name": "李明"})
    assert task_data(app, instance_id)["needs_interpreter"] is True


def test_the_project_page_shows_nested_and_repeating_answers_by_their_titles(app, client):
    deploy(client, "site_visit")
    instance_id = start(client, "site_visit")
    submit(client, only_task(app, instance_id, "sv_register"), DELEGATION)
    page = client.get(f"/projects/{instance_id}").data.decode()
    assert "姓名：王建国，手机号：13900001111" in page
    assert "姓名：李明，职务：总经理；姓名：赵敏" in page and "用地；政策" in page


def test_a_variable_nothing_in_the_model_produces_is_a_warning_and_the_model_is_deployed(app, client):
    bpmn = (MODELS / "runaway" / "bpmn" / "runaway.bpmn").read_text(encoding="utf-8")
    typo = bpmn.replace('route == "loop"', 'rout == "loop"')
    assert typo != bpmn
    login(client, "admin")
    response = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        follow_redirects=True,
        data={
            "files": [
                (io.BytesIO(typo.encode()), "runaway.bpmn"),
                (io.BytesIO((MODELS / "runaway" / "forms" / "choose.json").read_bytes()), "choose.json"),
            ],
            "note": "typo",
        },
    )
    text = response.data.decode()
    assert response.status_code == 200 and "已部署流程版本" in text
    assert "提醒：runaway 的" in text and "用到的变量 rout 没有任何表单、决策表或脚本产生" in text
    assert "变量 route " not in text  # the form's field is produced

    assert (
        client.post(
            "/admin/roles",
            data={"role_code": "expert_panel", "role_name": "评审专家组", "role_level": "county"},
        ).status_code
        == 302
    )
    for name in ("site_visit", "joint_inspection", "permit_reminder", "expert_review", "visit_request"):
        assert (
            "提醒：" not in deploy(client, name, expect=302)
            and "提醒：" not in client.get("/admin/versions").data.decode()
        ), name
