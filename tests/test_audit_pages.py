"""The auditor's pages over HTTP: step through a history, verify, replay against the model,
export; administrators deploy model versions and auditors compare them. Auditors' looks are logged."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date, timedelta

from flow_support import login, register_lead, step, steps
from sqlalchemy import select, update

from workflows.db import transaction
from workflows.demo import actor
from workflows.engine import model_store
from workflows.models import AuditEvent, ProcessInstance


def _project(app, client) -> int:
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    steps(app, client, pid, "negotiation", "approve_terms")
    return pid


def _page(client, url: str, expect: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == expect, response.data.decode()[:2000]
    return response.data.decode()


def test_the_auditor_steps_through_a_history_with_the_diagram_data_and_changes(app, client):
    pid = _project(app, client)
    login(client, "shenji")
    first = _page(client, f"/audit/projects/{pid}/replay")
    total = int(re.search(r"第 1 / (\d+) 步", first).group(1))
    assert "登记线索，流程启动" in first and 'id="step-first"' in first
    assert "<svg" in first and 'data-element="register_lead" data-state="pending"' in first

    # The screening team's completion: who, what was submitted, what changed, the diagram marked.
    with transaction() as s:
        screening_event = s.scalar(
            select(AuditEvent.id).where(
                AuditEvent.instance_id == pid,
                AuditEvent.action == "task_completed",
                AuditEvent.task_spec == "screening",
            )
        )
    page, number = None, None
    for n in range(1, total + 1):
        candidate = _page(client, f"/audit/projects/{pid}/replay?step={n}")
        if (
            'id="step-actor">研判专班 王芳' in candidate
            and "办理完成" in candidate.split('id="step-action"')[1][:200]
        ):
            page, number = candidate, n
            break
    assert page is not None and screening_event
    facts = page.split('id="form-data"')[1].split("</section>")[0]
    assert "无准入障碍，同意进入洽谈。" in facts and "重大" in facts
    changes = page.split('id="data-changes"')[1].split("</section>")[0]
    assert "初审意见" in changes or "研判" in changes
    assert 'data-element="screening" data-state="done"' in page
    assert 'data-element="negotiation" data-state="active"' in page
    assert 'data-element="contract_review" data-state="pending"' in page

    last = _page(client, f"/audit/projects/{pid}/replay?step={total + 5}")
    assert (
        f"第 {total} / {total} 步" in last and 'data-element="department_review" data-state="active"' in last
    )
    # Jump to a date: a day before the project existed shows its first step; today its last.
    assert "第 1 / " in _page(client, f"/audit/projects/{pid}/replay?date={date.today() - timedelta(days=3)}")
    assert f"第 {total} / {total} 步" in _page(
        client, f"/audit/projects/{pid}/replay?date={date.today() + timedelta(days=1)}"
    )
    with transaction() as s:
        looks = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "replay_viewed", AuditEvent.actor == "shenji")
        ).all()
    assert len(looks) >= 4 and number


def test_the_replay_button_reports_consistent_or_the_disagreeing_step(app, client):
    pid = _project(app, client)
    login(client, "shenji")
    ok = client.post(f"/audit/projects/{pid}/replay-check")
    assert ok.status_code == 200 and 'id="replay-consistent"' in ok.data.decode()
    with transaction() as s:  # the stored state is edited behind the engine's back
        instance = s.get(ProcessInstance, pid)
        s.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == pid)
            .values(
                state=instance.state.replace(
                    '"negotiation_decision": "达成一致"', '"negotiation_decision": "放弃"', 1
                )
            )
        )
    bad = client.post(f"/audit/projects/{pid}/replay-check").data.decode()
    assert 'id="replay-disagrees"' in bad and "存储的流程状态" in bad


def test_the_verify_page_names_the_first_broken_event(app, client):
    pid = _project(app, client)
    login(client, "shenji")
    assert 'id="verify-ok"' in _page(client, "/audit/verify")
    with transaction() as s:
        target = s.scalar(
            select(AuditEvent.id).where(
                AuditEvent.instance_id == pid,
                AuditEvent.action == "task_completed",
                AuditEvent.task_spec == "negotiation",
            )
        )
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(actor="zhuren"))
    for url in ("/audit/verify", f"/audit/verify?project={pid}"):
        page = _page(client, url)
        assert f'id="first-broken" data-event-id="{target}" data-kind="altered"' in page


def test_exports_a_projects_history_as_json_lines_and_events_as_csv(app, client):
    pid = _project(app, client)
    login(client, "shenji")
    response = client.get(f"/audit/projects/{pid}/history.jsonl")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    lines = [json.loads(line) for line in response.data.decode().splitlines()]
    with transaction() as s:
        ids = list(
            s.scalars(select(AuditEvent.id).where(AuditEvent.instance_id == pid).order_by(AuditEvent.id))
        )
    assert [line["id"] for line in lines] == ids[: len(lines)] and len(lines) >= len(ids) - 1
    assert {"hash", "prev_hash", "algorithm", "data", "actor"} <= set(lines[0]) and lines[0][
        "algorithm"
    ] == "SM3"
    assert any(line["action"] == "task_completed" and line["task_spec"] == "screening" for line in lines)

    today = date.today()
    text = client.get(
        f"/audit/events.csv?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    ).data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["事件号", "时间（北京时间）", "项目号", "项目名称"]
    assert any(
        r[6] == "task_completed" and r[7] == "screening" and r[3] == "年产10万吨稻虾深加工项目"
        for r in rows[1:]
    )
    empty = client.get("/audit/events.csv?from=2020-01-01&to=2020-01-31").data.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(empty)))) == 1
    with transaction() as s:
        exports = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.actor == "shenji"))]
    assert "history_exported" in exports and "events_exported" in exports


def _model_zip(threshold: str) -> bytes:
    files = model_store.read_model_files()
    files["bpmn/project_class.dmn"] = files["bpmn/project_class.dmn"].replace(
        "&gt;= 20000", f"&gt;= {threshold}"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"model-v2/{name}", text)
    return buffer.getvalue()


def test_an_administrator_deploys_a_version_and_the_auditor_compares_it(app, client):
    old = register_lead(client, amount_wan="3000", investor="甲公司")
    login(client, "admin")
    assert "校验并部署" in _page(client, "/admin/versions")
    broken = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"files": (io.BytesIO(b"<not-bpmn"), "investment_project.bpmn")},
    )
    assert broken.status_code == 422 and 'id="deploy-error"' in broken.data.decode()
    deployed = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={
            "files": (io.BytesIO(_model_zip("30000")), "model.zip"),
            "note": "重大门槛 3 亿元",
            "bind": str(actor("zhaoshang").org_id),
        },
    )
    assert deployed.status_code == 302
    again = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"files": (io.BytesIO(_model_zip("30000")), "model.zip")},
    )
    assert again.status_code == 422 and "内容相同" in again.data.decode()
    listing = _page(client, "/admin/versions")
    assert (
        "重大门槛 3 亿元" in listing and listing.count("data-version-id=") == 5
    )  # 3 processes + the 2 calling the changed class DMN

    new = register_lead(client, amount_wan="3000", investor="乙公司")
    with transaction() as s:
        old_v, new_v = (s.get(ProcessInstance, p).model_version_id for p in (old, new))
    assert new_v > old_v  # new projects start on the deployed version; the old one keeps its own

    login(client, "shenji")
    versions = _page(client, "/audit/versions")
    assert "admin" in versions and "重大门槛 3 亿元" in versions
    diff = _page(client, f"/audit/versions/diff?old={old_v}&new={new_v}")
    assert "bpmn/project_class.dmn" in diff and "&gt;= 30000" in diff.replace("&amp;", "&")
    assert "forms/" not in diff.split('id="changed-files"')[1].split("</ul>")[0]


def test_the_auditor_downloads_the_history_as_a_chinese_pdf(app, client):
    pid = _project(app, client)
    login(client, "shenji")
    page = _page(client, f"/audit/projects/{pid}/replay")
    link = re.search(r'href="([^"]+)" id="export-pdf"', page).group(1)
    response = client.get(link)
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    with transaction() as s:
        generated = s.scalar(
            select(AuditEvent).where(AuditEvent.action == "document_generated", AuditEvent.actor == "shenji")
        )
    assert generated is not None and generated.instance_id == pid
