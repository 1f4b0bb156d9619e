"""Benchmark: what one task submit sends to the database, and how long it takes.

Completes the investment model's screening task (claimed beforehand, the claim not counted) through
`task_service.task_complete`, `--reps` times after one warm-up, and prints per submit: SQL statements,
commits, transactions opened, p50 / p95 ms, cold (ZS_WARM_WORKFLOWS=0: the stored state deserialised)
and warm (the workflow the start kept); with `--show` the statements of the last warm submit. SQLite by
default, PostgreSQL with `--dbs postgres` (TEST_POSTGRES_URL or DATABASE_URL). Not a pass/fail test.

    .venv/bin/python -m bench.submit_statements [--reps 20] [--dbs sqlite,postgres] [--show]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from sqlalchemy import select

from bench.run import Scratch
from workflows import db
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, DEMO_LEAD, actor
from workflows.models import TaskRecord
from workflows.services import project_service, task_service, warm
from workflows.sql_count import SqlCount

SCREENING = {k: v for k, v in DEMO_ANSWERS["screening"].items() if v is not None} | {"confirmed_class": "重大"}


def _screening_task() -> int:
    pid = project_service.project_start(actor("zhaoshang"), DEMO_LEAD, True)
    with transaction() as s:
        task_id = s.scalar(select(TaskRecord.id).where(TaskRecord.instance_id == pid, TaskRecord.state == "ready"))
    task_service.task_claim(actor("yanpan"), task_id)
    return task_id


def measure(reps: int, show: bool) -> dict:
    yanpan = actor("yanpan")
    ms, statements, commits, begins = [], [], [], []
    last: list[str] = []
    for n in range(reps + 1):
        task_id = _screening_task()
        with SqlCount(db.engine()) as count:
            start = time.perf_counter()
            task_service.task_complete(yanpan, task_id, SCREENING)
            took = (time.perf_counter() - start) * 1000
        if n == 0:
            continue  # warm-up: the model's files and specs are read once per process
        ms.append(took)
        statements.append(count.statements)
        commits.append(count.commits)
        begins.append(count.transactions)
        last = count.sql
    ms.sort()
    figures = {"statements": statistics.median(statements), "commits": statistics.median(commits),
               "transactions": statistics.median(begins), "p50_ms": round(statistics.median(ms), 1),
               "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1)}
    if show:
        for sql in last:
            print("     ", sql.replace("\n", " ")[:160])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--dbs", default="sqlite")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    for kind in args.dbs.split(","):
        scratch = Scratch(kind)
        try:
            print(f"== {kind}: submit of screening, {args.reps} reps ==", flush=True)
            # Cold: every step deserialises the stored state; warm: the workflow the start kept is used.
            for mode, kept in (("cold", "0"), ("warm", "64")):
                os.environ["ZS_WARM_WORKFLOWS"] = kept
                warm.clear()
                figures = measure(args.reps, args.show and mode == "warm")
                print(f"  {mode}: " + "  ".join(f"{k} {v}" for k, v in figures.items()), flush=True)
        finally:
            scratch.drop()


if __name__ == "__main__":
    main()
