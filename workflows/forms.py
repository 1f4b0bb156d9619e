"""Task forms: JSON Schema files in forms/, validated server-side before anything reaches the engine.

Extensions a form schema may carry, read here (and `x-personal`, read by workflows/personal_data.py):

- `errorMessage` beside a rule: the message shown when that rule fails — a string, or an object keyed
  by the failing keyword (`{"const": "…", "required": "…"}`). Without it the generic message of the
  keyword is shown.
- `validationRules` at the top: rules that need more than one field, other stages' data or the
  project's facts, e.g. a meeting date not before the registration date. Each is
  `{"field": …, "expression": …, "message": …}`; the expression is evaluated by the restricted script
  engine over the task data, the submitted values and `facts` (e.g. `registered_on`); false → the
  message on the field. A rule that uses a field that already has an error is not evaluated.
- `"x-personal": true` on a property: personal data (contact person, phone, e-mail), validated here in
  clear, then sealed with SM4 before it is stored anywhere (workflows/personal_data.py).
"""

from __future__ import annotations

import ast
import math
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from workflows import personal_data
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


def is_file_field(prop: dict, ui: dict | None = None) -> bool:
    """A file field as SpiffArena's forms (rjsf) write one: a string with `"format": "data-url"`, or
    `"ui:widget": "file"` in the UI schema. The upload becomes a project attachment and the task
    data keeps a reference to it (FILE_REFERENCE), never the bytes."""
    return (
        base_type(prop) == "string"
        and not prop.get("readOnly")
        and (prop.get("format") == "data-url" or (ui or {}).get("ui:widget") == "file")
    )


def file_fields(schema: dict, uischema: dict | None = None) -> list[str]:
    """The form's own file fields (top level)."""
    uischema = uischema or {}
    return [k for k, p in schema.get("properties", {}).items() if is_file_field(p, uischema.get(k))]


FILE_REFERENCE = ("attachment_id", "filename", "content_type", "size", "sha256")


def is_file_reference(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("attachment_id"), int) and "filename" in value


SEP = "-"  # nested field names in HTML: `people-0-name` is people[0].name
SHOWN_BOOLEANS = "_booleans"  # the form names each checkbox it showed: one left unticked is 否, not absent


def _shown_booleans(submitted: dict) -> set[str]:
    shown = submitted.get(SHOWN_BOOLEANS) or []
    return set(shown if isinstance(shown, list) else [shown])


OUTCOMES = "x-outcomes"  # on a decision field: {answer: what it means to the application} (forms/README.md)
KNOWN_OUTCOMES = frozenset({"agree", "conditional", "objection", "accepted", "returned"})


def outcomes(schema: dict) -> tuple[str | None, dict[str, str]]:
    """(the decision field, {answer: outcome}) a form declares with `x-outcomes` on one property."""
    for key, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and isinstance(prop.get(OUTCOMES), dict):
            return key, dict(prop[OUTCOMES])
    return None, {}


def opinion_field(schema: dict) -> str | None:
    """The field a form marks with `"x-opinion": true`: the reasons that go with its decision."""
    return next(
        (
            key
            for key, prop in (schema.get("properties") or {}).items()
            if isinstance(prop, dict) and prop.get("x-opinion") is True
        ),
        None,
    )


def outcome_of(schema: dict, data: dict) -> str | None:
    """What the answer of a form's decision field means (None: no declared meaning)."""
    field_name, mapping = outcomes(schema)
    return mapping.get((data or {}).get(field_name)) if field_name else None


def answer_for(schema: dict, outcome: str) -> tuple[str | None, str | None]:
    """(decision field, the answer that means `outcome`) of a form, or (None, None)."""
    field_name, mapping = outcomes(schema)
    return field_name, next((answer for answer, meant in mapping.items() if meant == outcome), None)


def outcome_problems(schema: dict) -> list[str]:
    """Why a form's `x-outcomes` cannot be used: answers its field does not offer, unknown outcomes."""
    problems = []
    for key, prop in (schema.get("properties") or {}).items():
        mapping = prop.get(OUTCOMES) if isinstance(prop, dict) else None
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            problems.append(f"{key} 的 {OUTCOMES} 须为对象")
            continue
        offered = {v for v, _ in option_pairs(prop)}
        problems += [f"{key} 的 {OUTCOMES} 含表单没有的答案“{a}”" for a in mapping if a not in offered]
        problems += [
            f"{key} 的 {OUTCOMES} 含未知含义“{o}”（可用：{'、'.join(sorted(KNOWN_OUTCOMES))}）"
            for o in mapping.values()
            if o not in KNOWN_OUTCOMES
        ]
    return problems


def option_pairs(prop: dict) -> list[tuple[Any, Any]]:
    """(value, title) of a choice field: `oneOf` with const/title, or `enum` (+ `enumNames`)."""
    if prop.get("oneOf"):
        return [(o["const"], o.get("title", o["const"])) for o in prop["oneOf"] if o.get("const") is not None]
    names = prop.get("enumNames") or []
    return [
        (v, names[i] if i < len(names) else v) for i, v in enumerate(prop.get("enum") or []) if v is not None
    ]


def _row_indexes(submitted: dict, prefix: str) -> list[int]:
    """The row numbers a flat submission holds for an array of objects (`people-3-name` → 3)."""
    found = set()
    for key in submitted:
        if key.startswith(prefix + SEP):
            head = key[len(prefix) + 1 :].split(SEP, 1)[0]
            if head.isdigit() and len(head) < 4:
                found.add(int(head))
    return sorted(found)


def _blank(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    return value in (None, "", [])


def _last(raw: Any) -> Any:
    return raw[-1] if isinstance(raw, list) and raw else raw


def _coerce_value(prop: dict, path: str, submitted: dict, errors: dict[str, str]) -> Any:
    kind = base_type(prop)
    if kind == "object" and "properties" in prop:
        return {
            name: _coerce_value(sub, f"{path}{SEP}{name}", submitted, errors)
            for name, sub in prop["properties"].items()
            if not sub.get("readOnly")
        }
    if kind == "array":
        return _coerce_array(prop.get("items") or {}, path, submitted, errors)
    raw = _last(submitted.get(path))
    if kind == "boolean":
        if raw is None:  # an unticked box the form showed is 否; a field not sent takes the schema's default
            return False if path in _shown_booleans(submitted) else bool(prop.get("default", False))
        return raw in ("on", "true", "1", "是", True)
    return _coerce_text(kind, ("" if raw is None else str(raw)).strip(), path, errors)


def _coerce_array(items: dict, path: str, submitted: dict, errors: dict[str, str]) -> Any:
    """Rows of a table (an array of objects), or the choices of a multiple choice."""
    if base_type(items) == "object":
        rows = [
            _coerce_value(items, f"{path}{SEP}{i}", submitted, errors) for i in _row_indexes(submitted, path)
        ]
        rows = [r for r in rows if not _blank(r)]  # the empty row offered for a new entry
        return rows or None
    raw = submitted.get(path)
    chosen = [str(v) for v in (raw if isinstance(raw, list) else [raw]) if v not in (None, "")]
    if base_type(items) in ("integer", "number"):
        try:
            return [int(v) if base_type(items) == "integer" else float(v) for v in chosen] or None
        except ValueError:
            errors[path] = "请从选项中选择"
            return chosen
    return chosen or None


def _coerce_text(kind: str | None, raw: str, path: str, errors: dict[str, str]) -> Any:
    """A typed-in value: a number when the field is one, else the text (None when empty)."""
    if raw == "":
        return None
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            number = float(raw)
            if not math.isfinite(number):  # "nan", "inf", "1e999" are not amounts
                raise ValueError(raw)
            # 120 stays 120 (not 120.0) when shown again; fractions are kept as typed.
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        return raw
    except ValueError:
        errors[path] = "请输入数字" if kind == "number" else "请输入整数"
        return raw


def coerce(schema: dict, submitted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn HTML form strings into typed values; returns (values, type errors).

    Nested objects and arrays of objects arrive as flat names (`people-0-name`) and come back as
    nested JSON; a multiple choice (checkboxes) arrives as a list of strings."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    props = schema.get("properties", {})
    for name in editable_fields(schema):
        values[name] = _coerce_value(props[name], name, submitted, errors)
    return values, errors


def as_typed(schema: dict, submitted: dict[str, Any]) -> dict[str, Any]:
    """What was typed, nested the way the form renders it (strings kept as typed): for showing a
    draft or a refused submission again."""

    def walk(prop: dict, path: str) -> Any:
        kind = base_type(prop)
        if kind == "object" and "properties" in prop:
            return {n: walk(sub, f"{path}{SEP}{n}") for n, sub in prop["properties"].items()}
        if kind == "array" and base_type(prop.get("items") or {}) == "object":
            rows = [walk(prop["items"], f"{path}{SEP}{i}") for i in _row_indexes(submitted, path)]
            return [r for r in rows if not _blank(r)]
        raw = submitted.get(path)
        if kind == "array":
            return [v for v in (raw if isinstance(raw, list) else [raw]) if v not in (None, "")]
        return _last(raw)

    props = schema.get("properties", {})
    return {
        n: walk(props[n], n)
        for n in props
        if n in submitted or _row_indexes(submitted, n) or any(k.startswith(n + SEP) for k in submitted)
    }


def draft_of(schema: dict, submitted: dict[str, Any]) -> dict[str, Any]:
    """The typed strings of the form's own editable fields (nested names included), for 暂存."""
    editable = set(editable_fields(schema))
    kept: dict[str, Any] = {}
    for key, raw in submitted.items():
        if key not in editable and not any(key.startswith(name + SEP) for name in editable):
            continue
        if isinstance(raw, list):
            raw = [str(v)[:5000] for v in raw if v not in (None, "")][:200]
        elif raw not in (None, ""):
            raw = str(raw)[:5000]
        if raw not in (None, "", []):
            kept[key] = raw
    for key in _shown_booleans(submitted) - set(kept):  # unticked: kept as 否, not as "not answered"
        if key in editable or any(key.startswith(name + SEP) for name in editable):
            kept[key] = "false"
    return kept


def _non_finite(values: dict[str, Any]) -> dict[str, str]:
    """NaN and ±Infinity never pass as numbers (JSON Schema's minimum/maximum do not catch NaN)."""
    return {k: "请输入数字" for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)}


def validate(
    schema: dict,
    submitted: dict[str, Any],
    task_data: dict[str, Any],
    coerce_strings: bool = True,
    facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The clean data to put on the task: every editable field (missing → None).

    Read-only fields are taken from the task data, never from the user, and take part in
    validation (e.g. the screening class may not be below the proposed class).
    Raises ValidationFailed with a message per field. Personal values earlier steps sealed are
    checked in clear; the caller seals this form's own (personal_data.seal_fields) after validation.
    """
    task_data = personal_data.reveal_all(task_data)
    if coerce_strings:
        values, errors = coerce(schema, submitted)
    else:
        values = {k: submitted.get(k) for k in editable_fields(schema)}
        errors = _non_finite(values)
    instance = _without_none(values)
    for name in readonly_fields(schema):
        if task_data.get(name) is not None:
            # A file an earlier form took is checked as the string it was in that form.
            instance[name] = (
                task_data[name]["filename"] if is_file_reference(task_data[name]) else task_data[name]
            )
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


def _without_none(value: Any) -> Any:
    """JSON Schema sees a field left empty as absent (so `required` catches it), at every level."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _rule_errors(
    schema: dict, data: dict[str, Any], facts: dict[str, Any], wrong: set[str]
) -> list[tuple[str, str]]:
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
            names = {
                n.id for n in ast.walk(ast.parse(rule["expression"], mode="eval")) if isinstance(n, ast.Name)
            }
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
    where = SEP.join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = [n for n in error.validator_value if n not in (error.instance or {})]
        return [
            (f"{where}{SEP}{n}" if where else n, FieldError(custom) if custom else MESSAGES["required"])
            for n in missing
        ]
    if error.validator == "additionalProperties":
        return [("_form", "含有未定义的字段")]
    field = where or "_form"
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


def path_title(schema: dict, path: str) -> str | None:
    """The label of a nested field name for the error summary: `people-0-name` → 参会人员 第1行 · 姓名."""
    parts, prop, labels = path.split(SEP), schema, []
    for part in parts:
        if part.isdigit() and base_type(prop) == "array":
            labels.append(f"第{int(part) + 1}行")
            prop = prop.get("items") or {}
            continue
        prop = (prop.get("properties") or {}).get(part)
        if prop is None:
            return None
        labels.append(prop.get("title", part))
    return " · ".join(labels)


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
    """The display title of an option code (oneOf const/title, enum + enumNames), or the value itself."""
    for code, title in option_pairs(prop):
        if code == value:
            return title
    return value


def _display_value(prop: dict, value: Any) -> Any:
    if personal_data.is_sealed(value):  # shown in clear only where a page reveals it first
        return personal_data.masked(value)
    if is_file_reference(value):  # an uploaded file: its name (the file is among the attachments)
        return value["filename"]
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):  # a nested object: its fields, labelled by their titles
        props = prop.get("properties") or {}
        return "，".join(
            f"{props.get(k, {}).get('title', k)}：{_display_value(props.get(k, {}), v)}"
            for k, v in value.items()
            if v not in (None, "", [])
        )
    if isinstance(value, list):  # repeating rows or a multiple choice
        items = prop.get("items") or {}
        return "；".join(str(_display_value(items, v)) for v in value)
    return option_title(prop, value)
