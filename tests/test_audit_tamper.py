"""Tamper evidence: whoever edits the database behind the application is found out, and
the verification names the first broken event — on SQLite and PostgreSQL.

Each test plays a DBA with full write access: it edits, deletes, reorders or inserts audit rows,
rewrites the chain's tail consistently, or edits a stored workflow state, then runs the check an
auditor runs (the same one as `python -m workflows.commands.verify` and the auditor's page).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from service_support import advance, start
from sqlalchemy import delete, func, insert, select, text, update

from workflows import anchors, audit
from workflows.db import transaction
from workflows.demo import FULL_PATH
from workflows.models import AuditEvent, Filing, ProcessInstance
from workflows.services import audit_service

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def history(database):
    """Two projects with some history; checkpoints off unless a test turns them on."""
    anchors.configure(None, None)
    first = start()
    advance(first, "screening", confirmed_class="重大")
    advance(first, "negotiation")
    second = start(project_name="第二个项目", investor="乙公司", amount_wan="3000")
    advance(second, "screening", confirmed_class="一般")
    yield first, second
    anchors.configure(None, None)


def _verify(instance_id: int | None = None):
    with transaction() as s:
        return audit_service.verify_database(s, instance_id)


def _ids() -> list[int]:
    with transaction() as s:
        return list(s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def _rehash(s, event_id: int) -> None:
    """What a forger who knows the algorithm does: recompute the edited event's own hash."""
    event = s.get(AuditEvent, event_id)
    s.refresh(event)
    event.hash = audit._digest(event.algorithm, audit._payload(event))


def _completion(instance_id: int, spec: str) -> int:
    with transaction() as s:
        return s.scalar(
            select(AuditEvent.id).where(
                AuditEvent.instance_id == instance_id,
                AuditEvent.action == "task_completed",
                AuditEvent.task_spec == spec,
            )
        )


def test_an_untouched_record_verifies(history):
    report = _verify()
    assert report.ok, report.findings
    assert report.events_checked == len(_ids()) and report.instances_checked == 2


def test_an_edited_event_is_named(history):
    first, _ = history
    target = _completion(first, "screening")
    with transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(outcome="不予通过"))
    report = _verify()
    assert (report.first.event_id, report.first.kind) == (target, "altered")
    assert report.first.instance_id == first


def test_an_event_edited_and_rehashed_is_named(history):
    first, _ = history
    target = _completion(first, "screening")
    with transaction() as s:
        event = s.get(AuditEvent, target)
        event.data = {**event.data, "screening_opinion": "改写后的意见"}
        s.flush()
        _rehash(s, target)
    report = _verify()
    assert (report.first.event_id, report.first.kind) == (target, "rehashed")


def test_a_deleted_event_is_found_at_the_gap(history):
    first, _ = history
    target = _completion(first, "negotiation")
    with transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id == target))
    report = _verify()
    assert report.first.kind == "deleted"
    assert report.first.event_id == min(i for i in _ids() if i > target)
    assert f"#{target}" in report.first.detail


def test_reordered_events_are_named(history):
    ids = _ids()
    a, b = ids[10], ids[11]
    with transaction() as s:  # swap two rows' positions in the chain
        s.execute(update(AuditEvent).where(AuditEvent.id == a).values(id=-1))
        s.execute(update(AuditEvent).where(AuditEvent.id == b).values(id=a))
        s.execute(update(AuditEvent).where(AuditEvent.id == -1).values(id=b))
    report = _verify()
    assert (report.first.event_id, report.first.kind) == (a, "reordered")


def test_an_inserted_event_is_named(history):
    first, _ = history
    ids = _ids()
    k = ids[12]
    with transaction() as s:
        # Make room after event k (ids shifted up by one), then slip in a well-formed forged event.
        s.execute(update(AuditEvent).where(AuditEvent.id > k).values(id=AuditEvent.id + 1_000_000))
        s.execute(update(AuditEvent).where(AuditEvent.id > 1_000_000).values(id=AuditEvent.id - 999_999))
        previous = s.get(AuditEvent, k)
        forged = AuditEvent(
            id=k + 1,
            instance_id=first,
            at=previous.at,
            actor="zhuren",
            role="head_of_office",
            action="task_completed",
            task_spec="approve_terms",
            data={"terms_decision": "同意"},
            algorithm="SM3",
            prev_hash=previous.hash,
        )
        forged.hash = audit._digest("SM3", audit._payload(forged))
        s.execute(
            insert(AuditEvent).values(
                id=forged.id,
                instance_id=forged.instance_id,
                at=forged.at,
                actor=forged.actor,
                role=forged.role,
                action=forged.action,
                task_spec=forged.task_spec,
                data=forged.data,
                algorithm=forged.algorithm,
                prev_hash=forged.prev_hash,
                hash=forged.hash,
            )
        )
    with transaction() as s:  # PostgreSQL: keep the id sequence ahead of the moved rows
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT setval('audit_event_id_seq', (SELECT max(id) FROM audit_event))"))
    report = _verify()
    assert (report.first.event_id, report.first.kind) == (k + 1, "inserted")


def _checkpoints_on(tmp_path) -> Path:
    path = tmp_path / "checkpoints" / "audit.jsonl"
    anchors.configure(path, "a key the database never sees")
    return path


def test_a_truncated_tail_is_found_against_the_signed_checkpoint(history, tmp_path):
    _checkpoints_on(tmp_path)
    assert audit_service.checkpoint() == _ids()[-1]
    assert _verify().ok
    cut = _ids()[-4]
    with transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id >= cut))
    with transaction() as s:
        assert audit.check_chain(s) is None  # the chain alone still looks whole
    report = _verify()
    assert (report.first.event_id, report.first.kind) == (cut, "missing")


def test_a_tail_rewritten_as_a_consistent_chain_is_found_against_the_checkpoint(history, tmp_path):
    first, _ = history
    _checkpoints_on(tmp_path)
    audit_service.checkpoint()
    cut = _completion(first, "negotiation")
    with transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id >= cut))
        # A new history written from there on: a perfectly consistent chain.
        audit.append(
            s,
            "task_completed",
            actor="shangwu",
            role="commerce_bureau",
            instance_id=first,
            task_spec="negotiation",
            data={"negotiation_decision": "放弃"},
            outcome="放弃",
        )
        audit.append(s, "project_ended", actor="shangwu", instance_id=first, outcome="end_abandoned")
    with transaction() as s:
        assert audit.check_chain(s) is None
    report = _verify()
    # SQLite reuses the freed ids (the forged event sits at `cut`); PostgreSQL's sequence does not.
    assert report.first.event_id == cut and report.first.kind in ("rewritten", "missing")


def test_a_forged_checkpoint_line_is_refused(history, tmp_path):
    path = _checkpoints_on(tmp_path)
    audit_service.checkpoint()
    line = json.loads(path.read_text(encoding="utf-8"))
    line["hashes"] = {k: "0" * 64 for k in line["hashes"]}  # without the key the signature cannot follow
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    report = _verify()
    assert [f.kind for f in report.findings] == ["forged"]


def test_the_filing_receipt_carries_the_audit_head_and_anchors_the_chain(history):
    first, _ = history
    for spec in FULL_PATH[2 : FULL_PATH.index("approve_filing") + 1]:
        advance(first, spec)
    with transaction() as s:
        filing = s.scalar(select(Filing).where(Filing.instance_id == first))
        head_id, head_hash = filing.audit_head_id, filing.audit_head_hash
        assert s.get(AuditEvent, head_id).hash == head_hash
        submitted = s.scalar(select(AuditEvent).where(AuditEvent.action == "filing_submitted"))
        assert submitted.data["audit_head_hash"] == head_hash and submitted.id > head_id
        # Cut the tail back to before the receipt's head, and build a consistent chain again.
        s.execute(delete(AuditEvent).where(AuditEvent.id >= head_id))
        audit.append(
            s,
            "task_completed",
            actor="zhuren",
            instance_id=first,
            task_spec="approve_filing",
            data={"filing_approval": "退回洽谈"},
        )
    report = _verify()
    assert report.first.event_id == head_id and report.first.kind in ("rewritten", "missing")
    assert "备案回执" in report.first.detail


def test_a_stored_state_edited_behind_the_engine_is_found(history):
    first, second = history
    with transaction() as s:
        instance = s.get(ProcessInstance, first)
        # The amount is raised in the stored state, and the instance's own hash recomputed to match.
        instance.state = instance.state.replace('"amount_wan": 25000', '"amount_wan": 2500', 1)
        instance.state_hash = hashlib.sha256(instance.state.encode("utf-8")).hexdigest()
        last_recorded = s.scalar(
            select(func.max(AuditEvent.id)).where(
                AuditEvent.instance_id == first, AuditEvent.state_hash.is_not(None)
            )
        )
    report = _verify()
    assert [(f.kind, f.instance_id, f.event_id) for f in report.findings] == [("state", first, last_recorded)]
    assert _verify(second).ok  # the other project's check still holds
    with transaction() as s:
        replayed = audit_service.replay_instance(s, s.get(ProcessInstance, first))
    assert not replayed.consistent and "存储的流程状态" in replayed.problem


def test_a_project_check_names_the_break_before_its_last_event(history):
    first, second = history
    target = _completion(first, "screening")
    with transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(actor="someone_else"))
    assert _verify(second).first.event_id == target  # the second project's events follow it in the chain
    assert _verify(first).first.event_id == target


def test_the_verify_command_exits_non_zero_and_names_the_event(sqlite_database, tmp_path):
    anchors.configure(None, None)
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_database,
        "ZS_AUDIT_HMAC_KEY": "k",
        "ZS_AUDIT_CHECKPOINT_FILE": str(tmp_path / "cp.jsonl"),
    }
    ok = subprocess.run(
        [sys.executable, "-m", "workflows.commands.verify", "--checkpoint", "--replay"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "checkpoint written" in ok.stdout and "consistent" in ok.stdout and "OK" in ok.stdout
    target = _completion(pid, "screening")
    with transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(outcome="不予通过"))
    bad = subprocess.run(
        [sys.executable, "-m", "workflows.commands.verify", "--project", str(pid)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert f"BROKEN event #{target} [altered]" in bad.stdout


def test_the_scheduler_writes_signed_checkpoints_beside_its_timer_rounds(sqlite_database, tmp_path):
    anchors.configure(None, None)
    start()
    path = tmp_path / "cp.jsonl"
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_database,
        "ZS_AUDIT_HMAC_KEY": "k",
        "ZS_AUDIT_CHECKPOINT_FILE": str(path),
    }
    run = subprocess.run(
        [sys.executable, "-m", "workflows.commands.scheduler", "--once"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    line = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    assert line["head_id"] == _ids()[-1] and len(line["hashes"]) == len(_ids()) and line["hmac"]
    anchors.configure(path, "k")
    assert _verify().anchors["checkpoints"] == 1 and _verify().ok
    anchors.configure(path, "another key")  # a line signed with another key is not ours
    assert [f.kind for f in _verify().findings] == ["forged"]
    anchors.configure(None, None)


def test_no_code_in_the_application_updates_or_deletes_audit_events():
    """Append-only: the only writes are audit.append's inserts (kept for good, 网络安全法 §21)."""
    for path in [*(ROOT / "workflows").rglob("*.py"), *(ROOT / "webapp").rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        for pattern in (
            "update(AuditEvent",
            "delete(AuditEvent",
            "audit_event SET",
            "FROM audit_event WHERE",
        ):
            assert pattern not in source, (path, pattern)
