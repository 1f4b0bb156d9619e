"""Two factors for administrators (OWASP ASVS 2.8; GB/T 22239-2019 8.1.4.1), from the user's side over HTTP:
a role in ZS_TOTP_ROLES must enrol (QR code, confirm with a code, recovery codes shown once) before
anything else; then a sign-in needs the password and a current code, a code works once, a recovery
code works once; the security administrator resets a lost factor; other roles may enrol of their own
accord."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from flow_support import PASSWORD, login
from sqlalchemy import select

from workflows.db import transaction
from workflows.models import AuditEvent, User


@pytest.fixture
def app(sqlite_url):
    from webapp import create_app

    yield create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "TOTP_ROLES": ["admin", "security_admin", "audit_admin"],
        }
    )
    from workflows import two_factor

    two_factor.configure(["none"])


def _enrol(client) -> tuple[pyotp.TOTP, list[str]]:
    page = client.get("/me/totp").data.decode()
    assert 'id="totp-qr"' in page and 'src="data:image/svg+xml' in page
    totp = pyotp.TOTP(re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1))
    assert (
        client.post("/me/totp", data={"code": "000000" if totp.now() != "000000" else "111111"}).status_code
        == 422
    )
    done = client.post("/me/totp", data={"code": totp.now()}).data.decode()
    assert 'id="totp-enrolled"' in done
    return totp, re.findall(r"<li><code>([0-9a-f-]{14})</code></li>", done)


def _password_step(client, username: str):
    client.post("/logout")
    return client.post("/login", data={"username": username, "password": PASSWORD})


def _next_code(totp: pyotp.TOTP) -> str:
    """A code of the next 30-second step (the current one was used): the server accepts ±1 step."""
    return totp.at(time.time() + totp.interval)


def test_an_administrator_enrols_first_then_signs_in_with_password_and_code(app):
    client = app.test_client()
    login(client, "admin")
    for url in ("/", "/admin/", "/me/stand-ins/"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/me/totp", url
    assert 'id="totp-due"' in client.get("/me/totp").data.decode()
    totp, codes = _enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/admin/").status_code == 200
    assert "totp-secret" not in client.get("/me/totp").data.decode()  # the secret is not shown again

    # Signing in: the password alone signs nobody in.
    response = _password_step(client, "admin")
    assert response.headers["Location"] == "/login/totp"
    assert client.get("/admin/").status_code == 302 and "/login" in client.get("/admin/").headers["Location"]
    assert client.post("/login/totp", data={"code": "12345"}).status_code == 401
    assert client.get("/admin/").status_code == 302
    code = _next_code(totp)
    assert client.post("/login/totp", data={"code": code}).status_code == 302
    assert client.get("/admin/").status_code == 200
    # The same code does not open a second sign-in (replay).
    _password_step(client, "admin")
    assert client.post("/login/totp", data={"code": code}).status_code == 401


def test_a_recovery_code_works_once_and_wrong_codes_end_the_attempt(app):
    client = app.test_client()
    login(client, "secadmin")
    _totp, codes = _enrol(client)
    _password_step(client, "secadmin")
    assert client.post("/login/totp", data={"code": codes[0]}).status_code == 302
    assert client.get("/security/").status_code == 200
    _password_step(client, "secadmin")
    assert client.post("/login/totp", data={"code": codes[0]}).status_code == 401  # used up
    for _ in range(4):
        client.post("/login/totp", data={"code": "999999"})
    assert client.get("/login/totp").headers["Location"].endswith("/login")  # back to the password
    with transaction() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "secadmin")))
    assert (
        "recovery_code_used" in actions and actions.count("totp_failed") == 5 and "totp_enrolled" in actions
    )


def test_the_security_administrator_resets_a_lost_second_factor(app):
    client = app.test_client()
    login(client, "auditadmin")
    _enrol(client)
    officer = app.test_client()
    login(officer, "secadmin")
    _enrol(officer)
    with transaction() as s:
        user_id = s.scalar(select(User.id).where(User.username == "auditadmin"))
    page = officer.get("/security/").data.decode()
    assert "安全审计员" in page and 'id="totp-roles"' in page
    assert officer.post(f"/security/users/{user_id}/totp-reset").status_code == 302
    # The audit administrator signs in with the password and must enrol again.
    response = _password_step(client, "auditadmin")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/security/log").headers["Location"] == "/me/totp"
    # Nobody else resets factors.
    lead = app.test_client()
    login(lead, "zhaoshang")
    assert lead.post(f"/security/users/{user_id}/totp-reset").status_code == 403


def test_other_roles_are_not_obliged_but_may_enrol(app):
    client = app.test_client()
    login(client, "zhaoshang")
    assert client.get("/projects/").status_code == 200
    assert 'id="totp-due"' not in client.get("/me/totp").data.decode()
    totp, _ = _enrol(client)
    assert _password_step(client, "zhaoshang").headers["Location"] == "/login/totp"
    assert client.post("/login/totp", data={"code": _next_code(totp)}).status_code == 302
    assert client.get("/projects/").status_code == 200
