"""Drive projects through the browser's HTTP requests, one signed-in user at a time."""

from __future__ import annotations

from workflows.demo import DEMO_ANSWERS as ANSWERS
from workflows.demo import DEMO_LEAD as LEAD
from workflows.demo import DEMO_PASSWORD as PASSWORD
from workflows.demo import DEPT_REVIEWER, DOER, FORM_OF, HOST_TASKS, HOSTS


def login(client, username: str, password: str = PASSWORD):
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, f"{username} could not sign in"
    return response


def register_lead(client, **overrides) -> int:
    login(client, "zhaoshang")
    data = {**LEAD, **overrides}
    response = client.post("/projects/new", data={k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302, response.data.decode()[:3000]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def ready_tasks(app, instance_id: int) -> list[tuple[int, str, str | None]]:
    """(task id, spec name, unit) of the ready tasks — read from the index, as an observer."""
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import TaskRecord

    with transaction() as s:
        rows = s.scalars(
            select(TaskRecord)
            .where(TaskRecord.instance_id == instance_id, TaskRecord.state == "ready")
            .order_by(TaskRecord.id)
        )
        return [(r.id, r.spec_name, r.unit_code) for r in rows]


def do_task(client, username: str, task_id: int, answers: dict, expect: int = 302):
    """Sign in, claim (if needed) and submit a task, as a person does."""
    login(client, username)
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200, page.data.decode()[:2000]
    if 'id="claim"' in page.data.decode():
        assert client.post(f"/tasks/{task_id}/claim").status_code == 302
    response = client.post(f"/tasks/{task_id}", data={k: v for k, v in answers.items() if v is not None})
    assert response.status_code == expect, response.data.decode()[:3000]
    return response


def step(app, client, instance_id: int, spec: str, **overrides) -> None:
    """Complete the one ready task `spec` of the project as its demo doer."""
    tasks = [t for t in ready_tasks(app, instance_id) if t[1] == spec]
    assert tasks, f"{spec} is not ready; ready: {ready_tasks(app, instance_id)}"
    task_id, _, unit = tasks[0]
    username = DEPT_REVIEWER[unit] if spec in ("department_review", "supplementary_review") else DOER[spec]
    if spec in HOST_TASKS:
        username = HOSTS[unit]
    do_task(client, username, task_id, {**ANSWERS[FORM_OF.get(spec, spec)], **overrides})


def steps(app, client, instance_id: int, *specs: str) -> None:
    """Complete several stages in order with the default answers."""
    for spec in specs:
        step(app, client, instance_id, spec)


def all_departments_agree(
    app, client, instance_id: int, objections: dict[str, str] | None = None
) -> list[str]:
    """Every department answers the joint review; `objections` maps unit code → decision."""
    objections = objections or {}
    units = []
    for task_id, spec, unit in ready_tasks(app, instance_id):
        if spec != "department_review":
            continue
        units.append(unit)
        answers = dict(ANSWERS["department_review"])
        decision = objections.get(unit)
        if decision == "不同意":
            answers |= {"review_decision": "不同意", "review_reasons": "用地不符合国土空间规划。"}
        elif decision == "有条件同意":
            answers |= {"review_decision": "有条件同意", "review_conditions": "须先完成环评审批。"}
        do_task(client, DEPT_REVIEWER[unit], task_id, answers)
    return units


def project_page(client, instance_id: int, username: str = "shangwu") -> str:
    login(client, username)
    response = client.get(f"/projects/{instance_id}")
    assert response.status_code == 200
    return response.data.decode()


def status_of(app, instance_id: int) -> tuple[str, str | None]:
    from workflows.db import transaction
    from workflows.models import ProcessInstance

    with transaction() as s:
        instance = s.get(ProcessInstance, instance_id)
        return instance.status, instance.outcome
