"""Benchmark: one user-task step of a third-party-style model vs one step of the investment model.

The models under tests/models/ are written the way SpiffArena's modeler writes them (a manual first task,
forms with nested objects and repeating rows, scripts calling get_current_user(), a message, a timer, a
DMN table, a parallel multi-instance task, a call activity, lane_owners and file fields). Each is deployed
through the service as an administrator would, bound to the first demo county and started; then the
same kind of step is timed for each model on the same machine, interleaved: completing one user task
through task_service.task_complete (load, validate, engine, persist, index, audit, commit), the claim
done beforehand and not timed. Prints p50 / p95, SQL statements per step and the ratio of each
third-party step's p50 to the investment step's p50. Not a pass/fail test.

    .venv/bin/python -m bench.third_party_steps [--reps 15] [--dbs sqlite,postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from sqlalchemy import event, select

from bench.run import Scratch
from workflows import db
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, DEMO_LEAD, actor
from workflows.models import TaskRecord
from workflows.services import model_service, process_service, project_service, role_service, task_service

MODELS = Path(__file__).resolve().parents[1] / "tests" / "models"
SCREENING = {k: v for k, v in DEMO_ANSWERS["screening"].items() if v is not None} | {
    "confirmed_class": "重大"
}
DELEGATION = {
    "company": "湖南锂晟新能源科技有限公司",
    "visit_date": "2026-12-08",
    "leader-name": "王建国",
    "leader-phone": "13900001111",
    "members-0-name": "李明",
    "members-0-position": "总经理",
    "members-1-name": "赵敏",
    "interests": ["land", "policy"],
    "hotel": "county",
    "_booleans": "needs_interpreter",
    "notes": "清真餐",
}
SITES = {
    "sites-0-name": "经开区 A-12 地块",
    "sites-0-area": "60",
    "sites-1-name": "经开区 B-3 地块",
    "sites-1-area": "25",
    "area_mu": "85",
    "hazardous": "true",
    "_booleans": "hazardous",
}
STATEMENTS = [0]


def _deploy_models() -> None:
    admin = actor("admin")
    role_service.role_create(admin, "expert_panel", "评审专家组")  # the lane tests/models/expert_review names
    county = actor("shangwu").org_id
    for name in ("site_visit", "joint_inspection", "expert_review"):
        uploads = [(p.name, p.read_bytes()) for p in sorted((MODELS / name).glob("*/*")) if p.is_file()]
        model_service.version_deploy(admin, uploads, f"bench: {name}", [county])


def _ready(instance_id: int, spec: str) -> int:
    with transaction() as s:
        return s.scalars(
            select(TaskRecord.id)
            .where(
                TaskRecord.instance_id == instance_id,
                TaskRecord.spec_name == spec,
                TaskRecord.state == "ready",
            )
            .order_by(TaskRecord.id)
        ).first()


def _timed_complete(username: str, task_id: int, values: dict, claim: bool = False) -> tuple[float, int]:
    who = actor(username)
    if claim:
        task_service.task_claim(who, task_id)
    before = STATEMENTS[0]
    start = time.perf_counter()
    task_service.task_complete(who, task_id, values)
    return (time.perf_counter() - start) * 1000, STATEMENTS[0] - before


# Each case: (label, prepare() → task id, who completes it, the values, claim first).
def _investment() -> int:
    return _ready(project_service.project_start(actor("zhaoshang"), DEMO_LEAD, True), "screening")


def _site_visit() -> int:
    return _ready(process_service.process_start(actor("shangwu"), "site_visit", {}), "sv_register")


def _joint_inspection() -> int:
    return _ready(process_service.process_start(actor("shangwu"), "joint_inspection", SITES), "ji_finding")


def _expert_review() -> int:
    started = process_service.process_start(actor("shangwu"), "expert_review", {"topic": "能耗评审"})
    return _ready(started, "er_choose")


CASES = [
    ("investment: screening (DMN before, gateway after)", _investment, "yanpan", SCREENING, True),
    ("site_visit: sv_register (nested rows, script, message)", _site_visit, "shangwu", DELEGATION, False),
    (
        "joint_inspection: one ji_finding of 3 (multi-instance)",
        _joint_inspection,
        "shangwu",
        {"suitable": "true", "_booleans": "suitable", "remark": "同意"},
        False,
    ),
    (
        "expert_review: er_choose (script, lane_owners)",
        _expert_review,
        "shangwu",
        {"experts": "rev_fgj, fazhi"},
        False,
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--dbs", default="sqlite", help="sqlite,postgres (a scratch database each, as bench.run)"
    )
    args = parser.parse_args()
    for kind in args.dbs.split(","):
        scratch = Scratch(kind)
        try:
            run(args)
        finally:
            scratch.drop()


def run(args) -> None:
    role_service.refresh_roles()
    _deploy_models()
    event.listen(
        db.engine(), "before_cursor_execute", lambda *a: STATEMENTS.__setitem__(0, STATEMENTS[0] + 1)
    )
    times: dict[str, list[float]] = {c[0]: [] for c in CASES}
    statements: dict[str, list[int]] = {c[0]: [] for c in CASES}
    for rep in range(args.warmup + args.reps):
        for label, prepare, who, values, claim in CASES:  # interleaved: the same load on every kind
            ms, count = _timed_complete(who, prepare(), values, claim)
            if rep >= args.warmup:
                times[label].append(ms)
                statements[label].append(count)
    load = os.getloadavg()
    print(
        f"database: {db.engine().dialect.name}; {args.reps} steps each after {args.warmup} warm-ups; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    base = statistics.median(times[CASES[0][0]])
    for label, *_ in CASES:
        values = sorted(times[label])
        p50, p95 = statistics.median(values), values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        print(
            f"  {label:<58} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  SQL "
            f"{statistics.median(statements[label]):4.0f}"
            f"  ratio to investment p50 {p50 / base:.2f}"
        )


if __name__ == "__main__":
    main()
