"""A county's existing project ledger (台账, XLSX or CSV) brought in: `zhaoshang import-projects`.

Each row becomes a project of the process the county is bound to for investment projects. Its columns are
the fields of that process's first form, matched by title or field name (投资方, 投资额（万元，人民币）, …; a
choice may be written as its title), plus 阶段 and, optionally, 登记日期 and 登记人 (username; default
--officer).

A row enters at the import entry point the model declares for its stage: a task whose property
`importStage` lists the stage. The instance starts with `imported_stage` set to the row's stage and the
model's own gateways route it to that task; tasks on the way that need a person are not completed, so no
decision is made up. After the start the import checks that the project waits at the declared task; a
model that routes elsewhere is refused. Each project has one 导入 event naming the file, its SHA-256 and
the row. Bad rows are listed with their numbers (the header is row 1) and then nothing is imported; all
projects are imported in one transaction. A dry run does the whole import and rolls it back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from workflows import auth, forms
from workflows.actor import Actor
from workflows.commands.provisioning import Refused, RowErrors, read_table
from workflows.db import transaction
from workflows.engine import model_store
from workflows.engine.model_store import INVESTMENT, form_files
from workflows.errors import DuplicateLead, ValidationFailed
from workflows.models import Organisation, ProcessInstance, TaskRecord, Unit, User
from workflows.services import project_service
from workflows.services.instance_step import first_task, list_spec_of

# The ledger's own columns; every other column is a field of the first form.
STAGE, REGISTERED_ON, OFFICER = "stage", "registered_on", "officer"
LEDGER_COLUMNS = {
    STAGE: ("阶段", "所处阶段", "stage"),
    REGISTERED_ON: ("登记日期", "日期", "registered on", "date"),
    OFFICER: ("登记人", "招商专员", "officer"),
}
ADDRESS = "命令行导入 ledger import"


@dataclass
class ImportedProject:
    row: int
    name: str
    stage: str
    waiting_at: list[str]  # titles of the tasks the project now waits at


class _DryRun(Exception):
    def __init__(self, projects: list[ImportedProject]):
        super().__init__("dry run")
        self.projects = projects


def entry_stages(version) -> dict[str, str]:
    """{stage as the ledger writes it: the id of the task the model declares as its import entry point}."""
    stages: dict[str, str] = {}
    for task_id, props in model_store.task_properties(version).items():
        for stage in re.split(r"[,，、]", props.get("importStage", "")):
            if stage.strip():
                stages[stage.strip()] = task_id
    return stages


def _form_columns(schema: dict) -> dict[str, tuple[str, ...]]:
    props = schema.get("properties", {})
    return {
        name: tuple(t for t in (props[name].get("title"), name) if t)
        for name in forms.editable_fields(schema)
    }


def _as_submitted(schema: dict, row: dict[str, str]) -> dict[str, Any]:
    """The row as a browser would post the form: a choice written as its title becomes its value."""
    submitted = {}
    for name, prop in schema.get("properties", {}).items():
        text = row.get(name, "")
        choices = {c.get("title"): c.get("const") for c in prop.get("oneOf", []) if "const" in c}
        submitted[name] = choices.get(text, text)
    return submitted


def _registered_on(text: str) -> str | None:
    if not text:
        return None
    return date.fromisoformat(text[:10]).isoformat()  # ValueError for a date that is not one


def import_projects(path: Path, county: str, officer: str, dry_run: bool = False) -> list[ImportedProject]:
    """Import the ledger at `path` into `county`; `officer` (a username) registers the rows that name
    nobody in 登记人. Raises Refused or RowErrors, with nothing written."""
    if not path.is_file():
        raise Refused(f"找不到文件 {path} / no such file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        with transaction() as s:
            org = s.scalar(
                select(Organisation).where(Organisation.name == county, Organisation.kind == "county")
            )
            if org is None:
                raise Refused(f"--county {county}：没有这个县 / no such county")
            version = model_store.bound_version(s, org.id, INVESTMENT)
            if version is None:
                raise Refused(
                    f"{county} 尚未绑定投资项目流程，请先在“流程版本”页部署并绑定 / the county has no bound "
                    "investment process"
                )
            first = first_task(version)
            schema, _ = form_files(version, first.form)
            columns = _form_columns(schema)
            rows = read_table(
                path,
                {**columns, **LEDGER_COLUMNS},
                set(LEDGER_COLUMNS) - {STAGE} | (set(columns) - set(schema.get("required", []))),
            )
            if not rows:
                raise Refused(f"{path} 没有数据行 / the file has no rows")
            stages = entry_stages(version)
            listed = list_spec_of(s, version.id, version.process_id)
            planned = _check_rows(
                s, rows, schema, stages, org, officer, first.lane, listed.title + listed.party
            )
            projects = [_start(s, version, stages, path.name, digest, item) for item in planned]
            if dry_run:
                raise _DryRun(projects)
            return projects
    except _DryRun as dry:
        return dry.projects


def _actor(s, username: str, org: Organisation) -> Actor | None:
    user = s.scalar(
        select(User)
        .join(Unit)
        .where(User.username == username, Unit.organisation_id == org.id, User.active.is_(True))
    )
    return Actor.from_user(user, ADDRESS) if user is not None else None


def _check_rows(
    s,
    rows,
    schema: dict,
    stages: dict[str, str],
    org: Organisation,
    officer: str,
    lane: str,
    identity: tuple[str, ...],
) -> list[tuple]:
    """Every row checked before anything starts: (row number, actor, values, stage, registered on) each.
    Two rows with the same `identity` (the model's list title and party fields), or a row naming a project
    the county already has, are one project twice."""
    errors = RowErrors()
    titles = {name: prop.get("title", name) for name, prop in schema.get("properties", {}).items()}
    planned, seen, actors = [], {}, {}
    # The list columns hold what the model declares as title and party, so a ledger imported twice is seen.
    listed = select(ProcessInstance.project_name, ProcessInstance.investor).where(
        ProcessInstance.county_id == org.id
    )
    existing = {tuple(r) for r in s.execute(listed)} if len(identity) == 2 else set()
    for number, row in rows:
        username = row.get(OFFICER) or officer
        if username not in actors:
            actors[username] = _actor(s, username, org)
        actor = actors[username]
        problems = _officer_problems(actor, username, org, lane)
        stage = row[STAGE]
        if stage not in stages:
            problems.append(
                f"阶段“{stage}”不是流程模型声明的导入入口（可用：{'、'.join(stages) or '无'}） / the model "
                "declares no import entry point for this stage"
            )
        try:
            registered_on = _registered_on(row.get(REGISTERED_ON, ""))
        except ValueError:
            problems.append(f"登记日期“{row.get(REGISTERED_ON)}”不是日期（应为 2025-03-01） / not a date")
        try:
            values = forms.validate(schema, _as_submitted(schema, row), {})
        except ValidationFailed as failed:
            problems += [f"{titles.get(field, field)}：{message}" for field, message in failed.errors.items()]
            values = None
        if values is not None and identity:
            problems += _duplicate_problems(values, identity, existing, seen, number)
        for problem in problems:
            errors.add(number, problem)
        if not problems:
            planned.append((number, actor, values, stage, registered_on))
    if errors.errors:
        raise errors
    return planned


def _officer_problems(actor: Actor | None, username: str, org: Organisation, lane: str) -> list[str]:
    if actor is None:
        return [f"登记人 {username} 不是{org.name}的在用账号 / no active user {username} in the county"]
    if not auth.process_start(actor, lane):
        return [f"{username} 没有发起本流程的角色 / may not start this process"]
    return []


def _duplicate_problems(
    values: dict, identity: tuple[str, ...], existing: set[tuple], seen: dict[tuple, int], number: int
) -> list[str]:
    """A row naming a project the county has, or one an earlier row names (noted in `seen`)."""
    key = tuple(str(values.get(name) or "").strip() for name in identity)
    problems = []
    if key in existing:
        problems.append(
            f"本县已有该项目（{'，'.join(key)}），台账已导入过？ / the county already has this project"
        )
    elif key in seen:
        problems.append(f"与第 {seen[key]} 行是同一项目 / the same project as row {seen[key]}")
    seen.setdefault(key, number)
    return problems


def _start(s, version, stages: dict[str, str], source: str, digest: str, item: tuple) -> ImportedProject:
    number, actor, values, stage, registered_on = item
    try:
        instance = project_service.register(
            s,
            actor,
            version,
            values,
            action="project_imported",
            seed={"imported_stage": stage},
            audit_data={
                "source": source,
                "sha256": digest,
                "row": number,
                "stage": stage,
                "registered_on": registered_on,
            },
        )
    except DuplicateLead as duplicate:
        where = "、".join(f"{d.county}{d.unit}" for d in duplicate.duplicates)
        raise RowErrors([(number, f"该投资方已由{where}登记 / the investor is already registered")]) from None
    waiting = s.execute(
        select(TaskRecord.spec_name, TaskRecord.title).where(
            TaskRecord.instance_id == instance.id, TaskRecord.state != "completed"
        )
    ).all()
    if stages[stage] not in {spec for spec, _ in waiting}:
        raise Refused(
            f"第 {number} 行：模型声明“{stage}”从 {stages[stage]} 进入，但项目停在"
            f"{'、'.join(t for _, t in waiting) or '流程终点'} / the model does not route this stage to "
            "its declared entry point"
        )
    return ImportedProject(number, instance.project_name, stage, [title for _, title in waiting])
