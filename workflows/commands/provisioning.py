"""Setting up a deployment from a county's own lists: the prefecture, its counties and their units from
a table shaped like the annex of 南政发〔2022〕6号 (县, 单位代码, 单位名称, 类别), the administrators, and
staff (用户名, 姓名, 单位代码, 角色). Used by `zhaoshang init` and `zhaoshang import-users`
(workflows/cli.py).

Tables are CSV (UTF-8, or GB18030 as Excel writes it on a Chinese Windows) or XLSX (the first sheet), with
a header row. Every row is checked before anything is written; bad rows are reported with their row
numbers (as the spreadsheet counts them, the header being row 1) and then nothing is written at all.
What is written is written in one transaction.
"""

from __future__ import annotations

import csv
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from workflows import audit
from workflows.db import transaction
from workflows.models import Organisation, Unit, User, UserRole
from workflows.models._types import utcnow
from workflows.roles import ROLES
from workflows.services.user_service import hash_password

ACTOR = "命令行 command line"

# 类别 as the annex names it (南政发〔2022〕6号 附件: 综合协调单位, 产业招商单位, 项目落户地, 鼓励招商单位),
# or the system's own unit kinds in Chinese or English.
UNIT_KINDS = {
    "综合协调单位": "bureau",
    "产业招商单位": "department",
    "项目落户地": "host_site",
    "鼓励招商单位": "department",
    "牵头单位": "bureau",
    "部门": "department",
    "落户地": "host_site",
    "办公室": "office",
    "bureau": "bureau",
    "department": "department",
    "host_site": "host_site",
    "office": "office",
}
UNIT_COLUMNS = {
    "county": ("县", "县市区", "county"),
    "code": ("单位代码", "代码", "code", "unit code"),
    "name": ("单位名称", "名称", "name", "unit name"),
    "kind": ("类别", "单位类别", "kind", "category"),
}
USER_COLUMNS = {
    "username": ("用户名", "账号", "username"),
    "name": ("姓名", "name", "display name"),
    "unit": ("单位代码", "unit code", "unit"),
    "roles": ("角色", "roles", "role"),
    "county": ("县", "county"),
    "email": ("邮箱", "电子邮箱", "email"),
}
OPTIONAL_USER_COLUMNS = {"county", "email"}

# The three fixed administrators (三权分立): system, security and audit administrator. A role not (yet)
# defined in workflows/roles.py is skipped and reported.
ADMINISTRATORS = [
    ("sysadmin", "系统管理员", "admin"),
    ("secadmin", "安全管理员", "security_admin"),
    ("auditadmin", "安全审计员", "audit_admin"),
]
_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,60}")


class Refused(Exception):
    """Nothing was written; the message says why (Chinese, then English)."""


@dataclass
class RowErrors(Exception):
    """Bad rows: (row number, message) each; nothing was written."""

    errors: list[tuple[int, str]] = field(default_factory=list)

    def add(self, row: int, message: str) -> None:
        self.errors.append((row, message))

    def __str__(self) -> str:
        return "\n".join(f"第 {row} 行 / row {row}: {message}" for row, message in self.errors)


def read_table(
    path: Path, columns: dict[str, tuple[str, ...]], optional: set[str] = frozenset()
) -> list[tuple[int, dict]]:
    """The rows of a CSV or XLSX file as (row number, {column key: text}), header names matched to
    `columns`."""
    if not path.is_file():
        raise Refused(f"找不到文件 {path} / no such file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
        except Exception as err:
            raise Refused(f"无法读取 {path}：{err} / cannot read the workbook") from err
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    else:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030", errors="replace")
        rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise Refused(f"{path} 是空文件 / the file is empty")
    header = [h.strip().lower() for h in rows[0]]
    where = {}
    for key, names in columns.items():
        found = next((header.index(n.lower()) for n in names if n.lower() in header), None)
        if found is None and key not in optional:
            raise Refused(
                f"{path} 缺少列“{names[0]}” / missing column {names[-1]!r} (header: {', '.join(rows[0])})"
            )
        where[key] = found
    result = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        result.append(
            (
                number,
                {key: (row[i].strip() if i is not None and i < len(row) else "") for key, i in where.items()},
            )
        )
    return result


def _cell(value) -> str:
    """A spreadsheet cell as text; a whole number typed into a cell (a code like 101) without its ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, ~96 bits


@dataclass
class InitResult:
    prefecture: str
    counties: dict[str, int]  # county name → number of units
    administrators: list[tuple[str, str, str, str]]  # username, display name, role, one-time password
    awaiting_roles: list[
        tuple[str, str]
    ]  # (display name, role code) of administrators whose role does not exist yet


def init(path: Path, prefecture: str, filing_prefix: str, admin_unit: str | None = None) -> InitResult:
    """Create the prefecture, its counties and units (from `path`) and the administrators. Refuses a
    database that already has organisations. `admin_unit`: 县/单位代码 where the administrators sit
    (default: the first 综合协调单位 of the first county)."""
    units, counties = _read_units(path, prefecture)
    admin_county, admin_code = _admin_unit(admin_unit, counties, units)
    with transaction() as s:
        if s.scalar(select(Organisation.id).limit(1)) is not None:
            raise Refused(
                "数据库中已有组织机构：init 只能运行一次（单位和用户请在系统管理中维护，或用 import-users "
                "导入） / "
                "the database already has organisations: init runs once only"
            )
        top = Organisation(name=prefecture, kind="prefecture", filing_prefix=filing_prefix)
        s.add(top)
        s.flush()
        # The prefecture's own units (rows whose 县 is the prefecture); its commerce bureau at least.
        own = units.get(prefecture) or [("sswj", f"{prefecture}商务局", "bureau")]
        s.add_all(Unit(organisation_id=top.id, code=c, name=n, kind=k) for c, n, k in own)
        made = _add_counties(s, top, counties, units)
        # Each county starts its projects on the process models shipped with this version.
        from workflows.engine import model_store

        versions = model_store.deploy_shipped(
            s, ACTOR, [made[c, units[c][0][0]].organisation_id for c in counties]
        )
        administrators, awaiting = _add_administrators(s, made[admin_county, admin_code])
        audit.append(
            s,
            "system_initialised",
            actor=ACTOR,
            data={
                "prefecture": prefecture,
                "counties": {c: len(units[c]) for c in counties},
                "prefecture_units": len(own),
                "source": path.name,
                "processes": {v.process_id: v.number for v in versions},
            },
        )
    return InitResult(prefecture, {c: len(units[c]) for c in counties}, administrators, awaiting)


def _read_units(path: Path, prefecture: str) -> tuple[dict[str, list[tuple[str, str, str]]], list[str]]:
    """({county → [(code, name, kind)]}, the counties) of the unit list; every row's problems at once."""
    rows = read_table(path, UNIT_COLUMNS)
    errors = RowErrors()
    units: dict[str, list[tuple[str, str, str]]] = {}  # county → [(code, name, kind)]
    seen: dict[tuple[str, str], int] = {}
    for number, row in rows:
        county, code, name, kind_text = row["county"], row["code"], row["name"], row["kind"]
        kind = UNIT_KINDS.get(kind_text) or UNIT_KINDS.get(kind_text.lower())
        problems = _unit_problems(county, code, name, kind_text, kind)
        if (county, code) in seen:
            problems.append(
                f"单位代码 {code} 在{county}重复（第 {seen[county, code]} 行） / duplicate unit code"
            )
        for problem in problems:
            errors.add(number, problem)
        if kind is not None and not problems:
            seen[county, code] = number
            units.setdefault(county, []).append((code, name, kind))
    counties = [c for c in units if c != prefecture]
    if not rows:
        raise Refused(f"{path} 没有数据行 / the file has no rows")
    if not counties and not errors.errors:
        raise Refused("名单中没有县的单位 / the list has no county units")
    if errors.errors:
        raise errors
    return units, counties


def _unit_problems(county: str, code: str, name: str, kind_text: str, kind: str | None) -> list[str]:
    problems = []
    if not county or len(county) > 100:
        problems.append("县名必填（至多 100 字） / county name required")
    if not _CODE.fullmatch(code):
        problems.append(
            f"单位代码“{code}”须为 1–40 个英文字母、数字、_ 或 - / unit code must be 1–40 ASCII letters or "
            "digits"
        )
    if not name or len(name) > 100:
        problems.append("单位名称必填（至多 100 字） / unit name required")
    if kind is None:
        problems.append(
            f"类别“{kind_text}”无法识别，可填：{'、'.join(list(UNIT_KINDS)[:8])} / unknown category"
        )
    return problems


def _add_counties(
    s, top: Organisation, counties: list[str], units: dict[str, list[tuple[str, str, str]]]
) -> dict[tuple[str, str], Unit]:
    """The counties under the prefecture and their units; {(county, code): unit}."""
    made = {}
    for county in counties:
        org = Organisation(name=county, kind="county", parent_id=top.id)
        s.add(org)
        s.flush()
        for code, name, kind in units[county]:
            unit = Unit(organisation_id=org.id, code=code, name=name, kind=kind)
            s.add(unit)
            made[county, code] = unit
    s.flush()
    return made


def _add_administrators(s, home: Unit) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str]]]:
    """The administrators, each with a one-time password, in `home`; and those whose role does not
    exist yet (display name, role code)."""
    administrators, awaiting = [], []
    for username, display, role in ADMINISTRATORS:
        if role not in ROLES:
            awaiting.append((display, role))
            continue
        password = _password()
        s.add(
            User(
                username=username,
                display_name=display,
                password_hash=hash_password(password),
                unit_id=home.id,
                roles=[UserRole(role=role)],
                must_change_password=True,
                password_changed_at=utcnow(),
            )
        )
        administrators.append((username, display, role, password))
        audit.append(s, "user_created", actor=ACTOR, data={"username": username, "roles": [role]})
    return administrators, awaiting


def _admin_unit(given: str | None, counties: list[str], units: dict) -> tuple[str, str]:
    if given:
        county, _, code = given.rpartition("/")
        county = county or counties[0]
        if not any(c == code for c, _n, _k in units.get(county, [])):
            raise Refused(f"--admin-unit {given}：名单中没有这个单位 / no such unit in the list")
        return county, code
    first = units[counties[0]]
    return counties[0], next((c for c, _n, k in first if k == "bureau"), first[0][0])


_UnitChoice = tuple[str, str, int, bool]  # (county or prefecture name, its kind, unit id, unit active)


def _units_and_usernames(county: str | None) -> tuple[dict[str, list[_UnitChoice]], set[str]]:
    """{unit code: the units with that code}, and the usernames taken."""
    with transaction() as s:
        if county and s.scalar(select(Organisation.id).where(Organisation.name == county)) is None:
            raise Refused(f"--county {county}：没有这个县 / no such county")
        units: dict[str, list[_UnitChoice]] = {}
        for unit, org in s.execute(select(Unit, Organisation).join(Organisation)).all():
            units.setdefault(unit.code, []).append((org.name, org.kind, unit.id, unit.active))
        return units, set(s.scalars(select(User.username)))


def _person_problems(
    username: str, name: str, email: str, taken: set[str], seen: dict[str, int]
) -> list[str]:
    problems = []
    if not _USERNAME.fullmatch(username):
        problems.append(
            f"用户名“{username}”须为 1–60 个英文字母、数字或 _.@- / username must be 1–60 ASCII characters"
        )
    elif username in taken:
        problems.append(f"用户名 {username} 已存在 / username already exists")
    elif username in seen:
        problems.append(f"用户名 {username} 与第 {seen[username]} 行重复 / duplicate username")
    if not name or len(name) > 60:
        problems.append("姓名必填（至多 60 字） / name required")
    if email and ("@" not in email or len(email) > 200 or any(c.isspace() for c in email)):
        problems.append(f"邮箱“{email}”格式不正确 / invalid email")
    return problems


def _unit_of(
    code: str, where: str | None, units: dict[str, list[_UnitChoice]]
) -> tuple[_UnitChoice | None, list[str]]:
    """The one active unit with `code` (in county `where` if given), or None and why not."""
    candidates = [u for u in units.get(code, []) if where is None or u[0] == where]
    if not candidates:
        return None, [f"没有单位代码 {code}" + (f"（{where}）" if where else "") + " / no such unit"]
    if len(candidates) > 1:
        return None, [
            f"单位代码 {code} 在多个县都有（{'、'.join(c[0] for c in candidates)}），请填写“县”列或 --county"
            " / unit code in several counties: give the county"
        ]
    if not candidates[0][3]:
        return None, [f"单位 {code} 已停用 / the unit is inactive"]
    return candidates[0], []


def _role_problems(roles: list[str], codes: list[str | None], unit: _UnitChoice | None) -> list[str]:
    problems = [] if roles else ["角色必填 / at least one role"]
    for text, code in zip(roles, codes, strict=True):
        if code is None:
            problems.append(f"角色“{text}”不存在 / unknown role")
        elif unit and (ROLES[code].level == "prefecture") != (unit[1] == "prefecture"):
            problems.append(f"角色“{text}”不能设在{unit[0]}的单位 / role does not fit the unit's level")
    return problems


def _role_code(text: str) -> str | None:
    if text in ROLES:
        return text
    return next((r.code for r in ROLES.values() if r.name == text), None)


def import_users(path: Path, county: str | None = None) -> list[tuple[str, str, str]]:
    """Create the users listed in `path` (用户名, 姓名, 单位代码, 角色; optional 县, 邮箱), each with a random
    one-time password. Returns (username, display name, password) per user, in file order."""
    rows = read_table(path, USER_COLUMNS, OPTIONAL_USER_COLUMNS)
    if not rows:
        raise Refused(f"{path} 没有数据行 / the file has no rows")
    errors = RowErrors()
    planned = []
    units, taken = _units_and_usernames(county)
    seen: dict[str, int] = {}
    for number, row in rows:
        username, name, code, email = row["username"], row["name"], row["unit"], row.get("email", "")
        problems = _person_problems(username, name, email, taken, seen)
        unit, unit_problems = _unit_of(code, row.get("county") or county, units)
        roles = [r for r in re.split(r"[,，、;；\s]+", row["roles"]) if r]
        codes = [_role_code(r) for r in roles]
        problems += unit_problems + _role_problems(roles, codes, unit)
        for problem in problems:
            errors.add(number, problem)
        if unit is not None and not problems:
            seen[username] = number
            planned.append((username, name, unit[2], list(dict.fromkeys(codes)), email))
    if errors.errors:
        raise errors
    created = []
    with transaction() as s:
        for username, name, unit_id, roles, email in planned:
            password = _password()
            s.add(
                User(
                    username=username,
                    display_name=name,
                    password_hash=hash_password(password),
                    unit_id=unit_id,
                    must_change_password=True,
                    password_changed_at=utcnow(),
                    email=email or None,
                    roles=[UserRole(role=r) for r in roles],
                )
            )
            audit.append(
                s,
                "user_created",
                actor=ACTOR,
                data={"username": username, "roles": roles, "source": path.name},
            )
            created.append((username, name, password))
    return created
