"""Business roles are data: the system administrator adds one, a deployed model's lane names it, a
model naming an unknown role is refused with the lane named, and a task outside any lane goes to the
instance's initiator. Administrative roles stay fixed."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flow_support import do_task, login, ready_tasks, status_of

MODEL = Path(__file__).parent / "models" / "visit_request"
VISIT = {"visitor": "长沙某集团考察团", "headcount": "4", "level": "重要"}


def _files(start_lane: str, approve_lane: bool = True) -> list:
    """The visit model with its start lane renamed, and (optionally) its approval lane removed."""
    bpmn = (MODEL / "bpmn" / "visit_request.bpmn").read_text(encoding="utf-8")
    bpmn = bpmn.replace('name="commerce_bureau"', f'name="{start_lane}"')
    if not approve_lane:
        bpmn = re.sub(r'\s*<bpmn:lane id="lane_visit_head".*?</bpmn:lane>', "", bpmn, flags=re.DOTALL)
        bpmn = re.sub(
            r'\s*<bpmndi:BPMNShape id="lane_visit_head_di".*?</bpmndi:BPMNShape>', "", bpmn, flags=re.DOTALL
        )
    files = [(io.BytesIO(bpmn.encode("utf-8")), "visit_request.bpmn")]
    return files + [(io.BytesIO(p.read_bytes()), p.name) for p in sorted((MODEL / "forms").iterdir())]


def _deploy(client, files, county: int):
    return client.post(
        "/admin/versions", content_type="multipart/form-data", data={"files": files, "bind": str(county)}
    )


def test_a_model_whose_lane_names_an_unknown_role_is_refused_with_the_lane_named(app, client):
    from workflows.demo import actor

    login(client, "admin")
    refused = _deploy(client, _files("visit_host"), actor("shangwu").org_id)
    assert refused.status_code == 422
    assert "泳道“visit_host”不是已有的业务角色" in refused.data.decode()


def test_an_administrator_adds_a_role_a_lane_names_and_a_laneless_task_goes_to_the_initiator(app, client):
    from workflows.demo import actor

    login(client, "admin")
    bad = client.post(
        "/admin/roles", data={"role_code": "Visit Host", "role_name": "", "role_level": "county"}
    )
    assert bad.status_code == 422 and "角色代码须为" in bad.data.decode()
    fixed = client.post(
        "/admin/roles", data={"role_code": "admin", "role_name": "管理员", "role_level": "county"}
    )
    assert fixed.status_code == 422  # administrative roles are not business roles
    assert (
        client.post(
            "/admin/roles",
            data={"role_code": "visit_host", "role_name": "来访接待专员", "role_level": "county"},
        ).status_code
        == 302
    )
    assert 'data-role="visit_host"' in client.get("/admin/").data.decode()
    assert (
        client.post(
            "/admin/roles", data={"role_code": "visit_host", "role_name": "重复", "role_level": "county"}
        ).status_code
        == 422
    )

    shangwu = actor("shangwu")
    assert _deploy(client, _files("visit_host", approve_lane=False), shangwu.org_id).status_code == 302
    # The security administrator gives 县商务局 张强 the new role, as for any role (三权分立).
    login(client, "secadmin")
    assert (
        client.post(
            f"/security/users/{shangwu.id}/roles", data={"roles": ["commerce_bureau", "visit_host"]}
        ).status_code
        == 302
    )

    login(client, "zhuren")  # 投资办主任 lacks the new role
    assert 'data-process-id="visit_request"' not in client.get("/start/").data.decode()
    login(client, "shangwu")
    assert 'data-process-id="visit_request"' in client.get("/start/").data.decode()
    response = client.post("/start/visit_request", data=VISIT)
    assert response.status_code == 302, response.data.decode()[:2000]
    instance_id = int(re.search(r"/projects/(\d+)", response.headers["Location"]).group(1))

    # The approval task now lies outside every lane: it is the initiator's, not 投资办主任's.
    ((task_id, spec, _),) = ready_tasks(app, instance_id)
    assert spec == "visit_approve"
    login(client, "zhuren")
    assert client.get(f"/tasks/{task_id}").status_code == 403
    login(client, "shangwu")
    assert f"/tasks/{task_id}" in client.get("/").data.decode()  # in the initiator's inbox
    do_task(client, "shangwu", task_id, {"plan_decision": "同意"})
    assert status_of(app, instance_id)[0] == "completed"
