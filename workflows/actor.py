"""The signed-in user as the service sees it: a plain value, safe to keep in a web session."""

from __future__ import annotations

from dataclasses import dataclass

from workflows import password_policy, two_factor


@dataclass(frozen=True)
class Actor:
    id: int
    username: str
    display_name: str
    unit_id: int
    unit_code: str
    unit_name: str
    org_id: int
    org_name: str
    org_kind: str  # 'county' | 'prefecture'
    roles: frozenset[str]
    address: str | None = None  # client IP, for the audit log
    password_due: bool = (
        False  # must choose a new password before anything else (workflows/password_policy.py)
    )
    totp_due: bool = False  # must enrol a second factor before anything else (workflows/two_factor.py)

    def has(self, role: str) -> bool:
        return role in self.roles

    @classmethod
    def from_user(cls, user, address: str | None = None) -> Actor:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            unit_id=user.unit_id,
            unit_code=user.unit.code,
            unit_name=user.unit.name,
            org_id=user.unit.organisation_id,
            org_name=user.unit.organisation.name,
            org_kind=user.unit.organisation.kind,
            roles=frozenset(user.role_codes),
            address=address,
            password_due=password_policy.due(user),
            totp_due=two_factor.due(user),
        )
