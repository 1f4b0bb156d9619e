"""The benchmarks on SQLite and PostgreSQL, with the database filled to 1k, 10k, 100k
projects (copies of real engine runs, bench/fill.py). Prints figures and ratios; nothing passes or fails.

    python -m bench                       # 1k, 10k, 100k on SQLite and PostgreSQL
    python -m bench --quick               # 1k only, few repetitions
    python -m bench --sizes 1000,10000 --dbs postgres --json out.json

PostgreSQL: BENCH_POSTGRES_URL (default TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/postgres),
where a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, event, select, text

from bench import fill
from workflows import db
from workflows.capabilities import document_service
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, DEMO_LEAD, DEMO_PASSWORD, actor, advance, seed_organisations
from workflows.engine.runtime import ProcessRuntime
from workflows.models import ModelVersion, ProcessInstance, TaskRecord
from workflows.services import inbox_service, project_service, task_service
from workflows.services.audit_service import replay_instance, verify_database
from workflows.services.inbox_service import InboxQuery
from workflows.sql_count import SqlCount

ROOT = Path(__file__).resolve().parents[1]
PG = (
    os.environ.get("BENCH_POSTGRES_URL")
    or os.environ.get("TEST_POSTGRES_URL")
    or "postgresql://postgres@127.0.0.1:5432/postgres"
)
SCREENING = {k: v for k, v in DEMO_ANSWERS["screening"].items() if v is not None} | {
    "confirmed_class": "重大"
}
RESULTS: dict = {}


# --- helpers -----------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict:
    return {"p50": round(statistics.median(values), 2), "p95": round(pct(values, 0.95), 2), "n": len(values)}


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - start) * 1000, result


def say(label: str, figures: dict | str) -> None:
    if isinstance(figures, dict):
        figures = "  ".join(f"{k} {v}" for k, v in figures.items())
    print(f"  {label:<46} {figures}", flush=True)


class Scratch:
    """A fresh database of one kind: a SQLite file or a scratch PostgreSQL database."""

    def __init__(self, kind: str):
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{tempfile.mkdtemp(prefix='zs-bench-')}/bench.sqlite3"
        else:
            self.name = f"zs_bench_{uuid.uuid4().hex[:8]}"
            self.admin = create_engine(
                PG.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
            )
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = f"{PG.rsplit('/', 1)[0]}/{self.name}"
        db.init(self.url)
        db.upgrade()
        seed_organisations()

    def drop(self) -> None:
        db.engine().dispose()
        if self.kind == "postgres":
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


# --- measurements in the service (no HTTP) -----------------------------------------------------------


def step_costs(reps: int) -> dict:
    """Completing screening (load, validate, engine, persist, index, audit, commit) vs the same step on
    the raw SpiffWorkflow objects with no persistence (and with serialization but no database)."""
    full, raw, raw_ser, sql, commits = [], [], [], [], []
    yanpan = actor("yanpan")
    for _ in range(reps):
        pid = project_service.project_start(actor("zhaoshang"), DEMO_LEAD, True)
        with transaction() as s:
            record = s.scalars(
                select(TaskRecord).where(TaskRecord.instance_id == pid, TaskRecord.state == "ready")
            ).one()
            inst = s.get(ProcessInstance, pid)
            version = s.get(ModelVersion, inst.model_version_id)
            state = inst.state
        runtime = ProcessRuntime(version, {}, inst.process_id)
        wf = runtime.load(state)
        ms, _ = timed(runtime.complete, wf, record.task_uuid, SCREENING)
        raw.append(ms)
        start = time.perf_counter()
        wf = runtime.load(state)
        runtime.complete(wf, record.task_uuid, SCREENING)
        runtime.dump(wf)
        raw_ser.append((time.perf_counter() - start) * 1000)
        task_service.task_claim(yanpan, record.id)
        with SqlCount(db.engine()) as count:
            ms, _ = timed(task_service.task_complete, yanpan, record.id, SCREENING)
        full.append(ms)
        sql.append(count.statements)
        commits.append(count.commits)
    out = {
        "complete_task_ms": summary(full),
        "raw_engine_ms": summary(raw),
        "raw_engine_with_ser_ms": summary(raw_ser),
        "statements": statistics.median(sql),
        "commits": statistics.median(commits),
    }
    out["ratio_p50"] = round(out["complete_task_ms"]["p50"] / out["raw_engine_ms"]["p50"], 2)
    out["target_ms"] = round(1.5 * out["raw_engine_ms"]["p50"] + 10, 2)
    return out


def statements_of(fn, *args) -> int:
    """The SQL statements `fn` sends (transaction control not counted): exact, unlike a timing."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(statement)

    event.listen(db.engine(), "before_cursor_execute", record)
    try:
        fn(*args)
    finally:
        event.remove(db.engine(), "before_cursor_execute", record)
    return len(seen)


def read_costs(reps: int, templates: dict[str, int], list_reps: int) -> dict:
    reviewer, head = actor("rev_fgj"), actor("zhuren")
    out = {}
    for label, who in (("inbox_reviewer_ms", reviewer), ("inbox_head_of_office_ms", head)):
        out[label] = summary([timed(inbox_service.inbox_page, who, InboxQuery())[0] for _ in range(reps)])
    out["inbox_reviewer_statements"] = statements_of(inbox_service.inbox_page, reviewer, InboxQuery())
    first_page = project_service.ProjectQuery()
    out["project_list_first_page_head_of_office_ms"] = summary(
        [timed(project_service.project_page, head, first_page)[0] for _ in range(reps)]
    )
    out["project_list_page_50_head_of_office_ms"] = summary(
        [
            timed(project_service.project_page, head, project_service.ProjectQuery(page=50))[0]
            for _ in range(5)
        ]
    )
    out["project_list_statements"] = statements_of(project_service.project_page, head, first_page)
    pid = templates["signed"]

    def replay_verify():
        with transaction() as s:
            inst = s.get(ProcessInstance, pid)
            assert replay_instance(s, inst).consistent
            assert verify_database(s, pid).ok

    def replay_only():
        with transaction() as s:
            assert replay_instance(s, s.get(ProcessInstance, pid)).consistent

    with transaction() as s:
        out["replay_verify_events_walked"] = verify_database(s, pid).events_checked
    out["replay_verify_project_ms"] = summary([timed(replay_verify)[0] for _ in range(max(list_reps, 3))])
    out["replay_only_ms"] = summary([timed(replay_only)[0] for _ in range(reps)])
    out["filing_form_pdf_ms"] = summary(
        [timed(document_service.filing_form_pdf, pid)[0] for _ in range(max(2, reps // 3))]
    )
    return out


DASHBOARD_CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]) * 2**20, int(sys.argv[2]) * 2**20))
from workflows import db
from workflows.demo import actor
from workflows.services import metrics_service
db.init(sys.argv[1])
times = []
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    metrics_service.dashboard(actor("zhuren"))
    times.append((time.perf_counter() - start) * 1000)
rss = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) // 1024
print(json.dumps({"ms": times, "peak_rss_mb": rss}))
"""


def dashboard_cost(url: str, reps: int, memory_mb: int = 4096, timeout: float = 600) -> dict:
    """The head of office's dashboard, in a child process capped at `memory_mb` and `timeout` seconds (it
    reads every project and task of the county into memory: at 100k that is the limit, not the clock)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", DASHBOARD_CHILD, url, str(memory_mb), str(reps)],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    except subprocess.TimeoutExpired:
        return {"finished": False, "why": f"did not finish in {timeout:.0f} s"}
    if done.returncode != 0:
        return {"finished": False, "why": (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {"finished": True, **summary(figures["ms"]), "peak_rss_mb": figures["peak_rss_mb"]}


def loop_costs(loops: int) -> dict:
    """The screening step on the first pass vs after `loops` returns for more material (退回补充)."""
    pid = project_service.project_start(actor("zhaoshang"), DEMO_LEAD, True)
    times, sizes = [], []
    for _ in range(loops):
        ms, _ = timed(
            advance,
            pid,
            "screening",
            screening_decision="退回补充",
            confirmed_class="重大",
            screening_opinion="请补充资金证明。",
        )
        times.append(ms)
        sizes.append(fill.state_sizes(pid))
        advance(pid, "supplement_lead", **DEMO_LEAD)
    ms, _ = timed(advance, pid, "screening", confirmed_class="重大")
    times.append(ms)
    first, last = statistics.median(times[:3]), statistics.median(times[-3:])
    return {
        "loops": loops,
        "first_pass_ms": round(first, 2),
        "after_loops_ms": round(last, 2),
        "ratio": round(last / first, 2),
        "state_kb_first": round(sizes[0] / 1024, 1),
        "state_kb_last": round(fill.state_sizes(pid) / 1024, 1),
    }


# --- HTTP ------------------------------------------------------------------------------------------


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn on loopback (2 sync workers: the machine's CPUs) serving `app` on the bench database."""

    def __init__(self, url: str, app: str = "webapp:create_app()", workers: int = 2):
        self.base = f"http://127.0.0.1:{_port()}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "ZS_DEMO_PROJECTS": "0",
            "ZS_SECRET_KEY": "bench",
            "ZS_ALLOW_DEMO_ON_SERVER": "1",
            "ZS_INSTANCE_PATH": tempfile.mkdtemp(prefix="zs-bench-instance-"),
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                self.base[7:],
                "--log-level",
                "warning",
                "--timeout",
                "120",
                app,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if session().get(f"{self.base}/login", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {self.proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)

    def workers_rss_mb(self) -> list[int]:
        """Resident memory of each gunicorn worker (the master's children), MB."""
        sizes = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields.get("PPid", "0").strip()) == self.proc.pid:
                sizes.append(int(fields["VmRSS"].split()[0]) // 1024)
        return sorted(sizes)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    return http


def signed_in(base: str, username: str) -> requests.Session:
    http = session()
    page = http.get(f"{base}/login", timeout=60).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"username": username, "password": DEMO_PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    assert http.post(f"{base}/login", data=data, allow_redirects=False, timeout=60).status_code == 302
    http.token = token.group(1) if token else ""
    if not token:
        return http
    http.token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(f"{base}/", timeout=60).text).group(
        1
    )
    return http


def throughput(url: str, users: int, seconds: float) -> dict:
    """N simulated users on loopback for a bounded time: reviewers reading their inbox and task pages,
    screening officers completing screening tasks from a pool (claim + submit)."""
    pool = []
    for _ in range(users * 6):
        pid = project_service.project_start(actor("zhaoshang"), DEMO_LEAD, True)
        with transaction() as s:
            pool.append(
                s.scalar(
                    select(TaskRecord.id).where(TaskRecord.instance_id == pid, TaskRecord.state == "ready")
                )
            )
    server = Server(url)
    lock = threading.Lock()
    lat: dict[str, list[float]] = {"inbox": [], "complete": []}
    errors = []
    stop_at = [0.0]

    def reader(http):
        while time.monotonic() < stop_at[0]:
            ms, r = timed(http.get, f"{server.base}/", timeout=60)
            with lock:
                (lat["inbox"] if r.status_code == 200 else errors).append(ms)

    def writer(http):
        while time.monotonic() < stop_at[0]:
            with lock:
                if not pool:
                    return
                task_id = pool.pop()
            start = time.perf_counter()
            r1 = http.post(
                f"{server.base}/tasks/{task_id}/claim",
                data={"csrf_token": http.token},
                allow_redirects=False,
                timeout=60,
            )
            r2 = http.post(
                f"{server.base}/tasks/{task_id}",
                data={**SCREENING, "csrf_token": http.token, "action": "submit"},
                allow_redirects=False,
                timeout=60,
            )
            with lock:
                if r1.status_code == 302 and r2.status_code == 302:
                    lat["complete"].append((time.perf_counter() - start) * 1000)
                else:
                    errors.append((r1.status_code, r2.status_code))

    try:
        writers = max(1, users // 4)
        threads = [
            threading.Thread(target=writer, args=(signed_in(server.base, "yanpan"),)) for _ in range(writers)
        ] + [
            threading.Thread(target=reader, args=(signed_in(server.base, "rev_fgj"),))
            for _ in range(users - writers)
        ]
        stop_at[0] = time.monotonic() + seconds
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 120)
        elapsed = time.monotonic() - began
        rss = server.workers_rss_mb()
    finally:
        server.stop()
    done = len(lat["inbox"]) + len(lat["complete"])
    return {
        "users": users,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(done / elapsed, 1),
        "workers_rss_mb": rss,
        "completions_per_s": round(len(lat["complete"]) / elapsed, 2),
        "errors": len(errors),
        "inbox_ms": summary(lat["inbox"]) if lat["inbox"] else None,
        "claim_and_complete_ms": summary(lat["complete"]) if lat["complete"] else None,
    }


def minimal_model(kind: str, lifecycles: int) -> dict:
    """The minimal model (bench/minimal) over HTTP, in its own database: start, list, submit A, submit B."""
    from bench.minimal_app import minimal_version

    scratch = Scratch(kind)
    try:
        with transaction() as s:
            minimal_version(s)
        server = Server(scratch.url, "bench.minimal_app:create()")
        try:
            http = signed_in(server.base, "shangwu")
            base = server.base
            steps: dict[str, list[float]] = {
                "start": [],
                "list": [],
                "submit_a": [],
                "submit_b": [],
                "lifecycle": [],
            }
            for i in range(lifecycles + 2):
                began = time.perf_counter()
                ms_start, r = timed(http.post, f"{base}/bench/start", data={"n": i}, timeout=60)
                assert r.status_code == 201, r.text[:300]
                pid = r.json()["id"]
                ms_list, r = timed(http.get, f"{base}/", timeout=60)
                assert r.status_code == 200
                with transaction() as s:
                    task_a = s.scalar(
                        select(TaskRecord.id).where(
                            TaskRecord.instance_id == pid, TaskRecord.state == "ready"
                        )
                    )
                ms_a, r = timed(
                    http.post, f"{base}/tasks/{task_a}", data={"n": i + 1}, allow_redirects=False, timeout=60
                )
                assert r.status_code == 302, r.text[:500]
                with transaction() as s:
                    task_b = s.scalar(
                        select(TaskRecord.id).where(
                            TaskRecord.instance_id == pid, TaskRecord.state == "ready"
                        )
                    )
                ms_b, r = timed(
                    http.post, f"{base}/tasks/{task_b}", data={"n": i + 2}, allow_redirects=False, timeout=60
                )
                assert r.status_code == 302, r.text[:500]
                total = (time.perf_counter() - began) * 1000
                if i >= 2:  # two warm-up lifecycles
                    for key, value in zip(steps, (ms_start, ms_list, ms_a, ms_b, total), strict=True):
                        steps[key].append(value)
            with transaction() as s:
                assert s.get(ProcessInstance, pid).status == "completed"
        finally:
            server.stop()
    finally:
        scratch.drop()
    return {key: round(statistics.median(values), 2) for key, values in steps.items()} | {"n": lifecycles}


# --- the run -----------------------------------------------------------------------------------------


def run_db(kind: str, sizes: list[int], args) -> dict:
    print(f"\n== {kind} ==", flush=True)
    out: dict = {"sizes": {}}
    scratch = Scratch(kind)
    try:
        ms, templates = timed(fill.make_templates)
        say("templates driven through the engine", f"{ms / 1000:.1f} s")
        for size in sizes:
            ms, count = timed(fill.fill, templates, size)
            print(
                f" -- {count} projects (filled in {ms / 1000:.1f} s); load average {os.getloadavg()}",
                flush=True,
            )
            figures = step_costs(args.reps)
            figures |= read_costs(args.reps, templates, args.list_reps if size < 50_000 else 1)
            if not args.no_dashboard:
                figures["dashboard_head_of_office_ms"] = dashboard_cost(
                    scratch.url, 3 if size < 50_000 else 1
                )
            figures["throughput"] = throughput(scratch.url, args.users, args.seconds)
            figures["load_average_after"] = os.getloadavg()
            for key, value in figures.items():
                say(key, value)
            out["sizes"][count] = figures
        if not args.no_loops:
            out["loops"] = loop_costs(args.loops)
            say("step after return loops", out["loops"])
    finally:
        scratch.drop()
    if not args.no_minimal:
        out["minimal_model_http_ms"] = minimal_model(kind, args.lifecycles)
        say("minimal model over HTTP (median ms)", out["minimal_model_http_ms"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1k projects only, few repetitions")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--dbs", default="sqlite,postgres")
    parser.add_argument("--reps", type=int, default=30, help="repetitions of each timed operation")
    parser.add_argument("--list-reps", type=int, default=5, help="repetitions of the slow whole-list reads")
    parser.add_argument("--users", type=int, default=8, help="concurrent simulated HTTP users")
    parser.add_argument("--seconds", type=float, default=15, help="duration of the throughput run")
    parser.add_argument("--loops", type=int, default=50, help="return-for-more-material loops")
    parser.add_argument("--lifecycles", type=int, default=30, help="minimal-model lifecycles over HTTP")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--no-dashboard", action="store_true", help="skip the dashboard (it loads a county whole)"
    )
    parser.add_argument("--no-minimal", action="store_true", help="skip the minimal model over HTTP")
    parser.add_argument("--no-loops", action="store_true", help="skip the return-loop measurement")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.reps, args.list_reps, args.seconds, args.lifecycles = "1000", 10, 3, 8, 10
    sizes = [int(s) for s in args.sizes.split(",")]
    os.environ.setdefault("ZS_DEMO_PROJECTS", "0")
    print(
        f"machine: {platform.platform()}; {os.cpu_count()} CPUs; python {platform.python_version()}; "
        f"load average {os.getloadavg()}"
    )
    print(f"sizes {sizes}; reps {args.reps}; users {args.users}; loops {args.loops}")
    for kind in args.dbs.split(","):
        RESULTS[kind] = run_db(kind, sizes, args)
    if args.json:
        Path(args.json).write_text(json.dumps(RESULTS, indent=1, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
