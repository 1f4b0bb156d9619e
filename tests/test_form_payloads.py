"""Script payloads typed into every free-text field of every form a project passes through (the
fields come from forms/*-schema.json), then every page that shows them: the payload only ever comes
back escaped — the raw markup never appears in a response."""

from __future__ import annotations

import json
from pathlib import Path

from flow_support import ANSWERS, all_departments_agree, do_task, login, ready_tasks, register_lead, step

from workflows.demo import DEPT_REVIEWER

FORMS = Path(__file__).resolve().parents[1] / "forms"
PAYLOAD = '"><svg onload=alert(1)>'
RAW = ("<svg onload", '"&gt;&lt;svg onload')  # the tag itself, or a quote left unescaped in an attribute
PATH = [
    "screening",
    "negotiation",
    "approve_terms",
    "joint",
    "review_materials",
    "pre_review",
    "review_meeting",
    "executive_meeting",
    "contract_review",
    "approve_filing",
    "prefecture_review",
    "signing",
]


def free_text_fields(form: str) -> list[str]:
    """String properties a person types freely (no choice list, format or pattern) that fit the payload."""
    schema = json.loads((FORMS / f"{form}-schema.json").read_text(encoding="utf-8"))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kinds = prop.get("type") if isinstance(prop.get("type"), list) else [prop.get("type")]
        if "string" not in kinds or {"enum", "oneOf", "anyOf", "const", "format", "pattern"} & set(prop):
            continue
        if prop.get("maxLength", 1000) >= len(PAYLOAD) and prop.get("minLength", 0) <= len(PAYLOAD):
            fields.append(name)
    return fields


def _payloads(form: str, base: dict | None = None) -> dict:
    answers = dict(base if base is not None else ANSWERS.get(form, {}))
    return {
        **answers,
        **{name: f"{answers.get(name) or ''}{PAYLOAD}"[-200:] for name in free_text_fields(form)},
    }


def test_payloads_in_every_free_text_field_come_back_escaped_on_every_page(app, client):
    assert len(free_text_fields("register_lead")) >= 4
    lead = _payloads("register_lead", {})
    pid = register_lead(client, **{k: v for k, v in lead.items() if k in free_text_fields("register_lead")})
    typed = 0
    for spec in PATH:
        if spec == "joint":
            for task_id, name, unit in ready_tasks(app, pid):
                if name == "department_review":
                    do_task(client, DEPT_REVIEWER[unit], task_id, _payloads("department_review"))
                    typed += 1
            assert all_departments_agree(app, client, pid) == []
            continue
        overrides = {k: v for k, v in _payloads(spec).items() if k in free_text_fields(spec)}
        if spec == "screening":
            overrides["confirmed_class"] = "重大"
        step(app, client, pid, spec, **overrides)
        typed += len(overrides)
    assert typed >= 15

    pages = {
        "zhaoshang": ["/", f"/projects/{pid}", "/projects/", "/notifications"],
        "shangwu": [f"/projects/{pid}"],
        "zhuren": ["/dashboard/", "/ledgers/projects", "/ledgers/signed", f"/projects/{pid}"],
        "shenji": ["/audit/", f"/audit/projects/{pid}/replay", f"/audit/projects/{pid}/replay?step=3"],
        "shishangwu": ["/filings/", f"/projects/{pid}"],
    }
    seen = 0
    for username, paths in pages.items():
        login(client, username)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            html = response.data.decode()
            bad = [html[max(0, html.find(raw) - 300) : html.find(raw) + 80] for raw in RAW if raw in html]
            assert not bad, (path, bad)
            seen += html.count("&lt;svg onload=alert(1)&gt;")
    assert seen > 10  # the payloads are on the pages, escaped
