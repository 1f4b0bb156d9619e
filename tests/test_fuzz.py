"""A seeded form fuzzer: every registered route, driven by app.url_map, the route × role table and the
form schemas, gets malformed paths, queries and bodies; no answer may be a 5xx, and no redirect may leave
the site.

- A task route (`<int:task_id>`) is fuzzed with open tasks of several forms (筛选, 洽谈, 审定条件, 部门联审,
  补充线索), each as its doer and with its own form's fields (from the task's form schema as pinned in its
  model version): the decision field always bad, the other answers partly bad, so the form's
  validation is what answers.
- The service API (/api/v1) is called with the signed-in role's token, so its handlers run.
- Redirects: every Location answered during the run must stay on this site; then every route that
  redirected gets every hostile `next=` value (//evil.example, /\\t/evil.example, https://…, CR/LF,
  backslashes, percent-encoded variants), in the query and in the body; and the places that follow a
  `next=` on success (sign-in, the language switch, a password change) are driven to that success with
  every one of them. Redirect targets are checked in one place, webapp.inputs.safe_next.

Deterministic (seeded), so a failure reproduces. `make fuzz` raises ZS_FUZZ_EXAMPLES for a longer run.
"""
from __future__ import annotations

import json
import os
import random
from urllib.parse import quote, urlsplit

from flow_support import (
    ANSWERS,
    DEPT_REVIEWER,
    DOER,
    FORM_OF,
    PASSWORD,
    ready_tasks,
    register_lead,
    step,
    steps,
)
from test_roles import ROLES, TABLE

from workflows import db

EXAMPLES = int(os.environ.get("ZS_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("ZS_FUZZ_SEED", "20261205"))
FORMS = os.path.join(os.path.dirname(__file__), "..", "forms")

BAD_VALUES = ["", "0", "-1", "2147483648", str(2**70), "9" * 400, "NaN", "inf", "1e309", "1.5", "١٢",
              "\x00", "a\x00b", "x" * 10_000, "a\r\nb", "javascript:alert(1)", "//evil.example",
              "https://evil.example/", "/\\evil.example", "../../etc/passwd", "<script>", "'; --",
              "{}", "[]", '{"a":' * 200 + "1" + "}" * 200, "true", "null", "\ud7ff", "🙂" * 50, " "]
BAD_JSON = [None, True, 2**70, -(2**64), 1.5, "", "\x00", "x" * 10_000, [], {}, [[[[]]]], {"a": {"b": [1]}},
            "١٢", "<script>", "9" * 400]
ODD_IDS = ["0", "-1", "999999", str(2**63), str(2**70), "abc", "%00", "١٢", "1.5"]
GENERIC_FIELDS = ["next", "page", "q", "sort", "status", "reason", "note", "target", "csrf_token",
                  "a-0-b", "items-0-name", "password", "username", "roles", "kind", "id"]
# Hostile redirect targets, as values (the client encodes them) …
HOSTILE_NEXT = ["//evil.example", "//evil.example/", "///evil.example", "/\t/evil.example", "/\n/evil.example",
                "/\r/evil.example", "\t//evil.example", " //evil.example", "/\\evil.example", "/\\/evil.example",
                "\\\\evil.example", "\\/evil.example", "https://evil.example", "https://evil.example/inbox",
                "HTTPS://evil.example", "http:evil.example", "https:/\\evil.example", "//evil.example@localhost",
                "javascript:alert(1)", "data:text/html,x", "/x\r\nLocation: https://evil.example",
                "/x\r\nSet-Cookie: a=b", "/\x00//evil.example", "/\u3000//evil.example", "//evil。example",
                "%2F%2Fevil.example", "/%2F/evil.example", "/%5Cevil.example"]
# … and as raw query strings: percent-encoded (and double-encoded) spellings of the same.
HOSTILE_QUERIES = ["next=%2F%2Fevil.example", "next=%2F%09%2Fevil.example", "next=%5C%5Cevil.example",
                   "next=%2F%5Cevil.example", "next=https%3A%2F%2Fevil.example", "next=%2F%0D%0ALocation:%20x",
                   "next=%252F%252Fevil.example", "next=%2F%2F%65vil.example", "next=/%09/evil.example",
                   "next=%E3%80%80%2F%2Fevil.example", "next=/&next=//evil.example"]
# Those a page follows on success (a NUL anywhere in a request is refused before any page runs).
FOLLOWED = [target for target in HOSTILE_NEXT if "\x00" not in target]
# A demo user the fuzzer changes the password of (nobody else here signs in as them).
PASSWORD_USER = "rev_lyj"


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
    for role, status in zip(ROLES, row):
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


def _sign_in(client, role: str, password: str = PASSWORD) -> None:
    client.post("/logout")
    if role != "anonymous":
        client.post("/login", data={"username": role, "password": password})


def same_origin(location: str) -> bool:
    """Does a Location stay on this site, as a browser reads it? Browsers drop tabs and newlines inside a
    URL and read a backslash as a slash, so `/\\t/x` and `/\\x` are `//x`: another host."""
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in location):
        return False
    parts = urlsplit(location.replace("\\", "/"))
    if parts.scheme or parts.netloc:
        return parts.scheme in ("http", "https") and parts.netloc == "localhost"
    return location.startswith("/") and not location.replace("\\", "/").startswith("//")


def test_same_origin_reads_locations_as_a_browser_does():
    assert same_origin("/tasks/?page=2") and same_origin("http://localhost/login") and same_origin("/%2F/x")
    for hostile in ("//evil.example", "/\t/evil.example", "/\\evil.example", "https://evil.example",
                    "http://evil.example/", " /x", "javascript:alert(1)", "/x\r\nSet-Cookie: a=b"):
        assert not same_origin(hostile), hostile


class Task:
    """An open task the fuzzer works on: its id, its doer and its form's fields."""

    def __init__(self, task_id: int, spec: str, username: str, schema: dict):
        self.id, self.spec, self.username = task_id, spec, username
        self.properties = schema.get("properties") or {}
        self.fields = sorted(self.properties)
        required = set(schema.get("required") or [])
        # The decision (a required choice): always sent bad, so a fuzzed form never completes its task.
        self.decisions = sorted(name for name in required & set(self.fields)
                                if "enum" in self.properties[name] or "oneOf" in self.properties[name])
        self.answers = dict(ANSWERS.get(FORM_OF.get(spec, spec), {}))


def _open_tasks(app, client) -> list[Task]:
    """Open tasks of five forms: a lead at 筛选, one sent back (补充线索), one each at 洽谈, 审定条件 and 部门联审."""
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.engine.model_store import form_files
    from workflows.models import ModelVersion, ProcessInstance, TaskRecord

    screening = register_lead(client)
    sent_back = register_lead(client)
    step(app, client, sent_back, "screening", screening_decision="退回补充", confirmed_class="重大",
         class_reason="按投资额。", screening_opinion="请补充投资计划书。")
    further = []
    for stages in (("screening",), ("screening", "negotiation"), ("screening", "negotiation", "approve_terms")):
        pid = register_lead(client)
        step(app, client, pid, stages[0], confirmed_class="重大")
        steps(app, client, pid, *stages[1:])
        further.append(pid)
    tasks = []
    first = {pid: ready_tasks(app, pid)[0] for pid in (screening, sent_back, *further)}
    with transaction() as s:
        for pid, (record_id, spec, unit) in first.items():
            record = s.get(TaskRecord, record_id)
            version = s.get(ModelVersion, s.get(ProcessInstance, pid).model_version_id)
            schema, _ = form_files(version, record.form)
            username = DEPT_REVIEWER[unit] if spec == "department_review" else DOER[spec]
            tasks.append(Task(record_id, spec, username, schema))
        assert s.scalar(select(TaskRecord.id).where(TaskRecord.state == "ready").limit(1)) is not None
    assert len({t.spec for t in tasks}) == 5 and all(t.fields and t.decisions for t in tasks), \
        [(t.spec, t.decisions) for t in tasks]
    return tasks


def _task_form(rng: random.Random, task: Task) -> dict:
    """A submission of the task's own form: the decision bad, a few other answers bad, the rest as a
    person would give them (so validation gets past the first problem)."""
    data = {name: value for name, value in task.answers.items() if rng.random() < 0.7}
    for name in rng.sample(task.fields, k=rng.randint(1, min(6, len(task.fields)))):
        data[name] = rng.sample(BAD_VALUES, k=2) if rng.random() < 0.2 else rng.choice(BAD_VALUES)
    for name in task.decisions:
        data[name] = rng.choice([v for v in BAD_VALUES if v not in ("", " ")])
    if rng.random() < 0.3:
        data["action"] = rng.choice(["draft", "submit", "x", ""])
    return data


def _task_json(rng: random.Random, task: Task) -> dict:
    """The service API's body for completing the task: {"data": {…}} with the task's fields, some JSON-bad."""
    data = {name: value for name, value in task.answers.items() if rng.random() < 0.7}
    for name in rng.sample(task.fields, k=rng.randint(1, min(6, len(task.fields)))):
        data[name] = rng.choice(BAD_JSON + BAD_VALUES[:12])
    for name in task.decisions:
        data[name] = rng.choice([v for v in BAD_JSON if v not in ("", None)])
    return {"data": data}


class Tokens:
    """Service API tokens of the demo users, made when first needed."""

    def __init__(self):
        self.made: dict[str, str] = {}

    def header(self, username: str) -> dict:
        if username == "anonymous":
            return {}
        if username not in self.made:
            from workflows.demo import actor
            from workflows.services import api_token_service

            self.made[username] = api_token_service.token_create(actor("admin"), actor(username).id, "fuzz")
        return {"Authorization": f"Bearer {self.made[username]}"}


def test_no_malformed_request_gets_a_server_error_and_no_redirect_leaves_the_site(database, tmp_path):
    from webapp import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t"})
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash is a 500 to count, not an exception to stop at
    client = app.test_client()
    tasks = _open_tasks(app, client)
    instance_id = register_lead(client)
    ids = {"instance_id": instance_id, "task_id": tasks[0].id, "user_id": 2, "unit_id": 8, "code": "en",
           "attachment_id": 1, "version_id": 1, "row_id": 1, "kind": "review-form",
           "process_id": "investor_complaint", "change": "add"}
    fields = _schema_fields()
    tokens = Tokens()
    rng = random.Random(SEED)
    counts: dict[tuple[str, str], int] = {}
    task_counts: dict[tuple[str, str, str], int] = {}
    failures: list[str] = []
    redirected: dict[tuple[str, str], tuple[str, str]] = {}  # (method, rule) → (role, path) that redirected
    rules = sorted((m, r.rule) for r in app.url_map.iter_rules() if r.endpoint != "static"
                   for m in r.methods - {"HEAD", "OPTIONS"})

    def check(response, method: str, rule: str, role: str, url: str, what: str) -> None:
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {method} {url} {what} as {role}"[:400])
        if 300 <= response.status_code < 400:
            redirected.setdefault((method, rule), (role, url))
            location = response.headers.get("Location", "")
            if not same_origin(location):
                failures.append(f"off-site redirect to {location!r}: {method} {url} {what} as {role}"[:400])

    for method, rule in rules:
        role = _role_for(method, rule) if (method, rule) in TABLE else "zhaoshang"
        task_route = "<int:task_id>" in rule
        signed_in = None
        for n in range(EXAMPLES):
            task = tasks[n * len(tasks) // EXAMPLES] if task_route else None
            first_of_task = task is not None and (n == 0 or tasks[(n - 1) * len(tasks) // EXAMPLES] is not task)
            who = task.username if task else role
            if who != signed_in:
                _sign_in(client, who)
                signed_in = who
            url = _path(rng, rule, {**ids, "task_id": task.id} if task else ids)
            if task and (first_of_task or rng.random() < 0.8):
                url = _path(rng, rule.replace("<int:task_id>", str(task.id)), ids)
                task_counts[(method, rule, task.spec)] = task_counts.get((method, rule, task.spec), 0) + 1
            if task:
                data = _task_form(rng, task)
            else:
                names = rng.sample(GENERIC_FIELDS + fields, k=rng.randint(1, 6))
                data = {name: (rng.sample(BAD_VALUES, k=2) if rng.random() < 0.2 else rng.choice(BAD_VALUES))
                        for name in names}
            query = {"next": rng.choice(BAD_VALUES + HOSTILE_NEXT), rng.choice(GENERIC_FIELDS): rng.choice(BAD_VALUES)}
            headers = tokens.header(who) if rule.startswith("/api/v1/") and "/filings" not in rule else {}
            if method == "GET":
                response = client.get(url, query_string=query, headers=headers)
            elif rule.startswith("/api/") and task and rng.random() < 0.7:
                body = json.dumps(_task_json(rng, task), ensure_ascii=False)
                response = client.post(url, data=body.encode("utf-8", "surrogatepass"), headers=headers,
                                       content_type="application/json")
            elif rule.startswith("/api/") and rng.random() < 0.5:
                response = client.post(url, data=rng.choice(BAD_VALUES).encode("utf-8", "surrogatepass"),
                                       content_type="application/json", headers=headers)
            else:
                response = client.post(url, data=data, query_string=query, headers=headers)
            counts[(method, rule)] = counts.get((method, rule), 0) + 1
            check(response, method, rule, who, url, repr(data))
            if rule == "/logout" or "password" in rule or rule.startswith("/login"):
                signed_in = None

    # Every route that redirected gets every hostile target, in the query and (a POST) in the body.
    hostile_sent = 0
    for (method, rule), (role, url) in sorted(redirected.items()):
        _sign_in(client, role)
        for target in HOSTILE_NEXT + HOSTILE_QUERIES:
            raw = target in HOSTILE_QUERIES
            query = target if raw else "next=" + quote(target, safe="")
            if method == "GET":
                response = client.get(url, query_string=query)
            else:
                response = client.post(url, query_string=query, data={} if raw else {"next": target})
            hostile_sent += 1
            check(response, method, rule, role, url, query)
            if rule == "/logout" or rule.startswith("/login"):
                _sign_in(client, role)

    db.engine().dispose()
    print(f"fuzz: {sum(counts.values())} requests over {len(counts)} routes ({sum(task_counts.values())} to "
          f"{len(tasks)} tasks with their own forms), {len(redirected)} routes redirected, {hostile_sent} "
          f"hostile next= sent to them, {len(failures)} failures")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:60])
    assert sum(counts.values()) >= 2000, sum(counts.values())
    assert min(counts.values()) >= EXAMPLES, min(counts.items(), key=lambda item: item[1])
    task_routes = {(m, r) for m, r in counts if "<int:task_id>" in r}
    assert len(task_routes) >= 10, task_routes
    assert all(task_counts.get((m, r, t.spec)) for m, r in task_routes for t in tasks), task_counts
    assert ("POST", "/lang/<code>") in redirected, sorted(redirected)
    assert hostile_sent == len(redirected) * len(HOSTILE_NEXT + HOSTILE_QUERIES)


def test_the_pages_that_follow_next_on_success_stay_on_the_site(database):
    """Sign-in, the language switch and a password change, each succeeding with every hostile target."""
    from webapp import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "t"})
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    password, off_site = PASSWORD, []
    for n, target in enumerate(FOLLOWED):
        encoded = quote(target, safe="")
        for url, data, role in (("/login?next=" + encoded, {"username": "zhaoshang", "password": PASSWORD}, "anonymous"),
                                ("/lang/en", {"next": target}, "anonymous"),
                                ("/lang/zh", {"next": target}, "zhaoshang")):
            _sign_in(client, role)
            response = client.post(url, data=data)
            assert response.status_code in (302, 303), (url, target, response.status_code)
            if not same_origin(response.headers["Location"]):
                off_site.append((url, target, response.headers["Location"]))
        _sign_in(client, PASSWORD_USER, password)
        new = f"Fz{n}!{SEED}-changed"
        response = client.post("/me/password?next=" + encoded,
                               data={"old_password": password, "new_password": new, "confirm": new})
        assert response.status_code == 302, (target, response.data.decode()[:500])
        password = new
        if not same_origin(response.headers["Location"]):
            off_site.append(("/me/password", target, response.headers["Location"]))
    db.engine().dispose()
    assert off_site == []
