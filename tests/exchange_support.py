"""Two deployments on loopback for the filing-exchange tests: a prefecture deployment in a
subprocess (its own SQLite file: workflows/db.py holds one engine per process) and a county
deployment in this process, served by a thread so that the prefecture can call it back."""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from workflows import filing_exchange
from workflows.db import transaction
from workflows.demo import DEMO_LEAD, advance
from workflows.demo import actor as demo_actor
from workflows.models import TaskRecord
from workflows.services import project_service

ROOT = Path(__file__).resolve().parents[1]
KEYS = "南县=nanxian-shared-key-0123456789abcdef,桃江县=taojiang-shared-key-fedcba9876543210"
KEY = dict(pair.split("=", 1) for pair in KEYS.split(","))
# Each deployment's own Ed25519 key (fixed, so that both processes know them): the county deployment
# signs for 南县 and 桃江县, the prefecture deployment its decisions.
COUNTY_SIGNING = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"county deployment").digest())
PREFECTURE_SIGNING = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"prefecture deployment").digest())
COUNTY_PUBLIC = filing_exchange.public_text(COUNTY_SIGNING)
PREFECTURE_PUBLIC = filing_exchange.public_text(PREFECTURE_SIGNING)
BOTH_COUNTIES = f"南县={COUNTY_PUBLIC},桃江县={COUNTY_PUBLIC}"


def write_key(key: Ed25519PrivateKey, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


PREFECTURE_SERVER = """
import sys
from werkzeug.serving import run_simple
from webapp import create_app
app = create_app({"WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False})
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefecture_env(directory: Path, county_url: str | None, county_keys: str) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ZS_INSTANCE_PATH": str(directory),
        "DATABASE_URL": f"sqlite:///{directory / 'prefecture.sqlite3'}",
        "ZS_DEMO_PROJECTS": "0",
        "ZS_SECRET_KEY": "prefecture-test",
        "ZS_FILING_KEYS": KEYS,
        "ZS_FILING_SIGNING_KEY_FILE": str(write_key(PREFECTURE_SIGNING, directory / "signing-key.pem")),
        "ZS_FILING_COUNTY_KEYS": county_keys,
        "ZS_FILING_COUNTY_URLS": f"南县={county_url}" if county_url else "",
    }
    env.pop("ZS_DATABASE_URL", None)
    env.pop("ZS_FILING_PREFECTURE_URL", None)
    return env


class Prefecture:
    """The prefecture deployment: a web server in a subprocess, and its scheduler run on demand."""

    def __init__(self, directory: Path, port: int, county_url: str | None, county_keys: str = BOTH_COUNTIES):
        self.directory, self.port = directory, port
        self.env = prefecture_env(directory, county_url, county_keys)
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def start(self, timeout: float = 60) -> Prefecture:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "server.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-c", PREFECTURE_SERVER, str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.directory / "server.log").read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=0.5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise TimeoutError("the prefecture deployment did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def scheduler_once(self) -> str:
        """`python -m workflows.commands.scheduler --once` against the prefecture's database: sends its
        outbox."""
        result = subprocess.run(
            [sys.executable, "-m", "workflows.commands.scheduler", "--once"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    # --- the prefecture bureau's browser ---
    def login(self, username: str = "shishangwu", password: str = "Demo@2026") -> None:
        status, _ = self.request("POST", "/login", {"username": username, "password": password})
        assert status == 302, f"{username} could not sign in at the prefecture"

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def signed_post(
    url: str,
    path: str,
    payload: dict | bytes,
    county: str = "南县",
    key: str | None = None,
    headers: dict | None = None,
    private_key: Ed25519PrivateKey | None = None,
) -> tuple[int, dict | None, dict]:
    """POST to the filing API as a county (or the prefecture) would: signed with `private_key`
    (Ed25519), else with the county's shared key; returns (status, JSON answer, headers sent) so a test
    can send the very same request again."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    full = filing_exchange.API_PREFIX + path
    shared = key if private_key is not None else key or KEY[county]
    sent = headers or {
        "Content-Type": "application/json",
        **filing_exchange.sign(county, shared, "POST", full, body, private_key=private_key),
    }
    req = urllib.request.Request(url + full, data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read()), sent
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None, sent


def filed_project(special: bool = False, **lead) -> int:
    """A 一般 project of 南县 taken to 报市/州商务局备案 by its demo users (service calls)."""
    pid = project_service.project_start(
        demo_actor("zhaoshang"), {**DEMO_LEAD, "amount_wan": "3000", **lead}, True
    )
    advance(pid, "screening", confirmed_class="一般")
    extra = (
        {"special_terms": "true", "special_terms_detail": "固定资产投资奖励按一事一议执行。"}
        if special
        else {}
    )
    advance(pid, "negotiation", amount_wan="3000", **extra)
    for spec in ("approve_terms", "department_review", "review_materials", "pre_review", "review_meeting"):
        advance(pid, spec)
    if special:  # 一事一议 goes to the county executive meeting
        advance(pid, "executive_meeting")
    advance(pid, "contract_review")
    advance(pid, "approve_filing")
    return pid


def ready_specs(pid: int) -> list[str]:
    with transaction() as s:
        return [
            r.spec_name
            for r in s.scalars(
                select(TaskRecord).where(TaskRecord.instance_id == pid, TaskRecord.state == "ready")
            )
        ]
