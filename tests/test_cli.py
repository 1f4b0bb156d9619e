"""The command line (`zhaoshang …`) and the one configuration every entry point reads: an IT office sets up
a county from its unit list and staff list, and the web app, the scheduler and every command then work
on the same database and checkpoint file."""
from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from openpyxl import Workbook

from workflows.commands import cli

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "units-example.csv"
ZHAOSHANG = Path(sys.executable).with_name("zhaoshang")
STRONG_KEY = "k" * 40


def _env(instance: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "ZS_DATABASE_URL", "ZS_AUDIT_CHECKPOINT_FILE", "ZS_ENV")}
    return {**env, "ZS_INSTANCE_PATH": str(instance), "ZS_DEMO_DATA": "0", **extra}


def _run(env: dict, cwd: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _module(env: dict, cwd: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    return _run(env, cwd, sys.executable, "-m", module, *args)


def _password(output: str, username: str) -> str:
    return re.search(rf"\t{username}\t(\S+)", output).group(1)


WEB_APP = textwrap.dedent("""
    import sys
    from webapp import create_app

    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    signed_in = client.post("/login", data={"username": "sysadmin", "password": sys.argv[1]})
    forced = client.get("/admin/")  # the one-time password must be changed first
    changed = client.post("/me/password", data={"old_password": sys.argv[1], "new_password": "Sys-Own#2026x",
                                                 "confirm": "Sys-Own#2026x"})
    print(signed_in.status_code, forced.headers.get("Location", "").split("?")[0], changed.status_code,
          client.get("/admin/").status_code)
""")


def test_the_app_the_scheduler_and_every_command_use_the_same_database_and_checkpoint_file(tmp_path):
    instance, elsewhere = tmp_path / "instance", tmp_path / "cwd"
    elsewhere.mkdir()
    env = _env(instance, ZS_AUDIT_HMAC_KEY="same-key-everywhere", ZS_SECRET_KEY=STRONG_KEY)

    made = _run(env, elsewhere, str(ZHAOSHANG), "init", str(UNITS))
    assert made.returncode == 0, made.stderr
    password = _password(made.stdout, "sysadmin")
    # The web app finds the administrator init created, and signs them in (an audit event in that database).
    web = _run(env, elsewhere, sys.executable, "-c", WEB_APP, password)
    assert web.returncode == 0, web.stderr[-3000:]
    assert web.stdout.split() == ["302", "/me/password", "302", "200"]
    # The scheduler signs a checkpoint of every event so far (init's and the app's) into the same file.
    scheduled = _module(env, elsewhere, "workflows.commands.scheduler", "--once")
    assert scheduled.returncode == 0, scheduled.stderr
    events = int(re.search(r"audit checkpoint up to event #(\d+)", scheduled.stdout).group(1))
    with sqlite3.connect(instance / "zhaoshang.sqlite3") as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM audit_event ORDER BY id")]
    assert len(actions) == events and actions[-2:] == ["signed_in", "password_changed"] and "system_initialised" in actions
    # deploy_model finds the administrator, and the shipped models init deployed there (nothing new to deploy);
    # verify reads the same chain and checks the scheduler's checkpoint.
    deployed = _module(env, elsewhere, "workflows.commands.deploy_model", str(ROOT), "--by", "sysadmin", "--note", "same db")
    assert deployed.returncode == 1 and "与已部署的版本 v1" in deployed.stderr, deployed.stderr
    verified = _module(env, elsewhere, "workflows.commands.verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "1 signed checkpoint line(s)" in verified.stdout and f"{events} anchored event(s)" in verified.stdout
    # The backup holds that database and that checkpoint file.
    archive = tmp_path / "backup.tar.gz"
    backed = _module(env, elsewhere, "workflows.commands.backup", "create", str(archive))
    assert backed.returncode == 0, backed.stderr
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        checkpoints = tar.extractfile("audit-checkpoints.jsonl").read()
    assert checkpoints == (instance / "audit-checkpoints.jsonl").read_bytes()
    assert manifest["files"]["database.sqlite3"]["bytes"] > 0
    # Nothing was written anywhere else: not beside the working directory, no second database.
    assert list(elsewhere.iterdir()) == []
    assert {p.name for p in instance.iterdir()} <= {"zhaoshang.sqlite3", "zhaoshang.sqlite3-wal",
                                                      "zhaoshang.sqlite3-shm", "audit-checkpoints.jsonl", "secret_key"}


def test_production_starts_nothing_on_a_schema_not_at_head_until_db_upgrade(tmp_path):
    env = _env(tmp_path / "instance", ZS_ENV="production", ZS_SECRET_KEY=STRONG_KEY,
               ZS_PII_KEYS="k1:MDEyMzQ1Njc4OWFiY2RlZg==")
    for command in (["workflows.commands.scheduler", "--once"], ["workflows.commands.verify"], ["workflows.commands.cli", "init", str(UNITS)]):
        refused = _module(env, tmp_path, *command)
        assert refused.returncode == 2, (command, refused.stdout, refused.stderr)
        assert "zhaoshang db upgrade" in refused.stderr and "数据库结构不是当前版本" in refused.stderr
    app = _run(env, tmp_path, sys.executable, "-c", "from webapp import create_app; create_app()")
    assert app.returncode != 0 and "zhaoshang db upgrade" in app.stderr
    # Nobody migrated on the way: the command does, and then everything starts.
    upgraded = _run(env, tmp_path, str(ZHAOSHANG), "db", "upgrade")
    assert upgraded.returncode == 0 and "空 / empty →" in upgraded.stdout, upgraded.stdout + upgraded.stderr
    assert _module(env, tmp_path, "workflows.commands.scheduler", "--once").returncode == 0
    assert _run(env, tmp_path, sys.executable, "-c", "from webapp import create_app; create_app()").returncode == 0
    again = _run(env, tmp_path, str(ZHAOSHANG), "db", "upgrade")
    assert again.returncode == 0 and "已是最新" in again.stdout


@pytest.fixture
def instance(request, tmp_path, monkeypatch):
    """An empty instance (no demo data) on SQLite or PostgreSQL; yields a function running `zhaoshang`."""
    monkeypatch.setenv("ZS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("ZS_DEMO_DATA", "0")
    monkeypatch.delenv("ZS_AUDIT_CHECKPOINT_FILE", raising=False)
    monkeypatch.setenv("DATABASE_URL", request.getfixturevalue(request.param))
    return request.param


OWN = "Own-Pass#2026x"  # what a user chooses in place of the printed one-time password


def _zhaoshang(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _sign_in(username: str, password: str, change_to: str | None = None):
    """Sign in; with `change_to`, first replace the one-time password (nothing else opens until then)."""
    from webapp import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t", "DEMO_DATA": False})
    client = app.test_client()
    signed_in = client.post("/login", data={"username": username, "password": password})
    if change_to and signed_in.status_code == 302:
        assert client.get("/").headers["Location"].startswith("/me/password")
        changed = client.post("/me/password", data={"old_password": password, "new_password": change_to,
                                                    "confirm": change_to})
        assert changed.status_code == 302, changed.get_data(as_text=True)[:2000]
    return client, signed_in


@pytest.mark.parametrize("instance", ["sqlite_url", pytest.param("postgres_url", marks=pytest.mark.postgres)],
                         indirect=True)
def test_init_creates_the_county_from_its_unit_list_and_an_administrator_who_signs_in_once(instance, capsys):
    code, out, err = _zhaoshang(capsys, "init", str(UNITS))
    assert code == 0, err
    assert "益阳市；南县 16 个单位" in out
    password = _password(out, "sysadmin")
    # 三权分立: the system, security and audit administrators, each with its own one-time password.
    passwords = {name: _password(out, name) for name in ("sysadmin", "secadmin", "auditadmin")}
    assert len(set(passwords.values())) == 3 and "未建立" not in out
    for name, page in (("secadmin", "/security/"), ("auditadmin", "/audit/versions")):
        other, _ = _sign_in(name, passwords[name], change_to=OWN)
        assert other.get(page).status_code == 200
        assert other.get("/admin/").status_code == 403
    client, signed_in = _sign_in("sysadmin", password, change_to=OWN)
    assert signed_in.status_code == 302
    page = client.get("/admin/").get_data(as_text=True)
    for name in ("县发展和改革局", "南县经济开发区", "茅草街镇", "益阳市商务局"):
        assert name in page
    assert _sign_in("sysadmin", "Demo@2026")[1].status_code == 401  # no published password opens it

    # Run twice: refused, nothing changed, the first password still the one.
    code, out, err = _zhaoshang(capsys, "init", str(UNITS))
    assert code == 1 and "init 只能运行一次" in err and "sysadmin" not in out
    assert _sign_in("sysadmin", OWN)[1].status_code == 302


def test_init_names_every_bad_row_and_creates_nothing(tmp_path, capsys, monkeypatch, sqlite_url):
    monkeypatch.setenv("ZS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("ZS_DEMO_DATA", "0")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    bad = tmp_path / "units.csv"
    bad.write_text("县,单位代码,单位名称,类别\n南县,swj,县商务局,综合协调单位\n南县,fgj,县发展和改革局,产业招商\n"
                   "南县,swj,又一个商务局,综合协调单位\n南县,发改,县发改局,产业招商单位\n", encoding="utf-8")
    code, _out, err = _zhaoshang(capsys, "init", str(bad))
    assert code == 1 and "3 处错误" in err
    assert "第 3 行" in err and "类别“产业招商”无法识别" in err
    assert "第 4 行" in err and "单位代码 swj 在南县重复（第 2 行）" in err
    assert "第 5 行" in err and "单位代码“发改”" in err
    # Nothing was created: the corrected list goes in afterwards.
    code, _out, err = _zhaoshang(capsys, "init", str(UNITS))
    assert code == 0, err


def _staff(path: Path, rows: list[tuple]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["用户名", "姓名", "单位代码", "角色"])
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


@pytest.mark.parametrize("instance", ["sqlite_url"], indirect=True)
def test_import_users_lists_bad_rows_by_number_and_imports_nobody_until_all_are_right(instance, tmp_path, capsys):
    assert _zhaoshang(capsys, "init", str(UNITS))[0] == 0
    bad = _staff(tmp_path / "bad.xlsx", [
        ("liming", "李明", "jkq", "招商专员"),
        ("wangfang", "王芳", "nope", "研判专班"),
        ("liming", "李明二", "swj", "县商务局"),
        ("tianye", "田野", "swj", "市/州商务局"),
        ("sysadmin", "重名", "swj", "项目经理"),
    ])
    code, out, err = _zhaoshang(capsys, "import-users", str(bad))
    assert code == 1 and "nobody imported" in err
    assert "第 3 行" in err and "没有单位代码 nope" in err
    assert "第 4 行" in err and "与第 2 行重复" in err
    assert "第 5 行" in err and "不能设在南县的单位" in err
    assert "第 6 行" in err and "用户名 sysadmin 已存在" in err and "角色“项目经理”不存在" in err
    assert _sign_in("liming", "anything")[1].status_code == 401  # row 2 was fine, and still not imported

    good = _staff(tmp_path / "good.xlsx", [
        ("liming", "李明", "jkq", "招商专员"),
        ("wangfang", "王芳", "swj", "研判专班、部门会审人"),
        ("tianye", "田野", "sswj", "prefecture_bureau"),
    ])
    code, out, err = _zhaoshang(capsys, "import-users", str(good))
    assert code == 0, err
    assert "已导入 3 个用户" in out
    client, signed_in = _sign_in("wangfang", _password(out, "wangfang"), change_to=OWN)
    assert signed_in.status_code == 302
    assert "王芳" in client.get("/").get_data(as_text=True)  # the inbox, as the imported user
    # The county init made runs its process: the imported lead officer registers a lead, and it waits
    # for the imported screening team.
    from flow_support import LEAD

    client, signed_in = _sign_in("liming", _password(out, "liming"), change_to=OWN)
    started = client.post("/projects/new", data={k: v for k, v in LEAD.items() if v is not None})
    assert started.status_code == 302, started.get_data(as_text=True)[:2000]
    client, _ = _sign_in("wangfang", OWN)
    assert LEAD["project_name"] in client.get("/").get_data(as_text=True)


def test_the_help_is_in_chinese_and_english_for_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "命令 / commands" in text and "显示本说明并退出 / show this help and exit" in text
    for command in ("init", "import-users", "db", "filing-keys", "scheduler", "verify", "deploy-model", "backup",
                    "restore"):
        assert re.search(rf"^\s+{command}\s", text, re.MULTILINE), command
    with pytest.raises(SystemExit):
        cli.main(["init", "--help"])
    assert "单位名单" in capsys.readouterr().out


def test_filing_keys_generate_makes_an_owner_only_key_and_prints_its_public_key(tmp_path, monkeypatch, capsys):
    from workflows import filing_exchange

    monkeypatch.setenv("ZS_INSTANCE_PATH", str(tmp_path))
    assert cli.main(["filing-keys", "generate", "--county", "南县"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "filing-signing-key.pem"
    assert path.stat().st_mode & 0o077 == 0
    key = filing_exchange.load_private(path)
    public = filing_exchange.public_text(key)
    assert f"ZS_FILING_COUNTY_KEYS=南县={public}" in out and f"ZS_FILING_PREFECTURE_KEYS={public}" in out
    assert filing_exchange.key_id(key) in out
    # The printed public key verifies what the private key signs.
    filing_exchange.parse_public(public).verify(key.sign(b"x"), b"x")
    assert cli.main(["filing-keys", "generate"]) == 1 and "已存在" in capsys.readouterr().err
    assert filing_exchange.load_private(path).private_bytes_raw() == key.private_bytes_raw()
    assert cli.main(["filing-keys", "show"]) == 0 and public in capsys.readouterr().out
    assert cli.main(["filing-keys", "show", "--key", str(tmp_path / "none.pem")]) == 1


def test_filing_keys_generate_makes_an_sm2_key_when_the_deployment_signs_with_sm2(tmp_path, monkeypatch, capsys):
    from workflows import filing_exchange

    monkeypatch.setenv("ZS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ZS_FILING_SIGNATURE_ALGORITHM", "sm2")
    assert cli.main(["filing-keys", "generate", "--county", "南县"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "filing-signing-key.pem"
    assert path.stat().st_mode & 0o077 == 0 and "SM2" in out
    key = filing_exchange.load_private(path)
    public = filing_exchange.public_text(key)
    assert filing_exchange.algorithm_of(key) == filing_exchange.SM2 and len(base64.b64decode(public)) == 65
    assert f"ZS_FILING_PREFECTURE_KEYS={public}" in out and filing_exchange.key_id(key) in out
    filing_exchange.parse_public(public).verify(key.sign(b"x"), b"x")
    assert cli.main(["filing-keys", "show"]) == 0 and public in capsys.readouterr().out
    # --algorithm overrides the setting; a deployment whose key is not of its algorithm does not start.
    assert cli.main(["filing-keys", "generate", "--algorithm", "ed25519", "--out", str(tmp_path / "ed.pem")]) == 0
    with pytest.raises(filing_exchange.KeyConfigError):
        filing_exchange.configure(signing_key=tmp_path / "ed.pem", algorithm="sm2")
    with pytest.raises(filing_exchange.KeyConfigError):
        filing_exchange.configure(signing_key=path, algorithm="rsa")
    filing_exchange.configure()
