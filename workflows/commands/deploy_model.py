"""Deploy a process-model version (BPMN, DMN, forms) after it validates.

    python -m workflows.commands.deploy_model path/to/model.zip --by admin --note "提高重大项目门槛"
    # a folder holding bpmn/ (with translations, x.en.json) and forms/
    python -m workflows.commands.deploy_model path/to/folder
    # and bind these counties to it
    python -m workflows.commands.deploy_model model.zip --bind 南县 --bind 桃江县

Each process in the files becomes a new version of its own (unchanged ones are left alone). Settings as
for the app (workflows/config.py). Running instances stay on the version they started with; counties not
named with --bind keep the version they are bound to.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import select

from workflows import config
from workflows.actor import Actor
from workflows.db import transaction
from workflows.errors import ServiceError, ValidationFailed
from workflows.models import Organisation, User
from workflows.services import model_service


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="a zip archive, or a folder with bpmn/ and forms/")
    parser.add_argument("--by", default="admin", help="the administrator deploying (a username)")
    parser.add_argument("--note", default="", help="why this version (kept with it)")
    parser.add_argument(
        "--bind",
        action="append",
        default=[],
        metavar="COUNTY",
        help="a county (by name) that starts new instances on the deployed processes",
    )
    args = parser.parse_args(argv)
    config.start()
    if args.source.is_dir():
        uploads = [
            (p.name, p.read_bytes())
            for pattern in ("bpmn/*.bpmn", "bpmn/*.dmn", "bpmn/*.json", "forms/*.json")
            for p in sorted(args.source.glob(pattern))
        ]
    else:
        uploads = [(args.source.name, args.source.read_bytes())]
    with transaction() as s:
        user = s.scalar(select(User).where(User.username == args.by, User.active.is_(True)))
        deployer = Actor.from_user(user, "command line") if user else None
        counties = {
            o.name: o.id for o in s.scalars(select(Organisation).where(Organisation.kind == "county"))
        }
    if deployer is None:
        print(f"not deployed: no active user {args.by}", file=sys.stderr)
        return 1
    unknown = [name for name in args.bind if name not in counties]
    if unknown:
        print(f"not deployed: no county {'、'.join(unknown)}", file=sys.stderr)
        return 1
    try:
        version_ids = model_service.version_deploy(
            deployer, uploads, args.note, [counties[n] for n in args.bind]
        )
    except ValidationFailed as failed:
        print("not deployed: " + "; ".join(failed.errors.values()), file=sys.stderr)
        return 1
    except ServiceError as err:
        print(f"not deployed: {err}", file=sys.stderr)
        return 1
    print("deployed process versions " + ", ".join(f"#{i}" for i in version_ids))
    for warning in model_service.deploy_warnings(deployer, version_ids):
        print(f"warning: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(config.run_command(main))
