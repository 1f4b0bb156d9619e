"""The one class that owns SpiffWorkflow objects: load → complete → engine steps → dump."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition, TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from workflows.engine import pruning
from workflows.engine.model_store import specs_for
from workflows.engine.script_engine import restricted_engine
from workflows.errors import ModelFailed, ServiceError
from workflows.models import ModelVersion


class _WorkflowConverter(BpmnWorkflowConverter):
    """SpiffWorkflow 3.2's converter of the top workflow, which can also build the workflow on the parsed
    specs of the pinned version instead of restoring a copy of them from a dict on every load (the copy and
    its restoring were two thirds of loading a state). Otherwise the same steps as the base class."""

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        if spec is None:
            return super().from_dict(dct)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_serializer = BpmnWorkflowSerializer(
    BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _WorkflowConverter})
)


@dataclass
class ReadyTask:
    """What the task index needs to know about one READY user task."""

    uuid: str
    spec_name: str
    title: str
    lane: str
    properties: dict[str, str]
    mi_index: int | None
    data: dict[str, Any] = field(repr=False)

    instructions: str = ""

    @property
    def form(self) -> str | None:
        """The form as recorded on the task row: `x` for `x-schema.json`, else the file name itself."""
        name = self.properties.get("formJsonSchemaFilename")
        if not name:
            return None
        return name.removesuffix("-schema.json")


@dataclass
class OpenTask:
    """A task the process is at: ready (a user task, or a step the engine holds), started, or
    waiting (a timer, a message); what an administrator operating the instance sees."""

    uuid: str
    spec_name: str
    title: str
    state: str  # READY | STARTED | WAITING
    manual: bool
    skippable: bool  # a ready user task, or a waiting intermediate event (not a boundary event)
    data: dict[str, Any] = field(repr=False)


class ProcessRuntime:
    """Runs one instance of a pinned model version with the restricted script engine."""

    def __init__(
        self,
        version: ModelVersion,
        services: dict[str, Callable[..., dict]] | None = None,
        process_id: str | None = None,
    ):
        self.version = version
        self.process_id = process_id or version.process_id
        self.spec, self.subprocess_specs = specs_for(version, process_id)
        _connect_loop_merges([self.spec, *self.subprocess_specs.values()])
        self.script_engine = restricted_engine(services)

    def start(self) -> BpmnWorkflow:
        wf = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.script_engine)
        wf.do_engine_steps()
        return wf

    def load(self, state: str) -> BpmnWorkflow:
        # Task order matters: the serializer restores each task's data from its parent's (pruning re-attaches
        # a task only to one of its ancestors, which comes before it).
        dct = json.loads(state)
        archived = dct.pop(pruning.ARCHIVE_KEY, None)
        # The specs are the version's parsed ones (cached per version), not part of the saved state;
        # called processes (call activities) are specs of the version too.
        wf = _serializer.from_dict(dct, spec=self.spec, subprocess_specs=self.subprocess_specs)
        if archived:
            setattr(wf, pruning.ARCHIVE_KEY, set(archived))
        # The script engine is not serialized; set ours again after every load (security).
        wf.script_engine = self.script_engine
        for sub in wf.subprocesses.values():
            # SpiffWorkflow 3.2's sub-workflows read the top workflow's engine (a property without a
            # setter); anything that keeps an engine of its own gets ours too.
            if sub.script_engine is not self.script_engine:
                sub.script_engine = self.script_engine
        return wf

    def adopt(self, wf: BpmnWorkflow) -> None:
        """Run a workflow kept in memory from an earlier step (workflows/services/warm.py) with this
        runtime's script engine, as `load` does for a loaded one (security: never a kept engine)."""
        wf.script_engine = self.script_engine
        for sub in wf.subprocesses.values():
            if sub.script_engine is not self.script_engine:
                sub.script_engine = self.script_engine

    @staticmethod
    def dump(wf: BpmnWorkflow) -> tuple[str, str]:
        """The workflow state as JSON without its spec (stored once per model version), and its hash."""
        dct = _serializer.to_dict(wf)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        dct[_serializer.VERSION_KEY] = _serializer.VERSION
        archived = pruning.archived_done(wf)
        if archived:  # what pruned tasks had completed (workflows/engine/pruning.py), for the diagram
            dct[pruning.ARCHIVE_KEY] = sorted(archived)
        text = json.dumps(dct, ensure_ascii=False, default=str)
        return text, hashlib.sha256(text.encode("utf-8")).hexdigest()

    @staticmethod
    def prune(wf: BpmnWorkflow) -> int:
        """Drop the finished past nothing reads any more (workflows/engine/pruning.py); how many tasks.

        A step prunes once, at its end, and records it (op `prune`) so its replay prunes there too."""
        return pruning.prune(wf)

    @staticmethod
    def ready_tasks(wf: BpmnWorkflow) -> list[ReadyTask]:
        result = []
        for task in wf.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            props = dict(spec.extensions.get("properties", {}))
            result.append(
                ReadyTask(
                    uuid=str(task.id),
                    spec_name=spec.bpmn_id or spec.name,
                    title=spec.bpmn_name or spec.name,
                    lane=spec.lane or "",
                    properties=props,
                    mi_index=_mi_index(task),
                    data=task.data,
                    instructions=spec.extensions.get("instructionsForEndUser") or "",
                )
            )
        return result

    @staticmethod
    def task_data(wf: BpmnWorkflow, task_uuid: str) -> dict[str, Any] | None:
        """The data of a READY task, or None if the task is gone or no longer ready."""
        from uuid import UUID

        task = wf.get_task_from_id(UUID(task_uuid))
        return task.data if task is not None and task.state == TaskState.READY else None

    @staticmethod
    def complete(wf: BpmnWorkflow, task_uuid: str, data: dict[str, Any]) -> None:
        from uuid import UUID

        task = wf.get_task_from_id(UUID(task_uuid))
        if task is None or task.state != TaskState.READY:
            raise LookupError(task_uuid)
        task.set_data(**data)
        task.run()
        wf.do_engine_steps()

    @staticmethod
    def reset_to(wf: BpmnWorkflow, task_uuid: str, marks: dict[str, Any] | None = None) -> list[str]:
        """Make a completed task READY again with the data it had (plus `marks`), dropping
        everything after it.

        Returns the ids of the tasks removed (steps taken after it, now undone).
        """
        from uuid import UUID

        task = wf.get_task_from_id(UUID(task_uuid))
        removed = wf.reset_from_task_id(task.id, data=copy.deepcopy(task.data))
        # SpiffWorkflow 3.2 leaves removed catching events (e.g. boundary timers of undone steps)
        # registered with the event manager; drop them or the next timer refresh fails.
        live = {t.id for t in wf.get_tasks()}
        for task_id in [tid for tid in wf.event_manager.tasks if tid not in live]:
            wf.event_manager.tasks.pop(task_id, None)
        wf.do_engine_steps()
        # Set after the reset: a task made ready again inherits its parent's data.
        task.data.update(marks or {})
        return [str(t.id) for t in removed]

    @staticmethod
    def latest_completed(wf: BpmnWorkflow, spec_name: str) -> str | None:
        """The newest completed task of a BPMN task id, if the process went through it."""
        done = [
            t
            for t in wf.get_tasks(state=TaskState.COMPLETED)
            if (t.task_spec.bpmn_id or t.task_spec.name) == spec_name and t.task_spec.manual
        ]
        return str(max(done, key=lambda t: t.last_state_change).id) if done else None

    @staticmethod
    def is_multi_instance_child(wf: BpmnWorkflow, task_uuid: str) -> bool:
        from uuid import UUID

        task = wf.get_task_from_id(UUID(task_uuid))
        return task is not None and task.task_spec.name.endswith("[child]")

    @staticmethod
    def running_rounds(wf: BpmnWorkflow, spec_names: tuple[str, ...]) -> list:
        """The started (parent) tasks of running multi-instance rounds with these BPMN ids."""
        return [t for t in wf.get_tasks(state=TaskState.STARTED) if t.task_spec.name in spec_names]

    @staticmethod
    def set_round_value(wf: BpmnWorkflow, spec_names: tuple[str, ...], key: str, value: Any) -> None:
        """Set data on a running round; it flows on with the round's result (e.g. 加签 departments)."""
        for task in ProcessRuntime.running_rounds(wf, spec_names):
            task.data[key] = value

    @staticmethod
    def cancel(wf: BpmnWorkflow) -> None:
        wf.cancel()

    # --- operating a running instance (administrators; workflows/services/operate_service.py) -------

    @staticmethod
    def open_tasks(wf: BpmnWorkflow) -> list[OpenTask]:
        """The ready, started and waiting tasks that are BPMN elements, in tree order."""
        result = []
        for task in wf.get_tasks(state=TaskState.READY | TaskState.STARTED | TaskState.WAITING):
            spec = task.task_spec
            if not getattr(spec, "bpmn_id", None):
                continue  # the engine's own joins and splits
            manual = bool(getattr(spec, "manual", False))
            skippable = (task.state == TaskState.READY and manual) or (
                task.state == TaskState.WAITING
                and isinstance(spec, CatchingEvent)
                and not isinstance(spec, BoundaryEvent)
            )
            result.append(
                OpenTask(
                    str(task.id),
                    spec.bpmn_id,
                    spec.bpmn_name or spec.bpmn_id,
                    TaskState.get_name(task.state),
                    manual,
                    skippable,
                    task.data,
                )
            )
        return result

    def missing_in(self, wf: BpmnWorkflow) -> list[tuple[str, str, bool]]:
        """What of the workflow this runtime's spec lacks: (BPMN id, name, open) of each task whose
        spec (by name) it does not have; `open` when the task is ready, started or waiting. Tasks
        merely predicted after a ready or waiting task do not count: a move predicts them again."""
        missing: dict[str, tuple[str, str, bool]] = {}
        open_states = TaskState.READY | TaskState.STARTED | TaskState.WAITING
        for workflow, spec in self._pairs(wf):
            for task in workflow.tasks.values():
                name = task.task_spec.name
                if (spec is None or name not in spec.task_specs) and not _predicted_after_open(task):
                    shown = getattr(task.task_spec, "bpmn_id", None) or name
                    title = getattr(task.task_spec, "bpmn_name", None) or shown
                    was = missing.get(shown)
                    missing[shown] = (
                        shown,
                        title,
                        bool(task.state & open_states) or (was is not None and was[2]),
                    )
        return list(missing.values())

    def _pairs(self, wf: BpmnWorkflow):
        """(workflow, the spec of this runtime it would run on) for the top workflow and each subprocess."""
        yield wf, self.spec
        for sub in wf.subprocesses.values():
            if sub.spec.name == self.spec.name:
                yield sub, self.spec
            else:
                yield sub, self.subprocess_specs.get(sub.spec.name)

    def migrate(self, wf: BpmnWorkflow) -> None:
        """Run `wf` on this runtime's spec from now on (a move to a new version of its process).

        Every task keeps its id, state and data and takes the spec of the same name; what the open
        tasks will do next is predicted again from the new spec. Raises LookupError naming the tasks
        the new spec lacks (`missing_in` says which first).
        """
        missing = self.missing_in(wf)
        if missing:
            raise LookupError("、".join(f"{title}（{bpmn_id}）" for bpmn_id, title, _ in missing))
        predicted = TaskState.PREDICTED_MASK | TaskState.FUTURE
        open_tasks = list(wf.get_tasks(state=TaskState.READY | TaskState.WAITING))
        for task in open_tasks:  # what the old spec predicted after them goes first
            for child in list(task.children):
                if child.state & predicted:
                    task.workflow._remove_task(child.id)
        for workflow, spec in list(self._pairs(wf)):
            workflow.spec = spec
            for task in workflow.tasks.values():
                task.task_spec = spec.task_specs[task.task_spec.name]
            # Data objects the new spec declares start empty, as in an instance started on it (SpiffWorkflow
            # creates them only at start: without this one is never stored, and reading it fails).
            if spec.data_objects:
                objects = workflow.data.setdefault("data_objects", {})
                for name in spec.data_objects:
                    objects.setdefault(name, None)
        wf.subprocess_specs = self.subprocess_specs
        for task in open_tasks:
            # The open task's own outputs come from the new spec, and their branches after them.
            task.task_spec._predict(task, mask=predicted | TaskState.READY | TaskState.WAITING)

    @staticmethod
    def skip(wf: BpmnWorkflow, task_uuid: str) -> None:
        """Move the token past a stuck task: a ready user task completes with no new data, a
        waiting intermediate event completes as if it had fired."""
        from uuid import UUID

        task = wf.get_task_from_id(UUID(task_uuid))
        open_task = next((t for t in ProcessRuntime.open_tasks(wf) if t.uuid == task_uuid), None)
        if task is None or open_task is None or not open_task.skippable:
            raise LookupError(task_uuid)
        if task.state == TaskState.READY:
            task.run()
        else:
            task.complete()
        wf.do_engine_steps()

    @staticmethod
    def set_task_data(wf: BpmnWorkflow, task_uuid: str, key: str, value: Any) -> None:
        """Set one variable of an open task's data (what the steps after it will read)."""
        from uuid import UUID

        task = wf.get_task_from_id(UUID(task_uuid))
        if task is None or not task.state & (TaskState.READY | TaskState.STARTED | TaskState.WAITING):
            raise LookupError(task_uuid)
        task.data[key] = copy.deepcopy(value)
        if task.state == TaskState.WAITING and task.parent is not None:
            # A waiting event takes its predecessor's data again each time the engine looks at it.
            task.parent.data[key] = copy.deepcopy(value)

    @staticmethod
    def outcome(wf: BpmnWorkflow) -> tuple[str, str] | None:
        """(bpmn id, name) of the end event the project finished at, or None while it runs.

        The name is the stage people see for a finished project, so it lives in the BPMN.
        """
        if not wf.is_completed():
            return None
        if not wf.success:
            return "cancelled", "已撤销"
        for task in wf.get_tasks(state=TaskState.COMPLETED):
            spec = task.task_spec
            # A project's endings are the end events named end_*; reminder branches end elsewhere.
            # end_in_production is a terminate end event: it also ends the branches still waiting.
            if pruning.is_ending(spec) and isinstance(
                spec.event_definition, (NoneEventDefinition, TerminateEventDefinition)
            ):
                return spec.bpmn_id, spec.bpmn_name or spec.bpmn_id
        return "completed", "已结束"

    @staticmethod
    def waiting_stages(wf: BpmnWorkflow) -> list[str]:
        """The `stage` properties of the events the process waits at (e.g. the next tracking report)."""
        return [
            t.task_spec.extensions.get("properties", {}).get("stage")
            for t in wf.get_tasks(state=TaskState.WAITING)
            if getattr(t.task_spec, "extensions", None)
            and t.task_spec.extensions.get("properties", {}).get("stage")
        ]

    @staticmethod
    def next_timer(wf: BpmnWorkflow) -> datetime | None:
        """When the earliest waiting timer is due (naive UTC), for the scheduler's index."""
        due = []
        for event in wf.waiting_events():
            if "Time" in event.event_type and isinstance(event.value, str):  # TimeDate, DurationTimer
                moment = datetime.fromisoformat(event.value)
                if moment.tzinfo is not None:
                    moment = moment.astimezone(UTC).replace(tzinfo=None)
                due.append(moment)
        return min(due) if due else None

    @staticmethod
    def fire_timers(wf: BpmnWorkflow) -> None:
        wf.refresh_timers()
        wf.do_engine_steps()

    @staticmethod
    def data(wf: BpmnWorkflow) -> dict[str, Any]:
        """The project's current data: the workflow's data once ended, else the newest task's."""
        if wf.is_completed():
            return dict(wf.data)
        latest: dict[str, Any] = {}
        newest = -1.0
        for task in wf.get_tasks(state=TaskState.COMPLETED | TaskState.READY):
            if task.last_state_change > newest and task.data:
                newest, latest = task.last_state_change, task.data
        return dict(latest)


def _predicted_after_open(task) -> bool:
    """A task only predicted (future, likely, maybe) on a branch after a ready or waiting task."""
    predicted = TaskState.PREDICTED_MASK | TaskState.FUTURE
    while task is not None and task.state & predicted:
        task = task.parent
        if task is not None and task.state & (TaskState.READY | TaskState.WAITING):
            return True
    return False


def _mi_index(task) -> int | None:
    # Children of a multi-instance task keep their position in the input collection.
    value = task.internal_data.get("key_or_index")
    return int(value) if isinstance(value, int) else None


def _connect_loop_merges(specs) -> None:
    """A multi-instance (or loop) task merges each child's result when the child completes, through the
    child spec's completed event. SpiffWorkflow connects it when it creates the first child, or when it
    restores the spec from a dict; on parsed specs shared by every load of a version (a worker that
    never ran that task before) it must be connected here. Idempotent."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, LoopTask):
                child = spec.task_specs.get(task_spec.task_spec)
                if child is not None and not child.completed_event.is_connected(task_spec.merge_child):
                    child.completed_event.connect(task_spec.merge_child)


@contextmanager
def model_errors() -> Iterator[None]:
    """Turn an error raised by the model's own code into ModelFailed, naming the element."""
    try:
        yield
    except WorkflowException as err:
        cause, seen = err.__cause__ or getattr(err, "exception", None), set()
        while cause is not None and not isinstance(cause, ServiceError) and id(cause) not in seen:
            seen.add(id(cause))
            cause = cause.__cause__ or getattr(cause, "exception", None)
        if isinstance(
            cause, ServiceError
        ):  # a service operation refused (e.g. 409): the user's answer, not a model fault
            raise cause from err
        task = getattr(err, "task", None)
        spec = getattr(task, "task_spec", None)
        element = (
            getattr(spec, "bpmn_name", None)
            or getattr(spec, "bpmn_id", None)
            or getattr(spec, "name", None)
            or "?"
        )
        cause = err.__cause__ or getattr(err, "exception", None) or err
        raise ModelFailed(str(element), str(cause).splitlines()[0][:200] or type(cause).__name__) from err
