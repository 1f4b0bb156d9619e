"""Tracking after signing (履约跟踪, ): periodic reports by the responsible unit (衡政办发〔2025〕11号 §19:
weekly for 重大, monthly for the others — bpmn/tracking_cadence.dmn), the 6-month limit from signing to
the start of construction (《郴州市关于进一步加强招商引资工作的实施意见》 §3) with its 项目推进提醒函 (《湘西
自治州优势产业精准招商行动计划（2023—2025年）》 §(十二)), the "五个一" of a major project (《湘西自治州优势产
业精准招商行动计划（2023—2025年）》 §(九)), and the end of tracking when production starts. Time is moved,
never slept.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flow_support import (
    all_departments_agree,
    do_task,
    login,
    project_page,
    ready_tasks,
    register_lead,
    status_of,
    step,
    steps,
)
from service_support import advance, instance, ready, start
from sqlalchemy import select

from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS
from workflows.localtime import CHINA
from workflows.models import Attachment, AuditEvent, Filing, Notification, TaskRecord, User
from workflows.models._types import utcnow
from workflows.services.attachment_service import stored_bytes
from workflows.services.timer_service import fire_due_timers

SIGNED_ON = date.fromisoformat(DEMO_ANSWERS["signing"]["sign_date"])


def after_signing(days: int) -> str:
    """A date `days` after the demo contract's sign date (no stage date may precede it)."""
    return (SIGNED_ON + timedelta(days=days)).isoformat()


MAJOR_PATH = (
    "negotiation",
    "approve_terms",
    "department_review",
    "review_materials",
    "pre_review",
    "review_meeting",
    "executive_meeting",
    "contract_review",
    "approve_filing",
    "prefecture_review",
    "signing",
)
GENERAL_PATH = (
    "approve_terms",
    "department_review",
    "review_materials",
    "pre_review",
    "review_meeting",
    "contract_review",
    "approve_filing",
    "prefecture_review",
    "signing",
)


def signed_major(**signing) -> int:
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    for spec in MAJOR_PATH:
        advance(pid, spec, **(signing if spec == "signing" else {}))
    return pid


def signed_general(**signing) -> int:
    pid = start(
        amount_wan="3000",
        project_name="农机配件智能制造项目",
        investor="南县农机配件有限公司",
        host_site="mcjz",
        source_channel="其他",
    )
    advance(pid, "screening", confirmed_class="一般")
    advance(pid, "negotiation", amount_wan="3000")
    for spec in GENERAL_PATH:
        advance(pid, spec, **(signing if spec == "signing" else {}))
    return pid


def specs(pid: int) -> list[str]:
    return [r.spec_name for r in ready(pid)]


def start_deadline(sign_date: str, months: int = 6) -> datetime:
    """When 《郴州市关于进一步加强招商引资工作的实施意见》 §3's limit has passed: 00:00 China time the day
    after sign date + 6 months (naive UTC)."""
    day = date.fromisoformat(sign_date)
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            limit = date(year, month, min(day.day, last))
            break
        except ValueError:
            continue
    moment = datetime.combine(limit + timedelta(days=1), time(0, 0), CHINA)
    return moment.astimezone(UTC).replace(tzinfo=None)


def notified(kind: str) -> list[str]:
    with transaction() as s:
        rows = s.scalars(select(Notification).where(Notification.kind == kind)).all()
        return sorted(s.get(User, n.user_id).username for n in rows)


def audited(pid: int, action: str) -> list[AuditEvent]:
    with transaction() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == pid, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
        )


def fire_tracking(pid: int, clock) -> datetime:
    """Move the clock just past the next tracking timer and fire it; returns that moment."""
    moment = clock(instance(pid).next_timer_at + timedelta(minutes=1))
    assert fire_due_timers(moment) == 1
    return moment


# --- after signing ------------------------------------------------------------------------------


def test_signing_reports_to_the_prefecture_and_starts_tracking(database):
    pid = signed_major()
    done = instance(pid)
    # The signature still goes to the prefecture (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十
    # 三)); the project now waits for its first report.
    assert (done.status, done.stage, done.outcome) == ("running", "履约跟踪", None)
    with transaction() as s:
        assert s.scalar(select(Filing.state).where(Filing.instance_id == pid)) == "已签约"
    assert specs(pid) == []
    # 重大: weekly (bpmn/tracking_cadence.dmn; 衡政办发〔2025〕11号 §19).
    assert abs(done.next_timer_at - (utcnow() + timedelta(days=7))) < timedelta(minutes=5)


def test_a_major_project_is_tracked_weekly_by_its_host_site(database, clock):
    pid = signed_major()
    first = fire_tracking(pid, clock)
    records = ready(pid)
    assert [(r.spec_name, r.unit_code, r.lane) for r in records] == [("track_progress", "jkq", "host_site")]
    advance(pid, "track_progress")  # 经开区 (luohu) reports: not started yet
    assert instance(pid).stage == "履约跟踪" and specs(pid) == []
    second_due = instance(pid).next_timer_at
    assert abs(second_due - (first + timedelta(days=7))) < timedelta(minutes=5)
    fire_tracking(pid, clock)
    assert specs(pid) == ["track_progress"]
    # A report that comes back by design is not a loop back (退回).
    assert audited(pid, "loop_back") == []
    with transaction() as s:
        done = s.scalars(
            select(TaskRecord).where(TaskRecord.instance_id == pid, TaskRecord.spec_name == "track_progress")
        ).all()
        assert [r.state for r in done] == ["completed", "ready"]
        assert s.get(User, done[0].completed_by_id).username == "luohu"


def test_a_general_project_is_tracked_monthly(database, clock):
    pid = signed_general()
    due = instance(pid).next_timer_at
    assert timedelta(days=28) <= due - utcnow() <= timedelta(days=31, minutes=5)
    fire_tracking(pid, clock)
    assert [(r.spec_name, r.unit_code) for r in ready(pid)] == [("track_progress", "mcjz")]
    moment = instance(pid).next_timer_at  # the report's own reminder comes first
    advance(pid, "track_progress")
    later = instance(pid).next_timer_at
    assert later > moment and timedelta(days=28) <= later - (due + timedelta(minutes=1)) <= timedelta(days=31)


def test_six_months_without_a_start_sends_the_reminder_letter_to_the_responsible_unit(database, clock):
    pid = signed_major()
    sign_date = DEMO_ANSWERS["signing"]["sign_date"]
    deadline = start_deadline(sign_date)
    # Not yet: the day the limit falls on still counts (《郴州市关于进一步加强招商引资工作的实施意见》 §3: 不
    # 超过6个月).
    clock(deadline - timedelta(minutes=1))
    fire_due_timers(deadline - timedelta(minutes=1))
    assert audited(pid, "reminder_letter_sent") == [] and notified("reminder_letter") == []
    moment = clock(deadline + timedelta(minutes=1))
    assert fire_due_timers(moment) == 1
    # Generated and audited with its hash (document_service), kept as the project's attachment.
    sent = audited(pid, "reminder_letter_sent")
    assert len(sent) == 1 and sent[0].actor == "system"
    assert sent[0].data["addressee"] == "jkq" and sent[0].data["days_overdue"] == 1
    generated = [e for e in audited(pid, "document_generated") if e.data["kind"] == "reminder-letter"]
    assert len(generated) == 1 and generated[0].data["sha256"] == sent[0].data["sha256"]
    with transaction() as s:
        letter = s.get(Attachment, sent[0].data["attachment_id"])
        assert stored_bytes(letter).startswith(b"%PDF-") and letter.uploaded_by_id is None
        assert letter.filename.startswith("项目推进提醒函-")
    # Sent to the responsible unit: the host site's people (and the major project's 主体责任部门, 科工信局).
    assert set(notified("reminder_letter")) >= {"luohu"}
    assert "luohu_nzz" not in notified("reminder_letter")
    assert {"zhaoshang2", "rev_kgxj"} <= set(notified("reminder_letter"))
    # … and it is in the host site's inbox: reply within 10 working days (the letter's own term).
    reply = [r for r in ready(pid) if r.spec_name == "reply_reminder"]
    assert [(r.unit_code, r.lane) for r in reply] == [("jkq", "host_site")]
    advance(pid, "reply_reminder")
    assert "reply_reminder" not in specs(pid)
    # Each timer fires once: no second letter.
    fire_due_timers(clock(deadline + timedelta(days=40)))
    assert len(audited(pid, "reminder_letter_sent")) == 1


def test_a_project_that_started_construction_gets_no_letter(database, clock):
    pid = signed_major()
    fire_tracking(pid, clock)
    advance(pid, "track_progress", construction_started="true", construction_start_date=after_signing(30))
    deadline = start_deadline(DEMO_ANSWERS["signing"]["sign_date"])
    fire_due_timers(clock(deadline + timedelta(minutes=1)))
    assert audited(pid, "reminder_letter_sent") == [] and len(audited(pid, "reminder_letter_skipped")) == 1
    assert notified("reminder_letter") == [] and "reply_reminder" not in specs(pid)


def test_production_ends_tracking_and_the_deadline_with_it(database, clock):
    pid = signed_major()
    fire_tracking(pid, clock)
    advance(
        pid,
        "track_progress",
        construction_started="true",
        construction_start_date=after_signing(30),
        production_started="true",
        production_start_date=after_signing(200),
        jobs_created="260",
        tax_paid_wan="800",
        funds_in_place_wan="26000",
    )
    done = instance(pid)
    assert (done.status, done.outcome, done.stage) == ("completed", "end_in_production", "已投产")
    assert done.next_timer_at is None  # the 6-month timer ended with it (terminate end event)
    assert fire_due_timers(clock(utcnow() + timedelta(days=400))) == 0
    assert audited(pid, "reminder_letter_sent") == []


# --- "五个一" and the project page (HTTP) -------------------------------------------------------


def _to_signing(app, client, pid, klass="重大"):
    step(app, client, pid, "screening", confirmed_class=klass)
    if klass == "重大":
        steps(app, client, pid, "negotiation", "approve_terms")
    else:
        step(app, client, pid, "negotiation", amount_wan="3000")
        step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid)
    steps(app, client, pid, "review_materials", "pre_review", "review_meeting")
    if klass == "重大":
        step(app, client, pid, "executive_meeting")
    steps(app, client, pid, "contract_review", "approve_filing", "prefecture_review")
    return next(t for t in ready_tasks(app, pid) if t[1] == "signing")[0]


FIVE_ONES = ("lead_leader", "responsible_department", "task_force", "advance_plan")


def test_a_major_project_records_its_five_ones_at_signing_and_shows_them(app, client):
    pid = register_lead(client)
    task_id = _to_signing(app, client, pid)
    without = {k: v for k, v in DEMO_ANSWERS["signing"].items() if k not in FIVE_ONES}
    page = do_task(client, "shangwu", task_id, without, expect=422).data.decode()
    for field in FIVE_ONES:
        assert f'data-error-for="{field}"' in page, field
    step(app, client, pid, "signing")
    assert status_of(app, pid)[0] == "running"
    login(client, "shangwu")
    page = project_page(client, pid)
    assert 'id="five-ones"' in page
    assert "李卫东" in page and "县科学技术和工业信息化局" in page
    assert DEMO_ANSWERS["signing"]["task_force"] in page and DEMO_ANSWERS["signing"]["advance_plan"] in page
    assert 'id="start-by"' in page


def test_a_general_project_signs_without_five_ones(app, client):
    pid = register_lead(client, amount_wan="3000", project_name="小型农机配件项目", investor="南县农机配件厂")
    task_id = _to_signing(app, client, pid, "一般")
    without = {k: v for k, v in DEMO_ANSWERS["signing"].items() if k not in FIVE_ONES}
    do_task(client, "shangwu", task_id, without)
    login(client, "shangwu")
    page = project_page(client, pid)
    assert 'id="tracking"' in page and 'id="five-ones"' not in page


def test_the_host_site_finds_the_letter_in_its_inbox_and_notifications(app, client, clock):
    pid = register_lead(client)
    task_id = _to_signing(app, client, pid)
    step(app, client, pid, "signing")
    fire_due_timers(clock(start_deadline(DEMO_ANSWERS["signing"]["sign_date"]) + timedelta(minutes=1)))
    login(client, "luohu")
    inbox = client.get("/").data.decode()
    assert "提醒函回复" in inbox and "年产10万吨稻虾深加工项目" in inbox
    notes = client.get("/notifications").data.decode()
    assert "项目推进提醒函" in notes and "签约已满6个月仍未开工" in notes
    page = project_page(client, pid, "luohu")
    assert 'id="tracking-letters"' in page
    with transaction() as s:
        letter_id = s.scalar(select(Attachment.id).where(Attachment.instance_id == pid))
    response = client.get(f"/attachments/{letter_id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert task_id  # the signing task the letter follows


def test_a_tracked_project_replays_consistently(database, clock, monkeypatch):
    """The audit replay re-runs the timers at their recorded moments: reports, the letter,
    rewards and the end at production come out the same."""
    from workflows.models import ProcessInstance
    from workflows.services import audit_service

    pid = signed_major()
    fire_tracking(pid, clock)
    advance(pid, "track_progress")
    fire_due_timers(clock(start_deadline(DEMO_ANSWERS["signing"]["sign_date"]) + timedelta(minutes=1)))
    advance(pid, "reply_reminder")
    advance(
        pid,
        "track_progress",
        construction_started="true",
        construction_start_date=after_signing(190),
        production_started="true",
        production_start_date=after_signing(200),
    )
    assert instance(pid).outcome == "end_in_production"
    monkeypatch.undo()  # the replay sets its own clock per step
    with transaction() as s:
        report = audit_service.replay_instance(s, s.get(ProcessInstance, pid))
    assert report.consistent, (report.step, report.problem)
