"""Lift SpiffWorkflow 3.2's depth limit on walking the task tree.

Its task iterators stop descending at depth 1,000 (`TaskIterator(max_depth=1000)`), and the engine
walks the tree with the default: once the loops of a long-lived project (weekly tracking reports for
years, many return loops) make the tree deeper than that, `get_tasks` no longer sees the live tasks and
`is_completed()` answers True — the project would end silently. The iterators are iterative (an
explicit list, no recursion), so an unbounded depth is safe.

Since each step prunes the finished past (workflows/engine/pruning.py) a live tree stays a few dozen
levels deep; the lift stays for states stored before pruning existed, which are walked once, whole, by
the step that first prunes them.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

UNBOUNDED = 2**62


def _lift(init) -> None:
    names = init.__code__.co_varnames[1:init.__code__.co_argcount]
    defaults = list(init.__defaults__)
    index = names[len(names) - len(defaults):].index("max_depth")
    defaults[index] = UNBOUNDED
    init.__defaults__ = tuple(defaults)


for _iterator in (TaskIterator, BpmnTaskIterator):
    _lift(_iterator.__init__)
