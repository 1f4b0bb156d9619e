"""Test-only fault points: kill this process (SIGKILL, as `kill -9` would) at a named point of an
engine step, to prove that a step lands whole or not at all.

Enabled only by the environment variable ``ZS_FAULT_POINT`` (one point name); unset — as in every
real deployment — each point is a no-op. Never set it in production. Points (all inside one engine
step, workflows/services/instance_step.run_engine / persist and workflows/db.transaction):

    after_engine                 the engine ran the change; nothing of the step written yet (a task submit:
                                 its write transaction not even opened)
    after_state_before_audit     new workflow state flushed to the database, audit events not yet appended
    after_engine_before_commit   everything flushed (state, task index, audit), the commit not yet sent
    after_commit                 committed; where the after-commit work (mail copies) happens

Used by tests/test_concurrency_processes.py.
"""
from __future__ import annotations

import os
import signal

POINTS = ("after_engine", "after_state_before_audit", "after_engine_before_commit", "after_commit")


def reached(point: str) -> None:
    """Die here, at once and without cleanup, if ZS_FAULT_POINT names this point (test-only)."""
    if os.environ.get("ZS_FAULT_POINT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
