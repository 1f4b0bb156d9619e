"""Alembic migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import workflows.models  # noqa: F401 - registers the tables
from workflows import db
from workflows.db import Base


def test_migrations_match_the_models(database):
    with db.engine().connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrading_twice_is_harmless(database):
    db.upgrade()


def _alembic(action: str, revision: str) -> None:
    from pathlib import Path

    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    cfg.attributes["connection_engine"] = db.engine()
    getattr(command, action)(cfg, revision)


def test_old_versions_holding_every_process_are_split_so_running_instances_still_replay(database):
    """Before 0016 one version row held every process and both kinds of instance pinned it; after the
    upgrade each instance is pinned to a row of its own process with the same files, still replays,
    and every county is bound to what it started new instances on before."""
    from service_support import start
    from sqlalchemy import delete, func, select, update

    from workflows.capabilities import complaint_service
    from workflows.db import transaction
    from workflows.demo import actor
    from workflows.engine import model_store
    from workflows.models import ModelVersion, Organisation, ProcessBinding, ProcessInstance
    from workflows.services import audit_service, project_service

    project = start(project_name="升级前的项目", investor="甲公司")
    complaint = complaint_service.complaint_start(
        actor("shangwu"),
        {
            "investor": "甲公司",
            "contact_name": "周凯",
            "contact_phone": "13907370001",
            "channel": "投诉电话",
            "subject": "用地报批慢",
            "content": "材料已提交 40 天。",
            "related_project": "升级前的项目",
            "responsible_unit": "zrzyj",
            "routing_note": "请核实",
        },
    )
    files = model_store.read_model_files()
    with transaction() as s:  # the layout before 0016: one row with every file, pinned by both
        first = s.get(ProcessInstance, project)
        old = ModelVersion(
            process_id=first.process_id,
            number=9,
            content_hash=model_store.content_hash(files),
            files=files,
            deployed_by="system",
        )
        s.add(old)
        s.flush()
        old_id = old.id
        s.execute(update(ProcessInstance).values(model_version_id=old_id))
        s.execute(delete(ProcessBinding))
        s.execute(delete(ModelVersion).where(ModelVersion.id != old_id))
    _alembic("downgrade", "0014_user_sessions")
    _alembic("upgrade", "head")

    with transaction() as s:
        p, c = s.get(ProcessInstance, project), s.get(ProcessInstance, complaint)
        assert p.model_version_id == old_id and c.model_version_id != old_id
        copy = s.get(ModelVersion, c.model_version_id)
        assert copy.process_id == c.process_id and copy.files == files and copy.number == 1
        assert s.get(ModelVersion, old_id).number == 1
        assert (
            audit_service.replay_instance(s, p).consistent and audit_service.replay_instance(s, c).consistent
        )
        counties = s.scalar(
            select(func.count()).select_from(Organisation).where(Organisation.kind == "county")
        )
        bindings = s.scalars(select(ProcessBinding)).all()
        assert len(bindings) == 2 * counties
        assert {b.model_version_id for b in bindings} == {old_id, copy.id}
    # New instances start on the bound (pre-upgrade) versions.
    again = start(project_name="升级后的项目", investor="乙公司")
    with transaction() as s:
        assert s.get(ProcessInstance, again).model_version_id == old_id
    assert [i.id for i in project_service.project_list(actor("zhaoshang"))] == [again, project]
