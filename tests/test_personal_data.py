"""Personal data (个人信息): the contact person and phone a form marks `x-personal` are sealed with SM4
before they are stored (engine state, task records, drafts, audit events), shown in clear on the
project page and the task form, masked or left out elsewhere; keys rotate without losing old values."""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import zipfile

import pytest
from flow_support import LEAD, do_task, login, project_page, ready_tasks, register_lead
from sqlalchemy import text

from workflows import db, personal_data

PHONE, NAME = LEAD["contact_phone"], LEAD["contact_name"]


def _raw_rows() -> str:
    """Everything the database holds of instances, task records and audit events, as stored."""
    with db.engine().connect() as conn:
        rows = [*conn.execute(text("SELECT state FROM process_instance")),
                *conn.execute(text("SELECT data, draft FROM task_record")),
                *conn.execute(text("SELECT data FROM audit_event"))]
    raw = "\n".join(str(value) for row in rows for value in row)
    # JSON may have escaped the Chinese: compare with both spellings.
    return raw + "\n" + raw.encode("ascii", "backslashreplace").decode().replace("\\\\u", "\\u")


def _key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


@pytest.fixture
def ring():
    """Restore the app's key ring after a test changes it."""
    yield
    personal_data.configure([], "development")


def test_a_registered_leads_contact_is_not_stored_in_clear(app, client):
    instance_id = register_lead(client)
    raw = _raw_rows()
    assert PHONE not in raw and NAME not in raw
    assert json.dumps(NAME)[1:-1] not in raw  # not as a \\u escape either
    assert personal_data.TAG in raw
    assert LEAD["investor"] in raw or json.dumps(LEAD["investor"])[1:-1] in raw  # company names stay in clear
    # … and the commerce bureau reads it in clear on the project page.
    page = project_page(client, instance_id, "shangwu")
    assert PHONE in page and NAME in page


def test_the_phone_pattern_is_checked_on_the_clear_value(app, client):
    login(client, "zhaoshang")
    response = client.post("/projects/new", data={**LEAD, "contact_phone": "12345"})
    assert response.status_code in (200, 400, 422)
    assert "格式不正确" in response.data.decode()


def test_lists_the_ledger_export_and_the_service_api_do_not_show_the_phone(app, client):
    instance_id = register_lead(client)
    login(client, "zhuren")
    for url in ("/projects/", "/ledgers/projects", "/"):
        page = client.get(url)
        assert page.status_code == 200 and PHONE not in page.data.decode()
    export = client.get("/ledgers/projects.xlsx")
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.data)) as book:
        assert all(PHONE.encode() not in book.read(name) for name in book.namelist())
    from workflows.demo import actor
    from workflows.services import project_service

    detail = project_service.project_detail(actor("shangwu"), instance_id)
    assert detail.data["contact_phone"] == "138****8000"  # the raw data (service API) is masked
    assert ("联系电话", PHONE) in detail.fields


def test_a_form_sent_back_is_prefilled_in_clear_and_its_draft_is_sealed(app, client):
    instance_id = register_lead(client)
    screening = next(t for t, spec, _ in ready_tasks(app, instance_id) if spec == "screening")
    from flow_support import ANSWERS

    do_task(client, "yanpan", screening, {**ANSWERS["screening"], "screening_decision": "退回补充",
                                          "confirmed_class": "重大", "class_reason": "按投资额。",
                                          "screening_opinion": "请补充投资计划书。"})
    supplement = next(t for t, spec, _ in ready_tasks(app, instance_id) if spec == "supplement_lead")
    login(client, "zhaoshang")
    form = client.get(f"/tasks/{supplement}").data.decode()
    assert f'value="{PHONE}"' in form
    client.post(f"/tasks/{supplement}/claim")
    saved = client.post(f"/tasks/{supplement}", data={"action": "draft", "contact_phone": "13911112222",
                                                       "contact_name": "李四"})
    assert saved.status_code in (200, 302)
    assert "13911112222" not in _raw_rows()
    assert 'value="13911112222"' in client.get(f"/tasks/{supplement}").data.decode()


def test_a_value_under_the_old_key_still_reads_after_a_new_key_is_put_first(ring):
    old, new = f"old:{_key()}", f"new:{_key()}"
    personal_data.configure([old], "production")
    sealed = personal_data.seal(PHONE)
    assert sealed["kid"] == "old" and PHONE not in json.dumps(sealed)
    personal_data.configure([new, old], "production")
    assert personal_data.unseal(sealed) == PHONE
    assert personal_data.seal(NAME)["kid"] == "new"
    rewrapped = personal_data.rewrap(sealed)
    assert rewrapped["kid"] == "new" and rewrapped["ct"] == sealed["ct"]
    personal_data.configure([new], "production")  # the old key retired: the rewrapped value still opens
    assert personal_data.unseal(rewrapped) == PHONE
    assert personal_data.reveal(sealed) == personal_data.UNREADABLE
    with pytest.raises(personal_data.KeyMissing):
        personal_data.unseal(sealed)


def test_rekey_rewraps_task_records_and_leaves_audit_events_alone(app, client, ring):
    from workflows.services import personal_data_service

    instance_id = register_lead(client)
    personal_data.configure([f"k2:{_key()}"], "development")  # the development key stays readable
    report = personal_data_service.rekey()
    assert report["current"] == "k2" and report["rewrapped"] == 2 and report["records"] == 1
    # The completion and the engine step's record in the audit log keep the development key.
    assert report["kept"]["audit_events"] == {"dev": 4} and set(report["kept"]["engine_state"]) == {"dev"}
    assert personal_data_service.rekey()["rewrapped"] == 0
    assert PHONE in project_page(client, instance_id, "shangwu")


@pytest.fixture
def client_on(database):
    """A client of the app on SQLite and on PostgreSQL."""
    from webapp import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t"})
    yield app.test_client()
    db.engine().dispose()


def test_rekey_writes_one_audit_event_with_counts_and_key_ids_only(client_on, ring):
    client = client_on
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import AuditEvent
    from workflows.services import personal_data_service

    register_lead(client)
    personal_data.configure([f"k2:{_key()}"], "development")
    personal_data_service.rekey(dry_run=True)  # a dry run changes nothing and writes nothing

    def events():
        with transaction() as s:
            return s.scalars(select(AuditEvent).where(AuditEvent.action == "pii_rekeyed")).all()

    assert events() == []
    report = personal_data_service.rekey()
    (event,) = events()
    assert event.data == report and event.data["current"] == "k2" and event.data["rewrapped"] == 2
    assert event.data["kept"]["audit_events"] == {"dev": 4} and event.actor
    raw = json.dumps([event.data, event.outcome], ensure_ascii=False)
    assert PHONE not in raw and NAME not in raw and personal_data.TAG not in raw  # no value, sealed or clear
    assert all(key not in raw for _, key in [(k, base64.b64encode(v).decode()) for k, v in personal_data._keys()])
    login(client, "secadmin")
    log = client.get("/security/log?category=security")
    assert log.status_code == 200 and 'data-action="pii_rekeyed"' in log.data.decode()


def test_an_administrators_data_correction_of_a_personal_field_is_sealed(client_on):
    client = client_on
    instance_id = register_lead(client)
    login(client, "admin")
    page = client.get(f"/admin/instances/{instance_id}").data.decode()
    assert PHONE not in page and "138****8000" in page  # the operate page shows task data masked
    import re

    task = re.search(r'data-task="([^"]+)" data-spec="screening"', page).group(1)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    url = f"/admin/instances/{instance_id}/data"
    base = {"task": task, "key": "contact_phone", "reason": "联系人换了号码", "version": version}
    bad = client.post(url, data={**base, "value": '"12345"'})  # validated in clear, against the form's pattern
    assert bad.status_code == 422
    assert client.post(url, data={**base, "value": '"13911112222"'}).status_code == 302
    assert "13911112222" not in _raw_rows()  # not in the engine state, the task data or the audit event
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import AuditEvent

    with transaction() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "instance_data_corrected")).one()
        assert personal_data.is_sealed(event.data["new"]) and personal_data.unseal(event.data["new"]) == "13911112222"
        assert "139****2222" in event.outcome and "138****8000" in event.outcome
    page = client.get(f"/admin/instances/{instance_id}").data.decode()
    assert "139****2222" in page and "13911112222" not in page


def test_a_sealed_value_that_was_altered_does_not_open(ring):
    sealed = personal_data.seal(PHONE)
    body = bytearray(base64.b64decode(sealed["ct"]))
    body[-1] ^= 1
    with pytest.raises(personal_data.KeyMissing):
        personal_data.unseal({**sealed, "ct": base64.b64encode(bytes(body)).decode()})


def test_production_refuses_to_start_without_a_personal_data_key(ring):
    with pytest.raises(RuntimeError, match="ZS_PII_KEYS"):
        personal_data.configure([], "production")
    with pytest.raises(RuntimeError, match="ZS_PII_KEYS"):
        personal_data.configure(["bad:notbase64!"], "development")


@pytest.mark.parametrize(("value", "shown"), [("13800138000", "138****8000"), ("0737-5221234", "073****1234"),
                                              ("王建国", "王**"), ("周凯", "周*"), ("li@example.cn", "l***@example.cn")])
def test_masks(value, shown):
    assert personal_data.mask(value) == shown


def test_old_clear_values_still_read():
    assert personal_data.reveal_all({"contact_phone": PHONE}) == {"contact_phone": PHONE}
    assert personal_data.masked(PHONE) == PHONE  # only sealed values are masked


def test_a_model_whose_gateway_reads_a_personal_field_is_refused_at_deploy():
    from workflows.engine import model_store
    from workflows.engine.model_checks import personal_reads

    files = model_store.read_model_files()
    specs = model_store.parse_specs(model_store.content_hash(files), json.dumps(files))
    assert personal_reads(specs, files) == []  # the shipped models do not
    complaint = files["bpmn/investor_complaint.bpmn"]
    condition = "investor_feedback == '不满意' and complaint_round &lt; 2"
    assert condition in complaint
    files["bpmn/investor_complaint.bpmn"] = complaint.replace(condition, condition + " and contact_phone != ''")
    specs = model_store.parse_specs(model_store.content_hash(files), json.dumps(files))
    problems = personal_reads(specs, files)
    assert len(problems) == 1 and "contact_phone" in problems[0] and "个人信息" in problems[0]


def test_auditors_see_the_contact_masked_and_the_history_still_replays(app, client):
    instance_id = register_lead(client)
    login(client, "shenji")
    steps = [client.get(f"/audit/projects/{instance_id}/replay?step={n}").data.decode() for n in (1, 2, 3)]
    assert all(PHONE not in page and NAME not in page for page in steps)
    assert any("138****8000" in page for page in steps)
    checked = client.post(f"/audit/projects/{instance_id}/replay-check")
    assert checked.status_code == 200 and 'id="replay-consistent"' in checked.data.decode()
    # Paper: no document needs the contact in clear (the history lists the registration).
    login(client, "shangwu")
    document = client.get(f"/projects/{instance_id}/documents/history.pdf")
    assert document.status_code == 200
    text_of = subprocess.run(["pdftotext", "-", "-"], input=document.data, capture_output=True, check=True)
    assert "办理完成" in text_of.stdout.decode() and PHONE not in text_of.stdout.decode()
