"""Sign-in and user administration."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from workflows import audit, auth, password_policy
from workflows.actor import Actor
from workflows.db import is_postgres, transaction
from workflows.errors import Conflict, NotFound, ValidationFailed
from workflows.models import (
    Organisation,
    PasswordHistory,
    ProcessInstance,
    SignInThrottle,
    TaskRecord,
    Unit,
    User,
    UserRole,
)
from workflows.models._types import utcnow
from workflows.roles import ADMINISTRATORS, ROLES
from workflows.services import session_service

# Sign-in throttling per account AND source address (OWASP ASVS 2.2.1; GB/T 22239-2019 8.1.4.1 登录失败处理):
# after MAX_FAILURES failures from one address, that address waits FIRST_DELAY before it may try the
# account again, twice as long after each further failure, at most MAX_DELAY. Other addresses are not
# held back, so nobody can lock a colleague or an administrator out; security administrators see and
# lift these locks (webapp/security.py).
MAX_FAILURES = 5
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
# One answer for every failed sign-in (unknown user, wrong password, locked account), so the answer does
# not tell which accounts exist (OWASP ASVS 2.2.x / 3.x; GB/T 22239-2019 身份鉴别).
SIGN_IN_FAILED = "用户名或密码错误；从同一地址连续输错 5 次后将暂时锁定，再错则等待时间加倍。"
# The most common passwords that pass the length and character-class rules, compared case-insensitively.
COMMON_PASSWORDS = frozenset({
    "password1!", "passw0rd!", "p@ssw0rd", "p@ssword1", "p@ssw0rd1", "qwer1234!", "admin@123", "admin123!",
    "abc@1234", "abcd@1234", "aa123456!", "a1234567!", "qwe123!@#", "1qaz@wsx", "1qaz2wsx!", "zaq1@wsx",
    "welcome1!", "changeme1!", "test@1234", "root@1234", "woaini520!", "woaini1314!", "demo@2026",
})


class SignInFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def lock_delay(failures: int) -> timedelta | None:
    """How long an address waits after `failures` consecutive failures on one account (None: not yet)."""
    if failures < MAX_FAILURES:
        return None
    return min(FIRST_DELAY * 2 ** min(failures - MAX_FAILURES, 20), MAX_DELAY)


def authenticate(username: str, password: str, address: str | None = None) -> Actor:
    """The actor for valid credentials. Failures are counted per account and address (see MAX_FAILURES);
    every attempt runs the password hash once, whether the account exists, is locked or not."""
    failure = None
    where = (address or "")[:60]
    # What was typed goes into the audit log's actor column (60 characters, like a username): a longer
    # one is no account anyway, and must not make the sign-in a 500 on PostgreSQL.
    typed = username[:60]
    with transaction() as s:
        # The failure count and audit event must be committed, so the error is raised afterwards.
        query = select(User).where(User.username == username)
        if is_postgres():
            query = query.with_for_update()  # parallel wrong passwords must all count
        user = s.scalar(query)
        now = utcnow()
        throttle = None
        if user is not None:
            throttle = s.scalar(select(SignInThrottle).where(SignInThrottle.user_id == user.id,
                                                             SignInThrottle.address == where))
        locked = throttle is not None and throttle.locked_until is not None and throttle.locked_until > now
        if user is None or not user.active or not user.unit.active or locked:
            check_password_hash(_dummy_hash(), password)  # the same work as for a real account
            failure = SIGN_IN_FAILED
        elif not check_password_hash(user.password_hash, password):
            failure = SIGN_IN_FAILED
            if throttle is None:
                throttle = SignInThrottle(user_id=user.id, address=where, failures=0)
                s.add(throttle)
            throttle.failures += 1
            throttle.last_failure_at = now
            delay = lock_delay(throttle.failures)
            if delay:
                throttle.locked_until = now + delay
                audit.append(s, "sign_in_locked", actor=typed, address=address,
                             data={"failures": throttle.failures, "seconds": int(delay.total_seconds())})
        else:
            if throttle is not None:
                s.delete(throttle)
            actor = Actor.from_user(user, address)
        audit.append(s, "sign_in_failed" if failure else "signed_in", actor=typed, address=address,
                     outcome=failure)
    if failure:
        raise SignInFailed(failure)
    return actor


def actor_by_id(user_id: int, address: str | None = None) -> Actor | None:
    with transaction() as s:
        user = s.get(User, user_id)
        if user is None or not user.active or not user.unit.active:
            return None
        return Actor.from_user(user, address)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def password_problem(password: str, username: str = "") -> str | None:
    """Why a new password is refused: ≥ 8 characters from 3 of 4 classes, not the username, not common."""
    password = password or ""
    if len(password) < 8:
        return "密码至少 8 位"
    classes = sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                   any(c.isdigit() for c in password), any(not c.isalnum() for c in password)))
    if classes < 3:
        return "密码须包含大写字母、小写字母、数字、符号中的至少三类"
    if username and username.lower() in password.lower():
        return "密码不得包含用户名"
    if password.lower() in COMMON_PASSWORDS:
        return "密码过于常见，请另设一个"
    return None


def set_password(s, user: User, password: str, *, by_administrator: bool) -> None:
    """Store a new password (hashed), remember it for the reuse rule, restart its expiry; one an
    administrator set must be changed by its user at the next sign-in."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = by_administrator
    s.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, set_at=user.password_changed_at))
    s.flush()
    old = s.scalars(select(PasswordHistory.id).where(PasswordHistory.user_id == user.id)
                    .order_by(PasswordHistory.id.desc()).offset(password_policy.HISTORY)).all()
    if old:
        s.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(old)))


def _used_before(s, user: User, password: str) -> bool:
    """Whether the password is the current one or one of the last HISTORY (each hash is verified)."""
    hashes = [user.password_hash, *s.scalars(select(PasswordHistory.password_hash)
                                              .where(PasswordHistory.user_id == user.id)
                                              .order_by(PasswordHistory.id.desc()).limit(password_policy.HISTORY))]
    return any(check_password_hash(h, password) for h in dict.fromkeys(hashes))


def change_own_password(actor: Actor, old: str, new: str, confirm: str, keep_session: str | None = None) -> int:
    """修改密码: the user's old password, then a new one (the rules of password_problem, not one of the
    last five, typed twice). Ends every other session of the user; returns how many."""
    with transaction() as s:
        user = s.get(User, actor.id)
        if user is None:
            raise NotFound("用户不存在")
        errors = {}
        if not check_password_hash(user.password_hash, old or ""):
            errors["old_password"] = "原密码不正确"
        problem = password_problem(new, user.username)
        if problem:
            errors["new_password"] = problem
        elif new != confirm:
            errors["confirm"] = "两次输入的新密码不一致"
        elif not errors and _used_before(s, user, new):
            errors["new_password"] = "新密码不能与最近 5 次用过的密码相同"
        if errors:
            audit.append(s, "password_change_refused", actor=actor.username, address=actor.address,
                         data={"fields": sorted(errors)})
    if errors:
        raise ValidationFailed(errors)
    with transaction() as s:
        user = s.get(User, actor.id)
        set_password(s, user, new, by_administrator=False)
        ended = session_service.end_all(s, [user.id], keep=keep_session)
        audit.append(s, "password_changed", actor=actor.username, address=actor.address,
                     data={"ended_sessions": ended})
        return ended


def hash_password(password: str) -> str:
    # scrypt by default; the test suite sets ZS_PASSWORD_HASH to a cheap method (verification reads the
    # method from the stored hash, so both kinds of hash keep working side by side).
    return generate_password_hash(password, method=os.environ.get("ZS_PASSWORD_HASH") or "scrypt")


# --- administration -------------------------------------------------------------------------

def roles_problem(roles: list[str]) -> str | None:
    """Why a set of roles is refused: unknown roles, none, or an administrative role (三权分立) together
    with any other role — no account holds two of them, and none of them does business tasks."""
    if not roles or any(r not in ROLES for r in roles):
        return "请至少选择一个有效角色"
    if set(roles) & ADMINISTRATORS and len(set(roles)) > 1:
        return "系统管理员、安全管理员、安全审计员三个角色互斥，且不能兼任其他角色（三权分立）"
    return None


def user_list(actor: Actor) -> list[dict]:
    auth.require(auth.user_list(actor))
    with transaction() as s:
        users = s.scalars(select(User).order_by(User.unit_id, User.username)).all()
        return [{"id": u.id, "username": u.username, "display_name": u.display_name,
                 "unit": f"{u.unit.organisation.name}·{u.unit.name}", "roles": sorted(u.role_codes),
                 "active": u.active} for u in users]


def unit_list(actor: Actor) -> list[dict]:
    auth.require(auth.admin(actor))
    with transaction() as s:
        units = s.scalars(select(Unit).join(Organisation).order_by(Organisation.id, Unit.code)).all()
        return [{"id": u.id, "code": u.code, "name": u.name, "kind": u.kind,
                 "organisation": u.organisation.name, "active": u.active} for u in units]


def organisation_list(actor: Actor) -> list[dict]:
    auth.require(auth.admin(actor))
    with transaction() as s:
        return [{"id": o.id, "name": o.name, "kind": o.kind,
                 "parent": o.parent.name if o.parent else None}
                for o in s.scalars(select(Organisation).order_by(Organisation.id))]


def user_create(actor: Actor, username: str, display_name: str, password: str, unit_id: int,
                roles: list[str], email: str = "") -> int:
    auth.require(auth.admin(actor))
    errors = {}
    email = (email or "").strip()
    if email and ("@" not in email or len(email) > 200 or any(c.isspace() for c in email)):
        errors["email"] = "邮箱格式不正确"
    if not username or not username.isascii() or len(username) > 60:
        errors["username"] = "用户名须为 1–60 个英文字母、数字或符号"
    if not display_name:
        errors["display_name"] = "此项必填"
    problem = password_problem(password, username)
    if problem:
        errors["password"] = problem
    problem = roles_problem(roles)
    if problem:
        errors["roles"] = problem
    elif set(roles) & ADMINISTRATORS:
        errors["roles"] = "管理角色由安全管理员授予（三权分立）：请先以业务角色创建账号"
    with transaction() as s:
        if s.get(Unit, unit_id) is None:
            errors["unit_id"] = "请选择单位"
        if s.scalar(select(User.id).where(User.username == username)):
            errors["username"] = "该用户名已存在"
        if errors:
            raise ValidationFailed(errors)
        user = User(username=username, display_name=display_name, password_hash="",
                    unit_id=unit_id, email=email or None, roles=[UserRole(role=r) for r in roles])
        s.add(user)
        s.flush()
        set_password(s, user, password, by_administrator=True)  # the user chooses their own at first sign-in
        audit.append(s, "user_created", actor=actor.username, data={"username": username, "roles": roles},
                     address=actor.address)
        return user.id


def user_set_active(actor: Actor, user_id: int, active: bool) -> None:
    auth.require(auth.admin(actor))
    with transaction() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("用户不存在")
        if user.id == actor.id and not active:
            raise Conflict("不能停用自己的账号")
        user.active = active
        released = [] if active else _release_open_tasks(s, [user.id])
        ended = 0 if active else session_service.end_all(s, [user.id])
        audit.append(s, "user_activated" if active else "user_deactivated", actor=actor.username,
                     data={"username": user.username, "released_tasks": released,
                           **({"ended_sessions": ended} if ended else {})}, address=actor.address)


def _release_open_tasks(s, user_ids: list[int]) -> list[int]:
    """Give the open tasks of users who can no longer sign in back to their groups, so none is stuck."""
    rows = s.scalars(select(TaskRecord).where(TaskRecord.state == "ready",
                                              TaskRecord.assignee_id.in_(user_ids))).all()
    for row in rows:
        row.assignee_id, row.fixed_assignee = None, False
    return [r.id for r in rows]


def user_set_roles(actor: Actor, user_id: int, roles: list[str]) -> None:
    """The security administrator gives a user their roles (三权分立: an administrative role alone)."""
    auth.require(auth.role_assign(actor), "只有安全管理员可以分配角色。")
    problem = roles_problem(roles)
    if problem:
        raise ValidationFailed({"roles": problem})
    with transaction() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("用户不存在")
        if user.id == actor.id:
            raise Conflict("不能更改自己的角色")
        before = sorted(user.role_codes)
        user.roles = [UserRole(role=r) for r in dict.fromkeys(roles)]
        audit.append(s, "roles_changed", actor=actor.username, role="security_admin", address=actor.address,
                     data={"username": user.username, "before": before, "after": sorted(set(roles))})


def user_reassign_open_tasks(actor: Actor, from_user_id: int, to_user_id: int) -> int:
    """A user left: their open tasks go to a successor where the successor may do them, back to
    their groups otherwise. Returns how many went to the successor."""
    auth.require(auth.admin(actor))
    with transaction() as s:
        source, target = s.get(User, from_user_id), s.get(User, to_user_id)
        if source is None or target is None or not target.active or source.id == target.id:
            raise ValidationFailed({"to_user_id": "请选择另一位在岗用户"})
        moved, released = [], []
        successor = Actor.from_user(target)
        for row in s.scalars(select(TaskRecord).where(TaskRecord.state == "ready",
                                                      TaskRecord.assignee_id == source.id)):
            instance = s.get(ProcessInstance, row.instance_id)
            county = s.get(Organisation, instance.county_id)
            open_task = row.as_open()
            if auth.task_eligible(successor, open_task, instance, county):
                row.assignee_id, row.fixed_assignee = target.id, True
                moved.append(row.id)
            else:
                row.assignee_id, row.fixed_assignee = None, False
                released.append(row.id)
        audit.append(s, "tasks_reassigned", actor=actor.username, address=actor.address,
                     data={"from": source.username, "to": target.username, "moved": moved, "released": released})
        return len(moved)


def user_reset_password(actor: Actor, user_id: int, password: str) -> None:
    auth.require(auth.admin(actor))
    with transaction() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("用户不存在")
        problem = password_problem(password, user.username)
        if problem:
            raise ValidationFailed({"password": problem})
        set_password(s, user, password, by_administrator=True)  # to be changed at the next sign-in
        s.execute(delete(SignInThrottle).where(SignInThrottle.user_id == user.id))
        ended = session_service.end_all(s, [user.id])  # whoever held the old password is signed out
        audit.append(s, "password_reset", actor=actor.username, data={"username": user.username,
                                                                       "ended_sessions": ended},
                     address=actor.address)


def unit_set_active(actor: Actor, unit_id: int, active: bool) -> None:
    """A deactivated unit's users cannot sign in; their open tasks go back to their groups."""
    auth.require(auth.admin(actor))
    with transaction() as s:
        unit = s.get(Unit, unit_id)
        if unit is None:
            raise NotFound("单位不存在")
        if unit.id == actor.unit_id and not active:
            raise Conflict("不能停用自己所在的单位")
        unit.active = active
        user_ids = list(s.scalars(select(User.id).where(User.unit_id == unit.id)))
        released = [] if active else _release_open_tasks(s, user_ids)
        if not active:
            session_service.end_all(s, user_ids)
        audit.append(s, "unit_activated" if active else "unit_deactivated", actor=actor.username,
                     data={"unit": unit.code, "name": unit.name, "released_tasks": released},
                     address=actor.address)


def unit_create(actor: Actor, organisation_id: int, code: str, name: str, kind: str) -> int:
    auth.require(auth.admin(actor))
    errors = {}
    if not code or not code.isascii():
        errors["code"] = "代码须为英文字母或数字"
    if not name:
        errors["name"] = "此项必填"
    if kind not in ("bureau", "department", "host_site", "office"):
        errors["kind"] = "请选择单位类型"
    with transaction() as s:
        if s.get(Organisation, organisation_id) is None:
            errors["organisation_id"] = "请选择所属组织"
        elif s.scalar(select(Unit.id).where(Unit.organisation_id == organisation_id, Unit.code == code)):
            errors["code"] = "该代码已存在"
        if errors:
            raise ValidationFailed(errors)
        unit = Unit(organisation_id=organisation_id, code=code, name=name, kind=kind)
        s.add(unit)
        s.flush()
        audit.append(s, "unit_created", actor=actor.username, data={"code": code, "name": name},
                     address=actor.address)
        return unit.id


# --- sign-in locks: the security administrator ---------------------------------------------------

def lock_list(actor: Actor) -> list[dict]:
    """Accounts held back at an address now, and failures still counting (newest first)."""
    auth.require(auth.sign_in_locks(actor))
    now = utcnow()
    with transaction() as s:
        rows = s.execute(select(SignInThrottle, User.username, User.display_name).join(User)
                         .order_by(SignInThrottle.last_failure_at.desc()).limit(500)).all()
        return [{"id": t.id, "username": username, "display_name": name, "address": t.address or "—",
                 "failures": t.failures, "last_failure_at": t.last_failure_at, "locked_until": t.locked_until,
                 "locked": bool(t.locked_until and t.locked_until > now)} for t, username, name in rows]


def lock_lift(actor: Actor, row_id: int) -> str:
    """Lift a lock (and forget the failures) of one account at one address; returns the username."""
    auth.require(auth.sign_in_locks(actor))
    with transaction() as s:
        row = s.get(SignInThrottle, row_id)
        if row is None:
            raise NotFound("该锁定记录不存在（可能已解除）")
        username = s.get(User, row.user_id).username
        audit.append(s, "sign_in_lock_lifted", actor=actor.username, role="security_admin", address=actor.address,
                     data={"username": username, "address": row.address, "failures": row.failures})
        s.delete(row)
        return username
