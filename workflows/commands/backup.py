"""Back up and restore a deployment: one archive with the database, the signed audit checkpoints, the
local file store's files (attachments, each named by its SHA-256) and a manifest of SHA-256s.

    python -m workflows.commands.backup create ARCHIVE.tar.gz
    python -m workflows.commands.backup create --into /var/backups/zhaoshang --keep-days 30
    python -m workflows.commands.backup restore ARCHIVE.tar.gz      (into an empty database only)

Settings as for the app, read by workflows/config.py: DATABASE_URL (or ZS_DATABASE_URL; default the SQLite
file in ZS_INSTANCE_PATH), ZS_AUDIT_CHECKPOINT_FILE (default audit-checkpoints.jsonl in ZS_INSTANCE_PATH).

The database: SQLite through its online backup API (a consistent copy while the app runs); PostgreSQL
through pg_dump's custom format and pg_restore (a consistent snapshot, everything PostgreSQL holds —
sequences, indexes, constraints — restored by PostgreSQL's own tools, and readable by any DBA). The
checkpoint file is copied before the database, so every event a checkpoint names is in the dump.
Restoring refuses a database that has any table, a checkpoint file that differs, and an archive whose
files do not match its manifest. Afterwards run `python -m workflows.commands.verify --replay`.
Exit status 0 on success, 1 when refused or failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from workflows.db import MIGRATIONS

MANIFEST = "manifest.json"
CHECKPOINTS = "audit-checkpoints.jsonl"
FORMAT = 1


class Refused(Exception):
    """The archive or the target is not what a safe restore needs; nothing was changed."""


def settings() -> tuple[URL, Path]:
    """(database URL, checkpoint file) as the web app reads them; the file store is configured too."""
    from workflows import config, filestore

    settings = config.load()
    filestore.configure(settings)
    return make_url(settings["DATABASE_URL"]), Path(settings["AUDIT_CHECKPOINT_FILE"])


FILES = "files"


def _copy_store(work: Path) -> dict:
    """The local file store's files into the archive's files/ (after the database: every file a row
    names was written before its row, so it is there). Objects in S3 storage stay there: the bucket
    keeps its own versions (docs/operations.md)."""
    from workflows import filestore

    store = filestore.store()
    if not isinstance(store, filestore.LocalFileStore):
        return {"kind": "s3", "bucket": store.bucket, "files": 0}
    count = 0
    for digest in store.digests():
        target = work / FILES / digest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(digest))  # checked on the way out
        count += 1
    return {"kind": "local", "files": count}


def _check_store_files(work: Path) -> None:
    from workflows import filestore

    for path in sorted((work / FILES).glob("*")):
        if filestore.digest_of(path.read_bytes()) != path.name:
            raise Refused(f"{FILES}/{path.name} in the archive does not match its name (SHA-256)")


def _restore_store(work: Path) -> None:
    from workflows import filestore

    for path in sorted((work / FILES).glob("*")):
        filestore.store().put(path.read_bytes())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _libpq_env(url: URL) -> dict:
    """pg_dump/pg_restore connection settings, passed in the environment (no password on a command line)."""
    env = {**os.environ, "PGDATABASE": url.database or ""}
    # A Unix socket is given as ?host=/run/postgresql (peer authentication, no password).
    for key, value in (
        ("PGHOST", url.host or url.query.get("host")),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
    ):
        if value is not None:
            env[key] = str(value)
    return env


def _engine_url(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def _revision(url: URL) -> str | None:
    engine = create_engine(_engine_url(url))
    try:
        with engine.connect() as conn:
            if "alembic_version" not in inspect(conn).get_table_names():
                return None
            return conn.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()


def create(archive: Path) -> dict:
    url, checkpoints = settings()
    kind = url.get_backend_name()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = []
        # First the checkpoints, then the database: whatever a checkpoint names is in the dump.
        if checkpoints.exists():
            shutil.copy2(checkpoints, work / CHECKPOINTS)
            files.append(CHECKPOINTS)
        if kind == "sqlite":
            name = "database.sqlite3"
            source = Path(url.database)
            if not source.exists():
                raise Refused(f"no database at {source}")
            with sqlite3.connect(source) as src, sqlite3.connect(work / name) as dst:
                src.backup(dst)
            dst.close()
            src.close()
        elif kind == "postgresql":
            name = "database.pgdump"
            subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={work / name}"],
                env=_libpq_env(url),
                check=True,
            )
        else:
            raise Refused(f"unsupported database {kind}")
        files.append(name)
        store = _copy_store(work)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": kind,
            "alembic_revision": _revision(url),
            "file_store": store,
            "files": {f: {"sha256": _sha256(work / f), "bytes": (work / f).stat().st_size} for f in files},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(archive.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            for f in (MANIFEST, *files):
                tar.add(work / f, arcname=f)
            if (work / FILES).exists():
                tar.add(work / FILES, arcname=FILES)
        partial.chmod(0o600)
        partial.replace(archive)  # a half-written archive never carries the final name
    return manifest


def _read(archive: Path, into: Path) -> dict:
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(into, filter="data")
    except (OSError, tarfile.TarError) as err:
        raise Refused(f"cannot read {archive}: {err}") from err
    try:
        manifest = json.loads((into / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise Refused(f"{archive} has no readable {MANIFEST}") from err
    if manifest.get("format") != FORMAT:
        raise Refused(f"archive format {manifest.get('format')} is not {FORMAT}")
    for name, entry in manifest["files"].items():
        path = into / name
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            raise Refused(f"{name} in the archive does not match its SHA-256 in the manifest")
    return manifest


def _known_revision(revision: str | None) -> None:
    from alembic.script import ScriptDirectory

    if revision is None:
        return
    try:
        ScriptDirectory(str(MIGRATIONS)).get_revision(revision)
    except Exception as err:
        raise Refused(
            f"the archive's schema revision {revision} is unknown to this version of the "
            f"software (restore with the version that made it, then upgrade)"
        ) from err


def _require_empty(url: URL) -> None:
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        if not path.exists() or path.stat().st_size == 0:
            return
    engine = create_engine(_engine_url(url))
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise Refused(
            f"the target database is not empty ({len(tables)} tables, e.g. {tables[0]}): "
            "restore only into a new, empty database"
        )


def restore(archive: Path) -> dict:
    url, checkpoints = settings()
    kind = url.get_backend_name()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = _read(archive, work)
        # Every refusal before anything is written.
        if manifest["database"] != kind:
            raise Refused(f"the archive holds a {manifest['database']} database; the target is {kind}")
        _known_revision(manifest.get("alembic_revision"))
        _require_empty(url)
        _check_store_files(work)
        if (
            CHECKPOINTS in manifest["files"]
            and checkpoints.exists()
            and checkpoints.stat().st_size
            and _sha256(checkpoints) != manifest["files"][CHECKPOINTS]["sha256"]
        ):
            raise Refused(f"{checkpoints} exists with other checkpoints; move it away first")
        if kind == "sqlite":
            target = Path(url.database)
            target.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(work / "database.sqlite3") as src, sqlite3.connect(target) as dst:
                src.backup(dst)
            dst.close()
            src.close()
        else:
            subprocess.run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    f"--dbname={url.database}",
                    str(work / "database.pgdump"),
                ],
                env=_libpq_env(url),
                check=True,
            )
        if CHECKPOINTS in manifest["files"]:
            checkpoints.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / CHECKPOINTS, checkpoints)
        _restore_store(work)
    return manifest


def _prune(folder: Path, keep_days: int) -> list[Path]:
    cutoff = time.time() - keep_days * 86400
    old = [p for p in folder.glob("zhaoshang-*.tar.gz") if p.stat().st_mtime < cutoff]
    for path in old:
        path.unlink()
    return old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workflows.commands.backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create", help="write a backup archive / 写备份归档")
    make.add_argument("archive", nargs="?", type=Path, help="the archive to write (.tar.gz)")
    make.add_argument("--into", type=Path, help="a folder: the archive is named zhaoshang-<UTC time>.tar.gz")
    make.add_argument("--keep-days", type=int, help="with --into: remove archives older than this many days")
    back = commands.add_parser("restore", help="restore an archive into an empty database / 恢复到空数据库")
    back.add_argument("archive", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            if (args.archive is None) == (args.into is None):
                parser.error("give either an archive path or --into FOLDER")
            archive = args.archive or args.into / f"zhaoshang-{datetime.now(UTC):%Y%m%d-%H%M%S}.tar.gz"
            manifest = create(archive)
            sizes = ", ".join(f"{n} {e['bytes']} bytes" for n, e in manifest["files"].items())
            print(
                f"backup written: {archive} ({manifest['database']}, schema {manifest['alembic_revision']}; "
                f"{sizes})"
            )
            if args.into and args.keep_days:
                for path in _prune(args.into, args.keep_days):
                    print(f"removed old backup {path}")
        else:
            manifest = restore(args.archive)
            print(
                f"restored {args.archive} (made {manifest['created_at']}, schema "
                f"{manifest['alembic_revision']}); "
                "now check it: python -m workflows.commands.verify --replay"
            )
    except Refused as err:
        print(f"refused: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
