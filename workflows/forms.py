"""Task forms: JSON Schema files in forms/, validated server-side before anything reaches the engine.

Two extensions a form schema may carry, both read here and nowhere else:

- `errorMessage` beside a rule: the message shown when that rule fails — a string, or an object keyed
  by the failing keyword (`{"const": "…", "required": "…"}`). Without it the generic message of the
  keyword is shown.
- `validationRules` at the top: rules that need more than one field, other stages' data or the
  project's facts, e.g. a meeting date not before the registration date. Each is
  `{"field": …, "expression": …, "message": …}`; the expression is evaluated by the restricted script
  engine over the task data, the submitted values and `facts` (e.g. `registered_on`); false → the
  message on the field. A rule that uses a field that already has an error is not evaluated.
"""
from __future__ import annotations

import ast
import math
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from workflows.errors import ModelFailed, ValidationFailed

MESSAGES = {
    "required": "此项必填",
    "minimum": "不能小于 %(v)s",
    "exclusiveMinimum": "必须大于 %(v)s",
    "maximum": "不能大于 %(v)s",
    "maxLength": "不能超过 %(v)s 个字",
    "minLength": "至少填写 %(v)s 个字",
    "pattern": "格式不正确",
    "format": "格式不正确",
    "enum": "请从选项中选择",
    "const": "所选项不符合要求",
    "oneOf": "请从选项中选择",
    "type": "格式不正确",
}


def base_type(prop: dict) -> str | None:
    """The property's type, ignoring "null" (optional fields are typed ["string", "null"])."""
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


def editable_fields(schema: dict) -> list[str]:
    return [k for k, p in schema.get("properties", {}).items() if not p.get("readOnly")]


def readonly_fields(schema: dict) -> list[str]:
    return [k for k, p in schema.get("properties", {}).items() if p.get("readOnly")]


def coerce(schema: dict, submitted: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn HTML form strings into typed values; returns (values, type errors)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    props = schema.get("properties", {})
    for name in editable_fields(schema):
        kind = base_type(props[name])
        raw = submitted.get(name)
        if kind == "boolean":
            values[name] = raw in ("on", "true", "1", "是")
            continue
        raw = (raw or "").strip()
        if raw == "":
            values[name] = None
            continue
        try:
            if kind == "integer":
                values[name] = int(raw)
            elif kind == "number":
                number = float(raw)
                if not math.isfinite(number):  # "nan", "inf", "1e999" are not amounts
                    raise ValueError(raw)
                # 120 stays 120 (not 120.0) when shown again; fractions are kept as typed.
                values[name] = int(number) if number.is_integer() and abs(number) < 2**53 else number
            else:
                values[name] = raw
        except ValueError:
            values[name] = raw
            errors[name] = "请输入数字" if kind == "number" else "请输入整数"
    return values, errors


def _non_finite(values: dict[str, Any]) -> dict[str, str]:
    """NaN and ±Infinity never pass as numbers (JSON Schema's minimum/maximum do not catch NaN)."""
    return {k: "请输入数字" for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)}


def validate(schema: dict, submitted: dict[str, Any], task_data: dict[str, Any],
             coerce_strings: bool = True, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The clean data to put on the task: every editable field (missing → None).

    Read-only fields are taken from the task data, never from the user, and take part in
    validation (e.g. the screening class may not be below the proposed class).
    Raises ValidationFailed with a message per field.
    """
    if coerce_strings:
        values, errors = coerce(schema, submitted)
    else:
        values = {k: submitted.get(k) for k in editable_fields(schema)}
        errors = _non_finite(values)
    instance = {k: v for k, v in values.items() if v is not None}
    for name in readonly_fields(schema):
        if task_data.get(name) is not None:
            instance[name] = task_data[name]
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    for error in validator.iter_errors(instance):
        for field, message in _field_errors(error):
            errors.setdefault(field, message)
    # The form's own fields as submitted (a field left empty is None, not an earlier round's value).
    for field, message in _rule_errors(schema, {**task_data, **instance, **values}, facts or {}, set(errors)):
        errors.setdefault(field, message)
    if errors:
        raise ValidationFailed(errors)
    return values


def _rule_errors(schema: dict, data: dict[str, Any], facts: dict[str, Any],
                 wrong: set[str]) -> list[tuple[str, str]]:
    """The schema's `validationRules` that do not hold, as (field, message); a rule that uses a field
    already `wrong` (e.g. not a date) waits until that is corrected."""
    rules = schema.get("validationRules") or []
    if not rules:
        return []
    from workflows.engine.script_engine import RestrictedEnvironment

    environment = RestrictedEnvironment()
    scope = {name: None for name in schema.get("properties", {})}
    scope.update({k: v for k, v in data.items() if isinstance(k, str) and k.isidentifier()})
    scope.update(facts)
    failed = []
    for rule in rules:
        # A name the expression uses that the data lacks (a stage not reached) is None, not an error.
        try:
            names = {n.id for n in ast.walk(ast.parse(rule["expression"], mode="eval")) if isinstance(n, ast.Name)}
            if names & wrong or rule.get("field") in wrong:
                continue
            holds = environment.evaluate(rule["expression"], {**dict.fromkeys(names), **scope})
        except Exception as err:  # the model's expression is wrong: nothing the user typed can fix it
            raise ModelFailed(f"{schema.get('title', '表单')} · validationRules", str(err)) from err
        if not holds:
            failed.append((rule.get("field", "_form"), FieldError(rule["message"])))
    return failed


def _custom_message(error) -> str | None:
    """The schema's own message for this failure (`errorMessage` beside the failing keyword)."""
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(custom, dict):
        custom = custom.get(error.validator)
    return custom if isinstance(custom, str) else None


def _field_errors(error) -> list[tuple[str, str]]:
    custom = _custom_message(error)
    if error.validator == "required":
        missing = [n for n in error.validator_value if n not in (error.instance or {})]
        return [(n, FieldError(custom) if custom else MESSAGES["required"]) for n in missing]
    if error.validator == "additionalProperties":
        return [("_form", "含有未定义的字段")]
    field = str(error.absolute_path[0]) if error.absolute_path else "_form"
    if custom:
        return [(field, FieldError(custom))]
    template = MESSAGES.get(error.validator, "填写有误")
    return [(field, FieldError(template, v=error.validator_value))]


class FieldError(str):
    """A filled-in Chinese message that also keeps its template and values, so the webapp can
    translate the template first and fill it in afterwards."""

    def __new__(cls, template: str, **params):
        text = super().__new__(cls, template % params if params else template)
        text.template, text.params = template, params
        return text


def display_fields(schemas: list[dict], data: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs of project data in form order, labels and option names from the schemas."""
    rows: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for schema in schemas:
        for name, prop in schema.get("properties", {}).items():
            if name in seen or data.get(name) in (None, "") or prop.get("readOnly"):
                continue
            seen.add(name)
            rows.append((prop.get("title", name), _display_value(prop, data[name])))
    return rows


def option_title(prop: dict, value: Any) -> Any:
    """The display title of an option code (oneOf const/title), or the value itself."""
    for option in prop.get("oneOf", []):
        if option.get("const") == value:
            return option.get("title", value)
    return value


def _display_value(prop: dict, value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    return option_title(prop, value)
