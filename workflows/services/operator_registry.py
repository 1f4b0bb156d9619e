"""Where an engine step finds the service-task operators (`serviceTaskOperator`). The operator modules sit
above the task services they use (a reminder letter renders a document, a filing goes to the outbox), so
the step cannot import them; they add themselves here instead (workflows/capabilities/operators.py, loaded
with the service package, workflows/services/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from workflows.actor import Actor
from workflows.models import ProcessInstance

Binder = Callable[[Session, ProcessInstance, Actor], dict[str, Callable[..., dict]]]
_binders: list[Binder] = []


def register(binder: Binder) -> None:
    if binder not in _binders:
        _binders.append(binder)


def bound(session: Session, instance: ProcessInstance, actor: Actor) -> dict[str, Callable[..., dict]]:
    """Every registered operator, bound to the transaction, instance and actor of one engine step."""
    operations: dict[str, Callable[..., dict]] = {}
    for binder in _binders:
        operations.update(binder(session, instance, actor))
    return operations


def names() -> frozenset[str]:
    """Every operator's name, for checking a model at deploy (binding only defines closures; nothing runs)."""
    return frozenset(bound(None, None, None))  # type: ignore[arg-type]
