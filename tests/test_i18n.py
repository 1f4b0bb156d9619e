"""The English catalogue (webapp/translations/en/LC_MESSAGES/messages.po): complete, placeholders kept,
in step with the source, and used by the web pages once the user switches to English."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "webapp" / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
EN_MO = EN_PO.with_suffix(".mo")
# The same command as the Makefile's `translations` target.
EXTRACT = [
    "extract",
    "-F",
    "babel.cfg",
    "-k",
    "_",
    "-k",
    "gettext",
    "-k",
    "form_text",
    "-k",
    "N_",
    "--no-location",
]
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[sdifr]|\{(\w*)\}")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
PASSWORD = "Demo@2026"


def pybabel(*args: str) -> subprocess.CompletedProcess:
    """Run babel's command line with this interpreter (works without the pybabel script on PATH)."""
    return subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def catalogue():
    with EN_PO.open("rb") as f:
        return read_po(f)


def messages():
    return [m for m in catalogue() if m.id]


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


@pytest.fixture(scope="module")
def compiled_catalogue():
    """A fresh clone has no .mo (build output, see .gitignore): compile it as `make install` does."""
    if not EN_MO.exists() or EN_MO.stat().st_mtime < EN_PO.stat().st_mtime:
        pybabel("compile", "-f", "-d", str(TRANSLATIONS))
    assert EN_MO.exists()


def test_every_message_has_a_non_empty_english_translation_that_is_not_fuzzy():
    all_messages = messages()
    assert len(all_messages) > 300
    empty = [m.id for m in all_messages if not (m.string or "").strip()]
    fuzzy = [m.id for m in all_messages if m.fuzzy]
    chinese = [m.id for m in all_messages if CJK.search(m.string or "")]
    assert not empty, f"untranslated: {empty}"
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not chinese, f"translation still contains Chinese: {chinese}"
    assert not catalogue().fuzzy, "the catalogue header is marked fuzzy"


def test_translations_keep_the_placeholders_of_their_source():
    for m in messages():
        assert placeholders(m.string) == placeholders(m.id), f"placeholders differ for {m.id!r}: {m.string!r}"


def test_the_catalogue_has_every_message_of_the_source(tmp_path):
    pot = tmp_path / "messages.pot"
    pybabel(*EXTRACT, "-o", str(pot), ".")
    with pot.open("rb") as f:
        extracted = {m.id for m in read_po(f) if m.id}
    assert len(extracted) > 300, "extraction found too little: is babel.cfg in place?"
    known = {m.id for m in messages()}
    missing = sorted(extracted - known)
    assert not missing, f"not in {EN_PO.relative_to(ROOT)} (run `make translations` and translate): {missing}"


def sign_in(client, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, f"{username} could not sign in"


def switch(client, lang: str, next_page: str) -> None:
    assert client.post(f"/lang/{lang}", data={"next": next_page}).status_code == 302


def test_the_pages_switch_to_english_and_back(client, compiled_catalogue):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and "Sign in" not in page

    switch(client, "en", "/login")
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and "Username" in page and "登录" not in page

    sign_in(client, "yanpan")
    switch(client, "en", "/")
    page = client.get("/").get_data(as_text=True)
    assert "My to-do list" in page and "Screening team" in page and "Sign out" in page
    assert "我的待办" not in page

    switch(client, "zh_CN", "/")
    page = client.get("/").get_data(as_text=True)
    assert "我的待办" in page and "My to-do list" not in page


def test_the_language_chosen_before_signing_in_is_kept(client, compiled_catalogue):
    switch(client, "en", "/login")
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    sign_in(client, "yanpan")
    page = client.get("/").get_data(as_text=True)
    assert "My to-do list" in page and "Screening team" in page
    assert "我的待办" not in page


def test_form_errors_with_a_number_are_translated_then_filled_in(client, compiled_catalogue):
    from flow_support import LEAD, login

    login(client, "zhaoshang")
    client.post("/lang/en", data={"next": "/"})
    page = client.post("/projects/new", data={**LEAD, "amount_wan": "-5"}).get_data(as_text=True)
    assert "Must be at least 0" in page or "Must be more than 0" in page
