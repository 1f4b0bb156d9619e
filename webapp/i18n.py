"""Locale choice (Chinese by default, English switchable) and translation of form texts.

Form labels live in forms/*.json in Chinese; their English is in the same gettext catalogue as the
UI (webapp/translations/en/LC_MESSAGES/messages.po), so one catalogue serves both.
"""
from __future__ import annotations

from flask import request, session
from flask_babel import gettext

LOCALES = ("zh_CN", "en")


def select_locale() -> str:
    lang = session.get("lang") if request else None
    return lang if lang in LOCALES else "zh_CN"


def form_text(text):
    """Translate a Chinese string taken from a form schema (titles, options, help)."""
    if not isinstance(text, str) or not text:
        return text
    return gettext(text)


def N_(text: str) -> str:
    """Marks a string for extraction; it is translated where it is shown (flash messages)."""
    return text


def error_text(message) -> str:
    """Translate a form error; a FieldError is translated from its template, then filled in."""
    template = getattr(message, "template", None)
    if template is not None:
        return gettext(template, **message.params)
    return gettext(message) if message else message


def list_columns(rows) -> dict:
    """The columns of a list of instances or tasks, as their models declare them (TaskItem /
    ProjectSummary.list_labels): the title's header, [(column, header)] of the party, amount and class
    columns some row's model fills (labels of different models joined with “/”), and whether some row's
    model declares nothing, so its start time and initiator are shown."""
    def header(key: str) -> str:
        return " / ".join(dict.fromkeys(form_text(r.list_labels[key]) for r in rows if key in r.list_labels))

    return {"title": header("title") or gettext("名称"),
            "columns": [(key, header(key)) for key in ("party", "amount", "class")
                        if any(key in r.list_labels for r in rows)],
            "started": any(not r.list_labels for r in rows)}
