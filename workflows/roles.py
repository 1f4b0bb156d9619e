"""The roles of docs/domain.md. A BPMN lane's name is a role code.

Fixed roles (the business role 审计 `auditor`, and the three administrative roles of 三权分立) are fixed
here and cannot be edited. Business roles are data
(table business_role, seeded with the roles below by migration 0017): the system administrator adds
more (workflows/services/role_service.py) and a deployed model's lanes may name any of them.
`ROLES` is every role this process knows, refreshed from the database outside transactions
(at start, on each request at most every few seconds, and after a role is created).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    code: str
    name: str
    level: str  # 'county' or 'prefecture': where the role's users sit


ADMIN_ROLES: dict[str, Role] = {
    r.code: r
    for r in [
        Role("auditor", "审计", "county"),  # the business role 审计: reads its county's projects
        # 三权分立 (GB/T 22239-2019 8.1.4.2 访问控制, 8.1.10.x 集中管控): three administrators, none of whom
        # holds another role or does business tasks.
        Role(
            "admin", "系统管理员", "county"
        ),  # users, units, business roles, process models, calendar, API tokens
        Role(
            "security_admin", "安全管理员", "county"
        ),  # assigns roles, lifts sign-in locks, security settings
        Role(
            "audit_admin", "安全审计员", "county"
        ),  # reads every log, administrators' actions included; changes nothing
    ]
}
# The three administrative roles: an account holding one holds no other role.
ADMINISTRATORS = frozenset({"admin", "security_admin", "audit_admin"})

# The business roles seeded at installation (the same list as migration 0017).
SEEDED_BUSINESS_ROLES = [
    Role("lead_officer", "招商专员", "county"),
    Role("screening_team", "研判专班", "county"),
    Role("commerce_bureau", "县商务局", "county"),
    Role("head_of_office", "投资办主任", "county"),
    Role("dept_reviewer", "部门会审人", "county"),
    Role("host_site", "项目落户地", "county"),
    Role("leading_group_office", "领导小组办公室", "county"),
    Role("vice_county_head", "分管副县长", "county"),
    Role("exec_secretary", "县长办公会秘书", "county"),
    Role("legal_reviewer", "司法局合同审查", "county"),
    Role("prefecture_bureau", "市/州商务局", "prefecture"),
]
LEVELS = ("county", "prefecture")


class RoleRegistry(Mapping):
    """code → Role: the business roles (as last read from the database) and the administrative ones."""

    def __init__(self) -> None:
        self._business = {r.code: r for r in SEEDED_BUSINESS_ROLES}
        self.loaded_at = 0.0

    def replace_business(self, roles: list[Role]) -> None:
        self._business = {r.code: r for r in roles if r.code not in ADMIN_ROLES}
        self.loaded_at = time.monotonic()

    def _all(self) -> dict[str, Role]:
        return {**self._business, **ADMIN_ROLES}

    def __getitem__(self, code: str) -> Role:
        return self._all()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


ROLES = RoleRegistry()

# Who sees every project of their county (docs/domain.md: the commerce bureau, heads of office and leaders,
# auditors).
COUNTY_WIDE_READERS = {"commerce_bureau", "head_of_office", "vice_county_head", "exec_secretary", "auditor"}
