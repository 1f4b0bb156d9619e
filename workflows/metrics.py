"""The pipeline's figures as pure functions over plain facts (no database): periods, the funnel,
signed amounts by dimension, 履约率 / 开工率 / 资金到位率, overdue work and the days each stage takes.

workflows/services/metrics_service.py reads the facts from the database; tests feed hand-made ones.
Seeds: 南政发〔2022〕6号 §(八) (月研判、季调度、年总结), 《湘西自治州优势产业精准招商行动计划（2023—2025年）》
goals and 衡政办发〔2025〕11号 §20 (签约额, 到位资金, 履约率, 开工率, 资金到位率), 《郴州市关于进一步加强招商
引资工作的实施意见》 §3 (signing → start of construction within 6 months).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from workflows import currencies
from workflows.deadlines import START_WITHIN_MONTHS, add_months

# Signing → start of construction within 6 months (《郴州市关于进一步加强招商引资工作的实施意见》 §3); the
# contract milestone 履约率 checks.

# The funnel, from lead to producing. A project counts at the furthest step it ever reached (and so at
# every step before it), once, however often it looped back on the way.
FUNNEL: list[tuple[str, str]] = [
    ("lead", "线索登记"),
    ("screened", "通过研判初审"),
    ("negotiated", "洽谈达成一致"),
    ("reviewed", "进入联合会审"),
    ("approved", "评审会通过"),
    ("filed", "市/州备案受理"),
    ("signed", "已签约"),
    ("started", "已开工"),
    ("producing", "已投产"),
]
FUNNEL_KEYS = [k for k, _ in FUNNEL]

FORMULAS = {
    "performance": "履约率 = 按期开工的签约项目数 ÷ 开工期限（签约后6个月）已届满的签约项目数",
    "start": "开工率 = 已开工的签约项目数 ÷ 开工期限（签约后6个月）已届满的签约项目数",
    "funds": "资金到位率 = 签约项目累计到位资金（万元） ÷ 签约项目合同投资额（万元，人民币）",
}


@dataclass(frozen=True)
class Period:
    """A reporting period: a year (年总结), a quarter (季调度) or a month (月研判); `end` is exclusive."""

    kind: str
    start: date
    end: date
    key: str
    label: str

    def contains(self, day: date | None) -> bool:
        return day is not None and self.start <= day < self.end

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def months(self) -> list[tuple[str, str]]:
        out, current = [], self.start
        while current < self.end:
            out.append((f"{current.year}-{current.month:02d}", f"{current.year}年{current.month}月"))
            current = add_months(current, 1)
        return out


def parse_period(text: str | None, today: date) -> Period:
    """'2026' (year), '2026-Q2' (quarter), '2026-05' (month); anything else → the current year."""
    text = (text or "").strip().upper()
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
        year, q = int(m[1]), int(m[2])
        start = date(year, 3 * q - 2, 1)
        return Period("quarter", start, add_months(start, 3), f"{year}-Q{q}", f"{year}年第{q}季度")
    if (m := re.fullmatch(r"(\d{4})-(\d{2})", text)) and 1 <= int(m[2]) <= 12:
        start = date(int(m[1]), int(m[2]), 1)
        return Period(
            "month",
            start,
            add_months(start, 1),
            f"{start.year}-{start.month:02d}",
            f"{start.year}年{start.month}月",
        )
    year = int(text) if re.fullmatch(r"\d{4}", text) and 2000 <= int(text) <= 2100 else today.year
    return Period("year", date(year, 1, 1), date(year + 1, 1, 1), str(year), f"{year}年")


def period_choices(today: date, years: int = 3) -> list[tuple[str, str]]:
    """(key, label) for the period chooser: recent years, their quarters and months, newest first."""
    out = []
    for year in range(today.year, today.year - years, -1):
        out.append((str(year), f"{year}年"))
        for q in range(4, 0, -1):
            if date(year, 3 * q - 2, 1) <= today:
                out.append((f"{year}-Q{q}", f"{year}年第{q}季度"))
        for month in range(12, 0, -1):
            if date(year, month, 1) <= today:
                out.append((f"{year}-{month:02d}", f"{year}年{month}月"))
    return out


@dataclass
class ProjectFacts:
    """One investment project as the figures need it (amounts in 万元 / 万美元)."""

    id: int
    name: str
    investor: str = ""
    county: str = ""
    unit: str = ""  # the responsible 招商 unit (the unit that registered the lead)
    industry: str = ""
    host_site: str = ""
    project_class: str | None = None
    currency: str = ""  # a code of ZS_CURRENCIES; empty = the home currency
    amount_wan: float = 0.0  # 投资额（万元，人民币）; for foreign capital the RMB equivalent entered
    amount_usd_wan: float = 0.0  # 外资额（万美元）
    registered_on: date | None = None
    reached: set[str] = field(default_factory=set)  # FUNNEL keys reached (any step implies those before)
    signed_on: date | None = None
    started_on: date | None = None
    producing_on: date | None = None
    funds_wan: float = 0.0  # 累计到位资金（万元）
    jobs: int = 0  # 已吸纳就业（人）, the latest report
    tax_wan: float = 0.0  # 本年度已缴税收（万元）, the latest report
    stage: str = ""
    status: str = "running"
    outcome: str | None = None
    filing_number: str | None = None
    contract_number: str | None = None

    @property
    def furthest(self) -> int:
        return max((FUNNEL_KEYS.index(k) for k in self.reached if k in FUNNEL_KEYS), default=0)

    def has_reached(self, key: str) -> bool:
        return self.furthest >= FUNNEL_KEYS.index(key)

    @property
    def start_deadline(self) -> date | None:
        return add_months(self.signed_on, START_WITHIN_MONTHS) if self.signed_on else None

    @property
    def cny_wan(self) -> float:
        return self.amount_wan if currencies.is_home(self.currency) else 0.0

    @property
    def usd_wan(self) -> float:
        return self.amount_usd_wan if not currencies.is_home(self.currency) else 0.0


@dataclass
class TaskFacts:
    """One occurrence of a user task (a loop back makes a second occurrence)."""

    instance_id: int
    spec: str
    stage: str
    unit: str  # the unit (department, host site) or role holding it
    created_at: datetime
    completed_at: datetime | None = None
    due_at: datetime | None = None
    state: str = "ready"  # ready | completed | cancelled | superseded
    title: str = ""

    def days(self, now: datetime) -> float:
        end = self.completed_at if self.completed_at is not None else now
        return max(0.0, (end - self.created_at).total_seconds() / 86400)


@dataclass
class Rate:
    key: str
    label: str
    numerator: float
    denominator: float
    formula: str
    unit: str = "个"

    @property
    def value(self) -> float | None:
        """Percent, or None when nothing is due yet (shown as —, never as 0 %)."""
        return round(100 * self.numerator / self.denominator, 1) if self.denominator else None


def funnel(projects: list[ProjectFacts], period: Period) -> list[dict]:
    """Projects registered in the period, counted at every step up to the furthest they reached."""
    cohort = [p for p in projects if period.contains(p.registered_on)]
    return [
        {"key": key, "label": label, "count": sum(1 for p in cohort if p.has_reached(key))}
        for key, label in FUNNEL
    ]


def signed_in(projects: list[ProjectFacts], period: Period) -> list[ProjectFacts]:
    return [p for p in projects if p.has_reached("signed") and period.contains(p.signed_on)]


def _row(label: str, group: list[ProjectFacts]) -> dict:
    return {
        "label": label,
        "count": len(group),
        "cny_wan": round(sum(p.cny_wan for p in group), 2),
        "usd_wan": round(sum(p.usd_wan for p in group), 2),
        "rmb_total_wan": round(sum(p.amount_wan for p in group), 2),
        "funds_wan": round(sum(p.funds_wan for p in group), 2),
    }


DIMENSIONS = {
    "month": "签约月份",
    "industry": "产业链",
    "host_site": "落户地（园区/乡镇）",
    "unit": "责任招商单位",
}


def signed_by(projects: list[ProjectFacts], period: Period, dimension: str) -> list[dict]:
    """Signed count, 内资（万元）, 外资（万美元）, RMB total and funds in place, per value of a dimension.
    Months list every month of the period (empty ones too); other dimensions, largest first."""
    signed = signed_in(projects, period)
    if dimension == "month":
        groups = defaultdict(list)
        for p in signed:
            groups[f"{p.signed_on.year}-{p.signed_on.month:02d}"].append(p)
        return [_row(label, groups.get(key, [])) for key, label in period.months()]
    groups = defaultdict(list)
    for p in signed:
        groups[getattr(p, dimension) or "（未填）"].append(p)
    rows = [_row(label, group) for label, group in groups.items()]
    return sorted(rows, key=lambda r: (-r["rmb_total_wan"], r["label"]))


def totals(rows: list[dict]) -> dict:
    out = {"label": "合计"}
    for key in ("count", "cny_wan", "usd_wan", "rmb_total_wan", "funds_wan"):
        out[key] = round(sum(r[key] for r in rows), 2) if key != "count" else sum(r[key] for r in rows)
    return out


def as_of(period: Period, today: date) -> date:
    """The day the rates are taken on: the period's last day, or today while the period runs."""
    return min(period.last_day, today)


def rates(projects: list[ProjectFacts], period: Period, today: date) -> list[Rate]:
    """履约率, 开工率, 资金到位率 on the day `as_of(period, today)` (cumulative: every project signed by
    then)."""
    day = as_of(period, today)
    signed = [p for p in projects if p.has_reached("signed") and p.signed_on and p.signed_on <= day]
    due = [p for p in signed if p.start_deadline <= day]
    on_time = [p for p in due if p.started_on and p.started_on <= p.start_deadline]
    started = [p for p in due if p.started_on and p.started_on <= day]
    funds = sum(p.funds_wan for p in signed)
    contracted = sum(p.amount_wan for p in signed)
    return [
        Rate("performance", "履约率", len(on_time), len(due), FORMULAS["performance"]),
        Rate("start", "开工率", len(started), len(due), FORMULAS["start"]),
        Rate("funds", "资金到位率", round(funds, 2), round(contracted, 2), FORMULAS["funds"], "万元"),
    ]


def overdue_by_unit(
    tasks: list[TaskFacts], projects: list[ProjectFacts], now: datetime, today: date
) -> list[dict]:
    """Open tasks past their deadline and the projects they hold up, by the unit holding them; and
    signed projects past their start deadline without a start (未按期开工), by host site."""
    rows: dict[str, dict] = {}

    def row(unit: str) -> dict:
        return rows.setdefault(unit, {"label": unit, "tasks": 0, "projects": set(), "not_started": 0})

    for t in tasks:
        if t.state == "ready" and t.due_at is not None and t.due_at < now:
            r = row(t.unit)
            r["tasks"] += 1
            r["projects"].add(t.instance_id)
    for p in projects:
        if (
            p.has_reached("signed")
            and p.start_deadline
            and p.start_deadline < today
            and not (p.started_on and p.started_on <= today)
        ):
            row(p.host_site or "（未填）")["not_started"] += 1
    out = [{**r, "projects": len(r["projects"])} for r in rows.values()]
    return sorted(out, key=lambda r: (-(r["tasks"] + r["not_started"]), r["label"]))


def stage_days(tasks: list[TaskFacts], period: Period, now: datetime, local_date) -> list[dict]:
    """Average and longest days per stage, over the task occurrences completed in the period."""
    groups: dict[str, list[float]] = defaultdict(list)
    order: dict[str, datetime] = {}
    for t in tasks:
        if t.state == "completed" and t.completed_at and period.contains(local_date(t.completed_at)):
            groups[t.stage].append(t.days(now))
            order[t.stage] = min(order.get(t.stage, t.created_at), t.created_at)
    return [
        {
            "label": stage,
            "count": len(values),
            "avg_days": round(sum(values) / len(values), 1),
            "max_days": round(max(values), 1),
        }
        for stage, values in sorted(groups.items(), key=lambda kv: order[kv[0]])
    ]


def waiting_by_task(tasks: list[TaskFacts], period: Period, now: datetime, local_date) -> dict[str, dict]:
    """For the heatmap: per BPMN task id, the average days its occurrences took (completed in the
    period) or have waited so far (still open), with how many occurrences."""
    groups: dict[str, list[float]] = defaultdict(list)
    titles: dict[str, str] = {}
    for t in tasks:
        if (
            t.state == "completed" and t.completed_at and period.contains(local_date(t.completed_at))
        ) or t.state == "ready":
            groups[t.spec].append(t.days(now))
            titles[t.spec] = t.title or t.stage
    return {
        spec: {"title": titles[spec], "count": len(values), "avg_days": round(sum(values) / len(values), 1)}
        for spec, values in groups.items()
    }
