"""Backup and restore, as an administrator runs them: a project with history and signed checkpoints is
backed up, the database and checkpoints are lost, the archive is restored into an empty database, and
`python -m workflows.commands.verify --replay` finds the audit chain intact and every project replaying."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from flow_support import register_lead, step, steps
from sqlalchemy import create_engine, text

from workflows import anchors, db
from workflows.services import audit_service

KEY = "backup-test-hmac-key"


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )


PLAN = b"%PDF-1.4\n" + "投资计划书".encode() * 20 + b"\n%%EOF\n"


def _history(url: str, checkpoints: Path) -> int:
    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "t",
            "AUDIT_HMAC_KEY": KEY,
            "AUDIT_CHECKPOINT_FILE": str(checkpoints),
            "FILE_STORE_PATH": str(checkpoints.parent.parent / "files"),
        }
    )
    client = app.test_client()
    pid = register_lead(client)
    uploaded = client.post(
        f"/projects/{pid}/attachments",
        content_type="multipart/form-data",
        data={"kind": "投资计划书", "file": (io.BytesIO(PLAN), "计划书.pdf")},
    )
    assert uploaded.status_code == 302
    step(app, client, pid, "screening", confirmed_class="重大")
    steps(app, client, pid, "negotiation", "approve_terms")
    assert audit_service.checkpoint()
    register_lead(client, project_name="备份后仍在的第二个项目")
    assert audit_service.checkpoint()
    db.engine().dispose()
    anchors.configure(None, None)
    return pid


def _destroy(url: str, checkpoints: Path) -> None:
    checkpoints.unlink()
    shutil.rmtree(checkpoints.parent.parent / "files")
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return
    from conftest import _pg_admin_url

    name = url.rsplit("/", 1)[1]
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def test_backup_then_loss_then_restore_verifies_and_replays(database, tmp_path):
    checkpoints = tmp_path / "anchors" / "audit-checkpoints.jsonl"
    pid = _history(database, checkpoints)
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "ZS_AUDIT_CHECKPOINT_FILE": str(checkpoints),
        "ZS_AUDIT_HMAC_KEY": KEY,
        "ZS_FILE_STORE_PATH": str(tmp_path / "files"),
    }
    archive = tmp_path / "backups" / "nightly.tar.gz"
    made = _run(env, "workflows.commands.backup", "create", str(archive))
    assert made.returncode == 0, made.stderr
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = set(tar.getnames())
    digest = hashlib.sha256(PLAN).hexdigest()
    assert names == {
        "manifest.json",
        "audit-checkpoints.jsonl",
        *manifest["files"],
        "files",
        f"files/{digest}",
    }
    assert manifest["file_store"] == {"kind": "local", "files": 1}
    assert manifest["database"] == ("sqlite" if database.startswith("sqlite") else "postgresql")
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())

    _destroy(database, checkpoints)
    assert _run(env, "workflows.commands.verify").returncode != 0  # nothing left to verify

    restored = _run(env, "workflows.commands.backup", "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    verified = _run(env, "workflows.commands.verify", "--replay")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK: the record is complete and unaltered and replays consistently" in verified.stdout
    assert f"replay project #{pid} " in verified.stdout and "2 signed checkpoint line(s)" in verified.stdout
    files = _run(env, "workflows.commands.cli", "files", "check")
    assert files.returncode == 0 and "1 intact" in files.stdout, files.stdout + files.stderr

    # A second restore would overwrite a live database: refused, nothing changed.
    again = _run(env, "workflows.commands.backup", "restore", str(archive))
    assert again.returncode == 1 and "not empty" in again.stderr
    assert _run(env, "workflows.commands.verify").returncode == 0


def test_an_archive_that_does_not_match_its_manifest_is_refused(sqlite_database, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_database,
        "ZS_AUDIT_CHECKPOINT_FILE": str(tmp_path / "c.jsonl"),
        "ZS_FILE_STORE_PATH": str(tmp_path / "files"),
    }
    archive = tmp_path / "a.tar.gz"
    assert _run(env, "workflows.commands.backup", "create", str(archive)).returncode == 0
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    members["database.sqlite3"] = members["database.sqlite3"][:-1] + b"\x01"  # one byte changed
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    empty = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'new' / 'zs.sqlite3'}"}
    refused = _run(empty, "workflows.commands.backup", "restore", str(forged))
    assert refused.returncode == 1 and "does not match its SHA-256" in refused.stderr
    assert not (tmp_path / "new" / "zs.sqlite3").exists()


def test_backups_into_a_folder_are_named_by_time_and_old_ones_pruned(sqlite_database, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_database,
        "ZS_AUDIT_CHECKPOINT_FILE": str(tmp_path / "c.jsonl"),
    }
    folder = tmp_path / "backups"
    folder.mkdir()
    old = folder / "zhaoshang-20200101-023000.tar.gz"
    old.write_bytes(b"old")
    os.utime(old, (1577845800, 1577845800))
    made = _run(env, "workflows.commands.backup", "create", "--into", str(folder), "--keep-days", "30")
    assert made.returncode == 0, made.stderr
    assert not old.exists() and "removed old backup" in made.stdout
    (fresh,) = folder.glob("zhaoshang-*.tar.gz")
    assert oct(fresh.stat().st_mode & 0o777) == "0o600"
