"""The timer scheduler: run beside the web app (any number of copies); fires due BPMN timers once,
sends the filing exchange's outbox (workflows/services/outbox_service.py; ZS_FILING_* settings as for
the web app), and after each round appends a signed checkpoint of the audit chain's new events (when
ZS_AUDIT_HMAC_KEY is set; file ZS_AUDIT_CHECKPOINT_FILE, see workflows/anchors.py).

    zhaoshang scheduler [--once] [--interval 60]    (or python -m workflows.commands.scheduler)

Settings as for the app (workflows/config.py): the same database, checkpoint file and HMAC key.
"""

from __future__ import annotations

import argparse
import time

from workflows import config
from workflows.capabilities import outbox_service
from workflows.services import calendar_service
from workflows.services.audit_service import checkpoint
from workflows.services.timer_service import fire_due_timers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="zhaoshang scheduler", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--once", action="store_true", help="到期事项处理一轮后退出 / fire what is due now, then exit"
    )
    parser.add_argument("--interval", type=int, default=60, help="每轮间隔秒数 / seconds between rounds")
    args = parser.parse_args(argv)
    config.start()
    while True:
        # Tasks a timer brings get due dates on the administrator's working-day calendar, read afresh.
        calendar_service.refresh_calendar(max_age=calendar_service.REFRESH_SECONDS)
        fired = fire_due_timers()
        # The filing exchange's outbox: messages to the other deployment, retried until acknowledged.
        sent = outbox_service.drain()
        head = checkpoint()
        print(
            f"timers fired on {fired} instance(s); filing messages delivered {sent.delivered}, "
            f"waiting {sent.failed}" + (f"; audit checkpoint up to event #{head}" if head else ""),
            flush=True,
        )
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    raise SystemExit(config.run_command(main))
