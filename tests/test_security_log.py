"""The security log (GB/T 22239-2019 8.1.4.3 安全审计): sign-ins, failures, locks, denials, administrative and
security changes, searched and exported (CSV, formula-safe) by the security and the audit administrator;
nobody else reads it. From each role's side over HTTP."""

from __future__ import annotations

import csv
import io

import pytest
from flow_support import PASSWORD, login
from sqlalchemy import select

from workflows.db import transaction
from workflows.models import User


def _id(username: str) -> int:
    with transaction() as s:
        return s.scalar(select(User.id).where(User.username == username))


def _happenings(client):
    """A failed and a held-back sign-in, a denial, an administrative change and a sign-out."""
    for _ in range(5):
        client.post(
            "/login",
            data={"username": "yanpan", "password": '=HYPERLINK("x")'},
            environ_base={"REMOTE_ADDR": "203.0.113.5"},
        )
    client.post(
        "/login",
        data={"username": "=cmd|' /C calc'!A0", "password": "x"},
        environ_base={"REMOTE_ADDR": "203.0.113.5"},
    )
    login(client, "zhaoshang")
    assert client.get("/admin/").status_code == 403
    login(client, "admin")
    assert client.post(f"/admin/users/{_id('zhaoshang2')}/active", data={"active": "0"}).status_code == 302
    client.post("/logout")


@pytest.mark.parametrize("reader", ["secadmin", "auditadmin"])
def test_the_security_and_audit_administrators_search_the_log(client, reader):
    _happenings(client)
    login(client, reader)
    page = client.get("/security/log").data.decode()
    for action in (
        "sign_in_failed",
        "sign_in_locked",
        "signed_in",
        "access_denied",
        "user_deactivated",
        "signed_out",
    ):
        assert f'data-action="{action}"' in page, action
    denied = client.get("/security/log?category=denied").data.decode()
    assert 'data-action="access_denied"' in denied and 'data-action="signed_in"' not in denied
    assert "/admin/" in denied and "zhaoshang" in denied
    by_address = client.get("/security/log?address=203.0.113.5").data.decode()
    assert (
        by_address.count('data-action="sign_in_failed"') == 6
        and 'data-action="user_deactivated"' not in by_address
    )
    by_user = client.get("/security/log?who=admin&category=admin").data.decode()
    assert 'data-action="user_deactivated"' in by_user and 'data-action="sign_in_failed"' not in by_user
    assert (
        'data-action="signed_in"'
        not in client.get("/security/log?from=2000-01-01&to=2000-01-02").data.decode()
    )
    assert client.get("/security/log?from=not-a-date").status_code == 400
    assert client.get("/security/log?page=99999999999999999999").status_code == 200


@pytest.mark.parametrize("reader", ["secadmin", "auditadmin"])
def test_the_log_exports_as_csv_with_no_formula_in_it(client, reader):
    _happenings(client)
    login(client, reader)
    response = client.get("/security/log.csv?category=sign_in")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["事件号", "时间（北京时间）", "操作人", "角色", "动作"]
    actors = [r[2] for r in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in actors  # written as text, not a formula
    assert not any(cell[:1] in "=+-@" for row in rows[1:] for cell in row if cell)
    assert {"sign_in_failed", "sign_in_locked", "signed_in"} <= {r[4] for r in rows[1:]}
    # The export itself is in the log.
    assert (
        'data-action="security_log_exported"' in client.get("/security/log?category=security").data.decode()
    )


def test_only_the_audit_administrator_searches_every_event(client):
    login(client, "zhaoshang")
    client.post("/logout")
    login(client, "auditadmin")
    assert "全部事件" in client.get("/security/log").data.decode()
    login(client, "secadmin")
    page = client.get("/security/log?category=all").data.decode()
    assert "全部事件" not in page  # not offered, and the category falls back to the security events


@pytest.mark.parametrize("username", ["zhaoshang", "shenji", "admin", "shishangwu"])
def test_nobody_else_reads_the_security_log(client, username):
    login(client, username)
    assert client.get("/security/log").status_code == 403
    assert client.get("/security/log.csv").status_code == 403
    assert "security-log-link" not in client.get("/").data.decode()


def test_each_refusal_is_logged_with_who_and_what(client):
    login(client, "secadmin")
    client.get("/security/log")
    login(client, "shenji")
    client.get("/security/log")
    login(client, "secadmin")
    page = client.get("/security/log?category=denied&who=shenji").data.decode()
    assert page.count('data-action="access_denied"') == 1 and "/security/log" in page
    assert PASSWORD not in page
