"""Checkpoints of the audit chain (workflows/audit_checkpoints.py): one project's check walks only the
stretches between checkpoints that hold its events, so its cost does not grow with the database, and it
still finds its own events tampered with; a tamper elsewhere in the chain is found by the database's check
(the one `python -m workflows.commands.verify` runs) — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from service_support import advance, start
from sqlalchemy import func, select, update

from workflows import anchors, audit, audit_checkpoints
from workflows.db import transaction
from workflows.models import AuditCheckpoint, AuditEvent
from workflows.services import audit_service

EVERY = 6  # a checkpoint every 6 events, so a few projects span several stretches


@pytest.fixture
def chain(database):
    """A project with some history, then others after it; checkpoints sealed every EVERY events."""
    anchors.configure(None, None)
    first = start(project_name="甲项目", investor="甲公司")
    advance(first, "screening", confirmed_class="重大")
    others = [start(project_name=f"其他项目{i}", investor=f"其他公司{i}") for i in range(6)]
    _seal()
    yield first, others
    anchors.configure(None, None)


def _seal() -> int:
    with transaction() as s:
        return audit_checkpoints.seal(s, every=EVERY)


def _verify(instance_id: int | None = None):
    with transaction() as s:
        return audit_service.verify_database(s, instance_id)


def _events(instance_id: int) -> list[int]:
    with transaction() as s:
        return list(
            s.scalars(
                select(AuditEvent.id).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
            )
        )


def _total() -> int:
    with transaction() as s:
        return s.scalar(select(func.count(AuditEvent.id)))


def _rehash_from(event_id: int, up_to: int) -> None:
    """A forger's rewrite: recompute every hash and link from `event_id` to `up_to`."""
    with transaction() as s:
        prev = (
            s.scalar(
                select(AuditEvent.hash)
                .where(AuditEvent.id < event_id)
                .order_by(AuditEvent.id.desc())
                .limit(1)
            )
            or audit.GENESIS
        )
        for event in s.scalars(
            select(AuditEvent)
            .where(AuditEvent.id >= event_id, AuditEvent.id <= up_to)
            .order_by(AuditEvent.id)
        ).all():
            event.prev_hash = prev
            event.hash = prev = audit._digest(event.algorithm, audit._payload(event))


def test_a_project_check_walks_its_stretches_only_whatever_the_size_of_the_database(chain):
    first, _ = chain
    total = _total()
    with transaction() as s:
        assert s.scalar(select(func.count(AuditCheckpoint.id))) == total // EVERY
    report = _verify(first)
    assert report.ok and report.scope == "project"
    walked = report.events_checked
    assert walked < _total()
    for i in range(10):  # the database grows; the project does not
        start(project_name=f"后来的项目{i}", investor=f"后来的公司{i}")
    _seal()
    again = _verify(first)
    assert again.ok and again.events_checked == walked
    assert _verify().events_checked == _total()  # the database's check walks everything


def test_an_edited_event_of_the_project_is_found_by_its_check(chain):
    first, _ = chain
    target = _events(first)[2]
    with transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(actor="someone_else"))
    assert (_verify(first).first.event_id, _verify(first).first.kind) == (target, "altered")


def test_an_event_edited_and_rehashed_to_the_next_checkpoint_is_found_against_it(chain):
    first, _ = chain
    target = _events(first)[1]
    with transaction() as s:
        sealed = s.scalar(
            select(func.min(AuditCheckpoint.event_id)).where(AuditCheckpoint.event_id >= target)
        )
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(outcome="伪造"))
    _rehash_from(target, sealed)
    found = _verify(first).first
    assert (found.event_id, found.kind) == (sealed, "rewritten")
    assert not _verify().ok


def test_a_checkpoint_rewritten_with_the_stretch_is_found_by_its_signature(chain, tmp_path):
    first, _ = chain
    anchors.configure(tmp_path / "cp.jsonl", "k")
    with transaction() as s:  # re-seal with signatures (a key configured before sealing)
        s.query(AuditCheckpoint).delete()
    _seal()
    assert _verify(first).ok and _verify().ok
    target = _events(first)[1]
    with transaction() as s:
        sealed = s.scalar(select(func.min(AuditCheckpoint.event_id)).where(AuditCheckpoint.event_id > target))
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(outcome="伪造"))
    _rehash_from(target, _total() + 100)  # to the head: the chain itself holds again
    with transaction() as s:  # and every checkpoint after it made to match
        for point in s.scalars(select(AuditCheckpoint).where(AuditCheckpoint.event_id >= sealed)):
            point.event_hash = s.scalar(select(AuditEvent.hash).where(AuditEvent.id == point.event_id))
    found = _verify(first).first
    assert (found.event_id, found.kind) == (sealed, "forged")
    assert _verify().first.kind in ("forged", "rewritten")


def test_a_tamper_in_another_part_of_the_chain_is_left_to_the_database_check(chain):
    first, others = chain
    far = _events(others[-1])[-1]
    assert far not in _events(first)
    with transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == far).values(actor="someone_else"))
    assert _verify(first).ok  # not in the project's stretches
    found = _verify().first
    assert (found.event_id, found.kind) == (far, "altered")


def test_sealing_stops_at_a_break_and_the_database_check_compares_every_checkpoint(chain):
    with transaction() as s:
        before = s.scalar(select(func.count(AuditCheckpoint.id)))
        last = s.scalar(select(func.max(AuditCheckpoint.event_id)))
    broken = last + 1
    for i in range(3):
        start(project_name=f"新项目{i}", investor=f"新公司{i}")
    with transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == broken).values(actor="someone_else"))
    assert _seal() == 0  # nothing past the break is sealed
    with transaction() as s:
        assert s.scalar(select(func.count(AuditCheckpoint.id))) == before
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.id == broken)
            .values(actor=s.scalar(select(AuditEvent.actor).where(AuditEvent.id == broken - 1)))
        )
    with transaction() as s:  # a checkpoint row edited behind the application
        s.execute(update(AuditCheckpoint).where(AuditCheckpoint.event_id == last).values(event_hash="0" * 64))
    assert any(f.kind == "rewritten" and f.event_id == last for f in _verify().findings)


def test_after_the_key_changes_the_checkpoints_are_signed_again_only_if_the_chain_holds(chain, tmp_path):
    first, others = chain
    anchors.configure(tmp_path / "cp.jsonl", "old key")
    with transaction() as s:
        s.query(AuditCheckpoint).delete()
    _seal()
    anchors.configure(tmp_path / "cp.jsonl", "new key")
    assert _verify(first).first.kind == "forged"  # signed with the old key
    total = _total()
    with transaction() as s:
        assert audit_checkpoints.resign(s) == total // EVERY
    assert _verify(first).ok and _verify().ok
    target = _events(others[0])[0]
    with transaction() as s:  # a broken chain is never signed again
        s.execute(update(AuditEvent).where(AuditEvent.id == target).values(actor="x"))
    anchors.configure(tmp_path / "cp.jsonl", "third key")
    with transaction() as s:
        assert audit_checkpoints.resign(s) is None
