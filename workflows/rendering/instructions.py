"""A task's instructions (SpiffArena's `instructionsForEndUser`): Markdown that may use Jinja over the
task data, e.g. `请核对 **{{ company }}** 的营业执照`. The Jinja runs in Jinja's sandbox with every
value HTML-escaped; the Markdown is rendered with raw HTML disabled (so neither the model nor the data
can put markup or script on the page) and links limited to markdown-it's safe schemes."""
from __future__ import annotations

from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with `**` and `*` refused where they would build something huge (`'a' * 10**10`)."""

    intercepted_binops = frozenset(["**", "*"])

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int | float) and abs(right) > 100:
            raise ValueError("exponent too large")
        if operator == "*" and any(isinstance(x, str | list | tuple) for x in (left, right)):
            count = right if isinstance(right, int) else left if isinstance(left, int) else 0
            if count > 10_000:
                raise ValueError("repetition too large")
        return super().call_binop(context, operator, left, right)


_jinja = _BoundedSandbox(autoescape=True)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
MAX_LENGTH = 20_000


def render_instructions(text: str | None, data: dict[str, Any]) -> str:
    """The instructions as HTML safe to put on the page ("" when the task has none)."""
    text = (text or "").strip()[:MAX_LENGTH]
    if not text:
        return ""
    try:
        # Escaped values stay escaped: markdown-it reads `&lt;` as an entity and writes it back as one.
        text = _jinja.from_string(text).render(**{k: v for k, v in data.items() if isinstance(k, str)})
    except (TemplateError, TypeError, ValueError, ArithmeticError):
        pass  # a broken template is shown as written, rather than hiding the instructions
    return _markdown.render(text)
