"""Prove the audit record was not altered, and that it replays on its pinned model versions.

    python -m workflows.commands.verify                # the whole database: chain, anchors, stored states
    python -m workflows.commands.verify --project 12   # one project
    python -m workflows.commands.verify --replay       # also re-run every project's steps in a fresh engine
    python -m workflows.commands.verify --checkpoint   # append a signed checkpoint (ZS_AUDIT_HMAC_KEY)

Also checks again the prefecture's signature on every filing decision this (county) deployment applied
through the filing API: it must verify with a prefecture public key configured here
(ZS_FILING_PREFECTURE_KEYS: keep a retired key listed to check the decisions it signed) over the stored
body, and the audit event must say what that body says. One received under the shared key of the
transition is checked with that key (not proof of who signed: both sides hold it) and counted apart.

Settings as for the app (workflows/config.py): DATABASE_URL, ZS_INSTANCE_PATH; checkpoints:
ZS_AUDIT_CHECKPOINT_FILE (default audit-checkpoints.jsonl in the instance folder) and ZS_AUDIT_HMAC_KEY.
Exit status 0 when everything holds, 1 when something was found.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from workflows import audit_checkpoints, config
from workflows.capabilities import filing_exchange_service
from workflows.db import transaction
from workflows.localtime import to_local
from workflows.models import ProcessInstance
from workflows.services import audit_service


def _write_checkpoints(args) -> None:
    """What the command writes before it checks: checkpoints signed again after a key change, a new one."""
    if args.resign_checkpoints:
        with transaction() as s:
            signed = audit_checkpoints.resign(s)
        print(
            f"{signed} checkpoint(s) signed with the current key"
            if signed is not None
            else "checkpoints NOT signed again: no key, or the chain or a checkpoint does not hold (see "
            "below)"
        )
    if args.checkpoint:
        head = audit_service.checkpoint()
        print(
            f"checkpoint written up to event #{head}"
            if head
            else "no checkpoint written (no new events, or ZS_AUDIT_HMAC_KEY not set)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="zhaoshang verify", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", type=int, help="check one project (instance id)")
    parser.add_argument(
        "--replay", action="store_true", help="also replay the recorded steps on the pinned model"
    )
    parser.add_argument(
        "--checkpoint", action="store_true", help="write a signed checkpoint of the chain first"
    )
    parser.add_argument(
        "--resign-checkpoints",
        action="store_true",
        help="after changing ZS_AUDIT_HMAC_KEY: sign the chain's checkpoints in the database again "
        "(only if the whole chain and every checkpoint hold)",
    )
    args = parser.parse_args(argv)
    config.start(migrate=False)  # it only reads: never creates or migrates a schema

    _write_checkpoints(args)
    with transaction() as s:
        report = audit_service.verify_database(s, args.project)
        anchors_text = (
            f"{report.anchors['checkpoints']} signed checkpoint line(s), {report.anchors['filings']} "
            f"filing receipt(s), {report.anchors['anchored_events']} anchored event(s)"
            if report.anchors["enabled"]
            else f"checkpoints not checked (ZS_AUDIT_HMAC_KEY not set); {report.anchors['filings']} filing "
            "receipt(s)"
        )
        print(
            f"{report.events_checked} events, {report.instances_checked} instance state(s); anchors: "
            f"{anchors_text}"
        )
        for f in sorted(report.findings, key=lambda f: f.event_id or 10**12):
            when = f" {to_local(f.at):%Y-%m-%d %H:%M:%S}" if f.at else ""
            project = f" project #{f.instance_id}" if f.instance_id else ""
            print(f"BROKEN event #{f.event_id} [{f.kind}]{project}{when}: {f.detail}")
        failed = not report.ok
        decisions, problems = filing_exchange_service.recheck_decisions(s, args.project)
        if decisions:
            shared = filing_exchange_service.shared_key_decisions(s, args.project)
            print(
                f"{decisions} prefecture decision(s) received over the filing API, signatures checked again"
                + (
                    f" ({shared} under the shared key of the transition: unchanged, but not proof of who "
                    "made "
                    "them)"
                    if shared
                    else ""
                )
            )
        for event, problem in problems:
            failed = True
            print(f"BROKEN event #{event.id} [decision signature] project #{event.instance_id}: {problem}")
        if args.replay:
            query = select(ProcessInstance).order_by(ProcessInstance.id)
            if args.project:
                query = query.where(ProcessInstance.id == args.project)
            for instance in s.scalars(query):
                result = audit_service.replay_instance(s, instance)
                if result.consistent:
                    print(
                        f"replay project #{instance.id} {instance.project_name}: consistent ({result.steps} "
                        "steps)"
                    )
                else:
                    failed = True
                    print(
                        f"replay project #{instance.id} {instance.project_name}: DISAGREES at step "
                        f"{result.step} "
                        f"(event #{result.event_id}, {result.what}): {result.problem}"
                    )
        if not failed:
            print(
                "OK: the record is complete and unaltered"
                + (" and replays consistently" if args.replay else "")
            )
        s.rollback()  # the command only reads
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(config.run_command(main))
