"""Investment-attraction rewards (bpmn/rewards.dmn), computed from each tracking report's figures (task
track_progress), against amounts worked out by hand from the policies' rates:

- 湖南省商务厅《关于发挥境内外商协会和校友会作用促进湖南招商引资工作的实施办法（试行）》§四(二)3 ("§四(二)3"
  below): 商协会/校友会 projects (not 房地产, 金融类, 大型基础设施) with 当年实际到位资金 ≥ 2000 万元 earn 1‰
  of that year's funds; one association earns at most 100 万元 a year.
- 《郴州市关于进一步加强招商引资工作的实施意见》§6 ("郴州 §6"): foreign direct investment ≥ 500 万美元
  (含 500 万美元) earns 1‰ of the paid-in foreign capital, below that 0.8‰ (万分之八); an investor from a
  country/region new to the city 5 万元 once.
- 《郴州市关于进一步加强招商引资工作的实施意见》§11 ("郴州 §11"): 以商招商 — 10 万元 once per 产业配套/补链
  project of ≥ 5000 万元 after it starts production.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from types import SimpleNamespace

import pytest
from service_support import advance, ready, start
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select

from workflows.db import transaction
from workflows.engine.script_engine import restricted_engine
from workflows.localtime import CHINA, china_today, to_utc_naive
from workflows.models import AuditEvent, RewardGrant
from workflows.services.timer_service import fire_due_timers

ROOT = Path(__file__).resolve().parents[1]

# What a signed project's task data holds when track_progress is completed (forms store every key).
BASE = {
    "source_channel": "商协会",
    "source_org": "南县湖北商会",
    "sector": "工业",
    "investor": "湖南某食品有限公司",
    "currency": "CNY",
    "amount_usd_wan": None,
    "funds_this_year_wan": None,
    "funds_in_place_wan": None,
    "foreign_paid_in_usd_wan": None,
    "investor_origin": None,
    "chain_project": False,
    "production_started": False,
}


@pytest.fixture(scope="module")
def parser():
    p = SpiffBpmnParser()
    p.add_dmn_files([str(ROOT / "bpmn" / "rewards.dmn")])
    return p


def rewards(parser, **data) -> dict[str, float]:
    """{reward kind: amount due} the DMN gives for the data (no matching row: no outputs at all)."""
    task = SimpleNamespace(data={**BASE, **data}, workflow=SimpleNamespace(script_engine=restricted_engine()))
    result = parser.get_engine("rewards_decision", None).result(task)
    return {k: d for k, d in zip(result.get("reward_kind", []), result.get("reward_due", []), strict=True)}


# --- the table, row by row --------------------------------------------------------------------


@pytest.mark.parametrize(
    "funds, expected",
    [
        (2000, 2.0),  # 2000 万元 × 1‰ = 2 万元: "2000万元以上" includes 2000
        (1999.99, None),  # just below: nothing
        (12345, 12.345),  # 12.345 万元
        (150000, 150.0),  # the table gives the full 1‰; the yearly cap is the ledger's (below)
    ],
)
def test_referral_reward_is_one_per_mille_of_the_years_funds_from_2000_wan(parser, funds, expected):
    assert rewards(parser, funds_this_year_wan=funds).get("referral") == expected


@pytest.mark.parametrize("sector", ["房地产", "金融", "大型基础设施"])
def test_real_estate_finance_and_large_infrastructure_earn_no_referral_reward(parser, sector):
    assert rewards(parser, sector=sector, funds_this_year_wan=50000) == {}


@pytest.mark.parametrize(
    "channel, expected",
    [("商协会", 3.0), ("校友会", 3.0), ("以商招商", None), ("驻外招商机构", None), ("其他", None)],
)
def test_only_associations_and_alumni_associations_earn_the_referral_reward(parser, channel, expected):
    assert rewards(parser, source_channel=channel, funds_this_year_wan=3000).get("referral") == expected


@pytest.mark.parametrize(
    "fdi, paid_in, expected",
    [
        (500, 500, 0.5),  # 500 万美元（含）: 1‰ of 500 = 0.5 万美元
        (3500, 1200, 1.2),  # 1‰ of 1200
        (499.99, 400, 0.32),  # below 500 万美元: 万分之八 of 400 = 0.32 万美元
        (200, 0, None),  # nothing paid in yet
    ],
)
def test_foreign_investment_reward_rate_depends_on_500_wan_usd(parser, fdi, paid_in, expected):
    got = rewards(
        parser, source_channel="其他", currency="USD", amount_usd_wan=fdi, foreign_paid_in_usd_wan=paid_in
    )
    assert got.get("foreign") == expected


def test_a_domestic_project_earns_no_foreign_reward(parser):
    assert rewards(parser, source_channel="其他", amount_usd_wan=800, foreign_paid_in_usd_wan=800) == {}


def test_the_new_country_reward_is_offered_for_a_foreign_investor_with_funds_in_and_a_country(parser):
    """郴州 §6; whether the country is new to the prefecture is the ledger's check (below), not a checkbox."""
    data = {"source_channel": "其他", "currency": "USD", "amount_usd_wan": 600, "investor_origin": "新加坡"}
    assert rewards(parser, **data, foreign_paid_in_usd_wan=0) == {}
    assert rewards(parser, **data, foreign_paid_in_usd_wan=100) == {"foreign": 0.1, "new_origin": 5}
    assert rewards(parser, **{**data, "investor_origin": " "}, foreign_paid_in_usd_wan=100) == {
        "foreign": 0.1
    }


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({}, 10),
        ({"funds_in_place_wan": 4999}, None),  # below 5000 万元
        ({"production_started": False}, None),  # only after production starts
        ({"chain_project": False}, None),  # only 产业配套/补链 projects
        ({"source_channel": "商协会"}, None),  # a referral by an association is the other reward
    ],
)
def test_business_referral_earns_10_wan_after_production(parser, changes, expected):
    data = {
        "source_channel": "以商招商",
        "source_org": "南县某龙头企业",
        "funds_in_place_wan": 5000,
        "chain_project": True,
        "production_started": True,
        **changes,
    }
    assert rewards(parser, **data).get("chain_referral") == expected


# --- the ledger, from the tracking reports (the service as the host site uses it) -----------------

GENERAL_PATH = (
    "approve_terms",
    "department_review",
    "review_materials",
    "pre_review",
    "review_meeting",
    "contract_review",
    "approve_filing",
    "prefecture_review",
    "signing",
)
SIGNED_ON = china_today()  # the demo answers sign today (in China)
Y, NEXT = SIGNED_ON.year + 1, SIGNED_ON.year + 2  # the reports' years: after the first monthly report is due


def day(month_day: str, year: int = Y) -> str:
    return f"{year}-{month_day}"


def signed(name: str, signing: dict | None = None, **lead) -> int:
    """A 一般 project of the 南县湖北商会 (unless `lead` says otherwise), signed today, tracked monthly."""
    lead = {
        "amount_wan": "3000",
        "project_name": name,
        "investor": f"{name}有限公司",
        "host_site": "mcjz",
        **lead,
    }
    pid = start(**lead)
    advance(pid, "screening", confirmed_class="一般")
    advance(
        pid,
        "negotiation",
        amount_wan=lead["amount_wan"],
        currency=lead.get("currency", "CNY"),
        amount_usd_wan=lead.get("amount_usd_wan"),
    )
    for spec in GENERAL_PATH:
        advance(
            pid,
            spec,
            **({"sector": "工业", "chain_project": "false", **(signing or {})} if spec == "signing" else {}),
        )
    return pid


def report(clock, pid: int, on: str, **figures) -> None:
    """The host site's monthly report on day `on` (China time, 10:00): the tracking timer is due by then."""
    moment = clock(to_utc_naive(datetime.combine(date.fromisoformat(on), time(10, 0), CHINA)))
    fire_due_timers(moment)
    assert "track_progress" in [r.spec_name for r in ready(pid)], f"no report due on {on}"
    started = {"construction_started": "true", "construction_start_date": SIGNED_ON.isoformat()}
    advance(
        pid,
        "track_progress",
        **{**started, **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in figures.items()}},
    )


def ledger(pid: int) -> dict[tuple[str, int], tuple[float, bool]]:
    """{(kind, year): (amount granted in 万, capped)} — one row per project, kind and year."""
    with transaction() as s:
        rows = list(s.scalars(select(RewardGrant).where(RewardGrant.instance_id == pid)))
    assert len(rows) == len({(r.kind, r.year) for r in rows}), (
        "more than one row for a project, kind and year"
    )
    return {
        (r.kind, r.year): (r.amount_cents / 1_000_000, r.capped)
        for r in rows
        if r.amount_cents or r.due_cents
    }


def audits(pid: int) -> int:
    with transaction() as s:
        return len(
            list(
                s.scalars(
                    select(AuditEvent.id).where(
                        AuditEvent.instance_id == pid, AuditEvent.action == "reward_granted"
                    )
                )
            )
        )


# Hand-worked: each line is one report; the expected ledger after it comes from the clause cited.
ONE_PROJECT_REPORTS = [
    # day (year Y unless NEXT), 本年度到位资金（万元） → expected rows {(kind, year): 万元}
    (day("02-10"), 1000, {}),  # < 2000 万元: nothing (§四(二)3)
    (day("10-12"), 5000, {("referral", Y): 5.0}),  # 5000 × 1‰ = 5 (§四(二)3)
    (day("11-15"), 2500, {("referral", Y): 2.5}),  # lowered in place: 2.5, not 5 + 2.5
    (day("12-20"), 4000, {("referral", Y): 4.0}),  # 2500 → 4000: 4.0, not 2.5 (the old bug)
    (day("01-25", NEXT), 3000, {("referral", Y): 4.0, ("referral", NEXT): 3.0}),  # a new year counts afresh
    (day("03-01", NEXT), 1800, {("referral", Y): 4.0}),  # below 2000 again: year NEXT drops to 0
]


def test_a_projects_referral_reward_follows_each_reports_funds_rising_falling_and_across_the_year(
    database, clock
):
    """湖南省商务厅《关于发挥境内外商协会和校友会作用促进湖南招商引资工作的实施办法（试行）》§四(二)3: 1‰ of
    the year's funds in place, from 2000 万元; every report recomputes it from its own figures."""
    pid = signed("稻虾加工项目", source_org="深圳市湖南益阳商会")
    for on, funds, expected in ONE_PROJECT_REPORTS:
        report(clock, pid, on, funds_in_place_wan=funds, funds_this_year_wan=funds)
        assert ledger(pid) == {key: (amount, False) for key, amount in expected.items()}, on
    events = audits(pid)
    report(
        clock, pid, day("04-02", NEXT), funds_in_place_wan=1800, funds_this_year_wan=1800
    )  # the same figures again
    assert (
        ledger(pid) == {("referral", Y): (4.0, False)} and audits(pid) == events
    )  # idempotent, nothing audited


def test_the_yearly_cap_is_shared_again_across_an_associations_projects_whenever_a_figure_changes(
    database, clock
):
    """§四(二)3: one association earns at most 100 万元 a year over all its projects. The name is compared
    after normalising (NFKC, no spaces): 「南县 湖北商会」 and 「南县湖北商会　」 are the 南县湖北商会.
    The cap goes to the projects in the order they first earned that year's reward."""
    first = signed("一期项目")  # 南县湖北商会
    second = signed("二期项目", source_org="南县 湖北商会")
    third = signed("三期项目", source_org="ＡＢＣ商会")  # full-width: the ABC商会
    fourth = signed("四期项目", source_org="abc 商会")
    steps = [
        # (project, day, 本年度到位资金, expected {project: (万元, capped)} for Y)
        (first, day("02-10"), 80000, {first: (80.0, False)}),  # 80000 × 1‰ = 80
        (second, day("02-12"), 30000, {first: (80.0, False), second: (20.0, True)}),  # 30, only 20 left
        (
            first,
            day("03-15"),
            70000,
            {first: (70.0, False), second: (30.0, False)},
        ),  # lowered: frees 10 for 二期
        (first, day("04-16"), 90000, {first: (90.0, False), second: (10.0, True)}),  # raised: 二期 back to 10
        (second, day("05-18"), 1000, {first: (90.0, False)}),  # 二期 below 2000: 0
        (third, day("05-20"), 60000, {first: (90.0, False), third: (60.0, False)}),  # ABC商会: its own cap
        (
            fourth,
            day("05-21"),
            50000,
            {
                first: (90.0, False),
                third: (60.0, False),  # same ABC商会: 40 left
                fourth: (40.0, True),
            },
        ),
    ]
    for pid, on, funds, expected in steps:
        report(clock, pid, on, funds_in_place_wan=funds, funds_this_year_wan=funds)
        got = {p: ledger(p).get(("referral", Y)) for p in (first, second, third, fourth)}
        assert {p: v for p, v in got.items() if v} == expected, on
    # December, then January: the new year has its own cap; year Y's rows stay as they were.
    report(clock, second, day("12-28"), funds_in_place_wan=30000, funds_this_year_wan=30000)
    assert ledger(second) == {("referral", Y): (10.0, True)}  # 30, but 一期 holds 90 of the 100
    report(clock, second, day("01-30", NEXT), funds_in_place_wan=30000, funds_this_year_wan=30000)
    assert ledger(second) == {("referral", Y): (10.0, True), ("referral", NEXT): (30.0, False)}
    with transaction() as s:
        keys = set(s.scalars(select(RewardGrant.recipient_key).where(RewardGrant.kind == "referral")))
    assert keys == {"南县湖北商会", "abc商会"}
    # 二期's cut was audited on 二期 when 一期's figures moved it.
    with transaction() as s:
        moved = [
            e.data
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == second, AuditEvent.action == "reward_granted")
                .order_by(AuditEvent.id)
            )
        ]
    assert [(m["previous_wan"], m["amount_wan"]) for m in moved][:3] == [
        (0, 20.0),
        (20.0, 30.0),
        (30.0, 10.0),
    ]


def test_the_business_referral_reward_comes_when_production_starts_after_reports_without_it(database, clock):
    """《郴州市关于进一步加强招商引资工作的实施意见》§11: 以商招商, 产业配套/补链 project of ≥ 5000 万元: 10
    万元 once after it starts production (the old ledger gave 0 for "not started" → "in production")."""
    pid = signed(
        "电池配套项目",
        signing={"chain_project": "true"},
        source_channel="以商招商",
        source_org="南县某龙头企业",
    )
    report(
        clock,
        pid,
        day("02-10"),
        funds_in_place_wan=3000,
        construction_started=False,
        construction_start_date="",
    )
    assert ledger(pid) == {}
    report(clock, pid, day("03-12"), funds_in_place_wan=6000)  # started, not producing
    assert ledger(pid) == {}
    report(
        clock,
        pid,
        day("04-14"),
        funds_in_place_wan=6000,
        production_started=True,
        production_start_date=day("04-01"),
    )
    assert ledger(pid) == {("chain_referral", Y): (10.0, False)}
    assert ready(pid) == []  # production ends the tracking


def test_foreign_rewards_follow_the_paid_in_capital_and_a_new_country_is_rewarded_once_in_the_prefecture(
    database, clock
):
    """《郴州市关于进一步加强招商引资工作的实施意见》§6: FDI ≥ 500 万美元 → 1‰ of the paid-in foreign capital
    (项目累计; each year's row holds what is due beyond earlier years), below → 0.8‰; the first investor from
    a country/region new to the city → 5 万元 once — not again for that project, nor for a later project from
    the same country (typed with a stray space)."""
    usd = {
        "currency": "USD",
        "amount_wan": "4260",
        "amount_usd_wan": "600",
        "source_channel": "驻外招商机构",
        "source_org": "",
    }
    first = signed("新加坡食品项目", signing={"investor_origin": "新加坡"}, **usd)
    second = signed(
        "新加坡包装项目", signing={"investor_origin": "新 加坡"}, **{**usd, "amount_usd_wan": "400"}
    )
    report(clock, first, day("11-10"), foreign_paid_in_usd_wan=300, funds_in_place_wan=2130)
    assert ledger(first) == {("foreign", Y): (0.3, False), ("new_origin", Y): (5.0, False)}  # 300 × 1‰
    report(clock, first, day("12-12"), foreign_paid_in_usd_wan=500, funds_in_place_wan=3550)
    assert ledger(first) == {("foreign", Y): (0.5, False), ("new_origin", Y): (5.0, False)}  # not 5 again
    report(clock, first, day("01-14", NEXT), foreign_paid_in_usd_wan=600, funds_in_place_wan=4260)
    assert ledger(first) == {
        ("foreign", Y): (0.5, False),
        ("foreign", NEXT): (0.1, False),  # 0.6 − 0.5
        ("new_origin", Y): (5.0, False),
    }
    report(clock, second, day("01-20", NEXT), foreign_paid_in_usd_wan=400, funds_in_place_wan=2840)
    assert ledger(second) == {("foreign", NEXT): (0.32, False)}  # 400 × 0.8‰; 新加坡 was rewarded already
    with transaction() as s:
        currencies = {(r.kind, r.currency) for r in s.scalars(select(RewardGrant))}
    assert currencies == {("foreign", "USD"), ("new_origin", "CNY")}


def test_a_foreign_project_cannot_be_signed_without_the_investors_country(database):
    """The new-country reward (郴州 §6) is decided from the country or region, so signing asks for it."""
    from workflows.errors import ValidationFailed

    pid = start(
        amount_wan="4260", currency="USD", amount_usd_wan="600", project_name="外资项目", host_site="mcjz"
    )
    advance(pid, "screening", confirmed_class="一般")
    advance(pid, "negotiation", amount_wan="4260", currency="USD", amount_usd_wan="600")
    for spec in GENERAL_PATH[:-1]:
        advance(pid, spec)
    with pytest.raises(ValidationFailed) as refused:
        advance(pid, "signing", sector="工业")
    assert refused.value.errors == {"investor_origin": "外资项目须填写投资者来源国别或地区"}
