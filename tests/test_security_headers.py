"""HTTP headers and cookies of the pages: a Content-Security-Policy without inline script, no framing,
no type sniffing, a same-origin referrer; the session cookie HttpOnly and SameSite=Lax, Secure in
production; production refuses to start without a real secret key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flow_support import login

TEMPLATES = Path(__file__).resolve().parents[1] / "webapp" / "templates"


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in csp.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/login", "/", "/projects/", "/no-such-page"])
def test_every_page_carries_the_security_headers(app, client, path):
    login(client, "zhaoshang")
    response = client.get(path)
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
    assert (
        "unsafe-inline" not in csp["script-src"]
        and "unsafe-eval" not in response.headers["Content-Security-Policy"]
    )
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]


def test_no_template_has_inline_script_or_event_handler_attributes():
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        offenders += [f"{template.name}: {m}" for m in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)]
        offenders += [f"{template.name}: {m}" for m in re.findall(r"<[^>]*\s(on[a-z]+\s*=)", text)]
        offenders += [
            f"{template.name}: javascript:" for _ in re.findall(r"javascript:", text, re.IGNORECASE)
        ]
    assert offenders == []


def _session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_the_session_cookie_is_httponly_and_samesite_lax(app, client):
    cookie = _session_cookie(login(client, "zhaoshang"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over http://127.0.0.1


def test_production_sends_the_session_cookie_only_over_https(sqlite_database):
    from webapp import create_app

    # In production the schema is migrated beforehand (`zhaoshang db upgrade`), as the fixture did.
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": sqlite_database,
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "localhost",
            "ENV": "production",
            "SECRET_KEY": "k" * 16 + "9f3a" * 8,
            "PII_KEYS": ["k1:MDEyMzQ1Njc4OWFiY2RlZg=="],
        }
    )
    client = app.test_client()
    cookie = _session_cookie(login(client, "zhaoshang"))
    assert "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("key", [None, "", "dev", "secret", "short-key"])
def test_production_refuses_a_missing_or_weak_secret_key(sqlite_url, key):
    from webapp import create_app

    with pytest.raises(RuntimeError, match="ZS_SECRET_KEY"):
        create_app({"DATABASE_URL": sqlite_url, "ENV": "production", "SECRET_KEY": key})


def test_the_app_starts_without_demo_data_unless_asked(sqlite_url, monkeypatch):
    from webapp import create_app
    from workflows.demo import open_demo_accounts

    monkeypatch.delenv("ZS_DEMO_DATA")
    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False})
    assert app.config["DEMO_DATA"] is False and open_demo_accounts() == []
    assert (
        app.test_client().post("/login", data={"username": "admin", "password": "Demo@2026"}).status_code
        == 401
    )


@pytest.mark.postgres
def test_a_server_database_refuses_demo_data_and_demo_passwords_unless_allowed(postgres_url):
    from webapp import create_app
    from workflows.demo import DEMO_PASSWORD, open_demo_accounts

    base = {"DATABASE_URL": postgres_url, "SECRET_KEY": "t", "ALLOW_DEMO_ON_SERVER": False}
    with pytest.raises(RuntimeError, match="ZS_ALLOW_DEMO_ON_SERVER"):
        create_app({**base, "DEMO_DATA": True})
    create_app({**base, "DEMO_DATA": True, "ALLOW_DEMO_ON_SERVER": True})  # a demonstration server
    assert "admin" in open_demo_accounts()
    with pytest.raises(RuntimeError, match="demo password"):
        create_app({**base, "DEMO_DATA": False})  # demo users left with the published password
    # Once every demo account has its own password (or is deactivated), the server starts.
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.demo import actor
    from workflows.models import User
    from workflows.services import user_service

    names = open_demo_accounts()
    with transaction() as s:
        ids = list(s.scalars(select(User.id).where(User.username.in_(names))))
    for user_id in ids:
        user_service.user_reset_password(actor("admin"), user_id, "Own-Pass-2026!")
    assert open_demo_accounts() == []
    app = create_app({**base, "DEMO_DATA": False})
    assert app.config["ALLOW_DEMO_ON_SERVER"] is False
    assert DEMO_PASSWORD not in app.config.values()
