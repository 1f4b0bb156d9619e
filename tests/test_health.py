"""Running it in production: health and readiness probes, request ids, JSON log lines, Prometheus
metrics, and a Chinese 503 page (not a 500) while the database cannot be reached."""

from __future__ import annotations

import json
import logging

import pytest
from flow_support import login, register_lead
from sqlalchemy import create_engine, text

from workflows import db


def _app(url, **extra):
    from webapp import create_app

    return create_app(
        {"TESTING": True, "DATABASE_URL": url, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t", **extra}
    )


def test_healthz_and_readyz_answer_when_the_database_is_at_the_newest_migration(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ok"


def test_readyz_is_503_while_migrations_are_behind(app, client):
    with db.engine().begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'an_older_revision'"))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "an_older_revision" in ready.json["detail"]
    assert client.get("/healthz").status_code == 200


def test_every_response_carries_the_request_id_given_or_a_new_one(client):
    given = client.get("/login", headers={"X-Request-ID": "gw-42.abc"})
    assert given.headers["X-Request-ID"] == "gw-42.abc"
    made = client.get("/login").headers["X-Request-ID"]
    other = client.get("/login").headers["X-Request-ID"]
    assert len(made) == 32 and made != other
    # Header injection or an overlong id is not echoed: a fresh one is made instead.
    odd = client.get("/login", headers={"X-Request-ID": "a b<script>"}).headers["X-Request-ID"]
    assert odd != "a b<script>" and len(odd) == 32


def test_each_request_is_logged_as_one_json_line_with_its_request_id(client):
    entry = _logged(client, "/projects/", headers={"X-Request-ID": "trace-7"})
    assert entry["request_id"] == "trace-7"
    assert entry["path"] == "/projects/" and entry["status"] == 302 and entry["method"] == "GET"
    assert entry["endpoint"] == "projects.index" and entry["duration_ms"] >= 0 and entry["level"] == "INFO"


def _logged(client, *args, **kwargs) -> dict:
    from workflows.observability import JsonFormatter

    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(JsonFormatter().format(record))

    handler = Keep()
    logging.getLogger("zhaoshang").addHandler(handler)
    try:
        client.get(*args, **kwargs)
    finally:
        logging.getLogger("zhaoshang").removeHandler(handler)
    return json.loads(lines[-1])


def test_forwarded_addresses_count_only_from_the_configured_number_of_proxies(client, sqlite_url):
    spoofed = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}
    assert _logged(client, "/healthz", headers=spoofed)["remote"] == "127.0.0.1"  # default: no proxy trusted
    behind_one = _app(sqlite_url, TRUSTED_PROXIES=1).test_client()
    # One proxy: the address it saw (the last one), not what the client wrote before it.
    assert _logged(behind_one, "/healthz", headers=spoofed)["remote"] == "203.0.113.7"
    # Through the proxy even a loopback client is not "this machine" for /metrics.
    assert behind_one.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403


def _sample(body: str, name: str, **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"{name} {labels} not in the metrics")


def test_metrics_count_requests_engine_steps_outbox_and_timers(app, client):
    before = client.get("/metrics").data.decode()
    steps_before = _sample(before, "zhaoshang_engine_step_seconds_count")
    register_lead(client)
    body = client.get("/metrics").data.decode()
    assert _sample(body, "zhaoshang_engine_step_seconds_count") >= steps_before + 1
    assert (
        _sample(body, "zhaoshang_request_seconds_count", endpoint="projects.new", method="POST", status="302")
        >= 1
    )
    assert _sample(body, "zhaoshang_database_up") == 1
    assert _sample(body, "zhaoshang_outbox_depth") == 0
    assert _sample(body, "zhaoshang_outbox_failed_deliveries") == 0
    assert _sample(body, "zhaoshang_timers_due") == 0
    # A running project whose timer is due now shows up as due.
    with db.engine().begin() as conn:
        conn.execute(text("UPDATE process_instance SET next_timer_at = '2000-01-01 00:00:00'"))
    assert _sample(client.get("/metrics").data.decode(), "zhaoshang_timers_due") == 1


def test_metrics_are_refused_from_another_machine_or_through_a_proxy(client):
    assert client.get("/metrics").status_code == 200
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert outside.status_code == 403 and "ZS_METRICS_TOKEN" in outside.data.decode()
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 403


def test_metrics_with_a_token_need_the_token_even_on_loopback(sqlite_url):
    client = _app(sqlite_url, METRICS_TOKEN="s3cret-token").test_client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    scrape = client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-token"}, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert scrape.status_code == 200 and b"zhaoshang_outbox_depth" in scrape.data


def _assert_unavailable_page(response):
    assert response.status_code == 503, response.data.decode()[:300]
    page = response.data.decode()
    assert "系统暂时无法使用" in page and "连接不上数据库" in page
    assert response.headers["X-Request-ID"] in page
    assert response.headers["Retry-After"] == "30"


def test_a_signed_in_user_gets_the_chinese_503_page_when_the_sqlite_file_is_gone(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    app = _app(f"sqlite:///{folder / 'zs.sqlite3'}")
    client = app.test_client()
    login(client, "zhaoshang")
    assert client.get("/projects/").status_code == 200
    db.engine().dispose()
    folder.rename(tmp_path / "elsewhere")  # the disk holding the database went away
    _assert_unavailable_page(client.get("/projects/"))
    _assert_unavailable_page(client.post("/projects/new", data={"project_name": "x"}))
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    (tmp_path / "elsewhere").rename(folder)
    assert client.get("/projects/").status_code == 200


@pytest.mark.postgres
def test_users_get_the_chinese_503_page_while_postgresql_refuses_connections_and_recover_after(postgres_url):
    from conftest import _pg_admin_url

    name = postgres_url.rsplit("/", 1)[1]
    app = _app(postgres_url)
    client = app.test_client()
    login(client, "shangwu")
    assert client.get("/projects/").status_code == 200
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    terminate = text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n")
    try:
        # Connections cut while idle in the pool (a restart between two requests): each is checked
        # before use (pool_pre_ping), so the next request simply gets a new one.
        with admin.connect() as conn:
            assert conn.execute(terminate, {"n": name}).rowcount >= 1
        assert client.get("/projects/").status_code == 200
        with admin.connect() as conn:  # as in a restart: connections cut, new ones refused
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(terminate, {"n": name})
        _assert_unavailable_page(client.get("/projects/"))
        _assert_unavailable_page(client.get("/"))
        down = client.get("/readyz")
        assert down.status_code == 503 and "database unreachable" in down.json["detail"]
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and _sample(metrics.data.decode(), "zhaoshang_database_up") == 0
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        # Pooled connections are checked before use (pool_pre_ping): the next request just works.
        assert client.get("/projects/").status_code == 200
        assert client.get("/readyz").status_code == 200
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()


def test_an_unexpected_error_shows_a_chinese_500_page_with_the_request_id(app, monkeypatch):
    from workflows.services import task_operations

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(task_operations, "unread_count", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    login(client, "zhaoshang")
    response = client.get("/projects/", headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert "系统内部错误" in response.data.decode() and "bug-1" in response.data.decode()
