"""A seeded form fuzzer: every registered route, driven by app.url_map, the route × role table and the
form schemas, gets malformed paths, queries and bodies; no answer may be a 5xx.

Deterministic (seeded), so a failure reproduces. `make fuzz` raises ZS_FUZZ_EXAMPLES for a longer run.
"""
from __future__ import annotations

import json
import os
import random

from flow_support import PASSWORD, ready_tasks, register_lead
from test_roles import ROLES, TABLE

from workflows import db

EXAMPLES = int(os.environ.get("ZS_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("ZS_FUZZ_SEED", "20261205"))
FORMS = os.path.join(os.path.dirname(__file__), "..", "forms")

BAD_VALUES = ["", "0", "-1", "2147483648", str(2**70), "9" * 400, "NaN", "inf", "1e309", "1.5", "١٢",
              "\x00", "a\x00b", "x" * 10_000, "a\r\nb", "javascript:alert(1)", "//evil.example",
              "https://evil.example/", "/\\evil.example", "../../etc/passwd", "<script>", "'; --",
              "{}", "[]", '{"a":' * 200 + "1" + "}" * 200, "true", "null", "\ud7ff", "🙂" * 50, " "]
ODD_IDS = ["0", "-1", "999999", str(2**63), str(2**70), "abc", "%00", "١٢", "1.5"]
GENERIC_FIELDS = ["next", "page", "q", "sort", "status", "reason", "note", "target", "csrf_token",
                  "a-0-b", "items-0-name", "password", "username", "roles", "kind", "id"]


def _schema_fields() -> list[str]:
    names: set[str] = set()
    for name in os.listdir(FORMS):
        if name.endswith("-schema.json"):
            with open(os.path.join(FORMS, name), encoding="utf-8") as handle:
                names.update(json.load(handle).get("properties", {}))
    return sorted(names)


def _role_for(method: str, rule: str) -> str:
    """The first role the table lets through (anything but a redirect to sign in or 403), else the lead."""
    row = TABLE[(method, rule)]
    for role, status in zip(ROLES, row, strict=True):
        if role != "anonymous" and status not in (302, 401, 403):
            return role
    return "zhaoshang"


def _path(rng: random.Random, rule: str, ids: dict) -> str:
    path = rule
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        converter = path[start + 1:end]
        name = converter.split(":")[-1]
        if rng.random() < 0.5 and name in ids:
            value = str(ids[name])
        elif converter.startswith("int:"):
            value = rng.choice([v for v in ODD_IDS if v.lstrip("-").isdigit()])
        elif converter.startswith("any("):
            value = rng.choice(converter[converter.index("(") + 1:converter.index(")")].split(", "))
        else:
            value = rng.choice(["review-form", "x", "en", "investor_complaint", "%00", "a" * 300])
        path = path[:start] + value + path[end + 1:]
    return path


def _sign_in(client, role: str) -> None:
    client.post("/logout")
    if role != "anonymous":
        client.post("/login", data={"username": role, "password": PASSWORD})


def test_no_malformed_request_gets_a_server_error(database, tmp_path):
    from webapp import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t"})
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash is a 500 to count, not an exception to stop at
    client = app.test_client()
    instance_id = register_lead(client)
    task_id = ready_tasks(app, instance_id)[0][0]
    ids = {"instance_id": instance_id, "task_id": task_id, "user_id": 2, "unit_id": 8, "code": "en",
           "attachment_id": 1, "version_id": 1, "row_id": 1, "kind": "review-form",
           "process_id": "investor_complaint", "change": "add"}
    fields = _schema_fields()
    rng = random.Random(SEED)
    counts: dict[tuple[str, str], int] = {}
    failures: list[str] = []
    rules = sorted((m, r.rule) for r in app.url_map.iter_rules() if r.endpoint != "static"
                   for m in r.methods - {"HEAD", "OPTIONS"})
    for method, rule in rules:
        role = _role_for(method, rule) if (method, rule) in TABLE else "zhaoshang"
        _sign_in(client, role)
        for _ in range(EXAMPLES):
            url = _path(rng, rule, ids)
            names = rng.sample(GENERIC_FIELDS + fields, k=rng.randint(1, 6))
            data = {name: (rng.sample(BAD_VALUES, k=2) if rng.random() < 0.2 else rng.choice(BAD_VALUES))
                    for name in names}
            query = {"next": rng.choice(BAD_VALUES), rng.choice(GENERIC_FIELDS): rng.choice(BAD_VALUES)}
            if method == "GET":
                response = client.get(url, query_string=query)
            elif rule.startswith("/api/") and rng.random() < 0.5:
                response = client.post(url, data=rng.choice(BAD_VALUES).encode("utf-8", "surrogatepass"),
                                       content_type="application/json")
            else:
                response = client.post(url, data=data, query_string=query)
            counts[(method, rule)] = counts.get((method, rule), 0) + 1
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {method} {url} as {role}: {data!r}"[:400])
        if rule == "/logout" or "password" in rule:
            _sign_in(client, role)
    db.engine().dispose()
    assert sum(counts.values()) >= 2000, sum(counts.values())
    assert min(counts.values()) >= 20
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:60])
