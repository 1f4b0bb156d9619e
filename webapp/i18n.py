"""Locale choice (Chinese by default, English switchable) and translation of model texts.

The application's own texts are in the gettext catalogue (webapp/translations/en/LC_MESSAGES/messages.po).
A model's texts (task and stage names, form labels and options, DMN outputs) come with the model: each
deployed version carries its translation files (workflows/engine/vocabulary.py), and `form_text`
translates from those, then from the catalogue (texts the application itself puts into the data, e.g.
是/否), else shows the Chinese.
"""

from __future__ import annotations

from flask import g, has_request_context, request, session
from flask_babel import get_locale, gettext

LOCALES = ("zh_CN", "en")


def select_locale() -> str:
    lang = session.get("lang") if request else None
    return lang if lang in LOCALES else "zh_CN"


def _model_vocabulary() -> dict[str, str]:
    """The deployed models' translations into the page's language (read once per request)."""
    if not has_request_context():
        return {}
    if "model_vocabulary" not in g:
        from workflows.services import model_service

        locale = get_locale()
        lang = locale.language if locale is not None else "zh"
        g.model_vocabulary = model_service.vocabulary_for(lang) if lang != "zh" else {}
    return g.model_vocabulary


def form_text(text):
    """Translate a text of a model (task, stage, form title, option, help): the model's own
    translation, else the application's catalogue, else the Chinese as it is."""
    if not isinstance(text, str) or not text:
        return text
    return _model_vocabulary().get(text) or gettext(text)


def N_(text: str) -> str:
    """Marks a string for extraction; it is translated where it is shown (flash messages)."""
    return text


def error_text(message) -> str:
    """Translate a form error; a FieldError is translated from its template, then filled in."""
    template = getattr(message, "template", None)
    if template is not None:
        own = _model_vocabulary().get(template)  # a model's rule message (errorMessage) with a number
        if own:
            try:
                return own % message.params
            except (KeyError, TypeError, ValueError):
                return own
        return gettext(template, **message.params)
    return form_text(message) if isinstance(message, str) else message


def list_columns(rows) -> dict:
    """The columns of a list of instances or tasks, as their models declare them (TaskItem /
    ProjectSummary.list_labels): the title's header, [(column, header)] of the party, amount and class
    columns some row's model fills (labels of different models joined with “/”), and whether some row's
    model declares nothing, so its start time and initiator are shown."""

    def header(key: str) -> str:
        return " / ".join(dict.fromkeys(form_text(r.list_labels[key]) for r in rows if key in r.list_labels))

    return {
        "title": header("title") or gettext("名称"),
        "columns": [
            (key, header(key))
            for key in ("party", "amount", "class")
            if any(key in r.list_labels for r in rows)
        ],
        "started": any(not r.list_labels for r in rows),
    }
