"""The roles of DOMAIN.md. A BPMN lane's name is one of these codes."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    code: str
    name: str
    level: str  # 'county' or 'prefecture': where the role's users sit


ROLES: dict[str, Role] = {r.code: r for r in [
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
    Role("auditor", "审计", "county"),
    Role("admin", "管理员", "county"),
]}

# Who sees every project of their county (DOMAIN.md: the commerce bureau, heads of office and leaders, auditors).
COUNTY_WIDE_READERS = {"commerce_bureau", "head_of_office", "vice_county_head", "exec_secretary", "auditor"}
