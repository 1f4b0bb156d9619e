"""The leaders' pipeline: facts from the database → workflows/metrics.py figures → dashboard, ledgers
(台账), their .xlsx export and the monthly / quarterly summary PDF.

Scope: a county user sees the county; the prefecture commerce bureau sees all its counties (one at a
time with `county`). Aggregate figures count every project of the scope; ledgers list project rows,
and the prefecture's rows are the projects filed with it (as on its project pages, auth.project_view).

Tracking after signing (开工, 投产, 到位资金) is read from the tracking tasks' data when the model has
them (task specs whose id contains "track"; see TRACK_* keys); without it nothing counts as started
and no funds are in place, and the rates say so rather than guess.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import asdict
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from workflows import auth, currencies, metrics
from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine import model_store
from workflows.engine.model_store import INVESTMENT
from workflows.engine.script_engine import RestrictedEnvironment
from workflows.errors import NotFound
from workflows.localtime import to_local
from workflows.metrics import ProjectFacts, TaskFacts
from workflows.models import Filing, ModelVersion, Organisation, ProcessInstance, TaskRecord, Unit
from workflows.models._types import utcnow
from workflows.rendering import charts
from workflows.rendering.cells import xlsx_append
from workflows.rendering.diagram import bpmn_file_for, render_svg
from workflows.roles import ROLES

# Keys the after-signing tracking forms may carry (the first present wins).
TRACK_STARTED_ON = ("construction_start_date", "construction_started_on", "started_on", "start_date")
TRACK_STARTED = ("construction_started", "started")
TRACK_PRODUCING_ON = ("production_start_date", "production_started_on", "producing_on", "production_date")
TRACK_PRODUCING = ("production_started", "in_production", "producing")
TRACK_FUNDS = ("funds_in_place_total_wan", "cumulative_funds_wan", "funds_in_place_wan", "funds_wan")


def local_date(value: datetime) -> date:
    return to_local(value).date()


def _completed_on(record: TaskRecord) -> date:
    assert record.completed_at is not None, "a completed task keeps its time"
    return local_date(record.completed_at)


def _float(value) -> float:
    try:
        return float(value) if value not in (None, "") else 0.0
    except (TypeError, ValueError):
        return 0.0


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _first(data: dict, keys: tuple[str, ...]):
    return next((data[k] for k in keys if data.get(k) not in (None, "")), None)


# --- scope and facts -----------------------------------------------------------------------------


def _scope(s: Session, actor: Actor, county_id: int | None) -> list[Organisation]:
    auth.require(auth.dashboard_view(actor), "您无权查看招商工作统计。")
    if actor.org_kind == "county":
        return [s.get_one(Organisation, actor.org_id)]
    counties = list(
        s.scalars(
            select(Organisation).where(Organisation.parent_id == actor.org_id).order_by(Organisation.id)
        )
    )
    if county_id:
        counties = [c for c in counties if c.id == county_id]
        if not counties:
            raise NotFound("没有这个县（市、区）。")
    return counties


TASK_COLUMNS = (
    TaskRecord.id,
    TaskRecord.instance_id,
    TaskRecord.spec_name,
    TaskRecord.state,
    TaskRecord.mi_index,
    TaskRecord.data,
    TaskRecord.created_at,
    TaskRecord.completed_at,
    TaskRecord.due_at,
    TaskRecord.unit_code,
    TaskRecord.lane,
    TaskRecord.stage,
    TaskRecord.title,
)


def _facts(s: Session, counties: list[Organisation]) -> tuple[list[ProjectFacts], list[TaskFacts]]:
    ids = [c.id for c in counties]
    many = len(counties) > 1
    county_names = {c.id: c.name for c in counties}
    units = {
        (u.organisation_id, u.code): u.name
        for u in s.scalars(select(Unit).where(Unit.organisation_id.in_(ids)))
    }
    unit_by_id = {u.id: u for u in s.scalars(select(Unit).where(Unit.organisation_id.in_(ids)))}
    in_scope = and_(
        ProcessInstance.county_id.in_(ids),
        ProcessInstance.model_version_id.in_(model_store.versions_of(s, INVESTMENT)),
    )
    instances = list(s.scalars(select(ProcessInstance).where(in_scope).order_by(ProcessInstance.id)))
    # The columns the figures read, as plain rows (not ORM objects), chosen by a join rather than a list of
    # ids: a county's tasks are many (BENCHMARKS.md).
    records: dict[int, list] = defaultdict(list)
    if instances:
        for r in s.execute(
            select(*TASK_COLUMNS)
            .join(ProcessInstance, ProcessInstance.id == TaskRecord.instance_id)
            .where(in_scope)
            .order_by(TaskRecord.id)
        ):
            records[r.instance_id].append(r)
    filings = (
        {
            f.instance_id: f
            for f in s.scalars(
                select(Filing).join(ProcessInstance, ProcessInstance.id == Filing.instance_id).where(in_scope)
            )
        }
        if instances
        else {}
    )

    def name(county_id: int, text: str) -> str:
        return f"{county_names[county_id]}·{text}" if many else text

    # What each task marks is declared in the model (funnelStage, funnelWhen, funnelOn, stageTime).
    properties = {
        v.id: model_store.task_properties(v)
        for v in s.scalars(
            select(ModelVersion).where(ModelVersion.id.in_({i.model_version_id for i in instances}))
        )
    }

    projects, tasks = [], []
    for inst in instances:
        rows = records[inst.id]
        done = sorted((r for r in rows if r.state == "completed"), key=lambda r: (r.completed_at, r.id))
        data: dict = {}
        for r in done:
            if r.mi_index is None and "track" not in r.spec_name:
                data.update(r.data or {})
        site = str(data.get("host_site") or "")  # a department's code, or a place in words
        fact = ProjectFacts(
            id=inst.id,
            name=inst.project_name,
            investor=inst.investor,
            county=county_names[inst.county_id],
            unit=name(inst.county_id, unit_by_id[inst.started_unit_id].name)
            if inst.started_unit_id in unit_by_id
            else "",
            industry=str(data.get("industry") or ""),
            host_site=name(inst.county_id, units.get((inst.county_id, site), site)),
            project_class=inst.project_class,
            currency=data.get("currency") or currencies.home(),
            amount_wan=_float(data.get("amount_wan")),
            amount_usd_wan=_float(data.get("amount_usd_wan")),
            registered_on=local_date(inst.created_at),
            stage=inst.stage,
            status=inst.status,
            outcome=inst.outcome,
        )
        marks = properties.get(inst.model_version_id, {})
        fact.reached = _reached(rows, filings.get(inst.id), marks)
        filing = filings.get(inst.id)
        fact.filing_number = filing.number if filing else None
        signing = [r for r in done if marks.get(r.spec_name, {}).get("funnelStage") == "signed"]
        if signing:
            last = signing[-1]
            fact.signed_on = _date((last.data or {}).get("sign_date")) or _completed_on(last)
            fact.contract_number = (last.data or {}).get("contract_number")
        _tracking(
            fact,
            [r for r in done if "tracking-report" in model_store.capabilities_of(marks.get(r.spec_name, {}))],
        )
        projects.append(fact)
        for r in rows:
            if r.state in ("ready", "completed") and marks.get(r.spec_name, {}).get("stageTime") != "none":
                unit = units.get((inst.county_id, r.unit_code)) if r.unit_code else None
                holder = unit or (ROLES[r.lane].name if r.lane in ROLES else r.lane)
                tasks.append(
                    TaskFacts(
                        instance_id=inst.id,
                        spec=r.spec_name,
                        stage=r.stage,
                        unit=name(inst.county_id, holder),
                        created_at=r.created_at,
                        completed_at=r.completed_at,
                        due_at=r.due_at,
                        state=r.state,
                        title=r.title,
                    )
                )
    return projects, tasks


def _reached(rows: list[TaskRecord], filing: Filing | None, marks: dict[str, dict[str, str]]) -> set[str]:
    """The funnel stages a project reached: a task marks its `funnelStage` when completed (or, with
    funnelOn="offered", when offered) and its `funnelWhen` holds on the answers; a filing the prefecture
    accepted counts as filed too."""
    reached = {"lead"}
    for r in rows:
        mark = marks.get(r.spec_name, {})
        stage = mark.get("funnelStage")
        if not stage or (mark.get("funnelOn") != "offered" and r.state != "completed"):
            continue
        if mark.get("funnelWhen") and not _holds(mark["funnelWhen"], r.data or {}):
            continue
        reached.add(stage)
    if filing and filing.state in ("已受理", "已签约"):
        reached.add("filed")
    return reached


def _holds(expression: str, data: dict) -> bool:
    try:
        return bool(RestrictedEnvironment().evaluate(expression, dict(data)))
    except Exception:  # noqa: BLE001 - an answer the expression cannot read does not reach the stage
        return False


def _tracking(fact: ProjectFacts, reports: list[TaskRecord]) -> None:
    """开工 / 投产 / 到位资金 from the tracking reports (cumulative funds: the largest reported)."""
    for r in reports:
        data, day = r.data or {}, _completed_on(r)
        started = _date(_first(data, TRACK_STARTED_ON)) or (
            day if _first(data, TRACK_STARTED) in (True, "true", "是") else None
        )
        if started and (fact.started_on is None or started < fact.started_on):
            fact.started_on = started
        producing = _date(_first(data, TRACK_PRODUCING_ON)) or (
            day if _first(data, TRACK_PRODUCING) in (True, "true", "是") else None
        )
        if producing and (fact.producing_on is None or producing < fact.producing_on):
            fact.producing_on = producing
        fact.funds_wan = max(fact.funds_wan, _float(_first(data, TRACK_FUNDS)))
        fact.jobs = int(_float(data.get("jobs_created"))) or fact.jobs
        fact.tax_wan = _float(data.get("tax_paid_wan")) or fact.tax_wan
    if fact.started_on:
        fact.reached.add("started")
    if fact.producing_on:
        fact.reached.add("producing")


# --- the dashboard -----------------------------------------------------------------------------


def _heatmap(s: Session, waiting: dict[str, dict], counties: list[Organisation]) -> str | None:
    # One county: the diagram of the process it runs (counties may run different variants); several: the
    # newest.
    version = (
        model_store.bound_version(s, counties[0].id, INVESTMENT) if len(counties) == 1 else None
    ) or model_store.newest_version(s, INVESTMENT)
    if version is None:
        return None
    peak = max([w["avg_days"] for w in waiting.values()] + [0])
    heat = {
        spec: (charts.heat_colour(w["avg_days"], peak), f"{w['avg_days']:.1f}天 · {w['count']}次")
        for spec, w in waiting.items()
    }
    return render_svg(bpmn_file_for(version.files, version.process_id), version.process_id, heat=heat)


def dashboard(
    actor: Actor, period_key: str | None = None, county_id: int | None = None, with_charts: bool = True
) -> dict:
    """Everything the dashboard shows for a period, as plain values (SVG charts as strings)."""
    now = utcnow()
    today = local_date(now)
    period = metrics.parse_period(period_key, today)
    with transaction() as s:
        counties = _scope(s, actor, county_id)
        projects, tasks = _facts(s, counties)
        waiting = metrics.waiting_by_task(tasks, period, now, local_date)
        heatmap = _heatmap(s, waiting, counties) if with_charts else None
        all_counties = (
            [
                {"id": c.id, "name": c.name}
                for c in s.scalars(
                    select(Organisation)
                    .where(Organisation.parent_id == actor.org_id)
                    .order_by(Organisation.id)
                )
            ]
            if actor.org_kind == "prefecture"
            else []
        )
    funnel = metrics.funnel(projects, period)
    by = {dim: metrics.signed_by(projects, period, dim) for dim in metrics.DIMENSIONS}
    rates = metrics.rates(projects, period, today)
    overdue = metrics.overdue_by_unit(tasks, projects, now, today)
    stages = metrics.stage_days(tasks, period, now, local_date)
    result = {
        "period": asdict(period),
        "period_choices": metrics.period_choices(today),
        "scope": "、".join(c.name for c in counties),
        "counties": all_counties,
        "county_id": county_id,
        "as_of": metrics.as_of(period, today).isoformat(),
        "funnel": funnel,
        "signed_by": by,
        "signed_totals": metrics.totals(by["month"]),
        "rates": [
            {
                "key": r.key,
                "label": r.label,
                "numerator": r.numerator,
                "denominator": r.denominator,
                "value": r.value,
                "formula": r.formula,
                "unit": r.unit,
            }
            for r in rates
        ],
        "overdue": overdue,
        "stage_days": stages,
        "waiting": [{"task": k, **v} for k, v in sorted(waiting.items(), key=lambda kv: -kv[1]["avg_days"])],
        "tracking_available": any("track" in t.spec for t in tasks),
        "dimensions": metrics.DIMENSIONS,
    }
    if with_charts:
        result["charts"] = {
            "funnel": charts.funnel_chart([(r["label"], r["count"]) for r in funnel], "项目漏斗"),
            "month": charts.column_chart(
                [(r["label"], r["rmb_total_wan"]) for r in by["month"]],
                "签约额（折合人民币万元）按月",
                "万元",
            ),
            **{
                dim: charts.bar_chart(
                    [(r["label"], r["rmb_total_wan"]) for r in by[dim]],
                    f"签约额按{metrics.DIMENSIONS[dim]}",
                    "万元",
                    colour=charts.COLOURS[i + 1],
                )
                for i, dim in enumerate(("industry", "host_site", "unit"))
            },
            "overdue": charts.bar_chart(
                [(r["label"], r["tasks"] + r["not_started"]) for r in overdue],
                "超期任务与未按期开工项目",
                "",
                colour=charts.COLOURS[4],
            ),
            "stage_days": charts.bar_chart(
                [(r["label"], r["avg_days"]) for r in stages],
                "各环节平均办理天数",
                "天",
                colour=charts.COLOURS[2],
            ),
            "heatmap": heatmap,
        }
    return result


# --- ledgers (台账) --------------------------------------------------------------------------------

LEDGERS = {"projects": "项目台账", "signed": "签约项目台账", "overdue": "超期台账"}
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "projects": [
        ("id", "序号"),
        ("name", "项目名称"),
        ("investor", "投资方"),
        ("county", "县（市、区）"),
        ("unit", "责任招商单位"),
        ("industry", "产业链"),
        ("host_site", "落户地"),
        ("project_class", "项目类别"),
        ("cny_wan", "内资（万元）"),
        ("usd_wan", "外资（万美元）"),
        ("registered_on", "登记日期"),
        ("stage", "当前环节"),
        ("status", "状态"),
    ],
    "signed": [
        ("id", "序号"),
        ("name", "项目名称"),
        ("investor", "投资方"),
        ("county", "县（市、区）"),
        ("unit", "责任招商单位"),
        ("industry", "产业链"),
        ("host_site", "落户地"),
        ("cny_wan", "内资（万元）"),
        ("usd_wan", "外资（万美元）"),
        ("contract_number", "合同编号"),
        ("filing_number", "备案号"),
        ("signed_on", "签约日期"),
        ("start_deadline", "开工期限"),
        ("started_on", "开工日期"),
        ("producing_on", "投产日期"),
        ("funds_wan", "到位资金（万元）"),
        ("funds_rate", "资金到位率（百分比）"),
        ("jobs", "已吸纳就业（人）"),
        ("tax_wan", "本年度税收（万元）"),
    ],
    "overdue": [
        ("id", "序号"),
        ("name", "项目名称"),
        ("county", "县（市、区）"),
        ("kind", "超期类型"),
        ("task", "超期环节"),
        ("holder", "责任单位"),
        ("since", "起始日期"),
        ("due", "期限"),
        ("days_over", "超期天数"),
    ],
}


def _ledger_rows(
    kind: str, projects: list[ProjectFacts], tasks: list[TaskFacts], now: datetime, today: date
) -> list[dict]:
    if kind == "projects":
        return [
            {
                "id": p.id,
                "name": p.name,
                "investor": p.investor,
                "county": p.county,
                "unit": p.unit,
                "industry": p.industry,
                "host_site": p.host_site,
                "project_class": p.project_class or "",
                "cny_wan": p.cny_wan,
                "usd_wan": p.usd_wan,
                "registered_on": p.registered_on.isoformat() if p.registered_on else "",
                "stage": p.stage,
                "status": "办理中" if p.status == "running" else (p.outcome or "已办结"),
            }
            for p in projects
        ]
    if kind == "signed":
        return [
            _signed_row(p, p.signed_on, deadline)
            for p in projects
            if p.has_reached("signed") and p.signed_on and (deadline := p.start_deadline)
        ]
    by_id = {p.id: p for p in projects}
    rows = []
    for t in tasks:
        if t.state == "ready" and t.due_at is not None and t.due_at < now:
            p = by_id[t.instance_id]
            rows.append(
                {
                    "id": p.id,
                    "name": p.name,
                    "county": p.county,
                    "kind": "环节超期",
                    "task": t.title or t.stage,
                    "holder": t.unit,
                    "since": local_date(t.created_at).isoformat(),
                    "due": local_date(t.due_at).isoformat(),
                    "days_over": (today - local_date(t.due_at)).days,
                }
            )
    for p in projects:
        deadline = p.start_deadline  # None until signed
        if (
            p.has_reached("signed")
            and p.signed_on
            and deadline
            and deadline < today
            and not (p.started_on and p.started_on <= today)
        ):
            rows.append(
                {
                    "id": p.id,
                    "name": p.name,
                    "county": p.county,
                    "kind": "未按期开工",
                    "task": "开工",
                    "holder": p.host_site,
                    "since": p.signed_on.isoformat(),
                    "due": deadline.isoformat(),
                    "days_over": (today - deadline).days,
                }
            )
    return rows


def _signed_row(p: ProjectFacts, signed_on: date, deadline: date) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "investor": p.investor,
        "county": p.county,
        "unit": p.unit,
        "industry": p.industry,
        "host_site": p.host_site,
        "cny_wan": p.cny_wan,
        "usd_wan": p.usd_wan,
        "contract_number": p.contract_number or "",
        "filing_number": p.filing_number or "",
        "signed_on": signed_on.isoformat(),
        "start_deadline": deadline.isoformat(),
        "started_on": p.started_on.isoformat() if p.started_on else "",
        "producing_on": p.producing_on.isoformat() if p.producing_on else "",
        "funds_wan": p.funds_wan,
        "funds_rate": round(100 * p.funds_wan / p.amount_wan, 1) if p.amount_wan else "",
        "jobs": p.jobs,
        "tax_wan": p.tax_wan,
    }


def ledger(
    actor: Actor,
    kind: str,
    filters: dict | None = None,
    sort: str = "",
    descending: bool = False,
    county_id: int | None = None,
) -> dict:
    """One ledger: its columns (key, Chinese header) and rows, filtered (`filters`: column → text the
    cell must contain; `q` searches name and investor) and sorted by a column."""
    if kind not in LEDGERS:
        raise NotFound("没有这种台账。")
    auth.require(auth.ledger_view(actor), "您无权查看台账。")
    now = utcnow()
    today = local_date(now)
    with transaction() as s:
        counties = _scope(s, actor, county_id)
        projects, tasks = _facts(s, counties)
        if actor.org_kind == "prefecture":  # the prefecture's rows: projects filed with it
            filed = set(s.scalars(select(Filing.instance_id).where(Filing.instance_id.is_not(None))))
            projects = [p for p in projects if p.id in filed]
            tasks = [t for t in tasks if t.instance_id in filed]
    rows = _ledger_rows(kind, projects, tasks, now, today)
    columns = COLUMNS[kind]
    keys = {k for k, _ in columns}
    filters = {k: str(v).strip() for k, v in (filters or {}).items() if v and str(v).strip()}
    for key, text in filters.items():
        if key == "q":
            rows = [r for r in rows if text in f"{r.get('name', '')}{r.get('investor', '')}"]
        elif key in keys:
            rows = [r for r in rows if text in str(r[key])]
    if sort in keys:
        rows.sort(key=lambda r: (r[sort] == "", r[sort]), reverse=descending)
    numeric = {k for k in keys if k.endswith(("_wan", "_rate")) or k in ("days_over", "jobs")}
    total = {
        k: round(sum(r[k] for r in rows if isinstance(r[k], (int, float))), 2)
        for k in numeric
        if k not in ("funds_rate", "days_over")
    }
    return {
        "kind": kind,
        "title": LEDGERS[kind],
        "columns": columns,
        "rows": rows,
        "filters": filters,
        "sort": sort if sort in keys else "",
        "descending": descending,
        "totals": total,
        "scope": "、".join(c.name for c in counties),
        "generated_on": today.isoformat(),
    }


def ledger_xlsx(
    actor: Actor,
    kind: str,
    filters: dict | None = None,
    sort: str = "",
    descending: bool = False,
    county_id: int | None = None,
) -> tuple[str, bytes]:
    """(file name, .xlsx) of a ledger exactly as on screen: title row, Chinese headers, the rows, totals."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    auth.require(auth.ledger_export(actor), "您无权导出台账。")
    data = ledger(actor, kind, filters, sort, descending, county_id)
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook's one sheet
    ws.title = data["title"]
    columns = data["columns"]
    xlsx_append(ws, [f"{data['scope']}招商引资{data['title']}（截至{data['generated_on']}）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    xlsx_append(ws, [header for _, header in columns])
    thin = Side(style="thin", color="999999")
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
    for row in data["rows"]:
        xlsx_append(ws, [row[key] for key, _ in columns])
    if data["totals"]:
        xlsx_append(
            ws, ["合计" if i == 0 else data["totals"].get(key, "") for i, (key, _) in enumerate(columns)]
        )
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    for i, (key, header) in enumerate(columns, start=1):
        width = max(
            [len(header) * 2 + 2]
            + [len(str(r[key])) * (2 if not str(r[key]).isascii() else 1) + 2 for r in data["rows"]]
        )
        ws.column_dimensions[get_column_letter(i)].width = min(width, 40)
        if key.endswith("_wan"):
            for cells in ws.iter_rows(min_row=3, min_col=i, max_col=i):
                cells[0].number_format = "#,##0.00"
    ws.freeze_panes = "A3"
    out = io.BytesIO()
    wb.save(out)
    return f"{data['title']}-{data['generated_on']}.xlsx", out.getvalue()


# --- period reports (月研判、季调度) ----------------------------------------------------------------


def period_report_pdf(
    actor: Actor, period_key: str | None, county_id: int | None = None
) -> tuple[str, bytes]:
    """The monthly or quarterly summary (or a year's) as a Chinese A4 PDF with charts and tables."""
    import base64

    from workflows.rendering import documents

    auth.require(auth.period_report(actor), "您无权生成招商工作报告。")
    data = dashboard(actor, period_key, county_id)

    def img(svg: str | None) -> str | None:
        return (
            "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
            if svg
            else None
        )

    images = {k: img(v) for k, v in data["charts"].items()}
    kind = {"month": "月度", "quarter": "季度", "year": "年度"}[data["period"]["kind"]]
    context = {
        **data,
        "images": images,
        "report_kind": kind,
        "issuer": f"{data['scope']}商务局",
        "title": f"{data['scope']}招商引资工作{kind}报告（{data['period']['label']}）",
        "generated_on": local_date(utcnow()),
    }
    pdf = documents.render_page("period-report.html", context)
    return f"招商引资工作{kind}报告-{data['period']['key']}.pdf", pdf
