"""The production files in deploy/ are checked here: systemd units (systemd-analyze verify), the compose
file against the compose specification's schema, the nginx site with `nginx -t`, and a request through
nginx (TLS) to gunicorn started with deploy/gunicorn.conf.py."""
from __future__ import annotations

import configparser
import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _installed_unit(unit: Path, target: Path) -> Path:
    """The unit as it would be installed, with /opt/zhaoshang being this checkout."""
    text = unit.read_text().replace("/opt/zhaoshang/.venv/bin", str(BIN)).replace("/opt/zhaoshang", str(ROOT))
    path = target / unit.name
    path.write_text(text)
    return path


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_unit_starts_an_existing_command_with_the_shared_settings(unit, tmp_path):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read_string(_installed_unit(unit, tmp_path).read_text())
    service = parser["Service"]
    command = service["ExecStart"].split()
    assert os.access(command[0], os.X_OK), command[0]
    assert service["EnvironmentFile"] == "/etc/zhaoshang/zhaoshang.env"
    assert "ZS_INSTANCE_PATH=/var/lib/zhaoshang" in service["Environment"]
    assert service["User"] == "zhaoshang" and service["NoNewPrivileges"] == "yes"
    if unit.name == "zhaoshang-web.service":
        assert command[1:] == ["--config", str(DEPLOY / "gunicorn.conf.py")]
    if unit.name == "zhaoshang-scheduler.service":
        assert command[1:3] == ["-m", "workflows.commands.scheduler"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    units = [_installed_unit(unit, tmp_path) for unit in (DEPLOY / "systemd").iterdir()]
    result = subprocess.run(["systemd-analyze", "verify", *map(str, units)], check=False, capture_output=True, text=True)
    # Only problems in our units count (the host's own units may have their own complaints).
    ours = [line for line in result.stderr.splitlines() if str(tmp_path) in line or "zhaoshang" in line]
    assert result.returncode == 0 and not ours, result.stderr


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                             str(DEPLOY / "compose.yaml")], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_two_app_containers_one_scheduler_and_postgresql():
    from ruamel.yaml import YAML

    services = YAML(typ="safe").load((DEPLOY / "compose.yaml").read_text())["services"]
    assert services["db"]["image"].startswith("postgres:")
    apps = [name for name, s in services.items() if s.get("build", {}).get("dockerfile") == "deploy/Dockerfile"]
    assert sorted(apps) == ["migrate", "scheduler", "web1", "web2"]
    assert services["scheduler"]["command"][:3] == ["python", "-m", "workflows.commands.scheduler"]
    # Production: only `zhaoshang db upgrade` migrates, once, before the app and the scheduler start.
    assert services["migrate"]["command"] == ["zhaoshang", "db", "upgrade"]
    for name in ("web1", "web2", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["environment"]["ZS_ENV"] == "production"
    for name in apps:
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert services[name]["environment"]["ZS_DEMO_DATA"] == "0"
    assert (DEPLOY / "Dockerfile").read_text().count("deploy/gunicorn.conf.py") == 1


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    crt, pem = folder / "fullchain.pem", folder / "privkey.pem"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nginx_conf(tmp: Path, http_port: int, https_port: int, app_port: int) -> Path:
    crt, pem = _self_signed(tmp)
    site = (DEPLOY / "nginx" / "zhaoshang.conf").read_text()
    site = (site.replace("/etc/ssl/zhaoshang/fullchain.pem", str(crt)).replace("/etc/ssl/zhaoshang/privkey.pem", str(pem))
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};").replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
            .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"))
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    (tmp / "site.conf").write_text(site)
    temp = {k: tmp / k for k in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(f"""daemon off;
pid {tmp / 'nginx.pid'};
error_log {tmp / 'error.log'} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {tmp / 'site.conf'};
}}
""")
    return conf


nginx = pytest.mark.skipif(not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists() and not os.environ.get("CI"),
                           reason="nginx not installed (Debian package nginx)")


def _nginx() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


@nginx
def test_nginx_site_passes_nginx_t(tmp_path):
    conf = _nginx_conf(tmp_path, _free_port(), _free_port(), 8000)
    result = subprocess.run([_nginx(), "-t", "-c", str(conf), "-p", str(tmp_path)],
                            check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_nginx_upload_limit_matches_the_apps_request_limit():
    from webapp.config import OPTIONS

    site = (DEPLOY / "nginx" / "zhaoshang.conf").read_text()
    size = int(re.search(r"client_max_body_size (\d+)m;", site).group(1))
    assert size == OPTIONS["MAX_UPLOAD_MB"][1] + 2  # the app's MAX_CONTENT_LENGTH (webapp/config.py)


def _wait(url: str, proc: subprocess.Popen, log: Path, **kwargs) -> None:
    import requests

    for _ in range(150):
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited: {log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=2, **kwargs)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered: {log.read_text()[-3000:]}")


@nginx
def test_a_request_through_nginx_over_tls_reaches_gunicorn_with_its_request_id(tmp_path):
    import requests

    app_port, http_port, https_port = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "ZS_INSTANCE_PATH": str(tmp_path / "instance"), "ZS_BIND": f"127.0.0.1:{app_port}",
           "ZS_WORKERS": "2", "ZS_TRUSTED_PROXIES": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "ZS_SECRET_KEY": "k"}
    env.pop("DATABASE_URL", None)
    app_log, nginx_log = tmp_path / "gunicorn.log", tmp_path / "nginx.log"
    app = subprocess.Popen([str(BIN / "gunicorn"), "--config", str(DEPLOY / "gunicorn.conf.py")], cwd=ROOT,
                           env=env, stdout=app_log.open("w"), stderr=subprocess.STDOUT)
    proxy = subprocess.Popen([_nginx(), "-c", str(_nginx_conf(tmp_path, http_port, https_port, app_port)),
                              "-p", str(tmp_path)], stdout=nginx_log.open("w"), stderr=subprocess.STDOUT)
    base = f"https://127.0.0.1:{https_port}"
    try:
        _wait(f"http://127.0.0.1:{app_port}/healthz", app, app_log)
        _wait(f"{base}/healthz", proxy, nginx_log, verify=False)
        # A client's own X-Forwarded-For is overwritten by nginx, never passed on.
        health = requests.get(f"{base}/healthz", verify=False,
                              headers={"X-Request-ID": "edge-1", "X-Forwarded-For": "6.6.6.6"})
        assert health.status_code == 200 and health.headers["X-Request-ID"] == "edge-1"
        assert requests.get(f"{base}/readyz", verify=False).json()["status"] == "ok"
        # nginx makes an id when the client sent none; the app's JSON line carries it.
        made = requests.get(f"{base}/login", verify=False)
        assert made.status_code == 200 and "招商引资" in made.text and len(made.headers["X-Request-ID"]) == 32
        plain = requests.get(f"http://127.0.0.1:{http_port}/login", allow_redirects=False)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
        # Metrics: refused through the site, answered on the machine itself, summed over both workers.
        assert requests.get(f"{base}/metrics", verify=False).status_code == 403
        for _ in range(6):
            requests.get(f"http://127.0.0.1:{app_port}/healthz")
        scrape = requests.get(f"http://127.0.0.1:{app_port}/metrics")
        assert scrape.status_code == 200 and "zhaoshang_request_seconds_count" in scrape.text
        # Larger than the upload limit: nginx answers 413 before the app reads it.
        too_big = requests.post(f"{base}/login", verify=False, data=b"x" * (13 * 1024 * 1024))
        assert too_big.status_code == 413
    finally:
        proxy.terminate()
        app.terminate()
        proxy.wait(timeout=20)
        app.wait(timeout=40)
    lines = [line for line in app_log.read_text().splitlines() if line.startswith("{")]
    edge = [json.loads(line) for line in lines if '"request_id": "edge-1"' in line]
    assert edge and edge[0]["path"] == "/healthz" and edge[0]["remote"] == "127.0.0.1", lines[-5:]
    assert any(made.headers["X-Request-ID"] in line for line in lines)
