"""Benchmark: the cost of one engine step as a project's history grows.

Prints absolute figures (ms per step, stored state size) and ratios (late step / early step), on
SQLite by default or on PostgreSQL with DATABASE_URL. Not a pass/fail test.

    .venv/bin/python bench/engine_steps.py [--projects 3] [--loops 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from sqlalchemy import select

from workflows import db
from workflows.demo import DEMO_LEAD, actor, advance, seed_organisations
from workflows.models import ProcessInstance
from workflows.services import project_service


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - start) * 1000


def one_project(loops: int) -> tuple[list[float], list[int]]:
    """A 重大 project that is sent back to negotiation `loops` times before it signs."""
    pid = project_service.project_start(actor("zhaoshang"), DEMO_LEAD)
    step_ms, sizes = [], []

    def record(spec: str, **overrides) -> None:
        step_ms.append(timed(advance, pid, spec, **overrides))
        with db.transaction() as s:
            sizes.append(len(s.scalar(select(ProcessInstance.state).where(ProcessInstance.id == pid))))

    record("screening", confirmed_class="重大")
    for _ in range(loops):
        record("negotiation")
        record("approve_terms", terms_decision="退回洽谈")
    for spec in (
        "negotiation",
        "approve_terms",
        "department_review",
        "review_materials",
        "pre_review",
        "review_meeting",
        "executive_meeting",
        "contract_review",
        "approve_filing",
        "prefecture_review",
        "signing",
    ):
        record(spec)
    return step_ms, sizes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=3)
    parser.add_argument("--loops", type=int, default=4)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    db.init(url)
    db.upgrade()
    seed_organisations()
    print(f"database: {db.engine().dialect.name}; projects: {args.projects}; negotiation loops: {args.loops}")
    all_steps, first, last, sizes = [], [], [], []
    for _ in range(args.projects):
        steps, state_sizes = one_project(args.loops)
        all_steps += steps
        first.append(steps[0])
        last.append(steps[-1])
        sizes.append(state_sizes)
    print(f"steps timed: {len(all_steps)} (department_review counts all departments as one step)")
    print(
        f"ms per step: median {statistics.median(all_steps):.1f}, p90 "
        f"{statistics.quantiles(all_steps, n=10)[-1]:.1f}, max {max(all_steps):.1f}"
    )
    print(
        f"first step (screening) median {statistics.median(first):.1f} ms; "
        f"last step (signing) median {statistics.median(last):.1f} ms; "
        f"ratio last/first {statistics.median(last) / statistics.median(first):.2f}"
    )
    print(
        f"stored state: first {sizes[0][0] / 1024:.1f} KB, last {sizes[0][-1] / 1024:.1f} KB, "
        f"ratio {sizes[0][-1] / sizes[0][0]:.2f}"
    )
    with db.transaction() as s:
        count = s.query(ProcessInstance).count()
    print(f"instances in database: {count}")


if __name__ == "__main__":
    main()
