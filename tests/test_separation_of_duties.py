"""三权分立 (GB/T 22239-2019 8.1.4.2 访问控制): the system administrator keeps users, units, business roles
and process models; the security administrator gives roles and lifts sign-in locks; the audit administrator
reads every log and changes nothing. No account holds two of these roles, none of them does business
tasks, and every administrative action is in the audit log. From each role's side over HTTP."""

from __future__ import annotations

from flow_support import PASSWORD, login
from sqlalchemy import select

from workflows.db import transaction
from workflows.models import AuditEvent, Unit, User


def _id(username: str) -> int:
    with transaction() as s:
        return s.scalar(select(User.id).where(User.username == username))


def _events(action: str) -> list[AuditEvent]:
    with transaction() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        s.expunge_all()
        return rows


def test_the_demo_has_one_of_each_administrator_and_each_holds_that_role_alone(client):
    with transaction() as s:
        users = s.scalars(select(User)).all()
        holders = {
            role: [u.username for u in users if role in u.role_codes]
            for role in ("admin", "security_admin", "audit_admin")
        }
        alone = all(u.role_codes == {role} for u in users for role in holders if role in u.role_codes)
    assert holders == {"admin": ["admin"], "security_admin": ["secadmin"], "audit_admin": ["auditadmin"]}
    assert alone
    for username, link in (("admin", "系统管理"), ("secadmin", 'id="security-link"')):
        login(client, username)
        page = client.get("/").data.decode()
        assert link in page and "请假代理" not in page


def test_no_account_holds_two_administrative_roles_nor_one_with_a_business_role(client):
    login(client, "secadmin")
    for roles in (["admin", "security_admin"], ["audit_admin", "auditor"], ["admin", "lead_officer"]):
        response = client.post(f"/security/users/{_id('zhaoshang2')}/roles", data={"roles": roles})
        assert response.status_code == 422 and "三权分立" in response.data.decode(), roles
    # The security administrator cannot change their own roles either.
    assert (
        client.post(f"/security/users/{_id('secadmin')}/roles", data={"roles": ["lead_officer"]}).status_code
        == 409
    )
    # One administrative role alone is fine: 周婷 becomes an audit administrator and loses her business role.
    assert (
        client.post(f"/security/users/{_id('zhaoshang2')}/roles", data={"roles": ["audit_admin"]}).status_code
        == 302
    )
    login(client, "zhaoshang2")
    assert client.get("/projects/new").status_code == 403
    (changed,) = _events("roles_changed")
    assert changed.actor == "secadmin" and changed.data["after"] == ["audit_admin"]


def test_the_system_administrator_creates_accounts_but_gives_no_administrative_role(client):
    with transaction() as s:
        unit_id = s.scalar(select(Unit.id).where(Unit.code == "swj"))
    login(client, "admin")
    form = {
        "username": "new_admin",
        "display_name": "新管理员",
        "password": "New-Adm#2026",
        "unit_id": unit_id,
    }
    response = client.post("/admin/users", data={**form, "roles": ["security_admin"]})
    assert response.status_code == 422 and "由安全管理员授予" in response.data.decode()
    assert client.post("/admin/users", data={**form, "roles": ["commerce_bureau"]}).status_code == 302
    # Roles are the security administrator's: the system administrator has no page for them.
    assert client.get("/security/").status_code == 403
    assert (
        client.post(f"/security/users/{_id('new_admin')}/roles", data={"roles": ["admin"]}).status_code == 403
    )
    (created,) = _events("user_created")
    assert created.actor == "admin" and created.data["username"] == "new_admin"


def test_the_security_administrator_sees_and_lifts_a_sign_in_lock(client):
    def attempt(password):
        return client.post(
            "/login",
            data={"username": "yanpan", "password": password},
            environ_base={"REMOTE_ADDR": "203.0.113.7"},
        )

    for _ in range(5):
        attempt("Wrong@2026x")
    assert attempt(PASSWORD).status_code == 401
    login(client, "secadmin")
    page = client.get("/security/").data.decode()
    assert 'data-lock="yanpan"' in page and "203.0.113.7" in page and "解除锁定" in page
    with transaction() as s:
        from workflows.models import SignInThrottle

        row_id = s.scalar(select(SignInThrottle.id))
    assert client.post(f"/security/locks/{row_id}/lift").status_code == 302
    assert client.post(f"/security/locks/{row_id}/lift").status_code == 404  # already lifted
    client.post("/logout")
    assert attempt(PASSWORD).status_code == 302
    (lifted,) = _events("sign_in_lock_lifted")
    assert lifted.actor == "secadmin" and lifted.data["username"] == "yanpan"
    assert _events("sign_in_locked")[0].data["failures"] == 5


def test_the_audit_administrator_reads_and_changes_nothing(client):
    login(client, "auditadmin")
    assert client.get("/audit/versions").status_code == 200
    for url in (
        "/admin/users",
        f"/admin/users/{_id('zhaoshang')}/password",
        f"/security/users/{_id('zhaoshang')}/roles",
        "/admin/roles",
        "/admin/versions/bindings",
    ):
        assert (
            client.post(url, data={"password": "Any-Pass#2026", "roles": ["lead_officer"]}).status_code == 403
        ), url
    assert client.get("/admin/").status_code == 403 and client.get("/security/").status_code == 403


def test_administrators_do_no_business_tasks(client):
    # Not even a process whose first task lies outside every lane (it would be the initiator's own).
    login(client, "admin")
    assert client.get("/projects/new").status_code == 403
    # Nobody can name an administrator as stand-in (请假代理) to pass business tasks to them, and an
    # administrator names none.
    login(client, "zhaoshang")
    response = client.post(
        "/me/stand-ins/",
        data={"stand_in_id": _id("secadmin"), "starts_on": "2026-01-01", "ends_on": "2026-01-05"},
    )
    assert response.status_code == 422
    assert "安全管理员" not in client.get("/me/stand-ins/").data.decode()
    login(client, "auditadmin")
    response = client.post(
        "/me/stand-ins/",
        data={"stand_in_id": _id("zhaoshang"), "starts_on": "2026-01-01", "ends_on": "2026-01-05"},
    )
    assert response.status_code == 422
