"""Several machines, on loopback: two app servers (gunicorn with deploy/gunicorn.conf.py, production
mode) and two schedulers on one PostgreSQL database behind nginx with the shipped site. A person signs
in through the proxy, starts a process with two timers and works it to its end while requests land on
both servers, and each timer fires exactly once although both schedulers watch it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from test_deploy import BIN, DEPLOY, ROOT, _free_port, _nginx, _nginx_conf, _wait, nginx

from workflows import db
from workflows.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.postgres, nginx]
MODEL = Path(__file__).parent / "models" / "relay_timers"
PROCESS = "relay_timers"


def _zhaoshang(env: dict, *args: str) -> None:
    done = subprocess.run(
        [str(BIN / "zhaoshang"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _prepare(env: dict, tmp: Path) -> None:
    """Schema, the demo organisations and users, and the timer model bound to the first demo county."""
    _zhaoshang(env, "db", "upgrade")
    seed = {
        **env,
        "ZS_ENV": "development",
        "ZS_DEMO_DATA": "1",
        "ZS_DEMO_PROJECTS": "0",
        "ZS_ALLOW_DEMO_ON_SERVER": "1",
    }
    done = subprocess.run(
        [str(BIN / "python"), "-c", "from webapp import create_app; create_app()"],
        env=seed,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    archive = tmp / "relay_timers.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(MODEL / "bpmn" / "relay_timers.bpmn", "bpmn/relay_timers.bpmn")
    _zhaoshang(env, "deploy-model", str(archive), "--by", "admin", "--note", "集群演练", "--bind", "南县")


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _post(session, url: str, data: dict | None = None):
    token = _csrf(session.get(url).text)
    # Over HTTPS Flask-WTF also checks the Referer, as a browser sends it.
    return session.post(
        url, data={"csrf_token": token, **(data or {})}, headers={"Referer": url}, allow_redirects=False
    )


def _next_task(session, base: str, timeout: float = 30) -> int:
    """The task in the person's inbox (the only process running), waiting for a timer to bring it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r'href="/tasks/(\d+)"', session.get(f"{base}/").text)
        if found:
            return int(found.group(1))
        time.sleep(0.5)
    raise AssertionError("no task arrived: the timer did not fire")


def test_two_servers_and_two_schedulers_behind_nginx_run_a_process_with_every_timer_firing_once(
    postgres_url, tmp_path
):
    import requests

    db.init(postgres_url)  # the fixture disposes of the service's engine afterwards
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ZS_DEMO_DATA")}
    env |= {
        "ZS_DATABASE_URL": postgres_url,
        "ZS_ENV": "production",
        "ZS_SECRET_KEY": "s" * 40,
        "ZS_PII_KEYS": "k1:MDEyMzQ1Njc4OWFiY2RlZg==",
        "ZS_INSTANCE_PATH": str(tmp_path / "instance"),
        "ZS_AUDIT_CHECKPOINT_FILE": str(tmp_path / "anchors.jsonl"),
        "ZS_TRUSTED_PROXIES": "1",
        "ZS_WORKERS": "1",
        "ZS_DEMO_DATA": "0",
        "ZS_ALLOW_DEMO_ON_SERVER": "1",
    }  # the demo users sign in: a demonstration cluster
    _prepare(env, tmp_path)
    ports, http_port, https_port = [_free_port(), _free_port()], _free_port(), _free_port()
    conf = _nginx_conf(tmp_path, http_port, https_port, ports[0])
    site = tmp_path / "site.conf"
    site.write_text(
        site.read_text().replace(
            f"server 127.0.0.1:{ports[0]};", "".join(f"server 127.0.0.1:{p};\n    " for p in ports)
        )
    )
    processes, logs = [], []
    for number, port in enumerate(ports):
        log = tmp_path / f"app{number}.log"
        logs.append(log)
        processes.append(
            subprocess.Popen(
                [str(BIN / "gunicorn"), "--config", str(DEPLOY / "gunicorn.conf.py")],
                cwd=ROOT,
                env={
                    **env,
                    "ZS_BIND": f"127.0.0.1:{port}",
                    "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics{number}"),
                },
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    for number in range(2):
        log = tmp_path / f"scheduler{number}.log"
        processes.append(
            subprocess.Popen(
                [str(BIN / "zhaoshang"), "scheduler", "--interval", "1"],
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    proxy_log = tmp_path / "nginx.log"
    proxy = subprocess.Popen(
        [_nginx(), "-c", str(conf), "-p", str(tmp_path)], stdout=proxy_log.open("w"), stderr=subprocess.STDOUT
    )
    base = f"https://127.0.0.1:{https_port}"
    try:
        for port, process, log in zip(ports, processes, logs, strict=False):
            _wait(f"http://127.0.0.1:{port}/readyz", process, log)
        _wait(f"{base}/healthz", proxy, proxy_log, verify=False)
        person = requests.Session()
        person.verify, person.trust_env = False, False  # the self-signed certificate of _nginx_conf
        signed_in = _post(person, f"{base}/login", {"username": "shangwu", "password": DEMO_PASSWORD})
        assert signed_in.status_code == 302, signed_in.text[:2000]
        started = _post(person, f"{base}/start/{PROCESS}")
        assert started.status_code == 302, started.text[:2000]
        project = int(re.search(r"/projects/(\d+)", started.headers["Location"]).group(1))
        # Starting submits the form-less first task (递交材料); the first timer then brings 核对材料.
        task = _next_task(person, base)
        assert _post(person, f"{base}/tasks/{task}").status_code == 302
        deadline = time.monotonic() + 30
        while "已办结" not in person.get(f"{base}/projects/{project}").text:  # the second timer ends it
            assert time.monotonic() < deadline, "the second timer did not fire"
            time.sleep(0.5)
    finally:
        proxy.terminate()
        for process in processes:
            process.terminate()
        proxy.wait(timeout=20)
        for process in processes:
            process.wait(timeout=40)

    # Both servers answered the person's requests (one session, kept in the database).
    served = [
        sum(
            1
            for line in log.read_text().splitlines()
            if line.startswith("{") and '"path": "/' in line and '"remote": "127.0.0.1"' in line
        )
        for log in logs
    ]
    assert all(served), served
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        steps = conn.execute(
            text(
                "SELECT actor, data FROM audit_event WHERE instance_id = :i AND action = 'engine_step' "
                "ORDER BY id"
            ),
            {"i": project},
        ).all()
        status = conn.execute(
            text("SELECT status FROM process_instance WHERE id = :i"), {"i": project}
        ).scalar_one()
    engine.dispose()
    assert status == "completed"
    by_scheduler = [data for actor, data in steps if actor == "scheduler"]
    assert len(by_scheduler) == 2, [json.dumps(d, ensure_ascii=False)[:200] for d in by_scheduler]
    assert [actor for actor, _ in steps].count("shangwu") == 2  # the start (with 递交材料) and 核对材料
