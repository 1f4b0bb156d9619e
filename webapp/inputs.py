"""Request values checked at parsing, so bad input is a clear 4xx and never reaches the database as
something it rejects (a 5xx): integers within the databases' INTEGER keys, dates within a sane range,
no NUL characters (PostgreSQL refuses them in text), JSON of bounded depth, same-site redirect targets."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import urlsplit

from workflows.errors import ServiceError

DB_INT_MAX = 2**31 - 1  # PostgreSQL INTEGER, the type of every id
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
JSON_MAX_DEPTH = 32


def db_int(value) -> int:
    """An integer 0 … 2**31-1 written in ASCII digits; ValueError otherwise. As `type=` of
    request.args.get / request.form.get, anything else becomes the default."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > DB_INT_MAX:
        raise ValueError(f"not a database integer: {text[:20]!r}")
    return int(text)


def db_int_or_zero(value) -> int:
    """For form fields naming a record: the id, or 0 (which names none) for anything else."""
    try:
        return db_int(value)
    except (TypeError, ValueError):
        return 0


def day(value: str | None) -> date | None:
    """A date YYYY-MM-DD between 2000 and 2099, None when empty; a 400 otherwise."""
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        parsed = None
    if parsed is None or not FIRST_DAY <= parsed <= LAST_DAY:
        raise ServiceError("日期须写成 YYYY-MM-DD，且在 2000 年至 2099 年之间。")
    return parsed


def has_nul(values) -> bool:
    return any("\x00" in v for v in values if isinstance(v, str))


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str):
    """NaN, Infinity and -Infinity are not JSON numbers: a body carrying one is malformed."""
    raise ValueError(f"{name} is not a number")


def json_object(raw: bytes | str) -> dict | None:
    """A JSON object of bounded depth without NUL characters, or None (bad JSON, too deep, not an object)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return None
    if json_depth(text) > JSON_MAX_DEPTH:
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or "\x00" in json.dumps(value, ensure_ascii=False):
        return None
    return value


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target on this site: a path starting with one "/", no backslash, no control
    characters (CR/LF, tab, NUL …), no scheme or host; anything else gives `default`."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith("//"):
        return default
    return target


def form_fields(form) -> dict:
    """A submitted form as {name: value}, a name sent more than once (checkboxes of one field, a
    checkbox after its hidden "false") as the list of its values."""
    return {name: values[0] if len(values) == 1 else values for name, values in form.lists()}
