"""Business roles are data: the system administrator adds them; lanes of deployed models name them.
Administrative roles (workflows/roles.py ADMIN_ROLES) are fixed in code."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from workflows import audit, auth
from workflows.actor import Actor
from workflows.db import transaction
from workflows.errors import ValidationFailed
from workflows.models import BusinessRole
from workflows.roles import ADMIN_ROLES, LEVELS, ROLES, Role

CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
REFRESH_SECONDS = 5.0


def refresh_roles(max_age: float = 0.0) -> None:
    """Read the business roles into workflows.roles.ROLES (outside any transaction); skipped when
    they were read less than `max_age` seconds ago."""
    if max_age and ROLES.loaded_at and time.monotonic() - ROLES.loaded_at < max_age:
        return
    with transaction() as s:
        rows = [
            Role(r.code, r.name, r.level) for r in s.scalars(select(BusinessRole).order_by(BusinessRole.id))
        ]
    ROLES.replace_business(rows)


def role_create(actor: Actor, code: str, name: str, level: str = "county") -> str:
    """Add a business role a lane may name and users may be given; returns its code."""
    auth.require(auth.admin(actor), "只有系统管理员可以新建业务角色。")
    code, name = (code or "").strip(), (name or "").strip()
    errors = {}
    if not CODE.match(code):
        errors["role_code"] = "角色代码须为 2–40 位小写英文字母、数字或下划线，以字母开头"
    elif code in ADMIN_ROLES:
        errors["role_code"] = "该代码是系统管理角色，不能用作业务角色"
    if not name or len(name) > 60:
        errors["role_name"] = "请填写角色名称（不超过 60 字）"
    if level not in LEVELS:
        errors["role_level"] = "请选择角色所在层级"
    with transaction() as s:
        if not errors and s.scalar(select(BusinessRole.id).where(BusinessRole.code == code)) is not None:
            errors["role_code"] = "该角色代码已存在"
        if errors:
            raise ValidationFailed(errors)
        s.add(BusinessRole(code=code, name=name, level=level, created_by=actor.username))
        audit.append(
            s,
            "business_role_created",
            actor=actor.username,
            role="admin",
            address=actor.address,
            data={"code": code, "name": name, "level": level},
        )
    refresh_roles()
    return code
