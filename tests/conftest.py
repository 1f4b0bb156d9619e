"""Fixtures: a fresh database per test (SQLite file, or a scratch PostgreSQL database), the app,
and sign-in helpers."""

from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from workflows import db

# Tests make their own projects; the demo projects are tested in test_demo.py.
os.environ.setdefault("ZS_DEMO_PROJECTS", "0")
# A cheap password hash: scrypt costs ~0.1 s a sign-in, and the suite signs in thousands of times.
os.environ.setdefault("ZS_PASSWORD_HASH", "pbkdf2:sha256:1")
# Attachments' bytes go to a file store: one scratch folder per test process, not the checkout's instance/.
os.environ.setdefault("ZS_FILE_STORE_PATH", tempfile.mkdtemp(prefix="zs-files-"))
# The app starts without demo data unless asked; the tests sign in as the demo users, also on PostgreSQL.
os.environ.setdefault("ZS_DEMO_DATA", "1")
os.environ.setdefault("ZS_ALLOW_DEMO_ON_SERVER", "1")
# Administrators sign in with a password alone in the tests, unless a test asks for two factors
# (tests/test_two_factor.py); production obliges the three administrative roles by default.
os.environ.setdefault("ZS_TOTP_ROLES", "none")

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "test-output"
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin_url() -> str:
    return PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)


def postgres_unavailable(reason: str):
    # In CI the PostgreSQL tests must run: fail loudly rather than skip.
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@contextmanager
def scratch_postgres():
    """A new, empty PostgreSQL database (dropped afterwards); yields its URL."""
    name = f"zs_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:  # noqa: BLE001 - any connection problem means "unavailable"
        postgres_unavailable(str(err).splitlines()[0])
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        db.engine().dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url():
    with scratch_postgres() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request):
    """A migrated, seeded database of each kind; the service is bound to it."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    _prepare(url)
    return url


@pytest.fixture
def sqlite_database(sqlite_url):
    _prepare(sqlite_url)
    return sqlite_url


def _prepare(url: str) -> None:
    from workflows.demo import seed_organisations

    db.init(url)
    db.upgrade()
    seed_organisations()


@pytest.fixture
def app(sqlite_url, tmp_path):
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "SERVER_NAME": "localhost",
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def clock(monkeypatch):
    """Move the engine's clock: clock(moment) makes SpiffWorkflow's timers (and the script engine's
    date helpers, which read the engine's clock) see `moment` (naive UTC). Time is moved, never slept."""
    from datetime import UTC, datetime

    import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer

    def move(moment: datetime) -> datetime:
        aware = moment.replace(tzinfo=UTC)

        class Moved(datetime):
            @classmethod
            def now(cls, tz=None):
                return aware if tz else moment

        monkeypatch.setattr(spiff_timer, "datetime", Moved)
        return moment

    return move


# Browser tests (tests/test_browser*.py): one Chromium per module, a fresh context per test.
@pytest.fixture(scope="module")
def browser():
    from browser_support import launch_chromium

    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
