"""The JSON API at /api/v1 as another system uses it: token authentication (tokens tied to a user, only
a hash stored, revocable), the same permission answers as the browser, an OpenAPI document that
validates, and a schema-driven fuzz run (schemathesis) over the loopback that gets no 5xx, on SQLite and on
PostgreSQL."""
from __future__ import annotations

import os
import re
import threading

import pytest
from flow_support import login, ready_tasks


@pytest.fixture
def demo(app, client):
    from workflows.demo import seed_projects

    seed_projects()
    return app, client


def make_token(username: str) -> str:
    from workflows.demo import actor
    from workflows.services import api_token_service

    return api_token_service.token_create(actor("admin"), actor(username).id, f"test {username}")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_an_administrator_creates_a_token_shown_once_and_stored_only_as_a_hash(demo):
    _, client = demo
    from workflows.demo import actor

    login(client, "admin")
    page = client.post("/admin/api-tokens/", data={"user_id": str(actor("shishangwu").id), "name": "省数智招商平台"})
    html = page.data.decode()
    token = html.split('id="token-value">')[1].split("<")[0]
    assert token.startswith("zs_") and len(token) > 30
    assert token not in client.get("/admin/api-tokens/").data.decode()  # never shown again
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import ApiToken
    with transaction() as s:
        row = s.scalars(select(ApiToken)).one()
        assert token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    assert client.get("/api/v1/me", headers=bearer(token)).json["username"] == "shishangwu"
    # Revoked: refused from then on.
    client.post(f"/admin/api-tokens/{row.id}/revoke")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_no_token_or_a_wrong_one_is_refused(demo):
    _, client = demo
    assert client.get("/api/v1/projects").status_code == 401
    assert client.get("/api/v1/projects", headers=bearer("zs_not-a-token")).status_code == 401
    assert client.get("/api/v1/projects", headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_the_openapi_document_validates_and_names_every_api_route(demo):
    from openapi_spec_validator import validate

    app, client = demo
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("service_api.") and rule.endpoint != "service_api.openapi"}
    routes = {r.replace("{instance_id}", "{instance_id}") for r in routes}
    assert routes == set(document["paths"]) - set()


# Browser URL ↔ API URL; each role must get the same answer (200 ↔ 200, 403 ↔ 403, 404 ↔ 404).
PAIRS = [("/projects/{project}", "/api/v1/projects/{project}"),
         ("/tasks/{task}", "/api/v1/tasks/{task}"),
         ("/dashboard/", "/api/v1/metrics"),
         ("/ledgers/signed", "/api/v1/ledgers/signed"),
         ("/projects/999999", "/api/v1/projects/999999")]


@pytest.mark.parametrize("username", ["zhaoshang2", "yanpan", "zhuren", "rev_fgj", "fuxianzhang", "shishangwu",
                                      "shenji", "admin", "tj_shangwu"])
def test_the_api_answers_each_role_as_the_browser_does(demo, username):
    app, client = demo
    from workflows.demo import actor
    from workflows.services.project_service import project_list
    foreign = next(p.id for p in project_list(actor("zhuren")) if p.investor == "香港嘉禾包装集团有限公司")
    (task_id, spec, _), = ready_tasks(app, foreign)
    assert spec == "screening"
    token = make_token(username)
    login(client, username)
    for page, api in PAIRS:
        page, api = (u.format(project=foreign, task=task_id) for u in (page, api))
        browser = client.get(page).status_code
        assert browser in (200, 403, 404)
        assert client.get(api, headers=bearer(token)).status_code == browser, (username, page, api)


def test_a_system_completes_a_task_and_reads_the_history(demo):
    app, client = demo
    from workflows.demo import DEMO_ANSWERS, actor
    from workflows.services.project_service import project_list

    foreign = next(p.id for p in project_list(actor("zhuren")) if p.investor == "香港嘉禾包装集团有限公司")
    token = make_token("yanpan")
    tasks = client.get("/api/v1/tasks", headers=bearer(token)).json
    task = next(t for t in tasks["items"] if t["instance_id"] == foreign)
    form = client.get(f"/api/v1/tasks/{task['id']}", headers=bearer(token)).json
    assert "screening_decision" in form["schema"]["properties"]
    bad = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=bearer(token), json={"data": {}})
    assert bad.status_code == 422 and "screening_decision" in bad.json["errors"]
    answers = {**DEMO_ANSWERS["screening"], "confirmed_class": "重大", "negative_list_ok": True}
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=bearer(token),
                       json={"data": {k: v for k, v in answers.items() if v is not None}})
    assert done.status_code == 200, done.json
    assert [spec for _, spec, _ in ready_tasks(app, foreign)] == ["negotiation"]
    again = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=bearer(token), json={"data": answers})
    assert again.status_code in (403, 409)
    history = client.get(f"/api/v1/projects/{foreign}/history", headers=bearer(token)).json["items"]
    assert any(h["task_spec"] == "screening" and h["actor"] == "yanpan" for h in history)
    # A lead officer's token cannot complete the negotiation (the browser would not let them either).
    negotiation = ready_tasks(app, foreign)[0][0]
    officer = make_token("zhaoshang2")
    assert client.post(f"/api/v1/tasks/{negotiation}/complete", headers=bearer(officer),
                       json={"data": {}}).status_code == 403


def test_metrics_over_the_api_equal_the_dashboard(demo):
    from workflows.demo import actor
    from workflows.services import metrics_service

    _, client = demo
    api = client.get("/api/v1/metrics?period=2026", headers=bearer(make_token("zhuren"))).json
    page = metrics_service.dashboard(actor("zhuren"), "2026", with_charts=False)
    assert api["funnel"] == page["funnel"] and api["rates"] == page["rates"]


@pytest.fixture
def live_server(database):
    """The app on a loopback port, over SQLite and over PostgreSQL (`database`: a PostgreSQL that cannot be
    reached skips the PostgreSQL run, and fails it in CI), with the demo projects."""
    from werkzeug.serving import make_server

    from webapp import create_app
    from workflows import db
    from workflows.demo import seed_projects

    app = create_app({"TESTING": True, "DATABASE_URL": database, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test"})
    seed_projects()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    db.engine().dispose()  # before the scratch PostgreSQL database is dropped


@pytest.mark.parametrize("username", ["zhuren", "yanpan", "shishangwu"])
def test_a_schema_driven_fuzz_run_gets_no_server_error(live_server, username):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    token = make_token(username)
    schema = schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=int(os.environ.get("ZS_FUZZ_API_EXAMPLES", "12")), deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call(base_url=live_server, headers=bearer(token), timeout=30)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:200]))

        run()
    assert failures == []
