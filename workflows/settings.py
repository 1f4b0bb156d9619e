"""Every option of the system with its type, default and description, read from the environment when a
program starts (never at import time): ZS_NAME for option NAME (DATABASE_URL also from plain DATABASE_URL).
Reading only; workflows/config.py binds the modules to what is read here.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OPTIONS = {
    # name: (type, default, description)
    "INSTANCE_PATH": (str, None, ("Folder of this instance's own files (SQLite database, session key, audit "
                                  "checkpoints); default instance/ beside the code.")),
    "DATABASE_URL": (str, None, "SQLAlchemy URL; default a SQLite file in the instance folder; postgresql://… for PostgreSQL."),
    "SECRET_KEY": (str, None, "Session signing key; default a random key kept in the instance folder (secret_key)."),
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
                                 "SECRET_KEY (32+ characters), without PII_KEYS or on a database whose schema is "
                                 "not at the newest "
                                 "migration (run `zhaoshang db upgrade`), and sends the session cookie with Secure.")),
    "SESSION_COOKIE_SECURE": (bool, None, ("Send the session cookie only over HTTPS; default on in production, "
                                           "off otherwise (http://127.0.0.1 for `make run`).")),
    "SESSION_MINUTES": (int, 30, "Idle minutes before a signed-in session expires."),
    "PASSWORD_MAX_DAYS": (int, 90, ("Days after which a password must be changed at the next sign-in; 0 = never. "
                                    "Administrators' one-time passwords must always be changed at first sign-in.")),
    "TOTP_ROLES": (list, ["admin", "security_admin", "audit_admin"], ("Roles whose users must sign in with a "
                   "second factor (TOTP from an authenticator app), comma-separated; empty = nobody is obliged "
                   "(anyone may still enrol).")),
    "SESSION_MAX_HOURS": (int, 12, "Hours after sign-in when a session ends however active it is."),
    "PII_KEYS": (list, [], ("Keys that encrypt personal data (SM4, fields a form marks x-personal), id:base64 "
                            "of 16 random bytes, comma-separated; the first seals new values, the others only "
                            "open older ones (rotation: put the new key first). Required in production; "
                            "elsewhere unset = a public development key (id dev).")),
    "AUDIT_HMAC_KEY": (str, None, "Key signing the audit checkpoints (also for the scheduler); unset = no checkpoints."),
    "AUDIT_CHECKPOINT_FILE": (str, None, ("Signed audit checkpoints (JSON lines), best on other storage than the "
                              "database; default audit-checkpoints.jsonl in the instance folder.")),
    "FILING_PREFECTURE_URL": (str, None, ("County deployment: base URL of a separate prefecture deployment to "
                                          "file with over the filing API (https://…); unset = the prefecture "
                                          "is in this deployment.")),
    "FILING_SIGNING_KEY_FILE": (str, None, ("Filing API: this deployment's own private key (PEM, Ed25519 or SM2), "
                                            "which signs what it sends; default filing-signing-key.pem in the "
                                            "instance folder. Make it with `zhaoshang filing-keys generate`.")),
    "FILING_SIGNATURE_ALGORITHM": (str, None, ("Filing API: what this deployment signs with, ed25519 or sm2 (SM2 "
                                               "with SM3, GB/T 32918 / GB/T 35276, for a 密评 that asks for "
                                               "national algorithms); `filing-keys generate` makes a key of this "
                                               "kind; unset = ed25519, or whatever the key file is.")),
    "FILING_COUNTY_KEYS": (list, [], ("Prefecture deployment: each county deployment's public key (Ed25519 or SM2), "
                                      "县名=key pairs (base64, as `zhaoshang filing-keys generate` prints it); a "
                                      "name given twice has two keys while one is rotated. A county listed here "
                                      "must sign with its key.")),
    "FILING_PREFECTURE_KEYS": (list, [], ("County deployment: the prefecture deployment's public key (Ed25519 or SM2) "
                                          "(base64; two, comma-separated, while it is rotated). Once set, only "
                                          "decisions signed with it are accepted.")),
    "FILING_HMAC_TRANSITION": (bool, True, ("Filing API transition: accept the older shared-key signature "
                                            "(FILING_KEYS) from a peer whose public key is not configured here, "
                                            "and send it alongside the public-key one; off = public-key signatures only.")),
    "FILING_KEYS": (list, [], ("Filing API, older scheme (during the transition): the key each county shares "
                               "with its prefecture, 县名=key pairs, comma-separated (the same pairs on both "
                               "sides).")),
    "FILING_COUNTY_URLS": (list, [], "Prefecture deployment: where each county's decisions go, 县名=https://… pairs."),
    "FILING_REPLAY_SECONDS": (int, 300, "Filing API: a signed request older or newer than this is refused."),
    "FILE_STORE": (str, "local", ("Where attachments and received filing forms are kept: local (a folder) or s3 "
                                  "(S3-compatible object storage, for several app nodes).")),
    "FILE_STORE_PATH": (str, None, "The local file store's folder; default files/ in the instance folder."),
    "S3_ENDPOINT_URL": (str, None, "S3-compatible storage's URL (MinIO, a cloud's OSS); unset = AWS."),
    "S3_BUCKET": (str, None, "The bucket of the s3 file store (versioning on, see docs/operations.md)."),
    "S3_REGION": (str, "us-east-1", "The s3 file store's region."),
    "S3_ACCESS_KEY_ID": (str, None, "Access key of the s3 file store (or the machine's own credentials)."),
    "S3_SECRET_ACCESS_KEY": (str, None, "Secret key of the s3 file store."),
    "CURRENCIES": (list, ["CNY=万元", "USD=万美元"], ("Currencies projects are registered in, code=unit pairs, "
                                                     "comma-separated; the first is the home currency (the "
                                                     "statistics count other currencies on their own).")),
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


def load(overrides: dict | None = None, environ: dict | None = None) -> dict:
    """Every option from the environment, then `overrides` (tests), then the derived defaults: the
    instance folder, the SQLite database in it and the checkpoint file in it."""
    environ = os.environ if environ is None else environ
    config = {}
    for name, (kind, default, _doc) in OPTIONS.items():
        raw = environ.get(f"ZS_{name}") or (environ.get(name) if name == "DATABASE_URL" else None)
        config[name] = _parse(kind, raw) if raw is not None else default
    config.update(overrides or {})
    instance = Path(config["INSTANCE_PATH"] or ROOT / "instance").resolve()
    config["INSTANCE_PATH"] = str(instance)
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{instance / 'zhaoshang.sqlite3'}"
    if not config["AUDIT_CHECKPOINT_FILE"]:
        config["AUDIT_CHECKPOINT_FILE"] = str(instance / "audit-checkpoints.jsonl")
    if not config["FILING_SIGNING_KEY_FILE"]:
        config["FILING_SIGNING_KEY_FILE"] = str(instance / "filing-signing-key.pem")
    if config["ENV"] not in ("development", "production"):
        raise RuntimeError(f"ZS_ENV must be development or production, not {config['ENV']!r}.")
    return config


def describe() -> str:
    """The option table as text (for `zhaoshang --help` and the docs)."""
    lines = []
    for name, (kind, default, doc) in OPTIONS.items():
        env = f"ZS_{name}" + (" / DATABASE_URL" if name == "DATABASE_URL" else "")
        lines.append(f"  {env} ({kind.__name__}, default {default!r}): {doc}")
    return "\n".join(lines)
