"""Deserialised workflows kept in memory between steps, so a warm step skips loading the stored state.

Keyed by instance id and checked against the instance's `version` column (every write of the row
moves it on) and its `state_hash`: a step takes the workflow only when the version it read is the one the workflow was
kept at, otherwise it loads the stored state as before. A workflow is kept only once its step's
transaction has committed, and taken out (`take`) while a step uses it, so a step that fails or rolls
back leaves nothing behind and two steps never share one. Per process; `ZS_WARM_WORKFLOWS` bounds
how many are kept (default 64, 0 turns it off); the least recently kept go first.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

from sqlalchemy import event
from sqlalchemy.orm import Session

from workflows.models import ProcessInstance

_kept: OrderedDict[int, tuple[int, str, object]] = OrderedDict()
_lock = threading.Lock()
_KEY = "warm_workflows"


def size() -> int:
    try:
        return max(0, int(os.environ.get("ZS_WARM_WORKFLOWS", "64")))
    except ValueError:
        return 64


def take(instance_id: int, version: int | None, state_hash: str | None):
    """The kept workflow of the instance if it was kept at this version and its dump is the stored state
    (same SHA-256: another database with the same ids never matches); it leaves the cache. Else None."""
    with _lock:
        entry = _kept.pop(instance_id, None)
    if entry is None or entry[0] != version or entry[1] != state_hash:
        return None
    return entry[2]


def keep_after_commit(session: Session, instance: ProcessInstance, wf: object) -> None:
    """Keep `wf` (whose dump is the instance's state now) once the session's transaction commits."""
    session.info.setdefault(_KEY, {})[instance.id] = (instance, instance.state_hash, wf)


def clear() -> None:
    with _lock:
        _kept.clear()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    steps = session.info.pop(_KEY, None)
    limit = size()
    if not steps or not limit:
        return
    with _lock:
        for instance_id, (instance, state_hash, wf) in steps.items():
            # Kept at the version the commit left (later writes of the row in the same transaction
            # count), and only if the state is still the one this workflow dumped to.
            if instance.state_hash == state_hash and instance.version is not None:
                _kept[instance_id] = (instance.version, state_hash, wf)
                _kept.move_to_end(instance_id)
        while len(_kept) > limit:
            _kept.popitem(last=False)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
