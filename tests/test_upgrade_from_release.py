"""Upgrading a county's database from an earlier release: the release's demo database (rows written by
that release's own code, tests/fixtures/release_data.py) is rebuilt at its schema revision, upgraded
with `zhaoshang db upgrade` as an IT office would, and must then hold the same data, verify, replay
every project, be served to its users and let a running project go on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flow_support import DOER, login, ready_tasks, step
from sqlalchemy import func, select

from workflows import db

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import release_data

RELEASE = "6cc258b"  # the release before process versions, business roles and server-side sessions
ZHAOSHANG = Path(sys.executable).with_name("zhaoshang")


def _zhaoshang(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ZS_INSTANCE_PATH", "ZS_ENV")}
    return subprocess.run(
        [str(ZHAOSHANG), *args],
        env={**env, "ZS_DATABASE_URL": url, "ZS_DEMO_DATA": "0"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _migrate_to(revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["connection_engine"] = db.engine()
    command.upgrade(cfg, revision)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def released(request):
    """(url, fixture): the release's database, upgraded to head by the command line."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    fixture = release_data.read(RELEASE)
    db.init(url)
    _migrate_to(fixture["revision"])
    release_data.load(fixture, db.engine())
    db.engine().dispose()
    upgraded = _zhaoshang(url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"{fixture['revision']} →" in upgraded.stdout
    db.init(url)
    return url, fixture


def test_every_row_of_the_release_is_still_there_after_the_upgrade(released):
    from workflows.models import AuditEvent, Filing, ProcessInstance, User

    _, fixture = released
    old = fixture["tables"]
    with db.transaction() as s:
        names = set(s.scalars(select(ProcessInstance.project_name)))
        assert names == {row["project_name"] for row in old["process_instance"]}
        assert set(s.scalars(select(User.username))) >= {row["username"] for row in old["app_user"]}
        assert s.scalar(select(func.count()).select_from(AuditEvent)) >= len(old["audit_event"])
        assert s.scalar(select(func.count()).select_from(Filing)) == len(old["filing"])
        states = {i.id: i.state_hash for i in s.scalars(select(ProcessInstance))}
    assert states == {row["id"]: row["state_hash"] for row in old["process_instance"]}


def test_the_upgraded_record_verifies_and_every_project_replays(released):
    from workflows.models import ProcessInstance
    from workflows.services.audit_service import replay_instance

    url, _ = released
    verified = _zhaoshang(url, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK" in verified.stdout
    with db.transaction() as s:
        reports = [
            replay_instance(s, i) for i in s.scalars(select(ProcessInstance).order_by(ProcessInstance.id))
        ]
    assert reports and all(r.consistent for r in reports), [(r.instance_id, r.problem) for r in reports]


def test_the_app_serves_the_upgraded_data_and_a_running_project_goes_on(released):
    from webapp import create_app
    from workflows.models import ProcessInstance, Unit, User

    url, _ = released
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "t",
            "DEMO_DATA": False,
        }
    )
    client = app.test_client()
    login(client, "zhuren")  # a release user signs in with the password hash the release stored
    listing = client.get("/projects/?per_page=100").get_data(as_text=True)
    with db.transaction() as s:
        county = s.scalar(
            select(Unit.organisation_id).join(User, User.unit_id == Unit.id).where(User.username == "zhuren")
        )
        instances = s.scalars(
            select(ProcessInstance).where(ProcessInstance.county_id == county).order_by(ProcessInstance.id)
        ).all()
    assert len(instances) >= 5
    for instance in instances:
        page = client.get(f"/projects/{instance.id}")
        assert page.status_code == 200, instance.project_name
        assert instance.project_name in page.get_data(as_text=True)
    investment = [i for i in instances if i.project_name in listing]
    assert investment, "the upgraded projects are missing from the project list"

    running = next(
        (i.id, spec)
        for i in instances
        if i.status == "running"
        for _, spec, _ in ready_tasks(app, i.id)
        if spec in DOER
    )
    pid, spec = running
    before = ready_tasks(app, pid)
    # The release's screening form asks to confirm the class the lead proposed.
    proposed = next(i.project_class for i in instances if i.id == pid)
    step(app, client, pid, spec, confirmed_class=proposed)
    assert ready_tasks(app, pid) != before
    assert _zhaoshang(url, "verify").returncode == 0
