"""One configuration and start-up path for every entry point: the web app, the scheduler and the
commands (`zhaoshang …`, `python -m workflows.…`). Every option with its type, default and
description; read from the environment when a program starts (never at import time).

Each option NAME is read from ZS_NAME (DATABASE_URL also from plain DATABASE_URL). The instance folder
is ZS_INSTANCE_PATH (default `instance/` beside the code): the SQLite database, the session key and
the audit checkpoint file live there unless DATABASE_URL / ZS_SECRET_KEY / ZS_AUDIT_CHECKPOINT_FILE say
otherwise — the same for the app, the scheduler and every command.

Schema migrations: in production (ZS_ENV=production) only `zhaoshang db upgrade` runs them; the app,
the scheduler and the commands refuse a database whose schema is not at the newest revision. Outside
production they upgrade it themselves (`make run`, the tests).
"""
from __future__ import annotations

from pathlib import Path

from workflows.settings import OPTIONS, ROOT, describe, load  # noqa: F401 (the settings, read)


class SchemaNotAtHead(RuntimeError):
    """Production found a database whose schema is not at the newest migration."""


def bind(config: dict) -> None:
    """Point the service at this configuration: database, mail, audit anchors, filing exchange."""
    from workflows import (
        anchors,
        currencies,
        db,
        filestore,
        filing_exchange,
        mail,
        password_policy,
        personal_data,
        two_factor,
    )

    if config["DATABASE_URL"].startswith("sqlite:///"):
        Path(config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    db.init(config["DATABASE_URL"])
    password_policy.configure(config["PASSWORD_MAX_DAYS"])
    personal_data.configure(config["PII_KEYS"], config["ENV"])
    two_factor.configure(config["TOTP_ROLES"])
    mail.configure(config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_FROM"])
    anchors.configure(config["AUDIT_CHECKPOINT_FILE"], config["AUDIT_HMAC_KEY"])
    filestore.configure(config)
    currencies.configure(config["CURRENCIES"])
    filing_exchange.configure(config["FILING_PREFECTURE_URL"], config["FILING_KEYS"],
                              config["FILING_COUNTY_URLS"], config["FILING_REPLAY_SECONDS"],
                              signing_key=config["FILING_SIGNING_KEY_FILE"],
                              county_keys=config["FILING_COUNTY_KEYS"],
                              prefecture_keys=config["FILING_PREFECTURE_KEYS"],
                              hmac_transition=config["FILING_HMAC_TRANSITION"],
                              algorithm=config["FILING_SIGNATURE_ALGORITHM"])


def schema_state() -> tuple[list[str], list[str]]:
    """(the database's Alembic revisions, the code's heads) of the bound database."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from workflows import db

    with db.engine().connect() as conn:
        current = sorted(MigrationContext.configure(conn).get_current_heads())
    return current, sorted(ScriptDirectory(str(db.MIGRATIONS)).get_heads())


def ensure_schema(config: dict, migrate: bool = True) -> None:
    """Outside production: bring the schema to the newest migration. In production, or for a command
    that only reads (migrate=False): refuse a database whose schema is not there (migrations run only by
    `zhaoshang db upgrade`)."""
    from workflows import db

    if migrate and config["ENV"] != "production":
        db.upgrade()
        return
    current, heads = schema_state()
    if current != heads:
        raise SchemaNotAtHead(
            f"数据库结构不是当前版本（数据库 {', '.join(current) or '空'}，程序需要 {', '.join(heads)}）："
            "请先运行 `zhaoshang db upgrade`（生产环境只由此命令迁移数据库）。 / The database schema is at "
            f"{current or 'no revision'}, this version needs {heads}: run `zhaoshang db upgrade` first "
            "(in production only that command migrates the database).")


def start(overrides: dict | None = None, migrate: bool = True) -> dict:
    """The start-up path of the scheduler and the commands: read the configuration once, bind the
    service to it and make sure the schema is at the newest migration (see ensure_schema). Returns the
    configuration."""
    config = load(overrides)
    bind(config)
    ensure_schema(config, migrate)
    return config


def run_command(main, argv: list[str] | None = None) -> int:
    """Run a command's main(argv); a stale schema in production is one clear line and exit status 2."""
    import sys

    try:
        return main(argv) or 0
    except SchemaNotAtHead as err:
        print(f"refused: {err}", file=sys.stderr)
        return 2
