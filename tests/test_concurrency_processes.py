"""Many users at once on one PostgreSQL, with real processes: two gunicorn app servers (two workers
each) share a scratch database; scheduler processes race for the same timers; a process killed with
SIGKILL in the middle of an engine step leaves the project as before the step or after it, never
between, and the audit chain agrees with the stored state.

Needs PostgreSQL at TEST_POSTGRES_URL (skipped locally without it, fails in CI like the other
PostgreSQL tests) and gunicorn (test extras)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from conftest import scratch_postgres
from service_support import advance, instance, ready, start
from sqlalchemy import func, select, text

from workflows import audit, db
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, DEMO_PASSWORD, actor, seed_organisations
from workflows.models import AuditEvent, Notification, ProcessInstance, TaskRecord
from workflows.models._types import utcnow
from workflows.services import task_service
from workflows.services.audit_service import verify_database

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[1]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- a scratch database and two app servers for the whole module ---------------------------------


@pytest.fixture(scope="module")
def pg_module():
    """A migrated, seeded scratch PostgreSQL database shared by this module's tests."""
    with scratch_postgres() as url:
        db.init(url)
        db.upgrade()
        seed_organisations()
        yield url


@pytest.fixture
def pg(pg_module):
    db.init(pg_module)  # other modules may have bound the service elsewhere meanwhile
    return pg_module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(url: str, **extra: str) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "ZS_DEMO_PROJECTS": "0", "PYTHONPATH": str(ROOT), **extra}
    env.pop("ZS_FAULT_POINT", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def servers(pg_module, tmp_path_factory):
    """Two gunicorn app servers (2 sync workers each) on the same database: four app processes."""
    pytest.importorskip("gunicorn")
    instance_dir = tmp_path_factory.mktemp("instance")
    procs, urls = [], []
    for _ in range(2):
        port = _free_port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--workers",
                    "2",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "60",
                    "--log-level",
                    "warning",
                    "webapp:create_app()",
                ],
                cwd=ROOT,
                env=_env(pg_module, ZS_SECRET_KEY="shared-test-key", ZS_INSTANCE_PATH=str(instance_dir)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        for proc, url in zip(procs, urls, strict=True):
            _wait_until_answering(proc, url, deadline)
        yield urls
    finally:
        _stop(procs)


def _wait_until_answering(proc: subprocess.Popen, url: str, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if _http().get(f"{url}/login", timeout=30).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        if time.monotonic() > deadline:
            pytest.fail("gunicorn did not answer within 90 s")
        time.sleep(0.3)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _http() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # loopback: never through a proxy from the environment
    return http


def _signed_in(base: str, username: str) -> requests.Session:
    http = _http()
    token = CSRF.search(http.get(f"{base}/login", timeout=30).text).group(1)
    answer = http.post(
        f"{base}/login",
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[:500]
    http.base = base
    return http


def _csrf(http: requests.Session) -> str:
    return CSRF.search(http.get(f"{http.base}/", timeout=30).text).group(1)


def _at_once(*calls) -> list:
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _post(http: requests.Session, path: str, data: dict, token: str):
    return lambda: http.post(
        f"{http.base}{path}", data={**data, "csrf_token": token}, allow_redirects=False, timeout=60
    )


def _at_joint_review() -> int:
    pid = start()
    advance(pid, "screening", confirmed_class="重大")
    advance(pid, "negotiation")
    advance(pid, "approve_terms")
    return pid


def _record(pid: int, spec: str, unit: str | None = None) -> TaskRecord:
    return next(r for r in ready(pid) if r.spec_name == spec and (unit is None or r.unit_code == unit))


def _chain_agrees(pid: int) -> None:
    """The audit chain holds and the stored state is the one the last engine step recorded."""
    with transaction() as s:
        assert audit.first_broken(s) is None
        assert verify_database(s, pid).findings == []
        stored = s.get(ProcessInstance, pid)
        last = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == pid, AuditEvent.action == "engine_step")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        ).first()
        assert last.state_hash == stored.state_hash


# --- HTTP: several app processes at once ---------------------------------------------------------


def test_two_users_completing_the_same_task_at_once_one_lands_the_other_gets_409(pg, servers):
    pid = _at_joint_review()
    task = _record(pid, "department_review", "fgj")
    # Two reviewers of 发改局, each on another app server, claim the same opinion at once: one has it.
    first, second = _signed_in(servers[0], "rev_fgj"), _signed_in(servers[1], "rev_fgj2")
    claims = _at_once(
        _post(first, f"/tasks/{task.id}/claim", {}, _csrf(first)),
        _post(second, f"/tasks/{task.id}/claim", {}, _csrf(second)),
    )
    assert sorted(r.status_code for r in claims) == [302, 409]
    holder = first if claims[0].status_code == 302 else second
    # The holder submits from two windows served by two app servers at once: one lands, one is refused.
    other_window = _signed_in(
        servers[1] if holder is first else servers[0], "rev_fgj" if holder is first else "rev_fgj2"
    )
    form = {**DEMO_ANSWERS["department_review"], "action": "submit"}
    answers = _at_once(
        _post(holder, f"/tasks/{task.id}", form, _csrf(holder)),
        _post(other_window, f"/tasks/{task.id}", form, _csrf(other_window)),
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [302, 409], [r.text[:300] for r in answers]
    refused = next(r for r in answers if r.status_code == 409)
    # the error page says the task is gone: who completed it, or (when the loser's step found the
    # instance changed as it wrote) that it was handled
    assert "409" in refused.text and ("该任务已由" in refused.text or "该任务已被处理" in refused.text)
    with transaction() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.instance_id == pid,
                    AuditEvent.action == "task_completed",
                    AuditEvent.task_spec == "department_review",
                )
            )
            == 1
        )
        assert s.get(TaskRecord, task.id).state == "completed"
    _chain_agrees(pid)


def test_two_department_reviews_of_one_project_completed_at_once_both_land(pg, servers):
    pid = _at_joint_review()
    units = ("sthj", "zrzyj")
    users = {"sthj": "rev_sthj", "zrzyj": "rev_zrzyj"}
    posts = []
    for server, unit in zip(servers, units, strict=True):
        task = _record(pid, "department_review", unit)
        task_service.task_claim(actor(users[unit]), task.id)
        http = _signed_in(server, users[unit])
        posts.append(
            _post(
                http,
                f"/tasks/{task.id}",
                {**DEMO_ANSWERS["department_review"], "review_opinion": f"{unit} 同意", "action": "submit"},
                _csrf(http),
            )
        )
    answers = _at_once(*posts)
    assert [r.status_code for r in answers] == [302, 302], [r.text[:300] for r in answers]
    assert not {r.unit_code for r in ready(pid) if r.spec_name == "department_review"} & set(units)
    # Neither opinion was lost in the engine: the others finish the round, and the project moves on
    # with every department's opinion in the joint-review summary.
    advance(pid, "department_review")
    assert [r.spec_name for r in ready(pid)] == ["review_materials"]
    with transaction() as s:
        summary = task_service.joint_review_summary(s, pid)
    opinions = {row["opinion"] for row in summary}
    assert {"sthj 同意", "zrzyj 同意"} <= opinions
    _chain_agrees(pid)


# --- scheduler processes --------------------------------------------------------------------------


def _make_timer_due(pid: int) -> None:
    """Move the project's earliest timer into the past in the database (not the clock)."""
    with transaction() as s:
        row = s.get(ProcessInstance, pid)
        state = json.loads(row.state)
        due = row.next_timer_at
        past = utcnow() - timedelta(days=30)
        moved = 0
        for task in state["tasks"].values():
            value = task.get("internal_data", {}).get("event_value")
            if isinstance(value, str) and value[:16] == due.isoformat()[:16]:
                task["internal_data"]["event_value"] = past.isoformat() + "+00:00"
                moved += 1
        assert moved, "no timer matched next_timer_at"
        s.execute(
            text("UPDATE process_instance SET state = :state, next_timer_at = :at WHERE id = :id"),
            {"state": json.dumps(state, ensure_ascii=False), "at": past, "id": pid},
        )


def test_several_scheduler_processes_fire_each_due_timer_once(pg):
    pids = []
    for n in range(3):
        pid = start(project_name=f"定时器并发项目{n}", investor=f"定时器投资方{n}")
        advance(pid, "screening", confirmed_class="重大")
        _make_timer_due(pid)
        pids.append(pid)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "workflows.commands.scheduler", "--once"],
            cwd=ROOT,
            env=_env(pg),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outputs]
    fired = [int(re.search(r"timers fired on (\d+) instance", out).group(1)) for out, _ in outputs]
    assert sum(fired) == len(pids), fired
    with transaction() as s:
        reminded = s.scalars(
            select(AuditEvent.instance_id).where(
                AuditEvent.action == "task_overdue_reminded", AuditEvent.instance_id.in_(pids)
            )
        ).all()
        assert sorted(reminded) == sorted(pids)  # each timer once
        assert s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == "overdue", Notification.instance_id.in_(pids))
        ) == len(pids)
        assert audit.first_broken(s) is None


# --- kill -9 in the middle of an engine step -------------------------------------------------------

STEP_CHILD = """
import sys
from workflows import db
from workflows.demo import DEMO_ANSWERS, actor
from workflows.services import task_service
db.init(sys.argv[1])
answers = {**{k: v for k, v in DEMO_ANSWERS["screening"].items() if v is not None}, "confirmed_class": "重大"}
task_service.task_complete(actor("yanpan"), int(sys.argv[2]), answers)
print("step committed and the process lived", flush=True)
"""


@pytest.mark.parametrize(
    "point, lands",
    [
        ("after_engine", False),
        ("after_state_before_audit", False),
        ("after_engine_before_commit", False),
        ("after_commit", True),
    ],
)
def test_a_process_killed_mid_step_leaves_the_project_before_or_after_it_never_between(pg, point, lands):
    pid = start(project_name=f"故障注入项目 {point}", investor=f"故障注入投资方 {point}")
    task = _record(pid, "screening")
    task_service.task_claim(actor("yanpan"), task.id)
    before = instance(pid)
    with transaction() as s:
        events_before = s.scalar(select(func.count()).select_from(AuditEvent))
    child = subprocess.run(
        [sys.executable, "-c", STEP_CHILD, pg, str(task.id)],
        check=False,
        cwd=ROOT,
        env=_env(pg, ZS_FAULT_POINT=point),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr[-2000:]  # SIGKILL at the fault point
    after = instance(pid)
    with transaction() as s:
        events_after = s.scalar(select(func.count()).select_from(AuditEvent))
        record = s.get(TaskRecord, task.id)
    if lands:
        assert after.state_hash != before.state_hash and after.version != before.version
        assert record.state == "completed" and [r.spec_name for r in ready(pid)] == ["negotiation"]
        assert events_after > events_before
    else:
        # Nothing of the step: same state, same version, the task still ready, no audit event.
        assert (after.state_hash, after.version, after.stage) == (
            before.state_hash,
            before.version,
            before.stage,
        )
        assert record.state == "ready" and events_after == events_before
    _chain_agrees(pid)
    if not lands:
        # Nothing was left locked or half-written: the same step succeeds now (the chain's lock is free).
        advance(pid, "screening", confirmed_class="重大")
        assert [r.spec_name for r in ready(pid)] == ["negotiation"]
        _chain_agrees(pid)
