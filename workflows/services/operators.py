"""The service-task operators a process model may call by name (`serviceTaskOperator`): one registry,
bound to the transaction, instance and actor of each engine step."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from workflows.actor import Actor
from workflows.models import ProcessInstance
from workflows.services import filing_operations, overdue_operations, tracking_operations

_MODULES = (filing_operations, overdue_operations, tracking_operations)


def bound(session: Session, instance: ProcessInstance, actor: Actor) -> dict[str, Callable[..., dict]]:
    operations: dict[str, Callable[..., dict]] = {}
    for module in _MODULES:
        operations.update(module.bound(session, instance, actor))
    return operations


def names() -> frozenset[str]:
    """Every operator's name (binding only defines closures; nothing runs)."""
    return frozenset(bound(None, None, None))  # type: ignore[arg-type]
