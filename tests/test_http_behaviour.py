"""What users see at the edges: bad input, other departments' tasks, auditors, CSRF, sign-in."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from flow_support import ANSWERS, LEAD, PASSWORD, do_task, login, ready_tasks, register_lead, step

from webapp import create_app


def _to_joint_review(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    step(app, client, pid, "negotiation")
    step(app, client, pid, "approve_terms")
    return pid, {unit: tid for tid, spec, unit in ready_tasks(app, pid) if spec == "department_review"}


def test_invalid_form_shows_errors_beside_fields_and_keeps_what_was_typed(app, client):
    pid = register_lead(client)
    ((task_id, _, _),) = ready_tasks(app, pid)
    login(client, "yanpan")
    client.post(f"/tasks/{task_id}/claim")
    before = client.get(f"/projects/{pid}").data.decode()
    response = client.post(
        f"/tasks/{task_id}",
        data={
            "screening_decision": "通过",
            "confirmed_class": "一般",
            "class_reason": "我认为规模不大",
            "screening_opinion": "同意进入洽谈阶段",
        },
    )
    html = response.data.decode()
    assert response.status_code == 422
    assert 'data-error-for="confirmed_class"' in html
    assert "我认为规模不大" in html and "同意进入洽谈阶段" in html
    assert re.search(r'value="通过" checked', html)
    assert [t[1] for t in ready_tasks(app, pid)] == ["screening"]
    stage = re.search(r'id="stage">([^<]*)<', before).group(1)
    assert stage in client.get(f"/projects/{pid}").data.decode()


def test_lead_form_errors_keep_the_typed_values(app, client):
    login(client, "zhaoshang")
    response = client.post("/projects/new", data={**LEAD, "amount_wan": "两亿", "contact_phone": "12345"})
    html = response.data.decode()
    assert response.status_code == 422
    assert 'data-error-for="amount_wan"' in html and 'data-error-for="contact_phone"' in html
    assert 'value="两亿"' in html and LEAD["project_name"] in html


def test_a_department_reviewer_cannot_see_or_complete_another_departments_opinion(app, client):
    _, tasks = _to_joint_review(app, client)
    login(client, "rev_sthj")
    assert client.get(f"/tasks/{tasks['fgj']}").status_code == 403
    assert client.post(f"/tasks/{tasks['fgj']}/claim").status_code == 403
    assert client.post(f"/tasks/{tasks['fgj']}", data={"review_decision": "同意"}).status_code == 403
    inbox = client.get("/").data.decode()
    assert f'data-task-id="{tasks["sthj"]}"' in inbox and f'data-task-id="{tasks["fgj"]}"' not in inbox


def test_two_reviewers_of_one_department_share_the_task_until_one_claims_it(app, client):
    _, tasks = _to_joint_review(app, client)
    login(client, "rev_fgj")
    assert f'data-task-id="{tasks["fgj"]}"' in client.get("/").data.decode()
    do_task(client, "rev_fgj2", tasks["fgj"], {"review_decision": "同意", "review_opinion": "同意"})
    login(client, "rev_fgj")
    assert f'data-task-id="{tasks["fgj"]}"' not in client.get("/").data.decode()
    assert client.post(f"/tasks/{tasks['fgj']}/claim").status_code == 409


def test_the_commerce_bureau_answers_the_joint_review_as_a_department(app, client):
    _, tasks = _to_joint_review(app, client)
    login(client, "shangwu")  # commerce-bureau staff without the reviewer role
    assert client.get(f"/tasks/{tasks['swj']}").status_code == 403
    do_task(client, "rev_swj", tasks["swj"], {"review_decision": "同意", "review_opinion": "商务局同意"})


def test_an_auditor_reads_every_project_but_completes_nothing(app, client):
    pid, tasks = _to_joint_review(app, client)
    login(client, "shenji")
    page = client.get(f"/projects/{pid}")
    assert page.status_code == 200 and "办理历史" in page.data.decode()
    assert client.get(f"/tasks/{tasks['fgj']}").status_code == 403
    assert client.post(f"/tasks/{tasks['fgj']}/claim").status_code == 403
    assert client.post(f"/tasks/{tasks['fgj']}", data={"review_decision": "同意"}).status_code == 403


def test_the_prefecture_sees_only_filed_projects(app, client):
    pid = register_lead(client)
    login(client, "shishangwu")
    assert client.get(f"/projects/{pid}").status_code == 403


def test_another_county_cannot_see_the_project(app, client):
    pid = register_lead(client)
    login(client, "tj_shangwu")
    assert client.get(f"/projects/{pid}").status_code == 403
    assert "年产10万吨" not in client.get("/projects/").data.decode()


def test_forms_without_a_csrf_token_are_refused(tmp_path):
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}", "SECRET_KEY": "t"}
    )
    client = app.test_client()
    assert client.post("/login", data={"username": "zhaoshang", "password": PASSWORD}).status_code == 400
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": "zhaoshang", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_five_wrong_passwords_lock_the_account(client):
    for _ in range(5):
        assert client.post("/login", data={"username": "yanpan", "password": "wrong"}).status_code == 401
    response = client.post("/login", data={"username": "yanpan", "password": PASSWORD})
    assert response.status_code == 401 and "锁定" in response.data.decode()


def test_passwords_are_stored_hashed(app):
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import User

    with transaction() as s:
        hashes = s.scalars(select(User.password_hash)).all()
    assert all(h.startswith(("scrypt:", "pbkdf2:")) and PASSWORD not in h for h in hashes)


def test_an_idle_session_expires(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}",
            "SECRET_KEY": "t",
            "WTF_CSRF_ENABLED": False,
            "SESSION_MINUTES": 0,
        }
    )
    client = app.test_client()
    login(client, "yanpan")
    __import__("time").sleep(0.05)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_deactivated_user_cannot_sign_in(app, client):
    login(client, "admin")
    users = client.get("/admin/").data.decode()
    assert "zhaoshang2" in users
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import User

    with transaction() as s:
        uid = s.scalar(select(User.id).where(User.username == "zhaoshang2"))
    assert client.post(f"/admin/users/{uid}/active", data={"active": "0"}).status_code == 302
    client.post("/logout")
    assert client.post("/login", data={"username": "zhaoshang2", "password": PASSWORD}).status_code == 401


def test_admin_creates_a_user_who_can_then_sign_in(app, client):
    login(client, "admin")
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import Unit

    with transaction() as s:
        unit_id = s.scalar(select(Unit.id).where(Unit.code == "fgj"))
    bad = client.post(
        "/admin/users",
        data={
            "username": "new_rev",
            "display_name": "",
            "password": "short",
            "unit_id": unit_id,
            "roles": ["dept_reviewer"],
        },
    )
    assert bad.status_code == 422 and 'value="new_rev"' in bad.data.decode()
    ok = client.post(
        "/admin/users",
        data={
            "username": "new_rev",
            "display_name": "发改局 新同事",
            "password": "Fgj-Xin#2026",
            "unit_id": unit_id,
            "roles": ["dept_reviewer"],
        },
    )
    assert ok.status_code == 302
    client.post("/logout")
    assert client.post("/login", data={"username": "new_rev", "password": "Fgj-Xin#2026"}).status_code == 302


def test_a_new_process_on_the_same_database_continues_the_instance(app, client, sqlite_url):
    """Stop the app, start another process on the same database: the project continues there."""
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
        from webapp import create_app
        from flow_support import step, ready_tasks
        app = create_app({{"TESTING": True, "DATABASE_URL": {sqlite_url!r}, "WTF_CSRF_ENABLED": False,
                          "SECRET_KEY": "other-process"}})
        client = app.test_client()
        step(app, client, {pid}, "negotiation")
        print(",".join(spec for _, spec, _ in ready_tasks(app, {pid})))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "approve_terms"
    # And back in this process, the next user carries on.
    step(app, client, pid, "approve_terms")
    assert {t[1] for t in ready_tasks(app, pid)} == {"department_review"}


def test_the_review_form_names_the_department_not_its_code(app, client):
    _, tasks = _to_joint_review(app, client)
    login(client, "rev_fgj")
    client.post(f"/tasks/{tasks['fgj']}/claim")
    html = client.get(f"/tasks/{tasks['fgj']}").data.decode()
    shown = re.search(r'data-field="department">([^<]*)<', html).group(1)
    assert "发改" in shown and "fgj" not in shown


def test_submitting_a_task_a_second_time_gets_409(app, client):
    pid = register_lead(client)
    ((task_id, _, _),) = ready_tasks(app, pid)
    answers = {**ANSWERS["screening"], "confirmed_class": "重大"}
    do_task(client, "yanpan", task_id, answers)
    again = client.post(f"/tasks/{task_id}", data=answers)
    assert again.status_code == 409 and "处理完毕" in again.data.decode()
    assert [t[1] for t in ready_tasks(app, pid)] == ["negotiation"]


@pytest.mark.postgres
def test_the_app_runs_on_postgresql(postgres_url):
    app = create_app(
        {"TESTING": True, "DATABASE_URL": postgres_url, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t"}
    )
    client = app.test_client()
    pid = register_lead(client, amount_wan="3000", project_name="PostgreSQL 上的项目")
    step(app, client, pid, "screening", confirmed_class="一般")
    step(app, client, pid, "negotiation", amount_wan="3000")
    assert [t[1] for t in ready_tasks(app, pid)] == ["approve_terms"]


def test_the_security_administrator_changes_a_users_roles(app, client):
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import User

    with transaction() as s:
        uid = s.scalar(select(User.id).where(User.username == "zhaoshang2"))
    login(client, "secadmin")
    assert client.post(f"/security/users/{uid}/roles", data={"roles": []}).status_code == 422
    assert (
        client.post(
            f"/security/users/{uid}/roles", data={"roles": ["lead_officer", "screening_team"]}
        ).status_code
        == 302
    )
    login(client, "zhaoshang2")
    assert client.get("/projects/new").status_code == 200


def test_a_lead_for_an_investor_another_unit_registered_needs_confirmation(app, client):
    register_lead(client)
    login(client, "zhaoshang2")
    warned = client.post("/projects/new", data={**LEAD, "project_name": "我们的项目"})
    html = warned.data.decode()
    assert warned.status_code == 422 and "抢商争商" in html and "南县经济开发区" in html
    assert 'value="我们的项目"' in html and 'name="confirm_duplicate"' in html
    confirmed = client.post(
        "/projects/new", data={**LEAD, "project_name": "我们的项目", "confirm_duplicate": "1"}
    )
    assert confirmed.status_code == 302


def test_deactivating_a_user_gives_their_claimed_and_assigned_tasks_back(app, client):
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import TaskRecord, Unit, User

    pid = register_lead(client)
    step(
        app,
        client,
        pid,
        "screening",
        screening_decision="退回补充",
        confirmed_class="重大",
        screening_opinion="补材料",
    )
    ((task_id, spec, _),) = ready_tasks(app, pid)
    assert spec == "supplement_lead"  # assigned to zhaoshang, who registered the lead
    with transaction() as s:
        uid = s.scalar(select(User.id).where(User.username == "zhaoshang"))
        jkq = s.scalar(select(Unit.id).where(Unit.code == "jkq", Unit.organisation.has(name="南县")))
    login(client, "admin")
    client.post(f"/admin/users/{uid}/active", data={"active": "0"})
    with transaction() as s:
        record = s.get(TaskRecord, task_id)
        assert (record.assignee_id, record.fixed_assignee) == (None, False)
    login(client, "zhaoshang2")  # another lead officer of the county can now take it over
    assert client.post(f"/tasks/{task_id}/claim").status_code == 302
    # A deactivated unit's users cannot sign in.
    login(client, "admin")
    client.post(f"/admin/units/{jkq}/active", data={"active": "0"})
    client.post("/logout")
    assert client.post("/login", data={"username": "luohu", "password": PASSWORD}).status_code == 401


def test_an_id_too_large_for_the_database_is_not_found_not_a_server_error(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = (
        True  # a database overflow would raise here instead of hiding as a 500
    )
    login(client, "zhuren")
    for url in ("/projects/99999999999999999999", "/tasks/2147483648", "/attachments/99999999999999999999"):
        assert client.get(url).status_code == 404, url
    assert client.get("/projects/2147483647").status_code == 404  # the largest id routes, and is not there


def test_passwords_are_hashed_with_scrypt_unless_configured_otherwise(monkeypatch):
    from workflows.services.user_service import hash_password

    monkeypatch.delenv("ZS_PASSWORD_HASH", raising=False)
    assert hash_password("Zs@2026-long").startswith("scrypt:")


def test_a_failed_sign_in_says_the_same_for_unknown_wrong_and_locked_accounts_and_hashes_alike(
    app, client, monkeypatch
):
    from workflows.services import user_service

    verified = []
    real = user_service.check_password_hash
    monkeypatch.setattr(user_service, "check_password_hash", lambda h, p: verified.append(h) or real(h, p))
    answers = {}
    for username in ("no_such_user", "yanpan"):
        for _ in range(6):  # the sixth attempt meets a locked account
            response = client.post("/login", data={"username": username, "password": "Wrong@2026x"})
            assert response.status_code == 401
        # The CSRF token carries a timestamp: it may differ between the two pages, nothing else may.
        answers[username] = re.sub(r'name="csrf_token" value="[^"]*"', "", response.data.decode())
    assert (
        "用户名或密码错误；从同一地址连续输错 5 次" in answers["no_such_user"] and "锁定" in answers["yanpan"]
    )
    assert answers["no_such_user"].replace("no_such_user", "yanpan") == answers["yanpan"]
    assert len(verified) == 12  # every attempt ran the password hash, unknown users and locked accounts too


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short1!", "密码至少 8 位"),
        ("alllowercase1", "至少三类"),
        ("New_rev@2026", "不得包含用户名"),
        ("P@ssw0rd", "过于常见"),
    ],
)
def test_an_administrator_cannot_set_a_weak_password(client, password, message):
    from workflows.demo import actor

    login(client, "admin")
    unit_id = actor("rev_fgj").unit_id
    response = client.post(
        "/admin/users",
        data={
            "username": "new_rev",
            "display_name": "新用户",
            "password": password,
            "unit_id": unit_id,
            "roles": ["dept_reviewer"],
        },
    )
    assert response.status_code == 422 and message in response.data.decode()
