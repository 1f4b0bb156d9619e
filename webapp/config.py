"""Every configuration option, with type, default and description. Read from the environment at
app creation (never at import time)."""
from __future__ import annotations

import os
from pathlib import Path

OPTIONS = {
    # name: (type, default, description)
    "DATABASE_URL": (str, None, "SQLAlchemy URL; default a SQLite file in instance/; postgresql://… for PostgreSQL."),
    "SECRET_KEY": (str, None, "Session signing key; default a random key kept in instance/secret_key."),
    "DEMO_DATA": (bool, False, ("Create the demo prefecture, counties and users (password Demo@2026) on an "
                                "empty database; `make run` sets it. Off by default.")),
    "ALLOW_DEMO_ON_SERVER": (bool, False, ("Start on a non-SQLite database although demo data is asked for or "
                                           "active demo users still have the published demo password.")),
    "DEMO_PROJECTS": (bool, True, "Also create a handful of demo projects at different stages (with DEMO_DATA)."),
    "PREFECTURE_NAME": (str, "益阳市", "The prefecture (市 or 州) the counties file with."),
    "FILING_PREFIX": (str, "益商", "Prefix of filing numbers: <prefix>备〔YYYY〕NNNN号."),
    "COUNTY_NAMES": (list, ["南县", "桃江县"], "Demo counties, comma-separated."),
    "SMTP_HOST": (str, "", "SMTP server for mail copies of notifications; empty = in-app only."),
    "SMTP_PORT": (int, 25, "SMTP port."),
    "SMTP_FROM": (str, "noreply@localhost", "Sender address of notification mail."),
    "ENV": (str, "development", ("development or production. Production refuses to start without a strong "
                                 "SECRET_KEY (32+ characters) and sends the session cookie with Secure.")),
    "SESSION_COOKIE_SECURE": (bool, None, ("Send the session cookie only over HTTPS; default on in production, "
                                           "off otherwise (http://127.0.0.1 for `make run`).")),
    "SESSION_MINUTES": (int, 30, "Idle minutes before a signed-in session expires."),
    "SESSION_MAX_HOURS": (int, 12, "Hours after sign-in when a session ends however active it is."),
    "AUDIT_HMAC_KEY": (str, None, "Key signing the audit checkpoints (also for the scheduler); unset = no checkpoints."),
    "AUDIT_CHECKPOINT_FILE": (str, None, ("Signed audit checkpoints (JSON lines), best on other storage than the "
                              "database; default instance/audit-checkpoints.jsonl.")),
    "FILING_PREFECTURE_URL": (str, None, ("County deployment: base URL of a separate prefecture deployment to "
                                          "file with over the filing API (https://…); unset = the prefecture "
                                          "is in this deployment.")),
    "FILING_KEYS": (list, [], ("Filing API: the key each county shares with its prefecture, 县名=key pairs, "
                               "comma-separated (the same pairs on both sides).")),
    "FILING_COUNTY_URLS": (list, [], "Prefecture deployment: where each county's decisions go, 县名=https://… pairs."),
    "FILING_REPLAY_SECONDS": (int, 300, "Filing API: a signed request older or newer than this is refused."),
    "MAX_UPLOAD_MB": (int, 10, "Largest upload in MB (requests may be 2 MB larger for the form around the file)."),
    "TRUSTED_PROXIES": (int, 0, ("How many proxies in front of the app set X-Forwarded-For/-Proto/-Host (nginx "
                                 "on the same machine: 1); 0 = those headers are ignored.")),
    "METRICS_TOKEN": (str, None, ("Bearer token for /metrics; unset = /metrics answers only the loopback "
                                  "interface without a proxy in between.")),
}


def _parse(kind, raw: str):
    if kind is bool:
        return raw.lower() in ("1", "true", "yes", "on")
    if kind is int:
        return int(raw)
    if kind is list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def load_config(instance_path: str) -> dict:
    config = {}
    for name, (kind, default, _doc) in OPTIONS.items():
        raw = os.environ.get(f"ZS_{name}") or (os.environ.get(name) if name == "DATABASE_URL" else None)
        config[name] = _parse(kind, raw) if raw is not None else default
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'zhaoshang.sqlite3'}"
    return config
