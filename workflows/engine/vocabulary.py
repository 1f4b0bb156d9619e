"""A model's own vocabulary: the texts it shows users and their translations, carried with the model.

A deployment carries one translation file per language beside a BPMN file: `bpmn/<stem>.<lang>.json`
(e.g. `bpmn/investment_project.en.json`) maps each Chinese source text of the model to its translation.
The version of a process keeps the translation files of its BPMN files with its other files, so the
texts of a running instance are those of its own version. A text without a translation is shown in
Chinese; deploying lists such texts as warnings (`missing`).

The texts are the process name and documentation, task and event names, lane names, `stage`
properties, the form texts (titles, descriptions, help, placeholders, options and their names, rule
messages) and the string literals a DMN table gives as outputs.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from lxml import etree

from workflows.form_strings import strings as form_strings

# Languages the application offers besides Chinese (the models' source language).
LANGUAGES = ("en",)
TRANSLATION_FILE = re.compile(r"^bpmn/(?P<stem>[^/]+)\.(?P<lang>[a-z]{2}(?:_[A-Z]{2})?)\.json$")
LANGUAGE_NAMES = {"en": "英文"}
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
)
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Elements whose name a user sees: the tasks people do (titles, history) and lanes; end events named
# end_* are a finished instance's stage (workflows/engine/runtime.py: outcome).
NAMED = ("userTask", "manualTask", "task", "lane")
# Process and task properties whose value is text for users (list column labels, stages).
TEXT_PROPERTIES = ("stage", "listTitleLabel", "listPartyLabel", "listAmountLabel", "listClassLabel")
STRING_LITERAL = re.compile(r'^\s*"([^"\\]*)"\s*$')


def _match(name: str):
    """The name's parts if it is a translation file: <process>.<language>.json with a language Babel
    knows (SpiffArena's `<form>.ui.json` UI schemas are not translations)."""
    from babel import Locale, UnknownLocaleError

    found = TRANSLATION_FILE.match(name)
    try:
        return found if found and Locale.parse(found["lang"]) else None
    except (UnknownLocaleError, ValueError):
        return None


def is_translation_file(name: str) -> bool:
    return _match(name) is not None


def translation_files_of(files: dict[str, str], bpmn_name: str) -> list[str]:
    """The translation files beside a BPMN file: bpmn/x.bpmn → bpmn/x.en.json, …"""
    stem = bpmn_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return sorted(n for n in files if (m := _match(n)) and m["stem"] == stem)


def problems(files: dict[str, str]) -> list[str]:
    """Why a translation file cannot be deployed: it must be a JSON object of text → text."""
    errors = []
    for name, text in files.items():
        if not is_translation_file(name):
            continue
        if f"bpmn/{_match(name)['stem']}.bpmn" not in files:
            errors.append(f"{name}：同一部署中没有它所翻译的 bpmn/{_match(name)['stem']}.bpmn")
            continue
        try:
            table = json.loads(text)
        except ValueError as err:
            errors.append(f"{name}：不是有效的 JSON（{str(err).splitlines()[0]}）")
            continue
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            errors.append(f"{name}：翻译文件须为“中文原文 → 译文”的 JSON 对象，键和值都是文本")
    return errors


def translations(files: dict[str, str]) -> dict[str, dict[str, str]]:
    """{language: {Chinese text: translation}} of the translation files among the files (empty
    translations are left out, so the text falls back to Chinese)."""
    return _translations(
        json.dumps({n: t for n, t in files.items() if is_translation_file(n)}, sort_keys=True)
    )


@lru_cache(maxsize=64)
def _translations(blob: str) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for name, text in sorted(json.loads(blob).items()):
        try:
            table = json.loads(text)
        except ValueError:
            continue
        if isinstance(table, dict):
            result.setdefault(_match(name)["lang"], {}).update(
                {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, str) and v.strip()}
            )
    return result


def texts(files: dict[str, str]) -> list[str]:
    """Every text of the model files a user may see that needs translating (has Chinese), in order."""
    return _texts(json.dumps({n: t for n, t in files.items() if not is_translation_file(n)}, sort_keys=True))


@lru_cache(maxsize=64)
def _texts(blob: str) -> list[str]:
    found: list[str] = []
    for name, text in sorted(json.loads(blob).items()):
        try:
            if name.endswith(".bpmn"):
                found += _bpmn_texts(etree.fromstring(text.encode("utf-8")))
            elif name.endswith(".dmn"):
                found += _dmn_texts(etree.fromstring(text.encode("utf-8")))
            elif name.endswith(".json"):
                found += list(form_strings(json.loads(text))) + _enum_names(json.loads(text))
        except (etree.XMLSyntaxError, ValueError):
            continue  # validate_files reports a file that does not parse
    return [t for t in dict.fromkeys(s.strip() for s in found if isinstance(s, str)) if t and CJK.search(t)]


def _bpmn_texts(root) -> list[str]:
    found = []
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        found.append(process.get("name") or "")
        documentation = process.find(f"{{{BPMN_NS}}}documentation")
        if documentation is not None:
            found.append(documentation.text or "")
        for kind in NAMED:
            found += [e.get("name") or "" for e in process.iter(f"{{{BPMN_NS}}}{kind}")]
        found += [
            e.get("name") or ""
            for e in process.iter(f"{{{BPMN_NS}}}endEvent")
            if (e.get("id") or "").startswith("end_")
        ]
        found += [
            p.get("value") or ""
            for p in process.iter(f"{{{SPIFF_NS}}}property")
            if p.get("name") in TEXT_PROPERTIES
        ]
    return found


def _dmn_texts(root) -> list[str]:
    found = []
    for ns in DMN_NAMESPACES:
        for entry in root.iter(f"{{{ns}}}outputEntry"):
            text = entry.find(f"{{{ns}}}text")
            literal = STRING_LITERAL.match(text.text or "") if text is not None else None
            if literal:
                found.append(literal[1])
    return found


def _enum_names(node) -> list[str]:
    """enumNames / ui:enumNames lists (option names of older JSON-Schema forms)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("enumNames", "ui:enumNames") and isinstance(value, list):
                found += [v for v in value if isinstance(v, str)]
            else:
                found += _enum_names(value)
    elif isinstance(node, list):
        for item in node:
            found += _enum_names(item)
    return found


def missing(files: dict[str, str]) -> dict[str, list[str]]:
    """{language: the model's texts without a translation in it}, for every offered language."""
    table = translations(files)
    return {lang: [t for t in texts(files) if t not in table.get(lang, {})] for lang in LANGUAGES}


def warnings(files: dict[str, str], label: str) -> list[str]:
    """Deploy warnings for the texts of `files` (one process version) that lack a translation."""
    result = []
    for lang, absent in missing(files).items():
        if absent:
            shown = "、".join(f"“{t[:40]}”" for t in absent[:20])
            more = f" 等 {len(absent)} 条" if len(absent) > 20 else f"（{len(absent)} 条）"
            result.append(f"{label} 缺少{LANGUAGE_NAMES.get(lang, lang)}翻译，将显示中文：{shown}{more}")
    return result
