"""运维 over HTTP, from the system administrator's side: move a running instance to a new version of its
process (and the refusal naming the tasks the version lacks), skip a stuck task, correct a variable,
retry a step that failed. Each needs a reason, is refused on a stale page (409), is audited and shown
in the project's history, and replay still verifies afterwards."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

from flow_support import do_task, login, ready_tasks, status_of
from sqlalchemy import select

from workflows.db import transaction
from workflows.demo import actor
from workflows.engine import clock as engine_clock
from workflows.models import AuditEvent, ModelVersion, ProcessInstance
from workflows.models._types import utcnow
from workflows.services.timer_service import fire_due_timers

MODELS = Path(__file__).parent / "models"
VISIT = {
    "visitor": "湖南锂晟新能源科技有限公司考察团",
    "headcount": "6",
    "level": "重要",
    "purpose_note": "考察经开区厂房",
}


def _files(name: str) -> dict[str, str]:
    return {
        f"{p.parent.name}/{p.name}": p.read_text(encoding="utf-8")
        for p in sorted((MODELS / name).glob("*/*"))
    }


def _deploy(client, files: dict[str, str], bind: bool = True, expect: int = 302) -> int:
    """Deploy as the administrator; the id of the newest version."""
    login(client, "admin")
    uploads = [(io.BytesIO(text.encode("utf-8")), name.split("/")[-1]) for name, text in files.items()]
    data = {"files": uploads, "note": "测试"}
    if bind:
        data["bind"] = str(actor("shangwu").org_id)
    response = client.post("/admin/versions", content_type="multipart/form-data", data=data)
    assert response.status_code == expect, re.findall(r'class="error"[^>]*>([^<]*)', response.data.decode())
    with transaction() as s:
        return s.scalar(select(ModelVersion.id).order_by(ModelVersion.id.desc()).limit(1))


def _start(client, process_id: str, data: dict) -> int:
    login(client, "shangwu")
    response = client.post(f"/start/{process_id}", data=data)
    assert response.status_code == 302, response.data.decode()[:2000]
    return int(re.search(r"/projects/(\d+)", response.headers["Location"]).group(1))


def _instance(instance_id: int) -> ProcessInstance:
    with transaction() as s:
        return s.get(ProcessInstance, instance_id)


def _page(client, instance_id: int) -> str:
    login(client, "admin")
    response = client.get(f"/admin/instances/{instance_id}")
    assert response.status_code == 200, response.data.decode()[:2000]
    return response.data.decode()


def _row_version(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def _task_uuid(page: str, spec: str) -> str:
    return re.search(rf'data-task="([^"]+)" data-spec="{spec}"', page).group(1)


def _events(instance_id: int, action: str) -> list[AuditEvent]:
    with transaction() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == instance_id, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
        )


def _replays_consistently(client, instance_id: int) -> bool:
    login(client, "shenji")
    response = client.post(f"/audit/projects/{instance_id}/replay-check")
    assert response.status_code == 200, response.data.decode()[:2000]
    return 'id="replay-consistent"' in response.data.decode()


def _visit_v2() -> dict[str, str]:
    """visit_request with a new step after 审定接待方案: 落实接待安排 (commerce bureau)."""
    files = _files("visit_request")
    name = "bpmn/visit_request.bpmn"
    text = files[name]
    flow = '<bpmn:sequenceFlow id="visit_f3" sourceRef="visit_approve" targetRef="visit_approved" />'
    assert text.count(flow) == 1
    text = text.replace(
        flow,
        '<bpmn:sequenceFlow id="visit_f3" sourceRef="visit_approve" targetRef="visit_arrange" />'
        '<bpmn:userTask id="visit_arrange" name="落实接待安排" />'
        '<bpmn:sequenceFlow id="visit_f4" sourceRef="visit_arrange" targetRef="visit_approved" />',
    )
    text = text.replace(
        "<bpmn:flowNodeRef>visit_done</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>visit_done</bpmn:flowNodeRef><bpmn:flowNodeRef>visit_arrange</bpmn:flowNodeRef>",
    )
    files[name] = text
    return files


def test_an_instance_moves_to_a_compatible_new_version_and_replay_still_verifies(app, client):
    v1 = _deploy(client, _files("visit_request"))
    pid = _start(client, "visit_request", VISIT)
    assert [t[1] for t in ready_tasks(app, pid)] == ["visit_approve"]
    v2 = _deploy(client, _visit_v2(), bind=False)

    page = _page(client, pid)
    assert f'data-version-id="{v2}" data-compatible="yes"' in page
    version = _row_version(page)
    url = f"/admin/instances/{pid}/migrate"
    # Refused: no reason (the page again, nothing typed lost); a stale page; a version of another process.
    no_reason = client.post(url, data={"version_id": v2, "reason": " ", "version": version})
    assert no_reason.status_code == 422 and "请填写操作原因" in no_reason.data.decode()
    stale = client.post(url, data={"version_id": v2, "reason": "接待流程调整", "version": int(version) - 1})
    assert stale.status_code == 409
    with transaction() as s:
        other = s.scalar(select(ModelVersion.id).where(ModelVersion.process_id != "visit_request"))
    wrong = client.post(url, data={"version_id": other, "reason": "接待流程调整", "version": version})
    assert wrong.status_code == 422
    junk = client.post(url, data={"version_id": "abc", "reason": "接待流程调整", "version": "x"})
    assert junk.status_code == 409
    assert _instance(pid).model_version_id == v1

    moved = client.post(url, data={"version_id": v2, "reason": "接待流程增加落实环节", "version": version})
    assert moved.status_code == 302
    assert _instance(pid).model_version_id == v2
    page = _page(client, pid)
    assert 'id="current-version">v2<' in page and "接待流程增加落实环节" in page
    # Back to v1 would be possible now (only what v2 predicts after the open task is new) …
    assert f'data-version-id="{v1}" data-compatible="yes"' in page

    # The open task kept its id and is worked as before; the process then runs the new version's step.
    ((task_id, spec, _),) = ready_tasks(app, pid)
    assert spec == "visit_approve"
    do_task(client, "zhuren", task_id, {"plan_decision": "同意", "plan_note": "由经开区陪同"})
    assert [t[1] for t in ready_tasks(app, pid)] == ["visit_arrange"]
    # … but not once the instance is at the step only v2 has.
    page = _page(client, pid)
    assert f'data-version-id="{v1}" data-compatible="no"' in page
    back = client.post(url, data={"version_id": v1, "reason": "退回旧版本", "version": _row_version(page)})
    assert back.status_code == 422 and "落实接待安排（visit_arrange）" in back.data.decode()

    (event,) = _events(pid, "instance_migrated")
    assert event.actor == "admin" and event.data["reason"] == "接待流程增加落实环节"
    assert (event.data["from_version_id"], event.data["to_version_id"]) == (v1, v2)
    login(client, "shangwu")
    history = client.get(f"/projects/{pid}").data.decode()
    assert "接待流程增加落实环节" in history
    assert _replays_consistently(client, pid)


def test_a_move_is_refused_naming_the_open_tasks_the_new_version_lacks(app, client):
    v1 = _deploy(client, _files("visit_request"))
    pid = _start(client, "visit_request", VISIT)
    files = _files("visit_request")
    files["bpmn/visit_request.bpmn"] = (
        files["bpmn/visit_request.bpmn"]
        .replace('visit_approve"', 'visit_approve_2"')
        .replace(">visit_approve<", ">visit_approve_2<")
    )
    v3 = _deploy(client, files, bind=False)

    page = _page(client, pid)
    assert f'data-version-id="{v3}" data-compatible="no"' in page
    refused = client.post(
        f"/admin/instances/{pid}/migrate",
        data={"version_id": v3, "reason": "试迁移", "version": _row_version(page)},
    )
    assert refused.status_code == 422
    text = refused.data.decode()
    assert "审定接待方案（visit_approve）" in text.split('id="migrate-error"')[1].split("</div>")[0]
    assert "试迁移" in text  # the reason typed is kept
    assert _instance(pid).model_version_id == v1 and not _events(pid, "instance_migrated")
    assert _replays_consistently(client, pid)


def test_a_stuck_task_is_skipped_with_a_reason(app, client):
    _deploy(client, _files("visit_request"))
    pid = _start(client, "visit_request", VISIT)
    page = _page(client, pid)
    task = _task_uuid(page, "visit_approve")
    url = f"/admin/instances/{pid}/skip"
    version = _row_version(page)
    assert client.post(url, data={"task": task, "reason": "", "version": version}).status_code == 422
    assert (
        client.post(
            url, data={"task": "not-a-task", "reason": "主任长期出差", "version": version}
        ).status_code
        == 422
    )
    assert client.post(url, data={"task": task, "reason": "主任长期出差", "version": "0"}).status_code == 409
    assert status_of(app, pid)[0] == "running"

    assert (
        client.post(
            url, data={"task": task, "reason": "主任长期出差，线下已审定", "version": version}
        ).status_code
        == 302
    )
    assert status_of(app, pid)[0] == "completed"
    (event,) = _events(pid, "instance_task_skipped")
    assert event.task_spec == "visit_approve" and event.data["reason"] == "主任长期出差，线下已审定"
    # A finished instance is operated no more.
    assert 'class="skip-form"' not in _page(client, pid)
    assert (
        client.post(url, data={"task": task, "reason": "再跳", "version": _instance(pid).version}).status_code
        == 409
    )
    assert _replays_consistently(client, pid)


def test_a_failed_step_is_retried_after_its_data_is_corrected(app, client, monkeypatch):
    _deploy(client, _files("divide_share"))
    pid = _start(client, "divide_share", {"subject": "园区配套费分摊", "parts": "0"})
    # The timer's step divides by 0: written down, not raised; the scheduler leaves it for the administrator.
    # Two hours on, as the engine sees it in this thread (a replay still sets its own moments).
    monkeypatch.setattr(engine_clock._local, "moment", utcnow() + timedelta(hours=2), raising=False)
    fire_due_timers(utcnow() + timedelta(hours=2))
    assert _instance(pid).next_timer_at is None
    (failed,) = _events(pid, "step_failed")
    assert failed.data["element"] == "测算每份金额"
    login(client, "admin")
    listing = client.get("/admin/instances/").data.decode()
    assert re.search(rf'data-instance="{pid}" class="failed"', listing)

    page = _page(client, pid)
    assert 'id="failure"' in page and "测算每份金额" in page
    retry = f"/admin/instances/{pid}/retry"
    assert client.post(retry, data={"reason": "", "version": _row_version(page)}).status_code == 422
    again = client.post(retry, data={"reason": "先试一次", "version": _row_version(page)})
    assert again.status_code == 422 and "测算每份金额" in again.data.decode()
    assert len(_events(pid, "step_failed")) == 2  # the failed retry is on the record too

    page = _page(client, pid)
    waiting = _task_uuid(page, "ds_wait")
    url = f"/admin/instances/{pid}/data"
    base = {
        "task": waiting,
        "key": "parts",
        "reason": "份数登记有误，应为 4 份",
        "version": _row_version(page),
    }
    for bad in (
        {"value": "四"},
        {"value": '"4"'},
        {"value": "-1"},
        {"key": "1parts", "value": "4"},
        {"key": "__class__.x", "value": "4"},
        {"value": "[" * 5000 + "]" * 5000},
        {"value": "1" * 20001},
        {"reason": "", "value": "4"},
        {"task": "x", "value": "4"},
    ):
        response = client.post(url, data={**base, **bad})
        assert response.status_code == 422, bad
    kept = client.post(url, data={**base, "value": '"4"'}).data.decode()
    assert "份数登记有误，应为 4 份" in kept  # nothing typed is lost
    assert client.post(url, data={**base, "value": "4", "version": "1"}).status_code == 409
    assert client.post(url, data={**base, "value": "4"}).status_code == 302
    (corrected,) = _events(pid, "instance_data_corrected")
    assert (corrected.data["key"], corrected.data["old"], corrected.data["new"]) == ("parts", 0, 4)
    assert corrected.data["reason"] == "份数登记有误，应为 4 份"

    page = _page(client, pid)
    assert 'id="failure"' in page  # a correction prepares the retry; the step is still to be retried
    assert client.post(retry, data={"reason": "份数已更正", "version": _row_version(page)}).status_code == 302
    assert [t[1] for t in ready_tasks(app, pid)] == ["ds_check"]
    page = _page(client, pid)
    data = json.loads(
        re.search(r'data-spec="ds_check".*?<pre class="diff">(.*?)</pre>', page, re.DOTALL)
        .group(1)
        .replace("&#34;", '"')
        .replace("&quot;", '"')
    )
    assert data["share"] == 25
    assert 'id="failure"' not in page
    assert [e.action for e in _events(pid, "instance_step_retried")] == ["instance_step_retried"]
    login(client, "shangwu")
    history = client.get(f"/projects/{pid}").data.decode()
    assert "份数登记有误，应为 4 份" in history and "份数已更正" in history
    assert _replays_consistently(client, pid)


def test_nothing_to_retry_is_a_conflict(app, client):
    _deploy(client, _files("visit_request"))
    pid = _start(client, "visit_request", VISIT)
    page = _page(client, pid)
    assert 'id="failure"' not in page
    response = client.post(
        f"/admin/instances/{pid}/retry", data={"reason": "试试", "version": _row_version(page)}
    )
    assert response.status_code == 409


def test_a_move_and_a_correction_replay_on_sqlite_and_postgresql(database):
    """The service on both databases: move, correct a variable, skip; the history still replays."""
    from workflows.services import audit_service, model_service, operate_service, process_service

    def deploy(files: dict[str, str], bind: list[int]) -> int:
        uploads = [(name.split("/")[-1], text.encode("utf-8")) for name, text in files.items()]
        return model_service.version_deploy(actor("admin"), uploads, "测试", bind)[0]

    county = actor("shangwu").org_id
    v1 = deploy(_files("visit_request"), [county])
    pid = process_service.process_start(actor("shangwu"), "visit_request", VISIT)
    v2 = deploy(_visit_v2(), [])
    operate_service.instance_migrate(actor("admin"), pid, v2, "接待流程增加落实环节", _instance(pid).version)
    view = operate_service.operate_page(actor("admin"), pid)
    (task,) = view.tasks
    operate_service.instance_data_set(
        actor("admin"), pid, task.uuid, "headcount", "8", "人数有误", _instance(pid).version
    )
    operate_service.instance_skip(actor("admin"), pid, task.uuid, "线下已审定", _instance(pid).version)
    assert [t.spec_name for t in operate_service.operate_page(actor("admin"), pid).tasks] == ["visit_arrange"]
    assert _instance(pid).model_version_id == v2 != v1
    with transaction() as s:
        report = audit_service.replay_instance(s, s.get(ProcessInstance, pid))
    assert report.consistent, report
