"""Babel extractor for the user-facing strings of forms/*.json (titles, options, help texts), so
form labels are translated through the same gettext catalogue as the UI (see babel.cfg)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

TEXT_KEYS = ("title", "description", "ui:help", "ui:placeholder", "ui:title", "message")


def strings(node: Any) -> Iterator[str]:
    """Every translatable string in a form schema or UI schema, in document order."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings_under(key, value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def _strings_under(key: str, value: Any) -> Iterator[str]:
    if key in TEXT_KEYS and isinstance(value, str):
        yield value
    elif key == "errorMessage":  # a rule's own message: a string or {keyword: message}
        yield from (v for v in ([value] if isinstance(value, str) else value.values()) if isinstance(v, str))
    elif key == "expression":  # validationRules: code, not text
        return
    elif key in ("enum", "const") and value is not None:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and not item.isascii():
                yield item
    else:
        yield from strings(value)


def extract(fileobj, keywords, comment_tags, options):
    """Babel extraction method: yields (lineno, funcname, message, comments)."""
    for text in dict.fromkeys(strings(json.load(fileobj))):
        yield 0, None, text, []
