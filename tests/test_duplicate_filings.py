"""Duplicate signing (严禁乱签约、重复签约, 《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三)):
the prefecture sees when a filing matches an earlier filing of any of its counties (same investor after
normalising, same or similar project) and accepts such a filing only with an explicit confirmation and a
reason, which is audited."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from exchange_support import KEY, KEYS, filed_project, ready_specs
from flow_support import login
from sqlalchemy import select

from workflows import filing_exchange
from workflows.capabilities.filing_duplicates import SIMILAR_RATIO, normalise_investor, similarity
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS
from workflows.demo import actor as demo_actor
from workflows.errors import Conflict
from workflows.models import AuditEvent, Filing, OutboxMessage, TaskRecord
from workflows.services import task_service

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def app(sqlite_url):
    """One deployment hosting the prefecture (and 南县), which also receives filings over the API."""
    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "SERVER_NAME": "localhost",
            "FILING_KEYS": KEYS,
        }
    )
    yield app
    filing_exchange.configure()


def receive(client, county: str, filing_id: int, project_name: str, investor: str) -> int:
    """A county deployment files over the API; returns the prefecture's filing id."""
    payload = {
        "filing_id": filing_id,
        "round": 1,
        "summary": {"project_name": project_name, "investor": investor},
        "filing_form_pdf": base64.b64encode(PDF).decode(),
        "filing_form_sha256": hashlib.sha256(PDF).hexdigest(),
    }
    body = json.dumps(payload, ensure_ascii=False).encode()
    response = client.post(
        "/api/v1/filings",
        data=body,
        content_type="application/json",
        headers=filing_exchange.sign(county, KEY[county], "POST", "/api/v1/filings", body),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["prefecture_filing_id"]


def filing(filing_id: int) -> Filing:
    with transaction() as s:
        return s.get(Filing, filing_id)


def test_investors_are_compared_after_normalising_and_projects_by_similarity():
    assert normalise_investor("湖南洞庭食品 有限责任公司") == normalise_investor("湖南洞庭食品有限公司")
    assert normalise_investor("（香港）嘉禾包装集团") == normalise_investor("(香港)嘉禾包装集团")
    assert normalise_investor("湖南洞庭食品有限公司") != normalise_investor("湖南洞庭水产有限公司")
    assert similarity("年产10万吨稻虾深加工项目", "年产１０万吨稻虾深加工项目") == 1.0  # full-width digits
    assert similarity("年产10万吨稻虾深加工项目", "年产10万吨稻虾精深加工项目") >= SIMILAR_RATIO
    assert similarity("稻虾深加工项目", "稻虾深加工项目（一期）") >= SIMILAR_RATIO
    assert similarity("年产10万吨稻虾深加工项目", "稻虾冷链物流园") < SIMILAR_RATIO


def test_a_filing_matching_another_countys_filing_is_flagged_and_accepting_it_needs_a_confirmed_reason(app):
    client = app.test_client()
    first = receive(client, "南县", 11, "年产10万吨稻虾深加工项目", "湖南洞庭食品有限公司")
    second = receive(client, "桃江县", 7, "年产10万吨稻虾精深加工项目", "湖南洞庭食品 有限责任公司")
    assert filing(first).duplicates is None
    (match,) = filing(second).duplicates
    assert (match["filing_id"], match["county"]) == (first, "南县")

    login(client, "shishangwu")
    page = client.get("/filings/").data.decode()
    assert f'id="duplicates-{second}"' in page and f'id="duplicates-{first}"' not in page
    row = page[page.index(f'id="duplicates-{second}"') :]
    assert "疑似重复签约" in row and "南县 · 年产10万吨稻虾深加工项目" in row

    # Accepting without the confirmation is refused, and nothing changes.
    response = client.post(f"/filings/{second}/decision", data={"decision": "accepted"})
    assert response.status_code == 422 and "受理前须勾选确认并填写理由" in response.data.decode()
    response = client.post(
        f"/filings/{second}/decision", data={"decision": "accepted", "confirm_duplicate": "1"}
    )
    assert response.status_code == 422
    assert filing(second).state == "待受理" and filing(second).number is None

    reason = "经核实，桃江县项目为该企业二期扩建，与南县项目选址、产品不同。"
    response = client.post(
        f"/filings/{second}/decision",
        data={"decision": "accepted", "confirm_duplicate": "1", "duplicate_reason": reason},
    )
    assert response.status_code == 302
    accepted = filing(second)
    assert accepted.state == "已受理" and re.fullmatch(r"益商备〔\d{4}〕0001号", accepted.number)
    assert accepted.duplicate_reason == reason
    with transaction() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "filing_duplicate_confirmed"))
        assert event.actor == "shishangwu" and event.data["reason"] == reason
        assert [m["filing_id"] for m in event.data["matches"]] == [first]
        # The decision goes back to 桃江县 through the outbox.
        message = s.scalar(select(OutboxMessage).where(OutboxMessage.filing_id == second))
        assert (
            message.kind == "decision"
            and message.county == "桃江县"
            and message.path == "/filings/7/decision"
        )
        assert message.body["number"] == accepted.number
    assert "确认理由" in client.get("/filings/").data.decode()


def test_another_project_of_the_same_investor_or_the_same_name_of_another_investor_is_not_flagged(app):
    client = app.test_client()
    receive(client, "南县", 21, "年产10万吨稻虾深加工项目", "湖南洞庭食品有限公司")
    other_project = receive(client, "桃江县", 22, "稻虾冷链物流园", "湖南洞庭食品有限公司")
    other_investor = receive(client, "桃江县", 23, "年产10万吨稻虾深加工项目", "湖南洞庭水产有限公司")
    assert filing(other_project).duplicates is None and filing(other_investor).duplicates is None
    login(client, "shishangwu")
    assert client.post(f"/filings/{other_project}/decision", data={"decision": "accepted"}).status_code == 302


def test_a_filing_duplicating_another_countys_needs_confirmation_before_its_task_accepts_it(
    app,
):
    client = app.test_client()
    earlier = receive(client, "桃江县", 31, "年产10万吨稻虾深加工项目", "湖南洞庭食品有限公司")
    pid = filed_project()  # 南县, in this deployment: decided on the prefecture_review task
    with transaction() as s:
        ours = s.scalar(select(Filing).where(Filing.instance_id == pid))
        task_id = s.scalar(
            select(TaskRecord.id).where(TaskRecord.instance_id == pid, TaskRecord.state == "ready")
        )
    assert ours.transport == "embedded" and [m["filing_id"] for m in ours.duplicates] == [earlier]

    shi = demo_actor("shishangwu")
    task_service.task_claim(shi, task_id)
    with pytest.raises(Conflict, match="疑似重复签约"):
        task_service.task_complete(shi, task_id, DEMO_ANSWERS["prefecture_review"])
    assert ready_specs(pid) == ["prefecture_review"] and filing(ours.id).number is None

    login(client, "shishangwu")
    page = client.get(f"/projects/{pid}").data.decode()
    assert 'id="filing-duplicates"' in page and "桃江县" in page
    response = client.post(f"/filings/{ours.id}/confirm-duplicate", data={"duplicate_reason": ""})
    assert response.status_code == 422
    response = client.post(
        f"/filings/{ours.id}/confirm-duplicate", data={"duplicate_reason": "桃江县项目已终止洽谈。"}
    )
    assert response.status_code == 302
    task_service.task_complete(shi, task_id, DEMO_ANSWERS["prefecture_review"])
    assert ready_specs(pid) == ["signing"] and filing(ours.id).number.endswith("0001号")
    assert "桃江县项目已终止洽谈。" in client.get(f"/projects/{pid}").data.decode()
