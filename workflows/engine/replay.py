"""Record each engine step so it can be replayed, and replay a recorded history in a fresh engine.

A step's record (the `engine_step` audit event) holds what went into the engine — the operations
applied (start, complete with the form data, reset, cancel, round values, timers), the results of
the service tasks it called, and the clock — and what came out: a digest of the resulting state
without task ids or timestamps (uuid4s and times differ on every run), plus the active and
completed BPMN elements for the diagram. Replaying re-applies the operations, step by step, to the
pinned model version and compares digests; the first step whose digests differ is where the record
and the model disagree (SPIFFWORKFLOW-NOTES: "Deterministic replay").
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState

from workflows.engine.clock import engine_now, frozen_at
from workflows.engine.pruning import archived_done
from workflows.engine.runtime import ProcessRuntime
from workflows.models import ModelVersion


def _task_ref(wf, task_uuid: str) -> dict:
    """A task named by its position in the task tree: ids are fresh on replay, positions are not."""
    tasks = list(wf.get_tasks())
    task = wf.get_task_from_id(UUID(task_uuid))
    return {"index": tasks.index(task), "spec": task.task_spec.bpmn_id or task.task_spec.name,
            "mi": task.internal_data.get("key_or_index")}


def _resolve(wf, ref: dict) -> str:
    tasks = list(wf.get_tasks())
    task = tasks[ref["index"]] if ref["index"] < len(tasks) else None
    if task is None or (task.task_spec.bpmn_id or task.task_spec.name) != ref["spec"]:
        raise LookupError(f"任务 {ref['spec']} 不在模型重放得到的流程中")
    return str(task.id)


def snapshot(wf) -> dict[str, Any]:
    """The state's digest (specs, states, multi-instance keys and data of every task) and the BPMN
    elements active and completed, for the diagram."""
    rows, active, done = [], set(), set()
    for task in wf.get_tasks():
        spec = task.task_spec
        rows.append([spec.name, int(task.state), task.internal_data.get("key_or_index"), task.data])
        if spec.bpmn_id:
            if task.state == TaskState.COMPLETED:
                done.add(spec.bpmn_id)
            elif task.state in (TaskState.READY, TaskState.STARTED):
                active.add(spec.bpmn_id)
    rows.append(["workflow", wf.data])
    archived = archived_done(wf)  # elements completed by tasks pruned away (workflows/engine/pruning.py)
    if archived:
        rows.append(["archived", sorted(archived)])
        done |= archived
    text = json.dumps(rows, sort_keys=True, ensure_ascii=False, default=str)
    return {"digest": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "active": sorted(active), "done": sorted(done)}


class _RecordingRuntime:
    """The runtime as `run_step`'s change sees it: every state-changing call is written down."""

    def __init__(self, runtime: ProcessRuntime, journal: StepJournal):
        self._runtime = runtime
        self._journal = journal
        self._ops = journal.ops

    def __getattr__(self, name):  # reading calls (ready_tasks, task_data, latest_completed …) pass through
        return getattr(self._runtime, name)

    def start(self):
        self._ops.append({"op": "start"})
        return self._runtime.start()

    def complete(self, wf, task_uuid: str, data: dict) -> None:
        self._ops.append({"op": "complete", "task": _task_ref(wf, task_uuid), "data": data})
        self._runtime.complete(wf, task_uuid, data)

    def reset_to(self, wf, task_uuid: str, *args, **kwargs):
        self._ops.append({"op": "reset_to", "task": _task_ref(wf, task_uuid), "args": list(args),
                          "kwargs": kwargs})
        return self._runtime.reset_to(wf, task_uuid, *args, **kwargs)

    def cancel(self, wf) -> None:
        self._ops.append({"op": "cancel"})
        self._runtime.cancel(wf)

    def set_round_value(self, wf, spec_names, key: str, value) -> None:
        self._ops.append({"op": "set_round_value", "specs": list(spec_names), "key": key, "value": value})
        self._runtime.set_round_value(wf, spec_names, key, value)

    def fire_timers(self, wf) -> None:
        self._ops.append({"op": "fire_timers"})
        self._runtime.fire_timers(wf)

    def skip(self, wf, task_uuid: str) -> None:
        self._ops.append({"op": "skip", "task": _task_ref(wf, task_uuid)})
        self._runtime.skip(wf, task_uuid)

    def set_task_data(self, wf, task_uuid: str, key: str, value) -> None:
        self._ops.append({"op": "set_data", "task": _task_ref(wf, task_uuid), "key": key, "value": value})
        self._runtime.set_task_data(wf, task_uuid, key, value)

    def dump(self, wf) -> tuple[str, str]:
        """The state the step stores: pruned first (once a step, recorded), then serialised."""
        self._journal.settle(wf)
        return self._runtime.dump(wf)

    def migrate(self, wf, target: ProcessRuntime) -> None:
        """Move the workflow onto `target`'s version (the step's later operations stay on this one)."""
        self._ops.append({"op": "migrate", "from": self._runtime.version.id, "to": target.version.id,
                          "to_hash": target.version.content_hash})
        target.migrate(wf)


@dataclass
class StepJournal:
    """What one engine step put into the engine; `record(wf)` is what the audit event keeps."""

    clock: datetime = field(default_factory=engine_now)
    ops: list[dict] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)
    settled: bool = False

    def wrap_services(self, operations: dict[str, Callable[..., dict]]) -> dict[str, Callable[..., dict]]:
        def recorded(name, operation):
            def call(data, **params):
                result = operation(data, **params)
                self.services.append({"op": name, "params": params, "result": result})
                return result
            return call
        return {name: recorded(name, op) for name, op in operations.items()}

    def runtime(self, runtime: ProcessRuntime) -> _RecordingRuntime:
        return _RecordingRuntime(runtime, self)

    def settle(self, wf) -> None:
        """End the step's changes: prune the finished past (ProcessRuntime.prune), once, and write it
        down when it removed anything, so the replay prunes at the same point. Both the stored state
        and the record's digest are taken after it, whichever is taken first."""
        if not self.settled and wf is not None:
            self.settled = True
            if ProcessRuntime.prune(wf):
                self.ops.append({"op": "prune"})

    def record(self, wf) -> dict[str, Any]:
        self.settle(wf)
        return {"clock": self.clock.isoformat(), "ops": self.ops, "services": self.services, **snapshot(wf)}


@dataclass
class ReplayOutcome:
    consistent: bool
    steps: int  # how many recorded steps were replayed
    step: int | None = None  # 1-based number of the first step that disagrees
    event_id: int | None = None  # its engine_step audit event
    problem: str | None = None
    recorded_active: list[str] = field(default_factory=list)
    replayed_active: list[str] = field(default_factory=list)


def _stubs(recorded: list[dict]) -> dict[str, Callable[..., dict]]:
    """Service tasks answer with the results the record holds, in the order they were called."""
    queue = list(recorded)

    def stub(name):
        def call(data, **params):
            for i, entry in enumerate(queue):
                if entry["op"] == name:
                    queue.pop(i)
                    if entry.get("params", {}) != json.loads(json.dumps(params, default=str)):
                        raise LookupError(f"服务 {name} 的参数与记录不符")
                    return entry["result"]
            raise LookupError(f"记录中没有此步调用服务 {name} 的结果")
        return call

    names = {entry["op"] for entry in recorded}
    return {name: stub(name) for name in names}


def first_version_id(steps: list[tuple[int, dict]]) -> int | None:
    """The version an instance ran on before its first recorded move (None when it never moved)."""
    for _, data in steps:
        for op in data.get("ops", []):
            if op["op"] == "migrate":
                return op["from"]
    return None


def replay(version: ModelVersion, process_id: str, steps: list[tuple[int, dict]],
           stored_state: str | None = None,
           versions: Callable[[int], ModelVersion | None] | None = None) -> ReplayOutcome:
    """Re-run the recorded steps [(event id, engine_step data)] on `version` in a fresh engine.

    After each step the state's digest must equal the recorded one; at the end, the stored state
    must be the state the replay arrives at. A recorded move to another version (op `migrate`)
    continues on that version, found by `versions(id)` and checked against its recorded hash.
    """
    if not steps:
        return ReplayOutcome(False, 0, problem="没有可重放的引擎步骤记录")
    state = None
    replayed = None
    for number, (event_id, data) in enumerate(steps, start=1):
        runtime = ProcessRuntime(version, _stubs(data.get("services", [])), process_id)
        try:
            with frozen_at(datetime.fromisoformat(data["clock"])):
                wf = runtime.load(state) if state else None
                for op in data["ops"]:
                    if op["op"] == "migrate":
                        target = versions(op["to"]) if versions else None
                        if target is None or target.content_hash != op.get("to_hash"):
                            raise LookupError(f"迁移的目标流程版本 #{op['to']} 不存在或内容已不同")
                        ProcessRuntime(target, {}, process_id).migrate(wf)
                        version = target
                        continue
                    wf = _apply(runtime, wf, op)
                replayed = snapshot(wf)
                state, _ = runtime.dump(wf)
        except Exception as err:  # noqa: BLE001 - any failure of the model on recorded input is a finding
            return ReplayOutcome(False, number, number, event_id, f"模型无法重放此步：{err}",
                                 data.get("active", []))
        if replayed["digest"] != data.get("digest"):
            same_tasks = replayed["active"] == data.get("active")
            problem = ("重放后各任务的数据与记录不一致" if same_tasks
                       else "重放后的待办环节与记录不一致")
            return ReplayOutcome(False, number, number, event_id, problem, data.get("active", []),
                                 replayed["active"])
    if stored_state is not None and state is not None:
        runtime = ProcessRuntime(version, {}, process_id)
        try:
            stored = snapshot(runtime.load(stored_state))
        except Exception as err:  # noqa: BLE001 - an unreadable stored state is a finding too
            return ReplayOutcome(False, len(steps), len(steps), steps[-1][0], f"存储的流程状态无法读取：{err}")
        if stored["digest"] != snapshot(runtime.load(state))["digest"]:
            return ReplayOutcome(False, len(steps), len(steps), steps[-1][0],
                                 "存储的流程状态与按记录重放得到的状态不一致", replayed_active=replayed["active"],
                                 recorded_active=stored["active"])
    return ReplayOutcome(True, len(steps))


def _apply(runtime: ProcessRuntime, wf, op: dict):
    kind = op["op"]
    if kind == "start":
        return runtime.start()
    if kind == "complete":
        runtime.complete(wf, _resolve(wf, op["task"]), op["data"])
    elif kind == "reset_to":
        runtime.reset_to(wf, _resolve(wf, op["task"]), *op.get("args", []), **op.get("kwargs", {}))
    elif kind == "cancel":
        runtime.cancel(wf)
    elif kind == "set_round_value":
        runtime.set_round_value(wf, tuple(op["specs"]), op["key"], op["value"])
    elif kind == "fire_timers":
        runtime.fire_timers(wf)
    elif kind == "skip":
        runtime.skip(wf, _resolve(wf, op["task"]))
    elif kind == "set_data":
        runtime.set_task_data(wf, _resolve(wf, op["task"]), op["key"], op["value"])
    elif kind == "prune":
        runtime.prune(wf)
    else:
        raise LookupError(f"未知的引擎操作 {kind}")
    return wf
