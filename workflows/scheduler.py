"""The timer scheduler: run beside the web app (any number of copies); fires due BPMN timers once,
sends the filing exchange's outbox (workflows/services/outbox_service.py; ZS_FILING_* settings as for
the web app), and after each round appends a signed checkpoint of the audit chain's new events (when
ZS_AUDIT_HMAC_KEY is set; file ZS_AUDIT_CHECKPOINT_FILE, see workflows/anchors.py).

    python -m workflows.scheduler [--once] [--interval 60]      (DATABASE_URL as for the app)
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from workflows import anchors, db, filing_exchange
from workflows.services import outbox_service
from workflows.services.audit_service import checkpoint
from workflows.services.timer_service import fire_due_timers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="fire what is due now, then exit")
    parser.add_argument("--interval", type=int, default=60, help="seconds between rounds")
    args = parser.parse_args()
    default = Path(__file__).resolve().parents[1] / "instance" / "zhaoshang.sqlite3"
    db.init(os.environ.get("DATABASE_URL") or f"sqlite:///{default}")
    db.upgrade()
    anchors.configure_from_env()
    filing_exchange.configure_from_env()
    while True:
        fired = fire_due_timers()
        # The filing exchange's outbox: messages to the other deployment, retried until acknowledged.
        sent = outbox_service.drain()
        head = checkpoint()
        print(f"timers fired on {fired} instance(s); filing messages delivered {sent.delivered}, "
              f"waiting {sent.failed}" + (f"; audit checkpoint up to event #{head}" if head else ""), flush=True)
        if args.once:
            return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
