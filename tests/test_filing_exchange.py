"""The filing API between two deployments on loopback: a county deployment (this process) files with
a separate prefecture deployment (a subprocess with its own database) — 《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三)."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import time
from types import SimpleNamespace

import pytest
from browser_support import served
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exchange_support import (
    COUNTY_PUBLIC,
    COUNTY_SIGNING,
    KEY,
    KEYS,
    PREFECTURE_PUBLIC,
    PREFECTURE_SIGNING,
    Prefecture,
    filed_project,
    free_port,
    ready_specs,
    signed_post,
    write_key,
)
from sqlalchemy import select

from workflows import filing_exchange
from workflows.capabilities import filing_service, outbox_service
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, advance
from workflows.demo import actor as demo_actor
from workflows.errors import Forbidden
from workflows.models import AuditEvent, Filing, FilingApiPeer, OutboxMessage, TaskRecord
from workflows.models._types import utcnow
from workflows.services import project_service, task_service
from workflows.sm2_signature import Sm2PrivateKey

PROJECT = "年产10万吨稻虾深加工项目"
TINY_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def county(tmp_path):
    """A county deployment (南县, 桃江县) configured to file with a prefecture deployment on another port:
    its own signing key, the prefecture's public key, and (in the transition) the shared keys too."""
    from webapp import create_app

    port = free_port()
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'county.sqlite3'}",
                      "WTF_CSRF_ENABLED": False, "SECRET_KEY": "county", "SERVER_NAME": None,
                      "FILING_PREFECTURE_URL": f"http://127.0.0.1:{port}", "FILING_KEYS": KEYS,
                      "FILING_SIGNING_KEY_FILE": str(write_key(COUNTY_SIGNING, tmp_path / "county-key.pem")),
                      "FILING_PREFECTURE_KEYS": PREFECTURE_PUBLIC})
    try:
        with served(app) as url:
            yield SimpleNamespace(app=app, url=url, prefecture_port=port)
    finally:
        filing_exchange.configure()  # the other tests run embedded


@pytest.fixture
def prefecture(county, tmp_path):
    peer = Prefecture(tmp_path / "prefecture", county.prefecture_port, county.url)
    yield peer
    peer.stop()


def county_filing(pid: int) -> Filing:
    with transaction() as s:
        return s.scalar(select(Filing).where(Filing.instance_id == pid))


def sign_contract(pid: int) -> None:
    """The signing form as the demo answers it, plus whatever else the current form requires."""
    from workflows.engine.model_store import ROOT as MODEL_ROOT

    schema = json.loads((MODEL_ROOT / "forms" / "signing-schema.json").read_text(encoding="utf-8"))
    extra = {}
    for name in schema.get("required", []):
        if name not in DEMO_ANSWERS["signing"]:
            spec = schema["properties"][name]
            extra[name] = (spec.get("enum") or [None])[0] or "测试"
    advance(pid, "signing", **extra)


def prefecture_rows(peer: Prefecture, sql: str) -> list[tuple]:
    with sqlite3.connect(peer.directory / "prefecture.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def test_a_filing_reaches_the_prefecture_and_its_acceptance_with_number_completes_the_county_task(county, prefecture):
    prefecture.start()
    pid = filed_project(special=True)
    assert ready_specs(pid) == ["prefecture_review"]
    # In a county deployment nobody takes the prefecture's task: its decision comes over the API.
    with transaction() as s:
        task_id = s.scalar(select(TaskRecord.id).where(TaskRecord.instance_id == pid,
                                                       TaskRecord.spec_name == "prefecture_review"))
    with pytest.raises(Forbidden):
        task_service.task_claim(demo_actor("shishangwu"), task_id)
    assert county_filing(pid).transport == "outbound"

    assert outbox_service.drain().delivered == 1
    prefecture.login()
    status, page = prefecture.request("GET", "/filings/")
    assert status == 200 and PROJECT in page and "南县" in page
    assert "益阳市人民政府：待报送" in page  # the 一事一议 second filing travelled with it
    prefecture_id = int(re.search(r'id="decide-(\d+)"', page).group(1))
    assert county_filing(pid).remote_id == prefecture_id
    assert 'id="older-schemes"' not in page  # 南县's public key is configured at the prefecture
    # Both deployments hold the shared key as well (the transition), yet each verified the Ed25519 signature.
    assert prefecture_rows(prefecture, "SELECT signer, county, scheme, key_id FROM filing_api_peer") == \
        [("county", "南县", "ed25519", filing_exchange.key_id(COUNTY_SIGNING))]
    assert prefecture_rows(prefecture, "SELECT DISTINCT scheme FROM api_request") == [("ed25519",)]
    status, pdf = prefecture.request("GET", f"/filings/{prefecture_id}/form.pdf")
    assert status == 200 and pdf.startswith("%PDF")  # the 备案表 the county sent

    status, _ = prefecture.request("POST", f"/filings/{prefecture_id}/decision",
                                   {"decision": "accepted", "opinion": "准予备案。"})
    assert status == 302
    (number,), = prefecture_rows(prefecture, f"SELECT number FROM filing WHERE id = {prefecture_id}")
    assert re.fullmatch(r"益商备〔\d{4}〕0001号", number)
    assert "filing messages delivered 1" in prefecture.scheduler_once()

    # The county's task was completed on behalf of the remote prefecture, with the prefecture's number.
    filing = county_filing(pid)
    assert (filing.state, filing.number) == ("已受理", number)
    assert ready_specs(pid) == ["signing"]
    with transaction() as s:
        peer = s.scalar(select(FilingApiPeer))
        assert (peer.signer, peer.scheme, peer.key_id) == ("prefecture", "ed25519",
                                                           filing_exchange.key_id(PREFECTURE_SIGNING))
        record = s.scalar(select(TaskRecord).where(TaskRecord.id == task_id))
        assert record.state == "completed" and record.data["prefecture_decision"] == "受理"
        assert "益阳市商务局经备案接口办理" in record.note
        event = s.scalar(select(AuditEvent).where(AuditEvent.instance_id == pid,
                                                  AuditEvent.action == "task_completed",
                                                  AuditEvent.task_spec == "prefecture_review"))
        assert event.actor == "prefecture-api" and event.data["on_behalf_of"] == "益阳市商务局"
        assert event.data["via"] == "filing API" and event.data["number"] == number
    detail = project_service.project_detail(demo_actor("shangwu"), pid)
    assert detail.filing["delivery"]["state"] == "delivered"

    # 一事一议: the county records the report to the 市人民政府; the prefecture sees it.
    filing_service.special_filing_record(demo_actor("shangwu"), pid, "已报送", "南政报〔2026〕5号")
    # The signing result follows the filing.
    sign_contract(pid)
    assert outbox_service.drain().delivered == 2
    _, page = prefecture.request("GET", "/filings/")
    assert "益阳市人民政府：已报送（南政报〔2026〕5号）" in page
    assert "NX-2026-001" in page
    assert prefecture_rows(prefecture, f"SELECT state FROM filing WHERE id = {prefecture_id}") == [("已签约",)]


def test_a_returned_filing_goes_back_with_reasons_and_the_resubmission_is_a_second_round(county, prefecture):
    prefecture.start()
    pid = filed_project()
    outbox_service.drain()
    prefecture.login()
    _, page = prefecture.request("GET", "/filings/")
    prefecture_id = int(re.search(r'id="decide-(\d+)"', page).group(1))
    status, page = prefecture.request("POST", f"/filings/{prefecture_id}/decision", {"decision": "returned"})
    assert status == 422 and "退回须填写理由" in page
    prefecture.request("POST", f"/filings/{prefecture_id}/decision", {"decision": "returned", "opinion": "缺少用地预审意见。"})
    prefecture.scheduler_once()
    filing = county_filing(pid)
    assert (filing.state, filing.return_reason) == ("已退回", "缺少用地预审意见。")
    assert ready_specs(pid) == ["revise_filing"]

    advance(pid, "revise_filing")
    advance(pid, "approve_filing")
    assert outbox_service.drain().delivered == 1
    _, page = prefecture.request("GET", "/filings/")
    assert "第2次报送" in page
    assert prefecture_rows(prefecture, "SELECT count(*), max(times_submitted), max(state) FROM filing") == \
        [(1, 2, "待受理")]


def test_a_prefecture_that_is_down_loses_nothing_and_gets_the_filing_when_it_is_back(county, prefecture):
    pid = filed_project()
    first = outbox_service.drain()
    assert (first.delivered, first.failed) == (0, 1)
    with transaction() as s:
        message, = s.scalars(select(OutboxMessage))
        assert message.state == "pending" and message.attempts == 1 and "无法连接" in message.last_error
        assert message.next_attempt_at > utcnow()  # backoff
        assert message.attachment.startswith(b"%PDF")  # made once, sent the same on every retry
    assert outbox_service.drain().failed == 0  # not due yet: nothing is hammered
    later = utcnow() + outbox_service.backoff(1) * 2
    assert outbox_service.drain(now=later).failed == 1  # still down: still kept
    detail = project_service.project_detail(demo_actor("shangwu"), pid)
    assert detail.filing["delivery"]["state"] == "pending" and detail.filing["delivery"]["attempts"] == 2

    prefecture.start()
    assert outbox_service.drain(now=utcnow() + outbox_service.backoff(2) * 2).delivered == 1
    with transaction() as s:
        message, = s.scalars(select(OutboxMessage))
        assert message.state == "delivered" and message.attempts == 3
    assert prefecture_rows(prefecture, "SELECT count(*) FROM filing") == [(1,)]
    # Delivered means done: the scheduler has nothing left to send.
    assert outbox_service.drain(now=utcnow() + outbox_service.backoff(10)).delivered == 0


@pytest.fixture(scope="module")
def api_prefecture(tmp_path_factory):
    """A prefecture deployment that knows 桃江县's public key; 南县 still signs with the shared key."""
    peer = Prefecture(tmp_path_factory.mktemp("api-prefecture"), free_port(), None,
                      county_keys=f"桃江县={COUNTY_PUBLIC}").start()
    filing_exchange.configure(keys=KEYS)  # this process only signs requests in these tests
    yield peer
    peer.stop()
    filing_exchange.configure()


def filing_payload(filing_id: int, round_: int = 1, **summary) -> dict:
    return {"filing_id": filing_id, "round": round_, "submitted_at": "2026-12-01T10:00:00+08:00",
            "summary": {"project_name": "新能源电池结构件生产基地", "investor": "湖南锂晟新能源科技有限公司",
                        "amount_wan": 12000, **summary},
            "audit_head": {"id": 42, "hash": "ab" * 32}, "special": None,
            "filing_form_pdf": base64.b64encode(TINY_PDF).decode(), "filing_form_sha256": hashlib.sha256(TINY_PDF).hexdigest()}


def test_a_replayed_request_is_accepted_once_with_the_same_answer(api_prefecture):
    status, answer, headers = signed_post(api_prefecture.url, "/filings", filing_payload(101))
    assert status == 200 and answer["ok"] and answer["round"] == 1
    # The very same request again (same nonce, same signature): the same answer, nothing new.
    again_status, again, _ = signed_post(api_prefecture.url, "/filings", filing_payload(101), headers=headers)
    assert (again_status, again) == (status, answer)
    # Sent again by the outbox (a new nonce: the acknowledgement was lost): still the same filing.
    third_status, third, _ = signed_post(api_prefecture.url, "/filings", filing_payload(101))
    assert (third_status, third) == (status, answer)
    assert prefecture_rows(api_prefecture, "SELECT count(*) FROM filing WHERE remote_id = 101") == [(1,)]
    # The same nonce with another body is not a replay but a forgery.
    forged = dict(headers)
    status, answer, _ = signed_post(api_prefecture.url, "/filings", filing_payload(102), headers=forged)
    assert status == 401


def test_unsigned_badly_signed_and_stale_requests_are_refused_with_401(api_prefecture):
    body = json.dumps(filing_payload(201)).encode()
    status, answer, _ = signed_post(api_prefecture.url, "/filings", body, headers={"Content-Type": "application/json"})
    assert status == 401 and answer["ok"] is False and "未签名" in answer["error"]
    status, answer, _ = signed_post(api_prefecture.url, "/filings", body, key="not-the-shared-key")
    assert status == 401 and "签名校验失败" in answer["error"]
    # 桃江县's key does not sign for 南县.
    status, answer, _ = signed_post(api_prefecture.url, "/filings", body, county="南县", key=KEY["桃江县"])
    assert status == 401
    stale = filing_exchange.sign("南县", KEY["南县"], "POST", "/api/v1/filings", body, timestamp=int(time.time()) - 3600)
    status, answer, _ = signed_post(api_prefecture.url, "/filings", body, headers={"Content-Type": "application/json",
                                                                                    **stale})
    assert status == 401 and "过期" in answer["error"]
    status, answer, _ = signed_post(api_prefecture.url, "/filings", body, county="长沙县", key="x" * 20)
    assert status == 401
    assert prefecture_rows(api_prefecture, "SELECT count(*) FROM filing WHERE remote_id = 201") == [(0,)]


def test_malformed_bodies_are_refused_with_400_in_chinese(api_prefecture):
    status, answer, _ = signed_post(api_prefecture.url, "/filings", b"{not json")
    assert status == 400 and "JSON" in answer["error"]
    status, answer, _ = signed_post(api_prefecture.url, "/filings", {"filing_id": "x", "round": 1})
    assert status == 400 and "filing_id" in answer["error"]
    bad_pdf = {**filing_payload(301), "filing_form_sha256": "0" * 64}
    status, answer, _ = signed_post(api_prefecture.url, "/filings", bad_pdf)
    assert status == 400 and "SHA-256" in answer["error"]
    not_pdf = {**filing_payload(302), "filing_form_pdf": base64.b64encode(b"hello").decode()}
    status, answer, _ = signed_post(api_prefecture.url, "/filings", not_pdf)
    assert status == 400 and "PDF" in answer["error"]
    status, answer, _ = signed_post(api_prefecture.url, "/filings/999/signing", {"signing": {"contract_number": "A"}})
    assert status == 404 and answer["ok"] is False
    for n, amount in enumerate((float("nan"), float("inf"))):  # Python writes NaN / Infinity: not JSON numbers
        not_a_number = json.dumps(filing_payload(303 + n, amount_wan=amount)).encode()
        status, answer, _ = signed_post(api_prefecture.url, "/filings", not_a_number)
        assert status == 400 and "JSON" in answer["error"]
    assert prefecture_rows(api_prefecture, "SELECT count(*) FROM filing WHERE remote_id IN (301, 302, 303, 304)") \
        == [(0,)]


def test_special_terms_are_also_filed_with_the_next_higher_government(app):
    """一事一议 (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十三)): a second filing target, 市/州人民政府, recorded by the county and
    shown on the project page and to the prefecture (embedded deployment)."""
    from flow_support import login

    client = app.test_client()
    plain = filed_project(project_name="农机配件智能制造项目", investor="南县农机配件有限公司")
    pid = filed_project(special=True)
    assert county_filing(plain).special_state is None
    filing = county_filing(pid)
    assert (filing.special_target, filing.special_state) == ("益阳市人民政府", "待报送")

    login(client, "shangwu")
    page = client.get(f"/projects/{pid}").data.decode()
    assert "益阳市人民政府 · <b>待报送</b>" in page and 'id="special-filing-form"' in page
    response = client.post(f"/projects/{pid}/special-filing", data={"special_state": "已报送", "special_reference": ""})
    assert response.status_code == 422 and "请填写文号" in response.data.decode()
    response = client.post(f"/projects/{pid}/special-filing",
                           data={"special_state": "已报送", "special_reference": "南政报〔2026〕5号"})
    assert response.status_code == 302
    assert client.post(f"/projects/{plain}/special-filing",
                       data={"special_state": "已报送", "special_reference": "x"}).status_code == 409
    login(client, "zhuren")  # only the commerce bureau records it
    assert client.post(f"/projects/{pid}/special-filing",
                       data={"special_state": "已备案", "special_reference": "益政备〔2026〕1号"}).status_code == 403

    login(client, "shishangwu")
    filings = client.get("/filings/").data.decode()
    assert "益阳市人民政府：已报送（南政报〔2026〕5号）" in filings
    assert "益阳市人民政府 · <b>已报送</b>（南政报〔2026〕5号）" in client.get(f"/projects/{pid}").data.decode()
    with transaction() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "special_filing_recorded"))
        assert event.actor == "shangwu" and event.data["reference"] == "南政报〔2026〕5号"


def test_the_filing_api_needs_no_csrf_token_but_a_signature(sqlite_url):
    """With CSRF protection on (as in production), a signed API request passes and an unsigned one is 401."""
    from webapp import create_app

    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": "csrf-on", "FILING_KEYS": KEYS})
    try:
        client = app.test_client()
        body = json.dumps(filing_payload(401), ensure_ascii=False).encode()
        response = client.post("/api/v1/filings", data=body, content_type="application/json",
                               headers=filing_exchange.sign("南县", KEY["南县"], "POST", "/api/v1/filings", body))
        assert response.status_code == 200 and response.get_json()["ok"]
        response = client.post("/api/v1/filings", data=body, content_type="application/json")
        assert response.status_code == 401 and response.get_json()["error"].startswith("请求未签名")
    finally:
        filing_exchange.configure()


def test_a_decision_in_the_older_words_still_completes_the_county_task_and_signing_travels_as_contract(county):
    """Wire compatibility: a prefecture deployment from before the accepted/returned vocabulary sends the
    answer word (受理); the county maps it through its form's x-outcomes. The signing report's body key is
    `contract` now."""
    pid = filed_project()
    filing = county_filing(pid)
    assert filing.transport == "outbound"
    status, answer, _ = signed_post(county.url, f"/filings/{filing.id}/decision",
                                    {"round": 1, "decision": "不存在的结论", "number": "益商备〔2026〕0009号"},
                                    private_key=PREFECTURE_SIGNING)
    assert status == 400 and "accepted" in answer["error"]
    status, answer, _ = signed_post(county.url, f"/filings/{filing.id}/decision",
                                    {"round": 1, "decision": "受理", "number": "益商备〔2026〕0009号"},
                                    private_key=PREFECTURE_SIGNING)
    assert status == 200 and answer["ok"], answer
    assert ready_specs(pid) == ["signing"]
    assert county_filing(pid).number == "益商备〔2026〕0009号"
    sign_contract(pid)
    with transaction() as s:
        message = s.scalars(select(OutboxMessage).where(OutboxMessage.filing_id == filing.id)
                            .order_by(OutboxMessage.id.desc())).first()
        assert message.path.endswith("/signing") and message.body["contract"]["contract_number"]


def test_a_signing_report_in_the_older_body_shape_is_still_received(api_prefecture):
    """A county deployment from before the `contract` key sends {"signing": {...}}: still recorded."""
    # A project of its own: the module's other filings share a name and investor, which flags a duplicate.
    payload = filing_payload(601, project_name="农产品冷链物流园", investor="湖南洞庭冷链物流有限公司")
    status, answer, _ = signed_post(api_prefecture.url, "/filings", payload)
    assert status == 200, answer
    prefecture_id = answer["prefecture_filing_id"]
    api_prefecture.login()
    status, page = api_prefecture.request("POST", f"/filings/{prefecture_id}/decision", {"decision": "accepted"})
    assert status == 302, re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]*)<', page)
    contract = {"contract_number": "NX-2026-601", "sign_date": "2026-12-03"}
    status, answer, _ = signed_post(api_prefecture.url, "/filings/601/signing", {"signing": contract})
    assert status == 200 and answer["state"] == "已签约", answer
    status, answer, _ = signed_post(api_prefecture.url, "/filings/601/signing", {"contract": {}})
    assert status == 400
    assert "NX-2026-601" in api_prefecture.request("GET", "/filings/")[1]


def test_a_county_cannot_produce_the_prefectures_decision(county):
    """The county holds its own private key and the shared key, and neither makes a decision it accepts:
    only the prefecture's key does."""
    pid = filed_project()
    filing = county_filing(pid)
    decision = {"round": 1, "decision": "accepted", "number": "益商备〔2026〕0666号"}
    path = f"/filings/{filing.id}/decision"
    status, answer, _ = signed_post(county.url, path, decision, private_key=COUNTY_SIGNING)
    assert status == 401 and "未知的公钥编号" in answer["error"]
    # Its own signature under the prefecture's key id.
    body = json.dumps(decision).encode()
    forged = filing_exchange.sign("南县", None, "POST", "/api/v1" + path, body, private_key=COUNTY_SIGNING)
    forged["X-ZS-Key-Id"] = filing_exchange.key_id(PREFECTURE_SIGNING)
    status, answer, _ = signed_post(county.url, path, body, headers={"Content-Type": "application/json", **forged})
    assert status == 401 and "签名校验失败" in answer["error"]
    # The shared key of the older scheme: the prefecture's public key is configured, so it no longer counts.
    status, answer, _ = signed_post(county.url, path, decision)
    assert status == 401 and "Ed25519" in answer["error"]
    assert ready_specs(pid) == ["prefecture_review"] and county_filing(pid).number is None
    status, answer, _ = signed_post(county.url, path, decision, private_key=PREFECTURE_SIGNING)
    assert status == 200 and ready_specs(pid) == ["signing"]


def _older_schemes(page: str) -> str:
    found = re.search(r'id="older-schemes".*?</section>', page, re.DOTALL)
    return found.group(0) if found else ""


def test_the_older_scheme_is_accepted_during_the_transition_and_its_counties_are_listed(api_prefecture):
    payload = filing_payload(701, project_name="竹木精深加工产业园", investor="湖南桃花江竹业有限公司")
    status, answer, _ = signed_post(api_prefecture.url, "/filings", payload)  # 南县: the shared key
    assert status == 200, answer
    payload = filing_payload(702, project_name="光伏组件封装项目", investor="湖南沅澧光电有限公司")
    status, answer, _ = signed_post(api_prefecture.url, "/filings", payload, county="桃江县",
                                    private_key=COUNTY_SIGNING)
    assert status == 200, answer
    # 桃江县's public key is configured: its shared key is no longer enough.
    payload = filing_payload(703, project_name="茶叶精制加工项目", investor="湖南安化黑茶有限公司")
    status, answer, _ = signed_post(api_prefecture.url, "/filings", payload, county="桃江县")
    assert status == 401 and "Ed25519" in answer["error"]
    assert prefecture_rows(api_prefecture, "SELECT scheme FROM api_request WHERE county = '桃江县'") == \
        [("ed25519",)]
    api_prefecture.login()
    listed = _older_schemes(api_prefecture.request("GET", "/filings/")[1])
    assert "南县" in listed and "桃江县" not in listed and "过渡期内仍予接受" in listed
    assert "公钥编号" not in listed
    # An older signature in other characters is a 401, not a comparison that fails with a 500.
    _, _, sent = signed_post(api_prefecture.url, "/filings", payload)
    status, answer, _ = signed_post(api_prefecture.url, "/filings", payload, headers={**sent, "X-ZS-Signature": "²" * 64})
    assert status == 401 and "签名校验失败" in answer["error"]
    # 南县 upgrades its software: it signs with Ed25519 as well, and the prefecture is told which key to add.
    payload = filing_payload(704, project_name="稻米精深加工项目", investor="湖南南洲米业有限公司")
    status, answer, _ = signed_post(api_prefecture.url, "/filings", payload, key=KEY["南县"],
                                    private_key=COUNTY_SIGNING)
    assert status == 200, answer
    listed = _older_schemes(api_prefecture.request("GET", "/filings/")[1])
    assert filing_exchange.key_id(COUNTY_SIGNING) in listed
    assert prefecture_rows(api_prefecture, "SELECT scheme, hmac_count >= 2 FROM filing_api_peer "
                                           "WHERE county = '南县'") == [("hmac", 1)]


@pytest.fixture
def strict_prefecture(sqlite_url):
    """A prefecture deployment (in this process) after the transition: 桃江县 has a public key, 南县 only
    the shared key."""
    from webapp import create_app

    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": "strict", "FILING_KEYS": KEYS,
                      "FILING_COUNTY_KEYS": f"桃江县={COUNTY_PUBLIC}", "FILING_HMAC_TRANSITION": False})
    yield app.test_client()
    filing_exchange.configure()


def _post(client, body: bytes, headers: dict):
    return client.post("/api/v1/filings", data=body, content_type="application/json", headers=headers)


def test_with_the_transition_switched_off_the_older_scheme_is_refused(strict_prefecture):
    body = json.dumps(filing_payload(801), ensure_ascii=False).encode()
    response = _post(strict_prefecture, body, filing_exchange.sign("南县", KEY["南县"], "POST", "/api/v1/filings", body))
    assert response.status_code == 401 and "已停用" in response.get_json()["error"]
    response = _post(strict_prefecture, body, filing_exchange.sign("桃江县", KEY["桃江县"], "POST",
                                                                   "/api/v1/filings", body))
    assert response.status_code == 401
    response = _post(strict_prefecture, body, filing_exchange.sign("桃江县", None, "POST", "/api/v1/filings", body,
                                                                   private_key=COUNTY_SIGNING))
    assert response.status_code == 200, response.get_json()


def test_bad_signatures_unknown_keys_and_malformed_headers_are_401_never_5xx(strict_prefecture):
    body = json.dumps(filing_payload(901), ensure_ascii=False).encode()
    good = filing_exchange.sign("桃江县", None, "POST", "/api/v1/filings", body, private_key=COUNTY_SIGNING)
    other = filing_exchange.sign("桃江县", None, "POST", "/api/v1/filings", body + b" ", private_key=COUNTY_SIGNING)
    stranger = Ed25519PrivateKey.generate()
    bad = {
        "signature of another body": {**good, "X-ZS-Signature-Ed25519": other["X-ZS-Signature-Ed25519"]},
        "signed for another county": {**good, "X-ZS-County": "%E5%8D%97%E5%8E%BF"},  # 南县
        "unknown key": filing_exchange.sign("桃江县", None, "POST", "/api/v1/filings", body, private_key=stranger),
        "unknown key id": {**good, "X-ZS-Key-Id": "0" * 16},
        "key id not hex": {**good, "X-ZS-Key-Id": "zz" * 8},
        "key id in other digits": {**good, "X-ZS-Key-Id": "١" * 16},
        "signature not base64": {**good, "X-ZS-Signature-Ed25519": "***"},
        "signature too short": {**good, "X-ZS-Signature-Ed25519": "AAAA"},
        "signature not ASCII": {**good, "X-ZS-Signature-Ed25519": "²" * 88},
        "timestamp in other digits": {**good, "X-ZS-Timestamp": "١٧٠٠٠٠٠٠٠٠"},
        "timestamp superscript": {**good, "X-ZS-Timestamp": "²"},
        "nonce not ASCII": {**good, "X-ZS-Nonce": "٣" * 16},
        "no signature": {k: v for k, v in good.items() if k != "X-ZS-Signature-Ed25519"},
        "older signature not ASCII": {**filing_exchange.sign("南县", None, "POST", "/api/v1/filings", body),
                                      "X-ZS-Signature": "²" * 64},
    }
    for case, headers in bad.items():
        response = _post(strict_prefecture, body, headers)
        assert response.status_code == 401 and response.get_json()["ok"] is False, case
    assert _post(strict_prefecture, body, good).status_code == 200



# ---- SM2 beside Ed25519; the prefecture's signature kept and checked again ------------------------------

# Fixed keys of both kinds, for a county deployment (in this process) and the prefecture it trusts.
KEYS_OF = {"ed25519": (COUNTY_SIGNING, PREFECTURE_SIGNING),
           "sm2": (Sm2PrivateKey(hashlib.sha256(b"county deployment sm2").digest()),
                   Sm2PrivateKey(hashlib.sha256(b"prefecture deployment sm2").digest()))}
# Made with OpenSSL 3 (`openssl dgst -sm3 -sign key.pem -sigopt distid:1234567812345678`): an SM2
# signature by another implementation, which ours must verify (and, changed by one bit, refuse).
OPENSSL_SM2_PUBLIC = ("041df1ee47cc9c178134fbba75b62e4a478551c76db3f1d68866ef982cf173351dfca53276c153fe255c60d0"
                      "5a5cacacd8a1dbef70c34aa552647ac534b6d3322b")
OPENSSL_SM2_SIGNATURE = ("3045022100f0b5c05582ef73ff4f1fec3c7fc7b2ec4a458f696acbec33492ee0f43815c6a6022019c86db5"
                         "56fe8b85bf95eb7fab4e0b6abbdd0ca2a9739630ceead040a5bb2fe6")


def test_sm2_signatures_interoperate_with_openssl_and_refuse_a_changed_message():
    from cryptography.exceptions import InvalidSignature

    public = filing_exchange.parse_public(base64.b64encode(bytes.fromhex(OPENSSL_SM2_PUBLIC)).decode())
    assert filing_exchange.algorithm_of(public) == filing_exchange.SM2
    public.verify(bytes.fromhex(OPENSSL_SM2_SIGNATURE), b"hello filing")
    for message, signature in ((b"hello filinG", OPENSSL_SM2_SIGNATURE),
                               (b"hello filing", OPENSSL_SM2_SIGNATURE[:-2] + "e7")):
        with pytest.raises(InvalidSignature):
            public.verify(bytes.fromhex(signature), message)
    # Ours verifies with the public key alone, and a point off the curve is no key.
    key = KEYS_OF["sm2"][0]
    key.public_key().verify(key.sign(b"x"), b"x")
    off_curve = bytes.fromhex(OPENSSL_SM2_PUBLIC[:-2] + "2c")
    with pytest.raises(filing_exchange.KeyConfigError):
        filing_exchange.parse_public(base64.b64encode(off_curve).decode())


@pytest.fixture(params=["ed25519", "sm2"])
def county_on(request, tmp_path, database):
    """A county deployment signing with the algorithm of the parameter, trusting the prefecture's public
    key of the same kind (the prefecture is not reached: decisions are posted to the county directly), on
    SQLite and on PostgreSQL."""
    from webapp import create_app

    own, prefecture_key = KEYS_OF[request.param]
    path = tmp_path / "county-key.pem"
    if request.param == "sm2":
        path.write_bytes(own.pem())
    else:
        write_key(own, path)
    app = create_app({"TESTING": True, "DATABASE_URL": database, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "c",
                      "FILING_PREFECTURE_URL": "http://127.0.0.1:9", "FILING_KEYS": KEYS,
                      "FILING_SIGNING_KEY_FILE": str(path), "FILING_SIGNATURE_ALGORITHM": request.param,
                      "FILING_PREFECTURE_KEYS": filing_exchange.public_text(prefecture_key)})
    yield SimpleNamespace(client=app.test_client(), algorithm=request.param, own=own, prefecture=prefecture_key)
    filing_exchange.configure()


def _decide(county, path: str, decision: dict, key=None, shared: str | None = None, headers: dict | None = None):
    body = json.dumps(decision, ensure_ascii=False).encode("utf-8")
    sent = headers or filing_exchange.sign("南县", shared, "POST", "/api/v1" + path, body, private_key=key)
    return county.client.post("/api/v1" + path, data=body, content_type="application/json", headers=sent)


def test_on_both_algorithms_a_county_verifies_but_never_produces_the_prefectures_decision(county_on):
    county = county_on
    assert filing_exchange.settings().algorithm == county.algorithm
    outgoing = filing_exchange.sign("南县", None, "POST", "/api/v1/filings", b"{}",
                                    private_key=filing_exchange.settings().signing_key)
    assert filing_exchange.SIGNATURE_HEADERS[county.algorithm] in outgoing  # it signs with its own algorithm
    pid = filed_project()
    filing = county_filing(pid)
    path = f"/filings/{filing.id}/decision"
    decision = {"round": 1, "decision": "accepted", "number": "益商备〔2026〕0777号", "decided_by": "张科长"}
    body = json.dumps(decision, ensure_ascii=False).encode("utf-8")
    other_kind = KEYS_OF["sm2" if county.algorithm == "ed25519" else "ed25519"][1]
    under_prefecture_id = filing_exchange.sign("南县", None, "POST", "/api/v1" + path, body, private_key=county.own)
    under_prefecture_id["X-ZS-Key-Id"] = filing_exchange.key_id(county.prefecture)
    other_algorithm = filing_exchange.sign("南县", None, "POST", "/api/v1" + path, body, private_key=other_kind)
    other_algorithm["X-ZS-Key-Id"] = filing_exchange.key_id(county.prefecture)
    refused = {
        "the county's own key": _decide(county, path, decision, key=county.own),
        "its signature under the prefecture's key id": _decide(county, path, decision, headers=under_prefecture_id),
        "the other algorithm under the prefecture's key id": _decide(county, path, decision, headers=other_algorithm),
        "the shared key": _decide(county, path, decision, shared=KEY["南县"]),
    }
    for case, response in refused.items():
        assert response.status_code == 401, (case, response.get_json())
    assert ready_specs(pid) == ["prefecture_review"] and county_filing(pid).number is None
    accepted = _decide(county, path, decision, key=county.prefecture)
    assert accepted.status_code == 200, accepted.get_json()
    assert ready_specs(pid) == ["signing"] and county_filing(pid).number == decision["number"]

    # The decision's audit event keeps the prefecture's signature; checked again, it holds …
    from workflows.capabilities import filing_exchange_service

    with transaction() as s:
        (event,) = [e for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "task_completed",
                                                                    AuditEvent.instance_id == pid))
                    if e.data.get("via") == "filing API"]
        kept = event.data["signature"]
        assert (kept["algorithm"], kept["key_id"]) == (county.algorithm, filing_exchange.key_id(county.prefecture))
        assert json.loads(kept["body"]) == decision and kept["nonce"] and kept["signature"]
        assert filing_exchange_service.recheck_decisions(s, pid) == (1, [])
        event_id, data = event.id, event.data

    # … and a stored decision changed afterwards does not (whoever also rewrote the hash chain).
    def tampered(change) -> list[str]:
        from sqlalchemy import update

        altered = json.loads(json.dumps(data))
        change(altered)
        with transaction() as s:
            s.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(data=altered))
        try:
            with transaction() as s:
                return [problem for _, problem in filing_exchange_service.recheck_decisions(s, pid)[1]]
        finally:
            with transaction() as s:
                s.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(data=data))

    def other_number_signed_too(d):
        d["number"] = "益商备〔2026〕9999号"
        d["signature"]["body"] = d["signature"]["body"].replace("0777", "9999")

    def signature_of_the_county(d):
        resigned = filing_exchange.sign("南县", None, "POST", "/api/v1" + path, body, private_key=county.own)
        d["signature"]["signature"] = resigned[filing_exchange.SIGNATURE_HEADERS[county.algorithm]]

    assert "备案号" in tampered(lambda d: d.update(number="益商备〔2026〕9999号"))[0]
    assert "签名校验失败" in tampered(other_number_signed_too)[0]
    assert "签名校验失败" in tampered(signature_of_the_county)[0]
    assert "签名校验失败" in tampered(lambda d: d["signature"].update(algorithm="hmac"))[0]
    assert "未在本部署配置" in tampered(lambda d: d["signature"].update(key_id="0" * 16))[0]
    assert tampered(lambda d: d.pop("signature"))  # none kept: nothing proves who decided
    with transaction() as s:
        assert filing_exchange_service.recheck_decisions(s, pid) == (1, [])


def test_a_decision_kept_under_the_shared_key_is_checked_with_it():
    """The transition: a county without the prefecture's public key applies an HMAC-signed decision; its
    evidence re-checks with the shared key (unchanged), and fails once changed."""
    body = json.dumps({"round": 1, "decision": "accepted", "number": "益商备〔2026〕0001号"}).encode()
    path = "/api/v1/filings/7/decision"
    filing_exchange.configure(keys=KEYS)
    try:
        signed = filing_exchange.verify(filing_exchange.sign("南县", KEY["南县"], "POST", path, body), "POST", path,
                                        body, signer=filing_exchange.PREFECTURE)
        assert signed.scheme == filing_exchange.HMAC and filing_exchange.recheck(signed.evidence) is None
        changed = {**signed.evidence, "body": signed.evidence["body"].replace("0001", "0002")}
        assert filing_exchange.recheck(changed) == "签名校验失败。"
        filing_exchange.configure()  # the shared key no longer configured: nothing to check it with
        assert "无法复核" in filing_exchange.recheck(signed.evidence)
    finally:
        filing_exchange.configure()


def test_verify_checks_the_prefectures_decisions_again(county_on, database, tmp_path, monkeypatch, capsys):
    """`zhaoshang verify` re-checks the kept signatures: a stored decision changed afterwards is BROKEN."""
    from sqlalchemy import update

    from workflows.commands import verify

    county = county_on
    pid = filed_project()
    path = f"/filings/{county_filing(pid).id}/decision"
    decision = {"round": 1, "decision": "returned", "opinion": "请补充用地预审意见。"}
    assert _decide(county, path, decision, key=county.prefecture).status_code == 200
    for name, value in {"DATABASE_URL": database, "ZS_INSTANCE_PATH": str(tmp_path),
                        "ZS_FILING_PREFECTURE_KEYS": filing_exchange.public_text(county.prefecture),
                        "ZS_FILING_SIGNING_KEY_FILE": str(tmp_path / "county-key.pem")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ZS_DATABASE_URL", raising=False)
    assert verify.main([]) == 0
    assert "1 prefecture decision(s)" in capsys.readouterr().out
    with transaction() as s:
        event = next(e for e in s.scalars(select(AuditEvent).where(AuditEvent.instance_id == pid))
                     if (e.data or {}).get("via") == "filing API")
        opinion_field = next(k for k, v in event.data.items() if v == decision["opinion"])
        s.execute(update(AuditEvent).where(AuditEvent.id == event.id)
                  .values(data={**event.data, opinion_field: "同意备案。"}))
    assert verify.main([]) == 1
    out = capsys.readouterr().out
    assert "[decision signature]" in out and "意见" in out
