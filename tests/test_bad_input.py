"""Bad input gets a clear 4xx (or is read as absent), never a 5xx, on SQLite and PostgreSQL: integers
beyond the databases' keys in query strings and form fields, dates beyond the calendar, NUL characters
(PostgreSQL refuses them in text), JSON nested a thousand levels, and redirect targets that would leave
the site (`//host`, `/\\t/host`, backslashes, CR/LF, schemes)."""
from __future__ import annotations

from contextlib import nullcontext
from urllib.parse import urlsplit

import pytest
from conftest import scratch_postgres
from flow_support import LEAD, login, ready_tasks, register_lead

HUGE = "99999999999999999999"
DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def site(request, tmp_path_factory):
    """One app per database with a project waiting in screening and an API token for the screener."""
    from webapp import create_app
    from workflows.demo import actor
    from workflows.services import api_token_service

    with (nullcontext(f"sqlite:///{tmp_path_factory.mktemp('bad_input') / 'b.sqlite3'}")
          if request.param == "sqlite" else scratch_postgres()) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t",
                          "SERVER_NAME": "localhost"})
        client = app.test_client()
        pid = register_lead(client)
        task = ready_tasks(app, pid)[0][0]
        token = api_token_service.token_create(actor("admin"), actor("yanpan").id, "fuzz")
        yield app, pid, task, token


def _as(app, username: str | None):
    client = app.test_client()
    if username:
        login(client, username)
    return client


# (user, method, path, form data) — {pid} and {task} are filled in.
CASES = [
    ("zhaoshang", "GET", f"/?page={HUGE}", None),
    ("zhaoshang", "GET", "/?page=-5", None),
    ("zhaoshang", "GET", "/?page=%C2%B2", None),  # a superscript two: isdigit() but not int()
    ("zhaoshang", "GET", f"/projects/new?copy_of={HUGE}", None),
    ("zhaoshang", "POST", "/projects/{pid}/copy", {"to_user_ids": [HUGE, "²"], "note": "x"}),
    ("yanpan", "POST", "/tasks/{task}/transfer", {"to_user_id": HUGE, "reason": "出差"}),
    ("yanpan", "POST", "/tasks/{task}/delegate", {"to_user_id": HUGE, "note": "x"}),
    ("zhaoshang", "POST", "/me/stand-ins/", {"stand_in_id": HUGE, "starts_on": "2026-01-01", "ends_on": "2026-01-02"}),
    ("admin", "POST", "/admin/users/2/reassign", {"to_user_id": HUGE}),
    ("admin", "POST", "/admin/users", {"username": "fuzz", "display_name": "x", "password": "Aa1!aaaaaa",
                                       "unit_id": HUGE, "roles": "lead_officer"}),
    ("admin", "POST", "/admin/units", {"organisation_id": HUGE, "code": "fz", "name": "x", "kind": "bureau"}),
    ("admin", "POST", "/admin/api-tokens/", {"user_id": HUGE, "name": "x"}),
    ("shenji", "GET", f"/audit/versions/diff?old={HUGE}&new={HUGE}", None),
    ("shenji", "GET", f"/audit/verify?project={HUGE}", None),
    ("shenji", "GET", "/audit/projects/{pid}/replay?step=" + HUGE, None),
    ("shenji", "GET", "/audit/events.csv?from=2020-01-01&to=9999-12-31", None),
    ("shenji", "GET", "/audit/events.csv?from=0001-01-01&to=2026-01-01", None),
    ("zhuren", "GET", f"/dashboard/?county={HUGE}", None),
    ("zhuren", "GET", f"/ledgers/projects?county={HUGE}", None),
    ("zhaoshang", "GET", "/projects/?q=a%00b", None),
    ("zhaoshang", "POST", "/projects/new", {**LEAD, "project_name": "含\x00空字符的项目"}),
    (None, "POST", "/login", {"username": "ad\x00min", "password": "x"}),
    # Longer than the audit log's actor column: was a 500 on PostgreSQL (found by the fuzzer).
    (None, "POST", "/login", {"username": "{\"a\":" * 200 + "1" + "}" * 200, "password": "x"}),
]


@pytest.mark.parametrize(("user", "method", "path", "data"), CASES, ids=[f"{c[1]} {c[2][:60]}" for c in CASES])
def test_bad_values_are_a_4xx_or_ignored_never_a_5xx(site, user, method, path, data):
    app, pid, task, _ = site
    client = _as(app, user)
    response = client.open(path.format(pid=pid, task=task), method=method, data=data)
    assert response.status_code < 500, response.data.decode()[:2000]


@pytest.mark.parametrize("path", ["/audit/events.csv?from=2020-01-01&to=9999-12-31", "/projects/?q=a%00b"])
def test_a_date_beyond_the_calendar_or_a_nul_is_a_400_with_a_message(site, path):
    app, *_ = site
    response = _as(app, "shenji").get(path)
    assert response.status_code == 400
    assert "2099" in response.data.decode() or "NUL" in response.data.decode()


def test_a_nul_in_a_form_is_refused_and_nothing_is_stored(site):
    app, *_ = site
    client = _as(app, "zhaoshang")
    response = client.post("/projects/new", data={**LEAD, "project_name": "含\x00空字符的项目"})
    assert response.status_code == 400 and "NUL" in response.data.decode()
    assert "含" not in client.get("/projects/").data.decode()


def test_json_nested_a_thousand_levels_is_a_422_on_the_api(site):
    app, _, task, token = site
    client = app.test_client()
    for body in (DEEP, '{"data": ' + "[" * 500 + "]" * 500 + "}", '{"data": {"a": "\\u0000"}}'):
        response = client.post(f"/api/v1/tasks/{task}/complete", data=body, content_type="application/json",
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 422, response.data.decode()[:500]
    response = client.get(f"/api/v1/projects?page={HUGE}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("target", ["//evil.example", "/\t/evil.example", "/\\evil.example", "\\\\evil.example",
                                    "/%0d%0aSet-Cookie:x=1", "/\r\nSet-Cookie:x=1", "https://evil.example/",
                                    "javascript:alert(1)", "/ /evil.example", "///evil.example"])
def test_redirect_targets_never_leave_the_site(site, target):
    app, *_ = site
    client = app.test_client()
    for response in (client.post("/lang/en", data={"next": target}),
                     client.post("/login?next=" + target.replace("%", "%25"),
                                 data={"username": "zhaoshang", "password": "Demo@2026"})):
        assert response.status_code == 302
        location = response.headers["Location"]
        assert "\r" not in location and "\n" not in location
        parts = urlsplit(location)
        assert parts.netloc in ("", "localhost") and not parts.path.startswith("//"), location
        assert "evil" not in parts.netloc


def test_the_filing_api_answers_a_bad_timestamp_or_a_huge_id_with_a_4xx(site):
    import json

    from exchange_support import KEY, KEYS

    from workflows import filing_exchange

    app, *_ = site
    filing_exchange.configure(keys=KEYS.split(","))
    try:
        client = app.test_client()
        body = b"{}"
        headers = filing_exchange.sign("南县", KEY["南县"], "POST", "/api/v1/filings", body)
        for stamp in ("²", "١٧٠٠٠٠٠٠٠٠", "9" * 40):  # unauthenticated: checked before any key is used
            response = client.post("/api/v1/filings", data=body, content_type="application/json",
                                   headers={**headers, "X-ZS-Timestamp": stamp})
            assert response.status_code == 401, response.data.decode()[:500]
        for field in ("filing_id", "round"):
            payload = {"filing_id": 1, "round": 1, field: 10**20}
            body = json.dumps(payload).encode()
            response = client.post("/api/v1/filings", data=body, content_type="application/json",
                                   headers=filing_exchange.sign("南县", KEY["南县"], "POST", "/api/v1/filings", body))
            assert response.status_code == 400 and "2147483647" in response.get_json()["error"], field
    finally:
        filing_exchange.configure()
