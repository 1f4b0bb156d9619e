"""Pipeline figures (workflows/metrics.py) against hand-computed fixtures, and the dashboard built from
projects driven through the real service."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from workflows import metrics
from workflows.metrics import ProjectFacts, TaskFacts

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 4, 0)  # naive UTC, 12:00 China time


def local(value: datetime) -> date:
    return value.date()


def _projects() -> list[ProjectFacts]:
    """Five projects; hand-computed figures in the tests below."""
    return [
        # Signed 2026-03-10 (deadline 2026-09-10), started 2026-08-01: on time.
        ProjectFacts(
            1,
            "A",
            industry="食品",
            host_site="经开区",
            unit="经开区",
            amount_wan=20000,
            registered_on=date(2026, 1, 5),
            reached={"started"},
            signed_on=date(2026, 3, 10),
            started_on=date(2026, 8, 1),
            funds_wan=8000,
        ),
        # Signed 2026-04-20 (deadline 2026-10-20), started 2026-10-25: late, but started.
        ProjectFacts(
            2,
            "B",
            industry="食品",
            host_site="南洲镇",
            unit="科工信局",
            currency="USD",
            amount_wan=21000,
            amount_usd_wan=3000,
            registered_on=date(2026, 2, 1),
            reached={"started"},
            signed_on=date(2026, 4, 20),
            started_on=date(2026, 10, 25),
            funds_wan=2000,
        ),
        # Signed 2026-05-31 (deadline 2026-11-30): not yet due on 2026-11-20, nothing started.
        ProjectFacts(
            3,
            "C",
            industry="装备",
            host_site="经开区",
            unit="经开区",
            amount_wan=5000,
            registered_on=date(2026, 4, 1),
            reached={"signed"},
            signed_on=date(2026, 5, 31),
        ),
        # Looped back twice (screening → supplement → screening, contract → negotiation), now at review.
        ProjectFacts(
            4, "D", registered_on=date(2026, 4, 2), reached={"lead", "screened", "negotiated", "reviewed"}
        ),
        # Rejected at screening; registered the year before.
        ProjectFacts(5, "E", registered_on=date(2025, 12, 30), reached={"lead"}),
    ]


def test_periods_parse_years_quarters_and_months():
    q = metrics.parse_period("2026-Q2", TODAY)
    assert (q.start, q.end, q.label) == (date(2026, 4, 1), date(2026, 7, 1), "2026年第2季度")
    m = metrics.parse_period("2026-02", TODAY)
    assert (m.start, m.end, len(m.months())) == (date(2026, 2, 1), date(2026, 3, 1), 1)
    assert metrics.parse_period("nonsense", TODAY).key == "2026"
    assert metrics.parse_period("2026-13", TODAY).key == "2026"


def test_the_funnel_counts_each_project_once_at_every_step_up_to_the_furthest_it_reached():
    year = metrics.parse_period("2026", TODAY)
    counts = {r["key"]: r["count"] for r in metrics.funnel(_projects(), year)}
    # Project 5 was registered in 2025: not in the 2026 cohort. Project 4 looped but counts once.
    assert counts == {
        "lead": 4,
        "screened": 4,
        "negotiated": 4,
        "reviewed": 4,
        "approved": 3,
        "filed": 3,
        "signed": 3,
        "started": 2,
        "producing": 0,
    }


def test_signed_amounts_by_month_and_dimension_keep_domestic_and_foreign_apart():
    q2 = metrics.parse_period("2026-Q2", TODAY)
    months = metrics.signed_by(_projects(), q2, "month")
    assert [(r["label"], r["count"], r["cny_wan"], r["usd_wan"]) for r in months] == [
        ("2026年4月", 1, 0, 3000),
        ("2026年5月", 1, 5000, 0),
        ("2026年6月", 0, 0, 0),
    ]
    industry = metrics.signed_by(_projects(), q2, "industry")
    assert [(r["label"], r["rmb_total_wan"], r["funds_wan"]) for r in industry] == [
        ("食品", 21000, 2000),
        ("装备", 5000, 0),
    ]
    assert metrics.totals(months)["count"] == 2


def test_rates_follow_their_formulas_on_the_periods_last_day():
    rates = {r.key: r for r in metrics.rates(_projects(), metrics.parse_period("2026", TODAY), TODAY)}
    # Due by 2026-11-20: projects 1 and 2. On time: 1. Started: 1 and 2.
    assert (rates["performance"].numerator, rates["performance"].denominator, rates["performance"].value) == (
        1,
        2,
        50.0,
    )
    assert (rates["start"].numerator, rates["start"].denominator, rates["start"].value) == (2, 2, 100.0)
    # Funds: (8000 + 2000 + 0) ÷ (20000 + 21000 + 5000) = 21.7 %.
    assert (rates["funds"].numerator, rates["funds"].denominator, rates["funds"].value) == (
        10000,
        46000,
        21.7,
    )
    assert "签约后6个月" in rates["start"].formula
    # At the end of Q3 (2026-09-30) only project 1 was due, and on time; project 2's start is in the future.
    q3 = {r.key: r for r in metrics.rates(_projects(), metrics.parse_period("2026-Q3", TODAY), TODAY)}
    assert (q3["performance"].numerator, q3["performance"].denominator) == (1, 1)


def test_an_empty_period_shows_no_rate_rather_than_zero():
    empty = metrics.parse_period("2024-03", TODAY)
    rates = metrics.rates(_projects(), empty, TODAY)
    assert [r.value for r in rates] == [None, None, None]
    assert all(r["count"] == 0 for r in metrics.funnel(_projects(), empty))
    assert metrics.signed_by(_projects(), empty, "industry") == []
    assert metrics.stage_days([], empty, NOW, local) == []


def test_stage_days_average_every_occurrence_of_a_looped_stage():
    q = metrics.parse_period("2026-Q4", TODAY)
    tasks = [
        TaskFacts(
            4,
            "screening",
            "研判专班初审",
            "研判专班",
            datetime(2026, 10, 1),
            datetime(2026, 10, 3),
            state="completed",
        ),
        TaskFacts(
            4,
            "screening",
            "研判专班初审",
            "研判专班",
            datetime(2026, 10, 5),
            datetime(2026, 10, 11),
            state="completed",
        ),
        TaskFacts(
            4,
            "negotiation",
            "项目洽谈",
            "县商务局",
            datetime(2026, 10, 11),
            datetime(2026, 10, 21),
            state="completed",
        ),
        TaskFacts(
            4,
            "department_review",
            "多部门联合会审",
            "县发展和改革局",
            datetime(2026, 11, 1),
            due_at=datetime(2026, 11, 10),
        ),
        TaskFacts(
            4,
            "department_review",
            "多部门联合会审",
            "县林业局",
            datetime(2026, 11, 1),
            datetime(2026, 11, 4),
            state="completed",
        ),
    ]
    rows = {r["label"]: r for r in metrics.stage_days(tasks, q, NOW, local)}
    assert rows["研判专班初审"] == {"label": "研判专班初审", "count": 2, "avg_days": 4.0, "max_days": 6.0}
    assert rows["项目洽谈"]["avg_days"] == 10.0
    assert rows["多部门联合会审"]["count"] == 1  # the open one is not finished yet
    waiting = metrics.waiting_by_task(tasks, q, NOW, local)
    # The open review has waited 19 days 4 hours so far; with the finished one (3 days): 11.1.
    assert waiting["department_review"]["count"] == 2
    assert waiting["department_review"]["avg_days"] == pytest.approx(11.1, abs=0.05)
    overdue = metrics.overdue_by_unit(tasks, _projects(), NOW, TODAY)
    by_unit = {r["label"]: r for r in overdue}
    assert by_unit["县发展和改革局"]["tasks"] == 1 and by_unit["县发展和改革局"]["projects"] == 1
    # Project 2 started late but before today: not 未按期开工; project 3 is not due yet.
    assert sum(r["not_started"] for r in overdue) == 0


def test_the_dashboard_counts_projects_driven_through_the_service(database):
    from workflows.demo import actor, seed_projects
    from workflows.services import metrics_service

    seed_projects()
    d = metrics_service.dashboard(actor("zhuren"))
    funnel = {r["key"]: r["count"] for r in d["funnel"]}
    # 南县's five demo projects: one signed, one at the prefecture, one in joint review, one lead, one
    # rejected.
    assert funnel["lead"] == 5 and funnel["screened"] == 3 and funnel["reviewed"] == 3
    assert funnel["filed"] == 1 and funnel["signed"] == 1
    assert d["signed_totals"]["count"] == 1 and d["signed_totals"]["cny_wan"] == 25000
    assert d["charts"]["heatmap"].startswith("<svg") and "heat-badge" in d["charts"]["heatmap"]
    prefecture = metrics_service.dashboard(actor("shishangwu"))
    assert {r["key"]: r["count"] for r in prefecture["funnel"]}["lead"] == 6  # both counties
    from workflows.errors import Forbidden

    with pytest.raises(Forbidden):
        metrics_service.dashboard(actor("zhaoshang"))


def test_tracking_reports_set_start_production_and_funds_in_place():
    """The 履约跟踪 form (track_progress): the earliest reported start, cumulative funds (the largest)."""
    from workflows.models import TaskRecord
    from workflows.services.metrics_service import _tracking

    fact = ProjectFacts(1, "A", reached={"signed"}, signed_on=date(2026, 1, 10), amount_wan=10000)
    reports = [
        TaskRecord(
            spec_name="track_progress",
            completed_at=datetime(2026, 3, 1),
            data={"funds_in_place_wan": 1000, "construction_started": False, "production_started": False},
        ),
        TaskRecord(
            spec_name="track_progress",
            completed_at=datetime(2026, 5, 1),
            data={
                "funds_in_place_wan": 4000,
                "construction_started": True,
                "construction_start_date": "2026-04-20",
                "production_started": False,
                "jobs_created": 80,
            },
        ),
    ]
    _tracking(fact, reports)
    assert (fact.started_on, fact.producing_on, fact.funds_wan, fact.jobs) == (
        date(2026, 4, 20),
        None,
        4000,
        80,
    )
    assert fact.has_reached("started") and not fact.has_reached("producing")
    rates = {r.key: r.value for r in metrics.rates([fact], metrics.parse_period("2026", TODAY), TODAY)}
    assert rates == {"performance": 100.0, "start": 100.0, "funds": 40.0}
