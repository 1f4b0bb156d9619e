"""Benchmark: what a step costs, and what it stores, as one project's history grows.

A 重大 project is sent back for more material (screening → 退回补充 → supplement_lead → screening) `--loops`
times, then signed and tracked for `--reports` weekly reports (timer, track_progress). Printed: the step's time
on the first passes vs the last (medians of 3), the stored state's size, and the bytes a step writes (the state
plus its engine_step record). Because the machine is shared, the step is also measured without the database,
repeated and interleaved: the stored state of the first pass and of the last, each loaded, stepped, pruned and
dumped `--reps` times in turn (the part of a step that depends on the history). With --compare the same run is repeated with pruning switched off
(workflows/engine/pruning.py), interleaved on the same machine load: before and after side by side.
Figures, not a test.

    .venv/bin/python -m bench.history [--dbs sqlite,postgres] [--loops 50] [--reports 50] [--compare]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from contextlib import nullcontext
from datetime import timedelta

from sqlalchemy import select

from bench.run import Scratch, say
from workflows.db import transaction
from workflows.demo import DEMO_LEAD, actor, advance
from workflows.engine import clock as engine_clock
from workflows.engine.replay import _stubs
from workflows.engine.runtime import ProcessRuntime
from workflows.models import AuditEvent, ModelVersion, ProcessInstance, TaskRecord
from workflows.services import project_service
from workflows.services.timer_service import fire_due_timers

SIGNING_PATH = ("negotiation", "approve_terms", "department_review", "review_materials", "pre_review",
                "review_meeting", "executive_meeting", "contract_review", "approve_filing", "prefecture_review",
                "signing")


def stored(pid: int) -> tuple[int, int]:
    """(state bytes, bytes of the newest engine_step record)."""
    with transaction() as s:
        state = s.scalar(select(ProcessInstance.state).where(ProcessInstance.id == pid)) or ""
        record = s.scalar(select(AuditEvent.data).where(AuditEvent.instance_id == pid, AuditEvent.action == "engine_step")
                          .order_by(AuditEvent.id.desc()).limit(1))
    return len(state.encode()), len(json.dumps(record, ensure_ascii=False).encode())


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - start) * 1000


def figures(times: list[float], sizes: list[tuple[int, int]], first_state, last_state, reps: int) -> dict:
    first, last = statistics.median(times[:5]), statistics.median(times[-5:])
    engine_first, engine_last = engine_costs(first_state, last_state, reps)
    return {"step_ms": f"{first:.0f} → {last:.0f}", "ratio": round(last / first, 2),
            "engine_ms": f"{engine_first:.1f} → {engine_last:.1f}", "engine_ratio": round(engine_last / engine_first, 2),
            "state_kb": f"{sizes[0][0] / 1024:.1f} → {sizes[-1][0] / 1024:.1f}",
            "written_kb_per_step": f"{sum(sizes[0]) / 1024:.1f} → {sum(sizes[-1]) / 1024:.1f}"}


def captured(pid: int, spec: str) -> dict:
    """What the engine needs to take the step again: the stored state and the ready task of `spec`."""
    with transaction() as s:
        inst = s.get(ProcessInstance, pid)
        uuid = s.scalar(select(TaskRecord.task_uuid).where(TaskRecord.instance_id == pid, TaskRecord.spec_name == spec,
                                                           TaskRecord.state == "ready"))
        return {"version": s.get(ModelVersion, inst.model_version_id), "process": inst.process_id,
                "state": inst.state, "uuid": uuid, "pid": pid}


def with_answer(step: dict, data: dict) -> dict:
    """The step's answer (the task's data as the engine got it) and the service results it used, from its record."""
    with transaction() as s:
        record = s.scalar(select(AuditEvent.data).where(AuditEvent.instance_id == step["pid"],
                                                        AuditEvent.action == "engine_step").order_by(AuditEvent.id.desc()))
    complete = next(op for op in record["ops"] if op["op"] == "complete")
    return {**step, "data": complete["data"] or data, "services": record["services"]}


def engine_costs(first: dict, last: dict, reps: int) -> tuple[float, float]:
    """Load, complete, prune and dump, from the first pass's state and the last's, in turn, `reps` times each."""
    times: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(reps):
        for which, step in enumerate((first, last)):
            runtime = ProcessRuntime(step["version"], _stubs(step["services"]), step["process"])
            with engine_clock.frozen_at(step["moment"]) if "moment" in step else nullcontext():
                start = time.perf_counter()
                wf = runtime.load(step["state"])
                runtime.complete(wf, step["uuid"], step["data"])
                ProcessRuntime.prune(wf)
                runtime.dump(wf)
                times[which].append((time.perf_counter() - start) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def loops(count: int, reps: int) -> tuple[int, dict]:
    """The screening step (claim and submit, one transaction each) on the first passes and after `count` returns."""
    pid = project_service.project_start(actor("zhaoshang"), DEMO_LEAD, True)
    times, sizes, states = [], [], []
    answer = {"screening_decision": "退回补充", "confirmed_class": "重大", "screening_opinion": "请补充资金证明。"}
    for loop in range(count):
        step = captured(pid, "screening")
        times.append(timed(advance, pid, "screening", **answer))
        if loop in (0, count - 1):
            states.append(with_answer(step, answer))
        sizes.append(stored(pid))
        advance(pid, "supplement_lead", **DEMO_LEAD)
    return pid, figures(times, sizes, *states, reps)


def reports(pid: int, count: int, reps: int) -> dict:
    """A tracking report (the timer's step plus the report's) on the first weeks and after `count` of them."""
    advance(pid, "screening", confirmed_class="重大")
    for spec in SIGNING_PATH:
        advance(pid, spec)
    times, sizes, states = [], [], []
    for report in range(count):
        start = time.perf_counter()
        while True:
            with transaction() as s:
                due = s.scalar(select(ProcessInstance.next_timer_at).where(ProcessInstance.id == pid))
            moment = due + timedelta(minutes=1)
            with engine_clock.frozen_at(moment):
                fire_due_timers(moment)
                with transaction() as s:
                    offered = set(s.scalars(select(TaskRecord.spec_name).where(
                        TaskRecord.instance_id == pid, TaskRecord.state == "ready")))
                if "reply_reminder" in offered:
                    advance(pid, "reply_reminder")
                if "track_progress" in offered:
                    step = captured(pid, "track_progress")
                    advance(pid, "track_progress")
                    if report in (0, count - 1):
                        states.append({**with_answer(step, {}), "moment": moment})
                    break
        times.append((time.perf_counter() - start) * 1000)
        sizes.append(stored(pid))
    return figures(times, sizes, *states, reps)


def run(kind: str, args, prune: bool) -> dict:
    original = ProcessRuntime.prune
    if not prune:
        ProcessRuntime.prune = staticmethod(lambda wf: 0)
    scratch = Scratch(kind)
    try:
        pid, looped = loops(args.loops, args.reps)
        return {"loops": looped, "reports": reports(pid, args.reports, args.reps)}
    finally:
        ProcessRuntime.prune = original
        scratch.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dbs", default="sqlite,postgres")
    parser.add_argument("--loops", type=int, default=50)
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--reps", type=int, default=15, help="repetitions of the engine-only measurement")
    parser.add_argument("--compare", action="store_true", help="also run with pruning switched off")
    args = parser.parse_args()
    os.environ.setdefault("ZS_DEMO_PROJECTS", "0")
    print(f"load average {os.getloadavg()}; loops {args.loops}; reports {args.reports}")
    for kind in args.dbs.split(","):
        for prune in ([False, True] if args.compare else [True]):
            out = run(kind, args, prune)
            label = f"{kind}, pruning {'on' if prune else 'off'}"
            say(f"{label}: screening step, first vs after {args.loops} loops", out["loops"])
            say(f"{label}: tracking report, first vs after {args.reports}", out["reports"])
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
