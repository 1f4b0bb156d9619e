"""Any process an administrator deploys can be started by whoever holds its start lane: a third-party
model (tests/models/visit_request: two user tasks with JSON-Schema forms, an exclusive gateway, lanes
naming existing roles) is deployed at 流程版本, bound to one county, listed on the 发起 page with its own
name and description, started from its first form or the API, and worked through the inbox."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flow_support import do_task, login, ready_tasks, status_of

MODEL = Path(__file__).parent / "models" / "visit_request"
VISIT = {
    "visitor": "湖南锂晟新能源科技有限公司考察团",
    "headcount": "6",
    "level": "重要",
    "purpose_note": "考察经开区厂房",
}


def _deploy(client, counties: list[int]) -> None:
    login(client, "admin")
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(MODEL.glob("*/*")) if p.is_file()]
    response = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"files": files, "note": "来访接待", "bind": [str(c) for c in counties]},
    )
    assert response.status_code == 302, response.data.decode()[:3000]


def _county(username: str) -> int:
    from workflows.demo import actor

    return actor(username).org_id


def _instance_from(response) -> int:
    assert response.status_code == 302, response.data.decode()[:3000]
    return int(re.search(r"/projects/(\d+)", response.headers["Location"]).group(1))


def test_a_deployed_third_party_process_is_started_and_run_through_the_inbox(app, client):
    _deploy(client, [_county("shangwu")])

    login(client, "shangwu")  # 县商务局: holds the model's start lane
    listing = client.get("/start/").data.decode()
    assert 'data-process-id="visit_request"' in listing
    assert "客商来访接待申请" in listing and "重要客商的接待方案报投资办主任审定" in listing
    form = client.get("/start/visit_request")
    assert form.status_code == 200 and "来访人数" in form.data.decode()

    wrong = client.post("/start/visit_request", data={**VISIT, "headcount": "很多"})
    assert wrong.status_code == 422
    assert "考察经开区厂房" in wrong.data.decode()  # nothing typed is lost
    instance_id = _instance_from(client.post("/start/visit_request", data=VISIT))

    # The gateway sent the 重要 visit to 投资办主任, whose inbox offers it.
    tasks = ready_tasks(app, instance_id)
    assert [t[1] for t in tasks] == ["visit_approve"]
    login(client, "zhuren")
    assert f"/tasks/{tasks[0][0]}" in client.get("/").data.decode()
    do_task(client, "zhuren", tasks[0][0], {"plan_decision": "同意", "plan_note": "由经开区陪同"})
    assert status_of(app, instance_id)[0] == "completed"

    page = client.get(f"/projects/{instance_id}").data.decode()
    assert "湖南锂晟新能源科技有限公司考察团" in page


def test_only_holders_of_the_start_lane_in_a_bound_county_may_start_it(app, client):
    _deploy(client, [_county("shangwu")])
    login(client, "zhaoshang")  # 招商专员: the investment process is theirs, the visit is not
    listing = client.get("/start/").data.decode()
    assert 'data-process-id="visit_request"' not in listing and "招商引资项目审批" in listing
    assert client.get("/start/visit_request").status_code == 403
    login(client, "tj_shangwu")  # 桃江县 has not bound the process
    assert 'data-process-id="visit_request"' not in client.get("/start/").data.decode()
    assert client.get("/start/visit_request").status_code == 404
    assert client.get("/start/no_such_process").status_code == 404


def test_systems_list_and_start_processes_through_the_api(app, client):
    from test_service_api import bearer, make_token

    _deploy(client, [_county("shangwu")])
    headers = bearer(make_token("shangwu"))
    listed = client.get("/api/v1/processes", headers=headers).json["items"]
    visit = next(p for p in listed if p["process_id"] == "visit_request")
    assert visit["name"] == "客商来访接待申请" and visit["version"] == 1
    assert visit["schema"]["required"] == ["visitor", "headcount", "level"]

    url = "/api/v1/processes/visit_request/instances"
    bad = client.post(url, headers=headers, json={"data": {**VISIT, "headcount": 0}})
    assert bad.status_code == 422 and "headcount" in bad.json["errors"]
    assert client.post(url, headers=headers, json={"visitor": "x"}).status_code == 422
    started = client.post(url, headers=headers, json={"data": {**VISIT, "headcount": 3, "level": "一般"}})
    assert started.status_code == 201
    assert status_of(app, started.json["instance_id"])[0] == "completed"  # 一般: the gateway ends it

    assert (
        client.post("/api/v1/processes/nothing/instances", headers=headers, json={"data": {}}).status_code
        == 404
    )
    officer = bearer(make_token("zhaoshang"))
    assert client.post(url, headers=officer, json={"data": VISIT}).status_code == 403
