"""Shared by the browser tests: serve the app with CSRF on, and launch Debian's headless Chromium."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
PASSWORD = "Demo@2026"


def unavailable(reason: str):
    # In CI the browser tests must run: fail loudly rather than skip.
    if os.environ.get("CI"):
        pytest.fail(f"browser tests are required in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def served(app):
    """Serve a Flask app of this process on loopback in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def preparing_app(database_url: str):
    """A second app on the test's database, CSRF off, for bringing projects to a stage through HTTP as
    the demo users would (tests/flow_support.py) before the browser takes over."""
    from webapp import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False,
                       "SECRET_KEY": "x", "DEMO_PROJECTS": False})


@contextmanager
def serve(database_url: str):
    """The app on a random loopback port in a background thread, CSRF protection on."""
    from webapp import create_app

    app = create_app({"DATABASE_URL": database_url, "WTF_CSRF_ENABLED": True, "SECRET_KEY": "x",
                      "DEMO_PROJECTS": False})
    assert app.config["WTF_CSRF_ENABLED"] is True
    with served(app) as url:
        yield url


@contextmanager
def launch_chromium():
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        unavailable(f"playwright is not installed: {err}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(page, base: str, username: str) -> None:
    """Sign in on the real page (the header's language switch is a submit button too: use the form's)."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url(f"{base}/")
    assert page.locator(".who .user").is_visible()
