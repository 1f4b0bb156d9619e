"""Keep a long-lived workflow's task tree as small as what is still running (prune the finished past).

Why. SpiffWorkflow 3.2 never forgets a task: every pass through a loop (a return for more material,
a weekly tracking report) hangs a new copy of the loop's tasks under the last one, so the tree grows
one level per task, forever. The whole tree is loaded and stored on every step, so a step costs
O(history) (2–2.4× the first pass after 50 loops), and its walks stop at depth 1,000
(workflows/engine/task_depth.py). What happened is already kept elsewhere: each step's inputs and
digest in the audit log (workflows/engine/replay.py) and each user task in task_record.

What. `prune(wf)` chooses the tasks the engine (and this application) can still read, KEEP below, and
removes every other task of the top workflow. Each kept task is re-attached to its nearest kept
ancestor (tree contraction). The tasks keep their ids, states, data and internal data; only
`_parent`/`_children` change.

Why it is safe — what SpiffWorkflow 3.2 and the application read from a task tree:

1. Running tasks: everything not finished (predicted, future, waiting, ready, started) and their whole
   subtrees (a started multi-instance task's completed children, a subprocess task's waiting
   branches), and the parent of each, from which a task takes its data when it becomes ready
   (`Task._inherit_data`) and whose children an exclusive gateway syncs.
2. Structured joins (the boundary-event join after each user task with timers) find their split by
   name among their ancestors (`Task.find_ancestor`, `BoundaryEventJoin._check_threshold_structured`):
   that split is kept. The contraction never changes which kept task is an ancestor of which, so the
   nearest ancestor of that name is still the same split.
3. Unstructured joins (parallel, inclusive gateways, the process's end join) look at every task of their
   spec in the tree, its parent's state, spec and data (`UnstructuredJoin._run_hook`,
   `ParallelGateway._check_threshold_unstructured`): every such task and its parent are kept. Their
   `is_descendant_of` answers are unchanged (ancestry among kept tasks is preserved).
4. Tasks that own a subprocess (call activities, embedded subprocesses) are kept, so
   `wf.subprocesses` never refers to a removed task; subprocess trees themselves are not pruned.
5. 退回 and 撤回 reset to the newest completion of a user task (`ProcessRuntime.latest_completed`,
   the task record's own task, which is that newest one): for each user task the two newest
   completions are kept (once the newest is reopened, the one before it is the newest completion),
   each with its parent and, when that parent is a boundary-event split, the split's other
   children, which a reset re-arms (`BpmnWorkflow.reset_from_task_id`).
6. The root and its children (an ad hoc process looks for its running paths there,
   `BpmnProcessSpec.path_complete`). What the application reads: the newest completed task
   (`ProcessRuntime.data`), the workflow's `last_task`, and completed end events named end_*
   (`ProcessRuntime.outcome`).
7. Branch points: a task two of whose child subtrees hold kept tasks stays, so a parallel split still
   has its branches and the shape of what is kept is the shape it had.

Data is unchanged: each task holds its data as a whole dict; the serializer stores a task's data as a
delta against its parent, recomputed against the new parent when dumped. Data objects, correlations
and waiting events live on the workflow, not on removed tasks (catching events that wait are running
tasks, kept). Nothing is pruned once the workflow has ended (its end join already merged the data).

The BPMN elements a pruned task completed are remembered on the workflow (`archived_done`), so the
diagram of a step still shows every element the project went through.

Limits. Subprocess trees are not pruned (their owning task is kept whole). Tasks of parallel and inclusive
joins inside a loop are kept with their parents (rule 3), so such a loop still grows, by its join tokens (none
of the shipped models has one). A reset to a kept task cannot report tasks pruned before it as undone: their
task records of older passes stay completed, as history.

Deterministic: the choice depends only on the tree (states, specs, order) and the tasks' state-change
order, so a replay that prunes at the same step arrives at the same tree. A step records that it
pruned (op `prune`, workflows/engine/replay.py) and the replay prunes exactly there; histories
recorded before pruning existed replay without it.
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

ARCHIVE_KEY = "archived_done"  # key in the stored state; attribute on the loaded workflow


def is_ending(spec) -> bool:
    """An end event that names how a project ended (end_*): `ProcessRuntime.outcome` looks for it."""
    return isinstance(spec, EndEvent) and (getattr(spec, "bpmn_id", None) or "").startswith("end_")


def manual_key(task) -> str | None:
    """What `ProcessRuntime.latest_completed` matches a user task by (BPMN id, else spec name)."""
    spec = task.task_spec
    return (spec.bpmn_id or spec.name) if getattr(spec, "manual", False) else None


def archived_done(wf: BpmnWorkflow) -> set[str]:
    """The BPMN ids of elements completed by tasks pruned from the tree."""
    return getattr(wf, ARCHIVE_KEY, None) or set()


def prune(wf: BpmnWorkflow) -> int:
    """Remove the finished tasks of the top workflow that nothing reads any more; returns how many."""
    if wf.is_completed():
        return 0
    order = _preorder(wf.task_tree, wf.tasks)
    keep = _tasks_to_keep(wf, order)
    removed = [task for task in order if task.id not in keep]
    if not removed:
        return 0
    _contract(order, wf.tasks, keep)
    _forget(wf, removed)
    return len(removed)


def _tasks_to_keep(wf: BpmnWorkflow, order: list[Task]) -> set[UUID]:
    """The ids of KEEP: the tasks of 1 to 7 in the module's docstring."""
    tasks, root = wf.tasks, wf.task_tree
    keep: set[UUID] = {root.id, *root._children}  # 6: the root's children are the process's top-level paths
    _keep_running(order, tasks, keep)  # 1 and 2
    for task in order:  # 3, 4 and 6's end events
        if _read_by_engine(wf, task):
            _keep_with_parent(task, keep)
    for task in _newest_manual_completions(order):  # 5
        _keep_with_parent(task, keep)
        parent = tasks.get(task._parent)
        if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit):
            keep.update(parent._children)
    for task in (_newest_done(order), wf.last_task):  # 6
        if task is not None and task.id in tasks:
            keep.add(task.id)
    _keep_branch_points(order, tasks, keep)  # 7
    return keep


def _keep_with_parent(task: Task, keep: set[UUID]) -> None:
    keep.add(task.id)
    if task._parent is not None:
        keep.add(task._parent)


def _keep_running(order: list[Task], tasks: dict[UUID, Task], keep: set[UUID]) -> None:
    """1: every unfinished task and its whole subtree, each with its parent; 2: for each structured join
    among them, the path up to its split."""
    live_subtree: set[UUID] = set()
    for task in order:
        if task._parent in live_subtree or task.state & TaskState.NOT_FINISHED_MASK:
            live_subtree.add(task.id)
            _keep_with_parent(task, keep)
            split = getattr(task.task_spec, "split_task", None)
            if split:  # 2
                keep.update(_path_to_ancestor(task, split, tasks))


def _read_by_engine(wf: BpmnWorkflow, task: Task) -> bool:
    """3, 4 and 6: an unstructured join, a subprocess's owner, a task in error, a completed end_* event."""
    return (
        isinstance(task.task_spec, UnstructuredJoin)
        or task.id in wf.subprocesses
        or task.state == TaskState.ERROR
        or (task.state == TaskState.COMPLETED and is_ending(task.task_spec))
    )


def _newest_manual_completions(order: list[Task]) -> list[Task]:
    """5: for each user task, its two newest completions (by state change)."""
    newest_manual: dict[str, list[Task]] = {}
    for task in order:
        key = manual_key(task)
        if key is not None and task.state == TaskState.COMPLETED:
            newest = sorted([*newest_manual.get(key, []), task], key=lambda t: -t.last_state_change)
            newest_manual[key] = newest[:2]
    return [task for newest in newest_manual.values() for task in newest]


def _newest_done(order: list[Task]) -> Task | None:
    """6: the newest completed task with data (`ProcessRuntime.data` reads it); the first in tree order
    on a tie."""
    newest_done = None
    for task in order:
        if task.state == TaskState.COMPLETED and task.data:
            if newest_done is None or task.last_state_change > newest_done.last_state_change:
                newest_done = task
    return newest_done


def _forget(wf: BpmnWorkflow, removed: list[Task]) -> None:
    """Drop the removed tasks from the workflow, remembering the BPMN elements they completed."""
    done = archived_done(wf)
    for task in removed:
        del wf.tasks[task.id]
        wf.event_manager.tasks.pop(task.id, None)
        if task.state == TaskState.COMPLETED and getattr(task.task_spec, "bpmn_id", None):
            done.add(task.task_spec.bpmn_id)
    setattr(wf, ARCHIVE_KEY, done)


def _preorder(root, tasks) -> list:
    """Every task of the tree, parents before children, children in order (iteratively: trees of
    histories stored before pruning can be thousands deep)."""
    order, stack = [], [root]
    while stack:
        task = stack.pop()
        order.append(task)
        stack.extend(tasks[child] for child in reversed(task._children) if child in tasks)
    return order


def _path_to_ancestor(task, spec_name: str, tasks) -> list:
    """The ids from `task` up to its nearest ancestor named `spec_name` (none found: just `task`)."""
    path, current = [], task
    while current is not None:
        path.append(current.id)
        if current is not task and current.task_spec.name == spec_name:
            return path
        current = tasks.get(current._parent)
    return [task.id]


def _keep_branch_points(order, tasks, keep: set) -> None:
    """Keep each task two or more of whose children's subtrees hold kept tasks."""
    holds: dict = {}
    for task in reversed(order):  # children before parents
        branches = sum(1 for child in task._children if holds.get(child))
        if branches >= 2:
            keep.add(task.id)
        holds[task.id] = task.id in keep or branches > 0


def _contract(order, tasks, keep: set) -> None:
    """Re-attach every kept task to its nearest kept ancestor, children in their tree order."""
    nearest: dict = {}
    children: dict = {task_id: [] for task_id in keep}
    for task in order:
        if task._parent is None:
            nearest[task.id] = task.id
            continue
        above = nearest[task._parent]
        if task.id in keep:
            children[above].append(task.id)
            task._parent = above
            nearest[task.id] = task.id
        else:
            nearest[task.id] = above
    for task_id, kids in children.items():
        tasks[task_id]._children = kids
