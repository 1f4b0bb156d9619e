"""The web app's configuration: the option table and how it is read live in workflows/config.py, shared
with the scheduler and every command, so all of them use the same instance folder, database and
checkpoint file. Here: the Flask side of it (secret key, session cookie, request size, ids in URLs)."""
from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from workflows.config import OPTIONS, load

__all__ = ["OPTIONS", "configure", "load_config"]

# Secret keys that production refuses (besides a missing one or one shorter than 32 characters).
WEAK_SECRETS = {"dev", "secret", "changeme", "change-me", "test", "x", "development", "secret-key"}


def load_config(overrides: dict | None = None) -> dict:
    """The options from the environment, with a test's or embedder's overrides."""
    return load(overrides)


class DatabaseId(IntegerConverter):
    """`<int:…>` in URLs: at most the databases' integer keys (PostgreSQL INTEGER), so a larger id is a 404
    at routing instead of a database overflow (a 500)."""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, **{"max": 2**31 - 1, **kwargs})


def configure(app: Flask, config: dict) -> None:
    """The app's configuration from `config`, its instance folder, and what Flask itself needs: a secret
    key (refused in production when weak), the session cookie, the largest request body, the id converter."""
    app.url_map.converters["int"] = DatabaseId
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config)
    check_production(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path))
    # The session cookie: never readable by scripts, not sent on cross-site subrequests, HTTPS-only in
    # production (or when ZS_SESSION_COOKIE_SECURE says so).
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config["ENV"] == "production"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=app.config["SESSION_MINUTES"])
    # Request bodies: the largest attachment plus room for the form around it (413 beyond).
    app.config["MAX_CONTENT_LENGTH"] = (app.config["MAX_UPLOAD_MB"] + 2) * 1024 * 1024


def check_production(config: dict) -> None:
    """Production mode (ZS_ENV=production) refuses to start without a real secret key."""
    if config["ENV"] != "production":
        return
    key = config.get("SECRET_KEY") or ""
    if len(key) < 32 or key.lower() in WEAK_SECRETS:
        raise RuntimeError("ZS_ENV=production needs ZS_SECRET_KEY: a random secret of at least 32 characters "
                           "(e.g. python -c 'import secrets; print(secrets.token_hex(32))').")


def instance_secret(instance: Path) -> str:
    """Outside production without ZS_SECRET_KEY: a random key kept in the instance folder (mode 600)."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
