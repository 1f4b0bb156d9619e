"""Role enforcement: a hand-written table of role × route × expected status.

The table is written out by hand (not generated from workflows/auth.py) so that a change in the
permission code that opens or closes a route shows up as a failing row.
"""
from __future__ import annotations

import io
import shutil

import pytest
from flow_support import LEAD, login, ready_tasks

from workflows import db
from workflows.demo import actor as demo_actor
from workflows.services import attachment_service

ROLES = ["anonymous", "zhaoshang", "yanpan", "shangwu", "zhuren", "rev_fgj", "luohu", "yushen",
         "fuxianzhang", "mishu", "fazhi", "shishangwu", "shenji", "admin", "secadmin", "auditadmin"]
# 三权分立: admin is the system administrator, secadmin the security administrator, auditadmin the audit
# administrator (安全审计员); none of them does business tasks.
#         anon lead scr  com  head dept host lgo  vice exec legal pref audit admin sec  aud
TABLE = {
    ("GET", "/login"):                       [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("POST", "/login"):                      [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("POST", "/lang/<code>"):                [302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302],
    ("POST", "/logout"):                     [302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302],
    ("GET", "/"):                            [302, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("GET", "/projects/"):                   [302, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("GET", "/projects/new"):                [302, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/projects/new"):               [302, 422, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("GET", "/complaints/"):                 [302, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    # 发起: any bound process whose start lane the user holds (here the complaint process: 县商务局).
    ("GET", "/start/"):                      [302, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("GET", "/start/<process_id>"):          [302, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/start/<process_id>"):         [302, 403, 403, 422, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("GET", "/complaints/new"):              [302, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/complaints/new"):             [302, 403, 403, 422, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("GET", "/projects/<int:instance_id>"):  [302, 200, 200, 200, 200, 403, 403, 403, 200, 200, 403, 403, 200, 403, 403, 403],
    ("POST", "/projects/<int:instance_id>/copy"): [302, 422, 422, 422, 422, 403, 403, 403, 422, 422, 403, 403, 403, 403, 403, 403],
    ("GET", "/tasks/<int:task_id>"):         [302, 403, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    # yanpan is the only screening officer: submitting claims the task, the empty form is then refused (422)
    ("POST", "/tasks/<int:task_id>"):        [302, 403, 422, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/tasks/<int:task_id>/claim"):  [302, 403, 302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/tasks/<int:task_id>/release"): [302, 403, 409, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/tasks/<int:task_id>/transfer"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    # the sole screening officer sends back without claiming first; no target or reason → 422
    ("POST", "/tasks/<int:task_id>/return"): [302, 403, 422, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    # the sole screening officer delegates without claiming first; no colleague chosen → 422
    ("POST", "/tasks/<int:task_id>/delegate"): [302, 403, 422, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("GET", "/tasks/<int:task_id>/signature.png"): [302, 404, 404, 404, 404, 403, 403, 403, 404, 404, 403, 403, 404, 403, 403, 403],
    ("POST", "/tasks/<int:task_id>/withdraw"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/tasks/<int:task_id>/urge"):   [302, 302, 403, 302, 302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/projects/<int:instance_id>/review/<any(add, remove):change>"): [302, 403, 403, 409, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/projects/<int:instance_id>/cancel"): [302, 422, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("GET", "/notifications"):               [302, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    # Filing exchange: the prefecture decides received filings (row 999 does not exist: 404 once allowed);
    # the county commerce bureau records the 一事一议 second filing (this lead has none: 409); the filing
    # API takes signed requests, never sessions (tests/test_filing_exchange.py).
    ("POST", "/filings/<int:row_id>/decision"):          [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403, 403, 403, 403],
    ("POST", "/filings/<int:row_id>/confirm-duplicate"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403, 403, 403, 403],
    ("GET", "/filings/<int:row_id>/form.pdf"):           [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403, 403, 403, 403],
    ("POST", "/projects/<int:instance_id>/special-filing"): [302, 403, 403, 409, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    ("POST", "/api/v1/filings"):                         [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("POST", "/api/v1/filings/<int:row_id>/decision"):   [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("POST", "/api/v1/filings/<int:row_id>/signing"):    [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("POST", "/api/v1/filings/<int:row_id>/special"):    [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/filings/"):                    [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403, 403],
    # Audit: auditors read, verify, replay and export; administrators deploy model versions.
    ("GET", "/audit/"):                      [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403],
    ("GET", "/audit/verify"):                [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403],
    ("GET", "/audit/projects/<int:instance_id>/replay"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403],
    ("POST", "/audit/projects/<int:instance_id>/replay-check"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403],
    ("GET", "/audit/projects/<int:instance_id>/history.jsonl"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403],
    ("GET", "/audit/events.csv"):            [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403],
    ("GET", "/audit/versions"):              [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200, 403, 200],
    ("GET", "/audit/versions/diff"):         [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200, 403, 200],
    ("GET", "/admin/versions"):              [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
    ("POST", "/admin/versions/shipped"):     [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403, 403],
    ("POST", "/admin/versions/bindings"):    [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403, 403],
    ("POST", "/admin/versions"):             [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("GET", "/admin/"):                      [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
    ("POST", "/admin/users"):                [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/users/<int:user_id>/active"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 302, 403, 403],
    ("POST", "/admin/users/<int:user_id>/password"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/units/<int:unit_id>/active"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 302, 403, 403],
    ("POST", "/admin/users/<int:user_id>/reassign"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    # The browser process editor (系统管理员 only); a body that is not the editor's JSON is a 422.
    ("GET", "/admin/versions/<int:version_id>/edit"):          [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
    ("GET", "/admin/versions/<int:version_id>/edit/files"):    [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
    ("POST", "/admin/versions/<int:version_id>/edit/validate"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/versions/<int:version_id>/edit/draft"):   [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/versions/<int:version_id>/edit/draft/discard"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 302, 403, 403],
    ("POST", "/admin/versions/<int:version_id>/edit/deploy"):  [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/versions/form-preview"):                  [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    # Leaders' pipeline: heads of office, vice county head, commerce bureau, the prefecture, auditors.
    ("GET", "/dashboard/"):                          [302, 403, 403, 200, 200, 403, 403, 403, 200, 403, 403, 200, 200, 403, 403, 403],
    ("GET", "/dashboard/report.pdf"):                [302, 403, 403, 200, 200, 403, 403, 403, 200, 403, 403, 200, 200, 403, 403, 403],
    ("GET", "/ledgers/projects"):                    [302, 403, 403, 200, 200, 403, 403, 403, 200, 403, 403, 200, 200, 403, 403, 403],
    ("GET", "/ledgers/projects.xlsx"):               [302, 403, 403, 200, 200, 403, 403, 403, 200, 403, 403, 200, 200, 403, 403, 403],
    ("GET", "/ledgers/signed"):                      [302, 403, 403, 200, 200, 403, 403, 403, 200, 403, 403, 200, 200, 403, 403, 403],
    ("GET", "/ledgers/signed.xlsx"):                 [302, 403, 403, 200, 200, 403, 403, 403, 200, 403, 403, 200, 200, 403, 403, 403],
    ("GET", "/ledgers/overdue"):                     [302, 403, 403, 200, 200, 403, 403, 403, 200, 403, 403, 200, 200, 403, 403, 403],
    ("GET", "/ledgers/overdue.xlsx"):                [302, 403, 403, 200, 200, 403, 403, 403, 200, 403, 403, 200, 200, 403, 403, 403],
    ("GET", "/admin/api-tokens/"):            [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
    ("POST", "/admin/api-tokens/"):           [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/api-tokens/<int:row_id>/revoke"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403, 403],
    # The working-day calendar (放假 / 调休上班): the administrator; an empty entry is a 422, an unknown row a
    # 404.
    ("GET", "/admin/calendar/"):              [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
    ("POST", "/admin/calendar/"):             [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/calendar/<int:row_id>/delete"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403, 403],
    # 运维: the system administrator operates running instances; each POST needs a reason (none here: 422).
    ("GET", "/admin/instances/"):             [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
    ("GET", "/admin/instances/<int:instance_id>"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403],
    ("POST", "/admin/instances/<int:instance_id>/migrate"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/instances/<int:instance_id>/skip"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/instances/<int:instance_id>/data"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/instances/<int:instance_id>/retry"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    # The service API takes tokens, not sessions (its per-role checks: tests/test_service_api.py).
    ("GET", "/api/v1/openapi.json"):          [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("GET", "/api/v1/me"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/projects"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/projects/<int:instance_id>"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/projects/<int:instance_id>/history"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/tasks"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/tasks/<int:task_id>"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("POST", "/api/v1/tasks/<int:task_id>/claim"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("POST", "/api/v1/tasks/<int:task_id>/complete"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/processes"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("POST", "/api/v1/processes/<process_id>/instances"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/metrics"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/ledgers/projects"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/ledgers/signed"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    ("GET", "/api/v1/ledgers/overdue"): [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    # Operations (webapp/health.py): probes for everyone; /metrics from loopback without a proxy or with
    # ZS_METRICS_TOKEN (the test client is loopback; refusals: tests/test_health.py).
    ("GET", "/healthz"):                     [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("GET", "/readyz"):                      [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("GET", "/metrics"):                     [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    # 修改密码: every signed-in user; an empty form is refused (the old password is wrong).
    ("GET", "/me/password"):                 [302, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("POST", "/me/password"):                [302, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422],
    # Two factors: the second sign-in step needs a password step first (else back to /login); anyone
    # signed in may enrol (an empty code is refused); the security administrator resets a lost factor.
    ("GET", "/login/totp"):                  [302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302],
    ("POST", "/login/totp"):                 [302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302],
    ("GET", "/me/totp"):                     [302, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("POST", "/me/totp"):                    [302, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422],
    ("POST", "/security/users/<int:user_id>/totp-reset"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 302, 403],
    ("GET", "/me/stand-ins/"):               [302, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
    ("POST", "/me/stand-ins/"):              [302, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422],
    ("POST", "/me/stand-ins/<int:row_id>/cancel"): [302, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404],
    ("POST", "/admin/roles"):                [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    ("POST", "/admin/units"):                [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403, 403],
    # The security administrator: role assignment (no roles chosen → 422) and sign-in locks (row 999: 404).
    ("GET", "/security/"):                   [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403],
    ("POST", "/security/users/<int:user_id>/roles"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 422, 403],
    ("POST", "/security/locks/<int:row_id>/lift"): [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 403],
    # The security log: the security and the audit administrator search and export it.
    ("GET", "/security/log"):                [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200],
    ("GET", "/security/log.csv"):            [302, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200],
    # Attachments: who may see the project downloads; those working on it upload (auditors only read).
    # The body has no file: a permitted user is sent back (302) with the reason flashed, nothing stored.
    ("POST", "/projects/<int:instance_id>/attachments"): [302, 302, 302, 302, 302, 403, 403, 403, 302, 302, 403, 403, 403, 403, 403, 403],
    ("GET", "/attachments/<int:attachment_id>"): [302, 200, 200, 200, 200, 403, 403, 403, 200, 200, 403, 403, 200, 403, 403, 403],
    # Documents (文书): who may see the project prints its 项目评审表 (<kind> = review-form); the lead is at
    # screening, so the screening team may (its task is ready), the prefecture may not (no filing yet).
    ("GET", "/projects/<int:instance_id>/documents/<kind>.pdf"): [302, 200, 200, 200, 200, 403, 403, 403, 200, 200, 403, 403, 200, 403, 403, 403],
}
# Bodies for the POSTs: invalid where a permitted user would otherwise change something.
BODIES = {"/projects/<int:instance_id>/cancel": {"reason": ""}, "/tasks/<int:task_id>/return": {"target": "x", "reason": "r"},
          "/projects/new": {"project_name": ""}, "/complaints/new": {"subject": ""}, "/start/<process_id>": {"subject": ""}, "/projects/<int:instance_id>/copy": {"note": ""}, "/admin/users": {"username": ""},
          "/admin/users/<int:user_id>/password": {"password": "short"}, "/security/users/<int:user_id>/roles": {"roles": []}, "/admin/users/<int:user_id>/active": {"active": "0"},
          "/admin/units/<int:unit_id>/active": {"active": "0"},
          "/admin/units": {"code": ""}, "/admin/roles": {"role_code": ""}, "/projects/<int:instance_id>/attachments": {"kind": "投资计划书"}}
CASES = [(method, rule, role, row[i]) for (method, rule), row in TABLE.items() for i, role in enumerate(ROLES)]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """A seeded database with one registered lead waiting for screening; copied for every case."""
    from webapp import create_app

    path = tmp_path_factory.mktemp("roles") / "template.sqlite3"
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "t"})
    client = app.test_client()
    login(client, "zhaoshang")
    response = client.post("/projects/new", data=LEAD)
    instance_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    (task_id, spec, _), = ready_tasks(app, instance_id)
    assert spec == "screening"
    client.post(f"/projects/{instance_id}/attachments", content_type="multipart/form-data",
                data={"kind": "投资计划书", "file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "投资计划书.pdf")})
    attachment_id, = (a["id"] for a in attachment_service.attachment_list(demo_actor("zhaoshang"), instance_id))
    db.engine().dispose()
    return path, {"instance_id": instance_id, "task_id": task_id, "user_id": 2, "unit_id": 8, "code": "en",
                  "attachment_id": attachment_id, "version_id": 1}


@pytest.fixture(scope="module")
def roles_app(template_db, tmp_path_factory):
    """One app for every case of the table; each case gets a fresh copy of the template database."""
    from webapp import create_app

    target = tmp_path_factory.mktemp("roles-case") / "case.sqlite3"
    shutil.copy(template_db[0], target)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{target}", "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "t"})
    return app, target


@pytest.fixture
def case_client(template_db, roles_app):
    source, ids = template_db
    app, target = roles_app
    db.engine().dispose()
    for leftover in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(source, target)
    db.init(f"sqlite:///{target}")  # another module's app may have bound the service elsewhere
    return app.test_client(), ids


def _url(rule: str, ids: dict) -> str:
    rule = rule.replace("<int:row_id>", "999")
    for name in ("instance_id", "task_id", "user_id", "unit_id", "attachment_id", "version_id"):
        rule = rule.replace(f"<int:{name}>", str(ids[name]))
    rule = rule.replace("<any(add, remove):change>", "add").replace("<kind>", "review-form")
    rule = rule.replace("<process_id>", "investor_complaint")
    return rule.replace("<code>", ids["code"])


@pytest.mark.parametrize(("method", "rule", "role", "expected"), CASES,
                         ids=[f"{m} {r} as {role}" for m, r, role, _ in CASES])
def test_route_answers_each_role_as_the_table_says(case_client, method, rule, role, expected):
    client, ids = case_client
    if role != "anonymous":
        login(client, role)
    url = _url(rule, ids)
    response = client.get(url) if method == "GET" else client.post(url, data=BODIES.get(rule, {}))
    assert response.status_code == expected, response.data.decode()[:500]
    if role == "anonymous" and expected == 302 and rule != "/lang/<code>":
        assert "/login" in response.headers["Location"]


def test_every_registered_route_is_in_the_table(app):
    registered = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
                  for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert registered == set(TABLE)
