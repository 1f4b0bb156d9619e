"""Investment-attraction rewards (bpmn/rewards.dmn), computed when the responsible unit records funds
in place (task track_progress), against amounts worked out by hand from the seeds' rates:

- seed 000 §四(二)3: 商协会/校友会 projects (not 房地产, 金融类, 大型基础设施) with 当年实际到位资金 ≥ 2000 万元
  earn 1‰ of that year's funds; one association earns at most 100 万元 a year.
- seed 003 §6: foreign direct investment ≥ 500 万美元 (含 500 万美元) earns 1‰ of the paid-in foreign
  capital, below that 0.8‰ (万分之八); an investor from a country/region new to the city 5 万元 once.
- seed 003 §11: 以商招商 — 10 万元 once per 产业配套/补链 project of ≥ 5000 万元 after it starts production.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from service_support import advance, instance, ready, start
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select

from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine.script_engine import restricted_engine
from workflows.models import AuditEvent, ProcessInstance, RewardGrant
from workflows.services import tracking_operations
from workflows.services.timer_service import fire_due_timers

ROOT = Path(__file__).resolve().parents[1]

# What a signed project's task data holds when track_progress is completed (forms store every key).
BASE = {
    "source_channel": "商协会", "source_org": "南县湖北商会", "sector": "工业", "investor": "湖南某食品有限公司",
    "currency": "CNY", "amount_usd_wan": None, "funds_this_year_wan": None, "funds_in_place_wan": None,
    "foreign_paid_in_usd_wan": None, "new_origin_region": False, "chain_project": False,
    "production_started": False,
}


@pytest.fixture(scope="module")
def parser():
    p = SpiffBpmnParser()
    p.add_dmn_files([str(ROOT / "bpmn" / "rewards.dmn")])
    return p


def rewards(parser, **data) -> dict[str, float]:
    """{reward kind: amount due} the DMN gives for the data (the empty catch-all row left out)."""
    task = SimpleNamespace(data={**BASE, **data}, workflow=SimpleNamespace(script_engine=restricted_engine()))
    result = parser.get_engine("rewards_decision", None).result(task)
    return {k: d for k, d in zip(result["reward_kind"], result["reward_due"]) if k}


# --- the table, row by row --------------------------------------------------------------------

@pytest.mark.parametrize("funds, expected", [
    (2000, 2.0),          # 2000 万元 × 1‰ = 2 万元: "2000万元以上" includes 2000
    (1999.99, None),      # just below: nothing
    (12345, 12.345),      # 12.345 万元
    (150000, 150.0),      # the table gives the full 1‰; the yearly cap is the ledger's (below)
])
def test_referral_reward_is_one_per_mille_of_the_years_funds_from_2000_wan(parser, funds, expected):
    assert rewards(parser, funds_this_year_wan=funds).get("referral") == expected


@pytest.mark.parametrize("sector", ["房地产", "金融", "大型基础设施"])
def test_real_estate_finance_and_large_infrastructure_earn_no_referral_reward(parser, sector):
    assert rewards(parser, sector=sector, funds_this_year_wan=50000) == {}


@pytest.mark.parametrize("channel, expected", [("商协会", 3.0), ("校友会", 3.0), ("以商招商", None),
                                               ("驻外招商机构", None), ("其他", None)])
def test_only_associations_and_alumni_associations_earn_the_referral_reward(parser, channel, expected):
    assert rewards(parser, source_channel=channel, funds_this_year_wan=3000).get("referral") == expected


@pytest.mark.parametrize("fdi, paid_in, expected", [
    (500, 500, 0.5),      # 500 万美元（含）: 1‰ of 500 = 0.5 万美元
    (3500, 1200, 1.2),    # 1‰ of 1200
    (499.99, 400, 0.32),  # below 500 万美元: 万分之八 of 400 = 0.32 万美元
    (200, 0, None),       # nothing paid in yet
])
def test_foreign_investment_reward_rate_depends_on_500_wan_usd(parser, fdi, paid_in, expected):
    got = rewards(parser, source_channel="其他", currency="USD", amount_usd_wan=fdi, foreign_paid_in_usd_wan=paid_in)
    assert got.get("foreign") == expected


def test_a_domestic_project_earns_no_foreign_reward(parser):
    assert rewards(parser, source_channel="其他", amount_usd_wan=800, foreign_paid_in_usd_wan=800) == {}


def test_an_investor_from_a_new_country_earns_5_wan_once_funds_are_in(parser):
    data = {"source_channel": "其他", "currency": "USD", "amount_usd_wan": 600, "new_origin_region": True}
    assert rewards(parser, **data, foreign_paid_in_usd_wan=0) == {}
    assert rewards(parser, **data, foreign_paid_in_usd_wan=100) == {"foreign": 0.1, "new_origin": 5}


@pytest.mark.parametrize("changes, expected", [
    ({}, 10),
    ({"funds_in_place_wan": 4999}, None),           # below 5000 万元
    ({"production_started": False}, None),           # only after production starts
    ({"chain_project": False}, None),                # only 产业配套/补链 projects
    ({"source_channel": "商协会"}, None),             # a referral by an association is the other reward
])
def test_business_referral_earns_10_wan_after_production(parser, changes, expected):
    data = {"source_channel": "以商招商", "source_org": "南县某龙头企业", "funds_in_place_wan": 5000,
            "chain_project": True, "production_started": True, **changes}
    assert rewards(parser, **data).get("chain_referral") == expected


# --- the ledger: what was granted before, and the yearly cap per association -------------------

def record(parser, pid: int, **data) -> list[dict]:
    """Run the DMN on the data, then the ledger operation, in one transaction (as the engine step does)."""
    task = SimpleNamespace(data={**BASE, **data}, workflow=SimpleNamespace(script_engine=restricted_engine()))
    outputs = parser.get_engine("rewards_decision", None).result(task)
    system = Actor(id=0, username="system", display_name="系统", unit_id=0, unit_code="", unit_name="", org_id=0,
                   org_name="", org_kind="county", roles=frozenset())
    with transaction() as s:
        inst = s.get(ProcessInstance, pid)
        return tracking_operations.bound(s, inst, system)["rewards_record"]({**task.data, **outputs})["granted"]


def granted(pid: int) -> list[tuple[str, int, float, bool]]:
    with transaction() as s:
        return [(r.kind, r.year, r.amount_cents / 1_000_000, r.capped) for r in s.scalars(
            select(RewardGrant).where(RewardGrant.instance_id == pid).order_by(RewardGrant.id))]


def test_the_100_wan_cap_is_reached_across_several_projects_of_one_association(database, parser, clock):
    clock(datetime(2027, 3, 1, 2, 0))
    a, b, c, other = (start(project_name=f"项目{n}") for n in "ABCD")
    record(parser, a, funds_this_year_wan=60000)              # 60000 × 1‰ = 60 万元
    record(parser, b, funds_this_year_wan=50000)              # 50, but only 100 − 60 = 40 left
    record(parser, c, funds_this_year_wan=3000)               # 3, nothing left
    record(parser, other, source_org="深圳市湖南益阳商会", funds_this_year_wan=3000)  # another association: 3
    assert granted(a) == [("referral", 2027, 60.0, False)]
    assert granted(b) == [("referral", 2027, 40.0, True)]
    assert granted(c) == []
    assert granted(other) == [("referral", 2027, 3.0, False)]
    with transaction() as s:
        capped = s.scalars(select(AuditEvent).where(AuditEvent.instance_id == c,
                                                    AuditEvent.action == "reward_granted")).one()
        assert capped.data["capped"] is True and capped.data["amount_wan"] == 0 and capped.data["due_wan"] == 3
    # A new year: the cap starts again, and a project's yearly funds are counted afresh.
    clock(datetime(2028, 1, 10, 2, 0))
    record(parser, c, funds_this_year_wan=3000)
    assert granted(c) == [("referral", 2028, 3.0, False)]


def test_a_later_report_grants_only_the_difference(database, parser, clock):
    clock(datetime(2027, 5, 1, 2, 0))
    pid = start()
    record(parser, pid, funds_this_year_wan=2500)             # 2.5
    record(parser, pid, funds_this_year_wan=2500)             # the same report again: nothing more
    record(parser, pid, funds_this_year_wan=4000)             # 4 − 2.5 = 1.5
    assert granted(pid) == [("referral", 2027, 2.5, False), ("referral", 2027, 1.5, False)]


def test_foreign_rewards_grow_with_paid_in_capital_and_the_new_origin_reward_comes_once(database, parser, clock):
    clock(datetime(2027, 6, 1, 2, 0))
    pid = start(currency="USD", amount_usd_wan="500")
    data = {"source_channel": "驻外招商机构", "currency": "USD", "amount_usd_wan": 500, "new_origin_region": True}
    record(parser, pid, **data, foreign_paid_in_usd_wan=300)   # 0.3 万美元 + 5 万元
    record(parser, pid, **data, foreign_paid_in_usd_wan=500)   # + 0.2 万美元; 5 万元 not again
    assert granted(pid) == [("foreign", 2027, 0.3, False), ("new_origin", 2027, 5.0, False),
                            ("foreign", 2027, 0.2, False)]
    with transaction() as s:
        assert {r.currency for r in s.scalars(select(RewardGrant).where(RewardGrant.kind == "foreign"))} == {"USD"}


# --- end to end: computed when the responsible unit records funds in place ----------------------

GENERAL_PATH = ("approve_terms", "department_review", "review_materials", "pre_review", "review_meeting",
                "contract_review", "approve_filing", "prefecture_review", "signing")


def signed(name: str, **lead) -> int:
    pid = start(amount_wan="3000", project_name=name, investor=f"{name}有限公司", host_site="mcjz", **lead)
    advance(pid, "screening", confirmed_class="一般")
    advance(pid, "negotiation", amount_wan="3000")
    for spec in GENERAL_PATH:
        advance(pid, spec, **({"sector": "工业"} if spec == "signing" else {}))
    return pid


def test_funds_recorded_in_tracking_earn_the_association_its_capped_rewards(database, clock):
    first, second = signed("稻虾加工一期"), signed("稻虾加工二期")
    moment = max(instance(first).next_timer_at, instance(second).next_timer_at) + timedelta(minutes=1)
    assert fire_due_timers(clock(moment)) == 2
    advance(first, "track_progress", funds_in_place_wan="80000", funds_this_year_wan="80000")   # 80 万元
    advance(second, "track_progress", funds_in_place_wan="30000", funds_this_year_wan="30000")  # 30 → 20
    year = (moment + timedelta(hours=8)).year
    assert granted(first) == [("referral", year, 80.0, False)]
    assert granted(second) == [("referral", year, 20.0, True)]
    assert [r.spec_name for r in ready(first)] == []  # not in production: tracking goes on
