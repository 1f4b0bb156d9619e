"""What a project's history and page say, read over HTTP: causes before their effects, departments by
name, recorded fields by their names (never raw keys), and labels from the project's own forms."""

from __future__ import annotations

import re

from flow_support import all_departments_agree, login, project_page, register_lead, step, steps
from sqlalchemy import select

from workflows.db import transaction
from workflows.models import Unit


def _joint_review_done(app, client) -> int:
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    steps(app, client, pid, "negotiation", "approve_terms")
    all_departments_agree(app, client, pid)
    return pid


def _history_rows(page: str) -> list[list[str]]:
    table = page.split('id="history"')[1].split("</table>")[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.DOTALL):
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.DOTALL)
        ]
        if cells:
            rows.append(cells)
    return rows


def test_the_history_logs_each_completion_before_the_tasks_it_opens(app, client):
    pid = _joint_review_done(app, client)
    rows = _history_rows(project_page(client, pid))
    actions = [(r[2], r[3]) for r in rows]
    completed_terms = actions.index(("办理完成", "洽谈条件审批"))
    first_review_offered = next(
        i for i, (a, t) in enumerate(actions) if a == "任务到达" and t.startswith("多部门联合会审")
    )
    assert completed_terms < first_review_offered
    # The lead: registered, then its form completed, then screening arrives.
    started = actions.index(("登记线索，流程启动", ""))
    lead_done = next(i for i, (a, t) in enumerate(actions) if a == "办理完成" and t == "线索登记")
    screening_offered = actions.index(("任务到达", "研判专班初审"))
    assert started < lead_done < screening_offered


def test_the_history_names_each_department_of_the_joint_review(app, client):
    pid = _joint_review_done(app, client)
    page = project_page(client, pid)
    rows = _history_rows(page)
    reviews = [r[3] for r in rows if r[3].startswith("多部门联合会审")]
    assert reviews and not any("#" in title for title in reviews)
    with transaction() as s:
        names = set(s.scalars(select(Unit.name).where(Unit.code.in_(("fgj", "zrzyj")))))
    assert all(any(name in title for title in reviews) for name in names)


def test_an_investment_project_labels_the_investor_as_its_own_form_does(app, client):
    pid = register_lead(client)
    page = project_page(client, pid)
    data = page.split('id="project-data"')[1].split("</section>")[0]
    assert "投资方" in data and "投诉人" not in data
    assert "线索登记" in data  # grouped under the stage that asked for it


def test_the_project_data_is_grouped_by_stage_in_the_order_of_the_process(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    data = project_page(client, pid).split('id="project-data"')[1].split("</section>")[0]
    headings = re.findall(r"<h3>(.*?)</h3>", data)
    assert headings.index("招商线索登记") < headings.index("研判专班初审")


def test_the_replay_page_names_what_an_event_recorded(app, client):
    pid = register_lead(client)
    login(client, "shenji")
    page = client.get(f"/audit/projects/{pid}/replay?step=1").data.decode()
    facts = page.split('id="form-data"')[1].split("</section>")[0]
    assert "流程版本" in facts and "model_version" not in facts


def test_the_open_stage_names_the_role_and_unit_that_hold_it(app, client):
    pid = register_lead(client)
    page = project_page(client, pid)
    stages = page.split('id="open-stages"')[1].split("</table>")[0]
    assert "研判专班初审" in stages and "研判专班" in stages and "待认领" in stages


def test_withdraw_is_offered_only_while_it_would_work_and_asks_first(app, client):
    from flow_support import ready_tasks

    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    page = project_page(client, pid, "yanpan")
    assert 'id="withdraw"' in page and "data-confirm=" in page.split('id="withdraw"')[1].split(">")[0]
    negotiation = next(t for t, spec, _ in ready_tasks(app, pid) if spec == "negotiation")
    login(client, "shangwu")
    assert client.post(f"/tasks/{negotiation}/claim").status_code == 302
    # The next stage has been taken up: 撤回 would be refused, so it is not offered.
    assert 'id="withdraw"' not in project_page(client, pid, "yanpan")
