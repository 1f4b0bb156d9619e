"""The timer scheduler: run beside the web app (any number of copies); fires due BPMN timers once.

    python -m workflows.scheduler [--once] [--interval 60]      (DATABASE_URL as for the app)
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from workflows import db
from workflows.services.timer_service import fire_due_timers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="fire what is due now, then exit")
    parser.add_argument("--interval", type=int, default=60, help="seconds between rounds")
    args = parser.parse_args()
    default = Path(__file__).resolve().parents[1] / "instance" / "zhaoshang.sqlite3"
    db.init(os.environ.get("DATABASE_URL") or f"sqlite:///{default}")
    db.upgrade()
    while True:
        fired = fire_due_timers()
        print(f"timers fired on {fired} instance(s)", flush=True)
        if args.once:
            return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
