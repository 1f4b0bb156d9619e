"""Accounts (GB/T 22239-2019 8.1.4.1 身份鉴别; OWASP ASVS 2.1, 2.2, 3.3), from the user's side over HTTP:
修改密码 with the old password, which ends the user's other sessions; a forced change at first sign-in
and after a reset (nothing else opens until then); expiry; no reuse of the last five; sign-in
throttling per account and address with growing delays, which a forged X-Forwarded-For cannot dodge."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from flow_support import PASSWORD, login
from sqlalchemy import select, update

from workflows.db import transaction
from workflows.models import SignInThrottle, Unit, User
from workflows.models._types import utcnow
from workflows.services import user_service

NEW = "Lm-Xin#2026a"


def _user(username: str) -> User:
    with transaction() as s:
        user = s.scalar(select(User).where(User.username == username))
        s.expunge(user)
        return user


def _change(client, old: str, new: str, confirm: str | None = None):
    return client.post(
        "/me/password",
        data={"old_password": old, "new_password": new, "confirm": new if confirm is None else confirm},
    )


def test_a_user_changes_their_password_and_their_other_sessions_end(app, client):
    other = app.test_client()
    login(other, "zhaoshang")
    login(client, "zhaoshang")
    page = client.get("/me/password")
    assert page.status_code == 200 and "原密码" in page.data.decode()
    assert 'id="password-link"' in client.get("/").data.decode()
    for old, new, confirm, message in [
        ("Wrong@2026x", NEW, None, "原密码不正确"),
        (PASSWORD, "abcdefgh", None, "至少三类"),
        (PASSWORD, NEW, "Lm-Xin#2026b", "两次输入的新密码不一致"),
        (PASSWORD, PASSWORD, None, "最近 5 次"),
    ]:
        response = _change(client, old, new, confirm)
        assert response.status_code == 422 and message in response.data.decode(), message
    assert other.get("/").status_code == 200  # nothing changed yet
    response = _change(client, PASSWORD, NEW)
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # this session goes on
    assert other.get("/").status_code == 302  # the other one is over
    client.post("/logout")
    assert client.post("/login", data={"username": "zhaoshang", "password": PASSWORD}).status_code == 401
    login(client, "zhaoshang", NEW)
    with transaction() as s:
        from workflows.models import AuditEvent

        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "zhaoshang")))
    assert "password_changed" in actions and "password_change_refused" in actions


def test_none_of_the_last_five_passwords_comes_back(client):
    login(client, "zhaoshang")
    passwords = [PASSWORD] + [f"Lm-Xin#20{n}z" for n in range(10, 16)]
    for old, new in itertools.pairwise(passwords[:6]):
        assert _change(client, old, new).status_code == 302
    # Now at passwords[5]; passwords[1..5] are the last five.
    assert "最近 5 次" in _change(client, passwords[5], passwords[1]).data.decode()
    assert _change(client, passwords[5], passwords[6]).status_code == 302
    assert _change(client, passwords[6], passwords[1]).status_code == 302  # six back: allowed again


def test_an_account_an_administrator_made_must_choose_its_own_password_first(app, client):
    with transaction() as s:
        unit_id = s.scalar(select(Unit.id).where(Unit.code == "fgj"))
    login(client, "admin")
    assert (
        client.post(
            "/admin/users",
            data={
                "username": "new_rev",
                "display_name": "发改局 新同事",
                "password": "Fgj-Xin#2026",
                "unit_id": unit_id,
                "roles": ["dept_reviewer"],
            },
        ).status_code
        == 302
    )
    client.post("/logout")
    response = client.post("/login?next=/projects/", data={"username": "new_rev", "password": "Fgj-Xin#2026"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/me/password")
    for method, url in [
        ("GET", "/"),
        ("GET", "/projects/"),
        ("GET", "/me/stand-ins/"),
        ("POST", "/me/stand-ins/"),
    ]:
        response = client.get(url) if method == "GET" else client.post(url, data={})
        assert response.status_code == 302 and "/me/password" in response.headers["Location"], url
    page = client.get("/me/password").data.decode()
    assert 'id="password-due"' in page
    assert _change(client, "Fgj-Xin#2026", "Fgj-Xin#2026").status_code == 422  # not the one-time password
    response = client.post(
        "/me/password?next=/projects/",
        data={"old_password": "Fgj-Xin#2026", "new_password": "Fgj-Own#2026", "confirm": "Fgj-Own#2026"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/projects/"
    assert client.get("/projects/").status_code == 200


def test_after_a_reset_the_user_must_change_the_password_again(app, client):
    login(client, "admin")
    user_id = _user("zhaoshang").id
    assert (
        client.post(f"/admin/users/{user_id}/password", data={"password": "Reset#2026ab"}).status_code == 302
    )
    login(client, "zhaoshang", "Reset#2026ab")
    assert client.get("/projects/").headers["Location"].startswith("/me/password")
    assert _change(client, "Reset#2026ab", NEW).status_code == 302
    assert client.get("/projects/").status_code == 200


def test_an_expired_password_must_be_changed(app, client):
    with transaction() as s:
        s.execute(
            update(User)
            .where(User.username == "zhaoshang")
            .values(password_changed_at=utcnow() - timedelta(days=91))
        )
    login(client, "zhaoshang")
    assert client.get("/").headers["Location"].startswith("/me/password")
    assert _change(client, PASSWORD, NEW).status_code == 302
    assert client.get("/").status_code == 200


def test_expiry_is_configurable(sqlite_url):
    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "PASSWORD_MAX_DAYS": 0,
        }
    )
    try:
        with transaction() as s:
            s.execute(
                update(User)
                .where(User.username == "zhaoshang")
                .values(password_changed_at=utcnow() - timedelta(days=3650))
            )
        client = app.test_client()
        login(client, "zhaoshang")
        assert client.get("/").status_code == 200
    finally:
        from workflows import password_policy

        password_policy.configure(password_policy.DEFAULT_MAX_DAYS)


def _attempt(client, username: str, password: str, address: str, **headers):
    return client.post(
        "/login",
        data={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def test_wrong_passwords_hold_back_that_address_only(client):
    for _ in range(5):
        assert _attempt(client, "admin", "Wrong@2026x", "203.0.113.9").status_code == 401
    # The attacker's address waits, with the same answer as any failure ...
    response = _attempt(client, "admin", PASSWORD, "203.0.113.9")
    assert response.status_code == 401 and "连续输错 5 次" in response.data.decode()
    # ... but the administrator at another address signs in: nobody can lock an account out.
    assert _attempt(client, "admin", PASSWORD, "10.1.2.3").status_code == 302


def test_each_further_failure_doubles_the_wait(client):
    assert user_service.lock_delay(4) is None
    assert [user_service.lock_delay(n) for n in (5, 6, 7)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
    ]
    assert user_service.lock_delay(40) == user_service.MAX_DELAY
    for _ in range(5):
        _attempt(client, "yanpan", "Wrong@2026x", "203.0.113.9")
    waits = []
    for _ in range(2):
        with transaction() as s:  # the wait is over: move it into the past
            row = s.scalar(select(SignInThrottle))
            waits.append(row.locked_until - row.last_failure_at)
            row.locked_until = utcnow() - timedelta(seconds=1)
        assert _attempt(client, "yanpan", "Wrong@2026x", "203.0.113.9").status_code == 401
    with transaction() as s:
        row = s.scalar(select(SignInThrottle))
        waits.append(row.locked_until - row.last_failure_at)
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    with transaction() as s:
        s.scalar(select(SignInThrottle)).locked_until = utcnow() - timedelta(seconds=1)
    assert _attempt(client, "yanpan", PASSWORD, "203.0.113.9").status_code == 302
    with transaction() as s:  # a success clears the count
        assert s.scalar(select(SignInThrottle)) is None


def test_a_forged_x_forwarded_for_does_not_dodge_the_lock(client):
    for n in range(5):
        _attempt(client, "yanpan", "Wrong@2026x", "203.0.113.9", **{"X-Forwarded-For": f"198.51.100.{n}"})
    response = _attempt(client, "yanpan", PASSWORD, "203.0.113.9", **{"X-Forwarded-For": "198.51.100.77"})
    assert response.status_code == 401


@pytest.fixture
def proxied_client(sqlite_url):
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "TRUSTED_PROXIES": 1,
        }
    ).test_client()


def test_behind_a_configured_proxy_the_forwarded_address_counts(proxied_client):
    for _ in range(5):
        _attempt(proxied_client, "yanpan", "Wrong@2026x", "127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"})
    assert (
        _attempt(
            proxied_client, "yanpan", PASSWORD, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"}
        ).status_code
        == 401
    )
    assert (
        _attempt(
            proxied_client, "yanpan", PASSWORD, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.2"}
        ).status_code
        == 302
    )
    with transaction() as s:
        assert s.scalar(select(SignInThrottle.address)) == "198.51.100.1"
