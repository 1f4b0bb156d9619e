"""The service-task operators a process model may call by name (`serviceTaskOperator`), bound to the
transaction, instance and actor of each engine step. Importing this module registers them with the engine
step (operator_registry); the service package does so (workflows/services/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from workflows.actor import Actor
from workflows.capabilities import filing_operations, overdue_operations, tracking_operations
from workflows.models import ProcessInstance
from workflows.services import operator_registry

_MODULES = (filing_operations, overdue_operations, tracking_operations)

# Values an operator defines and a model's rules may name (DMN output column → the operator's words):
# the model speaks the operator's vocabulary, never the other way round.
VOCABULARY: dict[str, tuple[str, ...]] = {"reward_scope": tracking_operations.REWARD_SCOPES}


def bound(session: Session, instance: ProcessInstance, actor: Actor) -> dict[str, Callable[..., dict]]:
    operations: dict[str, Callable[..., dict]] = {}
    for module in _MODULES:
        operations.update(module.bound(session, instance, actor))
    return operations


operator_registry.register(bound)
