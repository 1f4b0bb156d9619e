"""The inbox: tabs with counts, filters, search, sorting, pages, overdue marks, and 抄送."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flow_support import login, ready_tasks, register_lead, step
from sqlalchemy import select, update

from workflows import auth
from workflows.db import transaction
from workflows.demo import actor
from workflows.models import Organisation, ProcessInstance, TaskRecord, User
from workflows.models._types import utcnow
from workflows.services import inbox_service
from workflows.services.inbox_service import PER_PAGE, InboxQuery, inbox_page


def _counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def _rows(html: str) -> list[str]:
    return re.findall(r'data-task-id="\d+">\s*<td><a [^>]*>([^<]+)</a>', html)


def test_tabs_show_counts_for_todo_done_started_and_copied(app, client):
    first = register_lead(client, project_name="甲项目", investor="甲公司")
    register_lead(client, project_name="乙项目", investor="乙公司")
    login(client, "zhaoshang")
    # Registering a lead is a step done, too.
    assert _counts(client.get("/").data.decode()) == {"todo": 0, "done": 2, "started": 2, "copied": 0}
    started = client.get("/?tab=started").data.decode()
    assert "甲项目" in started and "乙项目" in started
    login(client, "yanpan")
    assert _counts(client.get("/").data.decode())["todo"] == 2
    step(app, client, first, "screening", confirmed_class="重大")
    login(client, "yanpan")
    html = client.get("/").data.decode()
    assert _counts(html) == {"todo": 1, "done": 1, "started": 0, "copied": 0}
    assert "甲项目" in client.get("/?tab=done").data.decode()


def test_search_filters_and_overdue(app, client):
    a = register_lead(client, project_name="稻虾加工项目", investor="洞庭食品")
    register_lead(client, project_name="电池配件项目", investor="锂晟科技", amount_wan="3000")
    login(client, "yanpan")
    assert _rows(client.get("/?q=锂晟").data.decode()) == ["电池配件项目"]
    assert _rows(client.get("/?q=稻虾").data.decode()) == ["稻虾加工项目"]
    assert _rows(client.get("/?class=一般").data.decode()) == ["电池配件项目"]
    assert _rows(client.get("/?overdue=1").data.decode()) == []
    with transaction() as s:
        s.execute(
            update(TaskRecord)
            .where(TaskRecord.instance_id == a, TaskRecord.state == "ready")
            .values(due_at=utcnow() - timedelta(days=1))
        )
    html = client.get("/?overdue=1").data.decode()
    assert _rows(html) == ["稻虾加工项目"] and "已超期" in html


def test_department_and_stage_filters_in_the_done_tab(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    login(client, "yanpan")
    html = client.get("/?tab=done&stage=研判专班初审").data.decode()
    assert len(_rows(html)) == 1
    assert _rows(client.get("/?tab=done&stage=项目洽谈").data.decode()) == []


def test_sorting_by_due_date_or_waiting_time(app, client):
    older = register_lead(client, project_name="先登记项目", investor="先公司")
    register_lead(client, project_name="后登记项目", investor="后公司")
    with transaction() as s:
        # The earlier task got a later deadline (e.g. a longer allowance).
        s.execute(
            update(TaskRecord)
            .where(TaskRecord.instance_id == older, TaskRecord.state == "ready")
            .values(due_at=utcnow() + timedelta(days=30), created_at=utcnow() - timedelta(days=2))
        )
    login(client, "yanpan")
    assert _rows(client.get("/?sort=due").data.decode()) == ["后登记项目", "先登记项目"]
    assert _rows(client.get("/?sort=waiting").data.decode()) == ["先登记项目", "后登记项目"]


def test_pages_of_twenty(app, client):
    for n in range(PER_PAGE + 3):
        register_lead(client, project_name=f"项目{n:02d}", investor=f"公司{n:02d}")
    login(client, "yanpan")
    first = client.get("/").data.decode()
    assert len(_rows(first)) == PER_PAGE and 'id="next-page"' in first
    second = client.get("/?page=2").data.decode()
    assert len(_rows(second)) == 3 and 'id="prev-page"' in second
    assert not set(_rows(first)) & set(_rows(second))


@pytest.mark.parametrize("many", [False, True])
def test_the_sql_offer_rule_agrees_with_the_permission_check(app, client, monkeypatch, many):
    """The inbox query and workflows.auth.task_eligible must offer exactly the same tasks — both forms of
    the query: by the ids of its branches (few open tasks) and as one OR (many)."""
    if many:
        monkeypatch.setattr(inbox_service, "MANY", -1)
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms")
    register_lead(client, project_name="另一项目", investor="另一公司")
    with transaction() as s:
        rows = s.execute(
            select(TaskRecord, ProcessInstance, Organisation)
            .join(ProcessInstance, TaskRecord.instance_id == ProcessInstance.id)
            .join(Organisation, ProcessInstance.county_id == Organisation.id)
            .where(TaskRecord.state == "ready")
        ).all()
        usernames = s.scalars(select(User.username)).all()
    for username in usernames:
        who = actor(username)
        expected = {r.id for r, i, c in rows if auth.task_eligible(who, r, i, c)}
        listed = {t.id for t in inbox_page(who, InboxQuery()).tasks}
        assert listed == expected, username


def test_copy_a_project_to_a_colleague_who_can_then_read_it(app, client):
    pid = register_lead(client)
    login(client, "fazhi")
    assert client.get(f"/projects/{pid}").status_code == 403
    login(client, "zhaoshang")
    with transaction() as s:
        fazhi = s.scalar(select(User.id).where(User.username == "fazhi"))
    refused = client.post(f"/projects/{pid}/copy", data={"note": "请关注"})
    assert refused.status_code == 422 and 'data-error-for="to_user_ids"' in refused.data.decode()
    assert (
        client.post(
            f"/projects/{pid}/copy", data={"to_user_ids": [fazhi], "note": "请提前关注合同条款"}
        ).status_code
        == 302
    )
    login(client, "fazhi")
    inbox = client.get("/").data.decode()
    assert _counts(inbox)["copied"] == 1 and "未读" in inbox
    assert "年产10万吨稻虾深加工项目" in client.get("/?tab=copied").data.decode()
    page = client.get(f"/projects/{pid}").data.decode()
    assert "请提前关注合同条款" in page
    assert "未读" not in client.get("/").data.decode()
    history = client.get(f"/projects/{pid}").data.decode()
    assert re.search(r"<td>抄送</td>", history)


def test_an_auditor_cannot_copy_and_another_county_cannot_receive(app, client):
    pid = register_lead(client)
    with transaction() as s:
        other = s.scalar(select(User.id).where(User.username == "tj_shangwu"))
        yanpan = s.scalar(select(User.id).where(User.username == "yanpan"))
    login(client, "shenji")
    assert client.post(f"/projects/{pid}/copy", data={"to_user_ids": [yanpan]}).status_code == 403
    login(client, "zhaoshang")
    response = client.post(f"/projects/{pid}/copy", data={"to_user_ids": [other]})
    assert response.status_code == 422
    assert ready_tasks(app, pid)
