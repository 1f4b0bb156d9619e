"""The workflow service on SQLite and on PostgreSQL: flows, conflicts, atomic steps, audit chain."""

from __future__ import annotations

import threading

import pytest
from service_support import advance, complete, instance, ready, start
from sqlalchemy import select, update

from workflows import audit
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, DEMO_LEAD, actor
from workflows.errors import Conflict, Forbidden, ValidationFailed
from workflows.models import AuditEvent, Filing
from workflows.services import project_service, task_service


def test_major_project_reaches_signing_with_a_filing_number(database):
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation")
    advance(pid, "approve_terms")
    assert {r.unit_code for r in ready(pid)} == {"fgj", "sthj", "zrzyj", "swj", "kgxj"}
    advance(pid, "department_review")
    for spec in (
        "review_materials",
        "pre_review",
        "review_meeting",
        "executive_meeting",
        "contract_review",
        "approve_filing",
        "prefecture_review",
        "signing",
    ):
        advance(pid, spec)
    done = instance(pid)
    # Signed and reported; the project stays open for tracking after signing.
    assert (done.status, done.stage, done.project_class) == ("running", "履约跟踪", "重大")
    with transaction() as s:
        filing = s.scalar(select(Filing).where(Filing.instance_id == pid))
        assert filing.state == "已签约" and filing.number.endswith("0001号")
        assert filing.signing["contract_number"] == "NX-2026-001"
        assert audit.first_broken(s) is None


def test_filing_numbers_run_per_prefecture_and_year(database):
    numbers = []
    for n in range(2):
        pid = start(project_name=f"项目{n}", investor=f"公司{n}", amount_wan="3000")
        advance(pid, "screening", confirmed_class="一般")
        advance(pid, "negotiation", amount_wan="3000")
        for spec in (
            "approve_terms",
            "department_review",
            "review_materials",
            "pre_review",
            "review_meeting",
            "contract_review",
            "approve_filing",
            "prefecture_review",
        ):
            advance(pid, spec)
        with transaction() as s:
            numbers.append(s.scalar(select(Filing.number).where(Filing.instance_id == pid)))
    assert [n[-5:] for n in numbers] == ["0001号", "0002号"]


def test_new_land_water_hazard_and_forestry_add_departments(database):
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation", needs_new_land="true", water_use="true", hazardous="true", forestry="true")
    advance(pid, "approve_terms")
    assert {r.unit_code for r in ready(pid)} == {
        "fgj",
        "sthj",
        "zrzyj",
        "swj",
        "kgxj",
        "zjj",
        "slj",
        "yjglj",
        "lyj",
    }


def test_class_is_recomputed_from_the_negotiated_amount(database):
    pid = start(amount_wan="3000")
    advance(pid, "screening", confirmed_class="一般")
    advance(pid, "negotiation", amount_wan="12000")
    assert instance(pid).project_class == "重点"


def test_invalid_input_changes_nothing(database):
    pid = start()
    record = ready(pid)[0]
    task_service.task_claim(actor("yanpan"), record.id)
    before = instance(pid)
    with transaction() as s:
        events_before = s.query(AuditEvent).count()
    with pytest.raises(ValidationFailed) as failed:
        task_service.task_complete(
            actor("yanpan"), record.id, {"screening_decision": "通过", "confirmed_class": "一般"}
        )
    # The proposed class is 重大 (≥ 2 亿元): the screening team may raise it, not lower it.
    assert set(failed.value.errors) >= {"confirmed_class", "screening_opinion"}
    after = instance(pid)
    assert (after.version, after.state_hash) == (before.version, before.state_hash)
    with transaction() as s:
        assert s.query(AuditEvent).count() == events_before
    assert [r.spec_name for r in ready(pid)] == ["screening"]


def test_completing_a_task_twice_is_a_conflict(database):
    pid = start()
    record = ready(pid)[0]
    complete(record, confirmed_class="重大")
    with pytest.raises(Conflict):
        task_service.task_complete(
            actor("yanpan"),
            record.id,
            {"screening_decision": "通过", "confirmed_class": "重大", "screening_opinion": "x"},
        )


def test_a_group_task_is_claimed_by_one_reviewer_of_the_department(database):
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation")
    advance(pid, "approve_terms")
    fgj = next(r for r in ready(pid) if r.unit_code == "fgj")
    task_service.task_claim(actor("rev_fgj2"), fgj.id)
    with pytest.raises(Conflict):
        task_service.task_claim(actor("rev_fgj"), fgj.id)
    with pytest.raises(Conflict):
        task_service.task_complete(actor("rev_fgj"), fgj.id, {"review_decision": "同意"})
    with pytest.raises(Forbidden):
        task_service.task_claim(actor("rev_sthj"), fgj.id)


def test_concurrent_completions_of_one_task_let_exactly_one_through(database):
    pid = start()
    record = ready(pid)[0]
    task_service.task_claim(actor("yanpan"), record.id)
    results = []
    barrier = threading.Barrier(2)

    def attempt():
        barrier.wait()
        try:
            task_service.task_complete(
                actor("yanpan"), record.id, {**DEMO_ANSWERS["screening"], "confirmed_class": "重大"}
            )
            results.append("ok")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    assert [r.spec_name for r in ready(pid)] == ["negotiation"]
    assert instance(pid).version == 3  # start, screening


def test_parallel_department_reviews_completed_at_once_both_land(database):
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation")
    advance(pid, "approve_terms")
    records = [r for r in ready(pid) if r.unit_code in ("fgj", "sthj")]
    for r in records:
        task_service.task_claim(actor({"fgj": "rev_fgj", "sthj": "rev_sthj"}[r.unit_code]), r.id)
    barrier = threading.Barrier(2)
    errors = []

    def attempt(record):
        barrier.wait()
        try:
            task_service.task_complete(
                actor({"fgj": "rev_fgj", "sthj": "rev_sthj"}[record.unit_code]),
                record.id,
                {"review_decision": "同意", "review_opinion": "同意"},
            )
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=attempt, args=(r,)) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r.unit_code for r in ready(pid)} == {"zrzyj", "swj", "kgxj"}


def test_a_failure_inside_a_step_rolls_back_the_whole_step(database, monkeypatch):
    pid = start()
    record = ready(pid)[0]
    task_service.task_claim(actor("yanpan"), record.id)
    before = instance(pid)
    from workflows.services import instance_step

    def boom(*args, **kwargs):
        raise RuntimeError("crash between engine run and commit")

    monkeypatch.setattr(instance_step, "sync_task_index", boom)
    with pytest.raises(RuntimeError):
        task_service.task_complete(
            actor("yanpan"), record.id, {**DEMO_ANSWERS["screening"], "confirmed_class": "重大"}
        )
    after = instance(pid)
    assert (after.version, after.state_hash) == (before.version, before.state_hash)
    assert [r.spec_name for r in ready(pid)] == ["screening"] and ready(pid)[0].state == "ready"


def test_the_audit_chain_detects_an_edited_event(database):
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    with transaction() as s:
        assert audit.first_broken(s) is None
        target = s.scalar(select(AuditEvent).where(AuditEvent.action == "task_completed").limit(1))
        s.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(outcome="不予通过"))
    with transaction() as s:
        broken = audit.first_broken(s)
        assert broken is not None and broken.id == target.id
        assert broken.algorithm == "SM3"


def test_same_investor_from_another_unit_must_be_confirmed(database):
    from workflows.errors import DuplicateLead

    first = start()
    with pytest.raises(DuplicateLead) as warned:
        project_service.project_start(
            actor("zhaoshang2"), {**DEMO_LEAD, "investor": " 湖南洞庭食品有限公司 "}
        )
    (dupe,) = warned.value.duplicates
    assert (dupe.county, dupe.unit) == ("南县", "南县经济开发区")
    assert not hasattr(dupe, "project_name")  # who holds the lead, not its content
    # The same unit registering again is not 抢商; the other county of the prefecture is warned too.
    assert start(project_name="二期") != first
    with pytest.raises(DuplicateLead):
        project_service.project_start(actor("tj_zhaoshang"), DEMO_LEAD)
    confirmed = project_service.project_start(actor("zhaoshang2"), DEMO_LEAD, confirm_duplicate=True)
    with transaction() as s:
        event = s.scalar(
            select(AuditEvent).where(
                AuditEvent.instance_id == confirmed, AuditEvent.action == "project_started"
            )
        )
        assert event.data["duplicate_warning_confirmed"] == ["南县·南县经济开发区"] * 2


def _in_parallel(fn, count: int) -> list:
    barrier = threading.Barrier(count)
    results: list = []

    def run(n):
        barrier.wait()
        try:
            results.append(fn(n))
        except Exception as err:  # noqa: BLE001 - collected for the assertions
            results.append(err)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_parallel_wrong_passwords_all_count_towards_the_lockout(database):
    from workflows.services import user_service

    _in_parallel(lambda n: user_service.authenticate("yanpan", "wrong"), 8)
    with pytest.raises(user_service.SignInFailed, match="锁定"):
        user_service.authenticate("yanpan", "Demo@2026")


def test_parallel_writers_keep_the_audit_chain_whole(database):
    from workflows.services import user_service

    pid = start()
    _in_parallel(
        lambda n: (
            user_service.authenticate("shangwu", "Demo@2026"),
            project_service.project_detail(actor("shangwu"), pid),
        ),
        6,
    )
    with transaction() as s:
        assert audit.first_broken(s) is None


def test_two_reviewers_claiming_at_once_exactly_one_gets_it(database):
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation")
    advance(pid, "approve_terms")
    fgj = next(r for r in ready(pid) if r.unit_code == "fgj")
    names = ["rev_fgj", "rev_fgj2"]
    results = _in_parallel(lambda n: task_service.task_claim(actor(names[n]), fgj.id), 2)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "NoneType"]


def test_deadlines_count_working_days_on_chinas_calendar():
    from datetime import datetime

    from workflows.deadlines import add_working_days

    # 2026-09-30 10:00 Beijing (02:00 UTC): the National Day break runs 10-01…10-07.
    assert add_working_days(datetime(2026, 9, 30, 2, 0), 1).date().isoformat() == "2026-10-08"
    # Saturday 2026-10-10 is an adjusted working day (调休) in the calendar of `holidays`.
    assert add_working_days(datetime(2026, 10, 9, 2, 0), 1).date().isoformat() == "2026-10-10"
    # Friday 2026-11-27 23:30 Beijing is 15:30 UTC the same day: one working day later is Monday.
    assert add_working_days(datetime(2026, 11, 27, 15, 30), 1).date().isoformat() == "2026-11-30"
