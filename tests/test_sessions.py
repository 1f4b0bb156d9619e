"""Sessions live on the server: the cookie carries only a random token; signing out, a password reset
by an administrator and deactivation end every session of that user, so a cookie captured earlier
stops working; a session gets a new id at every sign-in and ends at an absolute limit too. On SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flow_support import login
from sqlalchemy import select, update

from workflows.db import transaction
from workflows.models import User, UserSession
from workflows.models._types import utcnow


@pytest.fixture
def app(database):
    """The app on each database (SQLite, PostgreSQL)."""
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "SERVER_NAME": "localhost",
        }
    )


def _user_id(username: str) -> int:
    with transaction() as s:
        return s.scalar(select(User.id).where(User.username == username))


def _captured(app, client):
    """Another browser holding a copy of `client`'s session cookie (as an attacker would)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value, domain="localhost")
    return other


def _signed_in(client) -> bool:
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_cookie_captured_before_signing_out_no_longer_works(app, client):
    login(client, "zhaoshang")
    stolen = _captured(app, client)
    assert _signed_in(stolen)
    client.post("/logout")
    assert not _signed_in(client)
    assert not _signed_in(stolen)
    assert "/login" in stolen.get("/").headers["Location"]


def test_a_cookie_captured_before_an_administrator_resets_the_password_no_longer_works(app, client):
    login(client, "zhaoshang")
    stolen = _captured(app, client)
    admin = app.test_client()
    login(admin, "admin")
    assert (
        admin.post(
            f"/admin/users/{_user_id('zhaoshang')}/password", data={"password": "Another@2026x"}
        ).status_code
        == 302
    )
    assert not _signed_in(stolen) and not _signed_in(client)
    assert _signed_in(admin)  # the administrator's own session is untouched
    login(client, "zhaoshang", "Another@2026x")
    assert client.get("/").headers["Location"].startswith("/me/password")  # signed in; must change it first


def test_a_cookie_captured_before_deactivation_no_longer_works_even_after_reactivation(app, client):
    login(client, "zhaoshang")
    stolen = _captured(app, client)
    admin = app.test_client()
    login(admin, "admin")
    uid = _user_id("zhaoshang")
    assert admin.post(f"/admin/users/{uid}/active", data={"active": "0"}).status_code == 302
    assert admin.post(f"/admin/users/{uid}/active", data={"active": "1"}).status_code == 302
    assert not _signed_in(stolen) and not _signed_in(client)


def test_the_cookie_carries_a_new_random_token_at_each_sign_in_not_the_user_id(app, client):
    tokens = []
    for _ in range(2):
        login(client, "zhaoshang")
        with client.session_transaction() as session:
            tokens.append(session["_user_id"])
    assert tokens[0] != tokens[1] and len(tokens[0]) >= 40
    uid = _user_id("zhaoshang")
    assert str(uid) not in tokens
    with transaction() as s:
        rows = s.scalars(select(UserSession).where(UserSession.user_id == uid)).all()
    # Only hashes are stored; the earlier session ended when the same browser signed in again.
    assert len(rows) == 2 and not {r.id for r in rows} & set(tokens)
    assert sum(r.ended_at is None for r in rows) == 1


@pytest.mark.parametrize("column", ["expires_at", "last_seen_at"])
def test_a_session_ends_at_its_absolute_limit_and_when_idle_on_the_server(app, client, column):
    login(client, "zhaoshang")
    uid = _user_id("zhaoshang")
    with transaction() as s:
        row = s.scalar(select(UserSession).where(UserSession.user_id == uid))
        assert row.expires_at - row.created_at == timedelta(hours=app.config["SESSION_MAX_HOURS"])
        past = utcnow() - timedelta(minutes=app.config["SESSION_MINUTES"] + 1)
        s.execute(update(UserSession).where(UserSession.id == row.id).values(**{column: past}))
    assert _signed_in(client) is False
