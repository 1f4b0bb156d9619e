"""Demo organisations, users and projects: one prefecture with two counties (南政发〔2022〕6号 annex
units)."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash

from workflows.actor import Actor
from workflows.db import transaction
from workflows.engine import model_store
from workflows.localtime import china_today
from workflows.models import Organisation, Unit, User, UserRole
from workflows.models._types import utcnow
from workflows.services.user_service import hash_password

DEMO_PASSWORD = "Demo@2026"
# Units of the second demo county (桃江县): the same departments, its own host site. Its investment projects
# run the county variant shipped for it (the process property `shippedFor`, docs/process.md "County
# variants").
SECOND_COUNTY_UNITS = [
    ("swj", "县商务局", "bureau"),
    ("fgj", "县发展和改革局", "department"),
    ("sthj", "市生态环境局桃江分局", "department"),
    ("zrzyj", "县自然资源局", "department"),
    ("kgxj", "县工业和信息化局", "department"),
    ("zjj", "县住房和城乡建设局", "department"),
    ("slj", "县水利局", "department"),
    ("yjglj", "县应急管理局", "department"),
    ("lyj", "县林业局", "department"),
    ("sfj", "县司法局", "department"),
    ("zfb", "县人民政府办公室", "office"),
    ("jkq", "经济开发区", "host_site"),
]

# username, display name, unit code, roles: 桃江县's staff, one per role of the process (mirrors
# COUNTY_USERS).
SECOND_COUNTY_USERS = [
    ("tj_zhaoshang", "招商专员 范洁", "jkq", ["lead_officer"]),
    ("tj_shangwu", "商务局 程亮", "swj", ["commerce_bureau"]),
    ("tj_yanpan", "研判专班 石磊", "swj", ["screening_team"]),
    ("tj_zhuren", "投资办主任 龙飞", "swj", ["head_of_office"]),
    ("tj_rev_fgj", "发改局 向敏", "fgj", ["dept_reviewer"]),
    ("tj_rev_sthj", "生态环境分局 田甜", "sthj", ["dept_reviewer"]),
    ("tj_rev_zrzyj", "自然资源局 符军", "zrzyj", ["dept_reviewer"]),
    ("tj_rev_swj", "商务局 莫凡", "swj", ["dept_reviewer"]),
    ("tj_rev_kgxj", "工信局 夏雨", "kgxj", ["dept_reviewer"]),
    ("tj_rev_zjj", "住建局 熊波", "zjj", ["dept_reviewer"]),
    ("tj_rev_slj", "水利局 伍强", "slj", ["dept_reviewer"]),
    ("tj_rev_yjglj", "应急管理局 匡英", "yjglj", ["dept_reviewer"]),
    ("tj_rev_lyj", "林业局 汤松", "lyj", ["dept_reviewer"]),
    ("tj_luohu", "经开区 胡斌", "jkq", ["host_site"]),
    ("tj_yushen", "领导小组办公室 邹琳", "swj", ["leading_group_office"]),
    ("tj_fuxianzhang", "分管副县长 卜勇", "zfb", ["vice_county_head"]),
    ("tj_mishu", "县政府办秘书 易佳", "zfb", ["exec_secretary"]),
    ("tj_fazhi", "司法局 饶东", "sfj", ["legal_reviewer"]),
]
# The demo users seeded outside COUNTY_USERS (prefecture and second county), by username.
PREFECTURE_USERS = ("shishangwu", *(u for u, *_ in SECOND_COUNTY_USERS))

# Units of 南县 (南政发〔2022〕6号 附件: 县商务局 as 综合协调单位 and the 产业招商单位) plus host sites and
# offices.
COUNTY_UNITS = [
    ("swj", "县商务局（县投资促进服务中心）", "bureau"),
    ("fgj", "县发展和改革局", "department"),
    ("sthj", "市生态环境局南县分局", "department"),
    ("zrzyj", "县自然资源局", "department"),
    ("kgxj", "县科学技术和工业信息化局", "department"),
    ("zjj", "县住房和城乡建设局", "department"),
    ("slj", "县水利局", "department"),
    ("yjglj", "县应急管理局", "department"),
    ("lyj", "县林业局", "department"),
    ("sfj", "县司法局", "department"),
    ("sjj", "县审计局", "department"),
    ("zfb", "县人民政府办公室", "office"),
    ("jkq", "南县经济开发区", "host_site"),
    ("nykjyq", "南县农业科技园区", "host_site"),
    ("nzz", "南洲镇", "host_site"),
    ("mcjz", "茅草街镇", "host_site"),
]

# username, display name, unit code, roles
COUNTY_USERS = [
    ("zhaoshang", "招商专员 李明", "jkq", ["lead_officer"]),
    ("zhaoshang2", "招商专员 周婷", "kgxj", ["lead_officer"]),
    ("yanpan", "研判专班 王芳", "swj", ["screening_team"]),
    ("shangwu", "县商务局 张强", "swj", ["commerce_bureau"]),
    ("zhuren", "投资办主任 刘洋", "swj", ["head_of_office"]),
    ("rev_fgj", "发改局 陈静", "fgj", ["dept_reviewer"]),
    ("rev_fgj2", "发改局 赵磊", "fgj", ["dept_reviewer"]),
    ("rev_sthj", "生态环境分局 孙丽", "sthj", ["dept_reviewer"]),
    ("rev_zrzyj", "自然资源局 吴刚", "zrzyj", ["dept_reviewer"]),
    ("rev_swj", "商务局 郑华", "swj", ["dept_reviewer"]),
    ("rev_kgxj", "科工信局 冯伟", "kgxj", ["dept_reviewer"]),
    ("rev_zjj", "住建局 何平", "zjj", ["dept_reviewer"]),
    ("rev_slj", "水利局 许超", "slj", ["dept_reviewer"]),
    ("rev_yjglj", "应急管理局 邓敏", "yjglj", ["dept_reviewer"]),
    ("rev_lyj", "林业局 曹勇", "lyj", ["dept_reviewer"]),
    ("luohu", "经开区 彭军", "jkq", ["host_site"]),
    ("luohu_nyq", "农科园 蒋丽", "nykjyq", ["host_site"]),
    ("luohu_nzz", "南洲镇 谢涛", "nzz", ["host_site"]),
    ("luohu_mcj", "茅草街镇 韩冰", "mcjz", ["host_site"]),
    ("yushen", "领导小组办公室 杨帆", "swj", ["leading_group_office"]),
    ("fuxianzhang", "分管副县长 黄志", "zfb", ["vice_county_head"]),
    ("mishu", "县政府办秘书 林晓", "zfb", ["exec_secretary"]),
    ("fazhi", "司法局 罗斌", "sfj", ["legal_reviewer"]),
    ("shenji", "审计局 高远", "sjj", ["auditor"]),
    ("admin", "系统管理员", "swj", ["admin"]),
]


DEMO_LEAD = {
    "project_name": "年产10万吨稻虾深加工项目",
    "investor": "湖南洞庭食品有限公司",
    "industry": "农产品加工·稻虾产业链",
    "amount_wan": "25000",
    "currency": "CNY",
    "host_site": "jkq",
    "source_channel": "商协会",
    "source_org": "南县湖北商会",
    "contact_name": "王建国",
    "contact_phone": "13800138000",
    "plan_summary": "建设稻虾精深加工生产线及冷链仓储。",
}

# Valid default answers per form; tests override the decision fields.
DEMO_ANSWERS = {
    "screening": {
        "screening_decision": "通过",
        "confirmed_class": None,
        "negative_list_ok": "true",
        "industry_policy_ok": "true",
        "eco_redline_ok": "true",
        "land_plan_ok": "true",
        "energy_ok": "true",
        "screening_opinion": "无准入障碍，同意进入洽谈。",
    },
    "supplement_lead": {"supplement_note": "已补充投资计划书及资金证明。"},
    "negotiation": {
        "negotiation_decision": "达成一致",
        "amount_wan": "25000",
        "currency": "CNY",
        "land_mu": "120",
        "tax_per_mu_wan": "25",
        "annual_output_wan": "60000",
        "jobs": "300",
        "incentives": "按县现行政策执行",
        "negotiation_minutes": "双方就投资规模、用地和进度达成一致。",
        "negotiation_opinion": "建议提交联合会审。",
    },
    "approve_terms": {"terms_decision": "同意", "terms_opinion": "同意洽谈条件。"},
    "department_review": {"review_decision": "同意", "review_opinion": "符合本部门要求。"},
    "objection_decision": {"objection_decision": "重新洽谈", "objection_opinion": "按部门意见重新洽谈。"},
    "review_materials": {
        "materials_summary": "评审材料齐全。",
        "land_guarantee": "已落实用地指标",
        "power_guarantee": "可保障",
        "water_guarantee": "可保障",
        "factor_guarantee_opinion": "要素保障到位。",
    },
    "pre_review": {"pre_review_decision": "通过", "pre_review_opinion": "材料齐全，提交评审会。"},
    "review_meeting": {
        "meeting_decision": "通过",
        "meeting_date": china_today().isoformat(),
        "meeting_opinion": "评审通过。",
    },
    "supplement_materials": {"supplement_materials_note": "已按评审会要求补充材料。"},
    "executive_meeting": {
        "exec_decision": "同意",
        "exec_meeting_type": "县政府常务会议",
        "exec_minutes_number": "南府阅〔2026〕12号",
        "exec_meeting_date": china_today().isoformat(),
        "exec_opinion": "同意签约。",
    },
    "contract_review": {
        "contract_decision": "通过",
        "legality_ok": "true",
        "fair_competition_ok": "true",
        "contract_opinion": "合同条款合法，优惠条款经公平竞争审查。",
    },
    "approve_filing": {"filing_approval": "同意报备", "filing_approval_opinion": "同意报市商务局备案。"},
    "prefecture_review": {"prefecture_decision": "受理", "prefecture_opinion": "准予备案。"},
    "revise_filing": {"revise_note": "已按退回意见修改备案材料。"},
    "signing": {
        "contract_number": "NX-2026-001",
        "sign_date": china_today().isoformat(),
        "signatories": "南县人民政府；湖南洞庭食品有限公司",
        "signing_place": "南县",
        "signing_opinion": "签约完成。",
        "sector": "农业",
        "chain_project": "true",
        # "五个一" (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(九)): required for 重大
        # projects, kept for the others too.
        "lead_leader": "县委常委、常务副县长 李卫东",
        "responsible_department": "kgxj",
        "task_force": "科工信局、自然资源局、经开区管委会抽调5人组成项目工作专班",
        "advance_plan": "签约后3个月内完成供地，6个月内开工，18个月内建成投产。",
    },
    "track_progress": {
        "funds_in_place_wan": "3000",
        "funds_this_year_wan": "3000",
        "construction_started": "false",
        "production_started": "false",
        "jobs_created": "0",
        "tax_paid_wan": "0",
        "progress_note": "正在办理用地和规划手续。",
    },
    "reply_reminder": {
        "delay_reasons": "用地报批尚未完成。",
        "measures": "县自然资源局加快组卷报批，园区同步开展场平。",
        "planned_start_date": china_today().isoformat(),
    },
}

# Who does each task in the demo data (department tasks and host sites: by unit code).
DOER = {
    "screening": "yanpan",
    "supplement_lead": "zhaoshang",
    "negotiation": "shangwu",
    "approve_terms": "zhuren",
    "objection_decision": "shangwu",
    "review_materials": "luohu",
    "pre_review": "yushen",
    "review_meeting": "fuxianzhang",
    "supplement_materials": "shangwu",
    "executive_meeting": "mishu",
    "contract_review": "fazhi",
    "approve_filing": "zhuren",
    "prefecture_review": "shishangwu",
    "revise_filing": "shangwu",
    "signing": "shangwu",
}
DEPT_REVIEWER = {
    "fgj": "rev_fgj",
    "sthj": "rev_sthj",
    "zrzyj": "rev_zrzyj",
    "swj": "rev_swj",
    "kgxj": "rev_kgxj",
    "zjj": "rev_zjj",
    "slj": "rev_slj",
    "yjglj": "rev_yjglj",
    "lyj": "rev_lyj",
}


HOSTS = {"jkq": "luohu", "nykjyq": "luohu_nyq", "nzz": "luohu_nzz", "mcjz": "luohu_mcj"}
HOST_TASKS = ("review_materials", "track_progress", "reply_reminder")  # done by the project's host site


def seed_organisations(
    prefecture_name: str = "益阳市",
    filing_prefix: str = "益商",
    counties: tuple[str, str] = ("南县", "桃江县"),
) -> None:
    """Create the demo hierarchy and users unless they exist (idempotent)."""
    with transaction() as s:
        if s.scalar(select(Organisation.id).limit(1)) is not None:
            return
        prefecture = Organisation(name=prefecture_name, kind="prefecture", filing_prefix=filing_prefix)
        s.add(prefecture)
        s.flush()
        first = Organisation(name=counties[0], kind="county", parent_id=prefecture.id)
        second = Organisation(name=counties[1], kind="county", parent_id=prefecture.id)
        s.add_all([first, second])
        s.flush()
        units = {
            code: Unit(organisation_id=first.id, code=code, name=name, kind=kind)
            for code, name, kind in COUNTY_UNITS
        }
        pref_unit = Unit(
            organisation_id=prefecture.id, code="sswj", name=f"{prefecture_name}商务局", kind="bureau"
        )
        tj_units = {
            code: Unit(
                organisation_id=second.id,
                code=code,
                kind=kind,
                name=name if code != "jkq" else f"{counties[1]}{name}",
            )
            for code, name, kind in SECOND_COUNTY_UNITS
        }
        s.add_all([*units.values(), pref_unit, *tj_units.values()])
        s.flush()
        password = hash_password(DEMO_PASSWORD)
        people = [(u, n, units[c].id, r) for u, n, c, r in COUNTY_USERS]
        people.append(
            ("shishangwu", f"{prefecture_name}商务局 备案科 田野", pref_unit.id, ["prefecture_bureau"])
        )
        people += [(u, f"{counties[1]} {n}", tj_units[c].id, r) for u, n, c, r in SECOND_COUNTY_USERS]
        # 三权分立: beside the system administrator `admin`, the security and the audit administrator.
        people += [
            ("secadmin", "安全管理员", units["swj"].id, ["security_admin"]),
            ("auditadmin", "安全审计员", units["sjj"].id, ["audit_admin"]),
        ]
        for username, name, unit_id, roles in people:
            s.add(
                User(
                    username=username,
                    display_name=name,
                    password_hash=password,
                    unit_id=unit_id,
                    password_changed_at=utcnow(),
                    email=f"{username}@demo.example",
                    roles=[UserRole(role=r) for r in roles],
                )
            )
        # First-time setup: the shipped models are deployed and bound to both counties explicitly (later
        # code upgrades only offer their models to the administrator, see model_store.offered_processes).
        model_store.deploy_shipped(s, "system", [first.id, second.id])


def open_demo_accounts() -> list[str]:
    """Usernames of active demo accounts whose password is still the published demo password."""
    names = [u for u, *_ in COUNTY_USERS] + list(PREFECTURE_USERS)
    with transaction() as s:
        users = s.scalars(select(User).where(User.username.in_(names), User.active.is_(True))).all()
        # The seed gives them all one hash: verify each distinct hash once, not once per user.
        hashes = {h: check_password_hash(h, DEMO_PASSWORD) for h in {u.password_hash for u in users}}
        return sorted(u.username for u in users if hashes[u.password_hash])


def actor(username: str) -> Actor:
    with transaction() as s:
        return Actor.from_user(s.scalar(select(User).where(User.username == username)), "127.0.0.1")


FORM_OF = {"supplementary_review": "department_review"}  # the 加签 round uses the joint-review form


def _doer(record) -> str:
    if record.spec_name in ("department_review", "supplementary_review"):
        return DEPT_REVIEWER[record.unit_code]
    if record.spec_name in HOST_TASKS:
        return HOSTS[record.unit_code]
    return DOER[record.spec_name]


def advance(instance_id: int, spec: str, only_units: set[str] | None = None, **overrides) -> None:
    """Complete the ready tasks named `spec` as their demo users would (claim, then submit)."""
    from workflows.models import TaskRecord
    from workflows.services import task_service

    with transaction() as s:
        records = list(
            s.scalars(
                select(TaskRecord)
                .where(
                    TaskRecord.instance_id == instance_id,
                    TaskRecord.state == "ready",
                    TaskRecord.spec_name == spec,
                )
                .order_by(TaskRecord.id)
            )
        )
    if not records:
        raise LookupError(f"{spec} is not ready on instance {instance_id}")
    for record in records:
        if only_units is not None and record.unit_code not in only_units:
            continue
        who = actor(_doer(record))
        task_service.task_claim(who, record.id)
        answers = {**DEMO_ANSWERS[FORM_OF.get(spec, spec)], **overrides}
        task_service.task_complete(who, record.id, {k: v for k, v in answers.items() if v is not None})


FULL_PATH = [
    "screening",
    "negotiation",
    "approve_terms",
    "department_review",
    "review_materials",
    "pre_review",
    "review_meeting",
    "executive_meeting",
    "contract_review",
    "approve_filing",
    "prefecture_review",
    "signing",
]


def seed_projects() -> None:
    """A handful of projects at different stages, made by driving the real service (idempotent)."""
    from workflows.models import ProcessInstance
    from workflows.services import project_service

    with transaction() as s:
        if s.scalar(select(ProcessInstance.id).limit(1)) is not None:
            return

    def start(username: str = "zhaoshang", confirm_duplicate: bool = False, **overrides) -> int:
        return project_service.project_start(actor(username), {**DEMO_LEAD, **overrides}, confirm_duplicate)

    # 1. A 重大 project signed and filed.
    signed = start()
    advance(signed, "screening", confirmed_class="重大")
    for spec in FULL_PATH[1:]:
        advance(signed, spec)

    # 2. A 重点 project in the joint review: three departments have answered, 发改局 waits to be claimed.
    review = start(
        project_name="新能源电池结构件生产基地",
        investor="湖南锂晟新能源科技有限公司",
        industry="新能源·电池配套",
        amount_wan="12000",
        host_site="nykjyq",
        source_channel="以商招商",
    )
    advance(review, "screening", confirmed_class="重点")
    advance(review, "negotiation", amount_wan="12000", water_use="true")
    advance(review, "approve_terms")
    advance(review, "department_review", only_units={"sthj", "zrzyj", "swj"})

    # 3. A foreign-capital lead waiting for screening.
    start(
        "zhaoshang2",
        project_name="高端食品包装材料项目",
        investor="香港嘉禾包装集团有限公司",
        industry="食品包装",
        amount_wan="25200",
        currency="USD",
        amount_usd_wan="3500",
        source_channel="驻外招商机构",
        source_org="",
        host_site="nzz",
        contact_phone="0737-5221234",
    )

    # 4. A 一般 project waiting for the prefecture to accept its filing.
    filing = start(
        project_name="农机配件智能制造项目",
        investor="南县农机配件有限公司",
        amount_wan="3000",
        industry="装备制造",
        host_site="mcjz",
        source_channel="其他",
    )
    advance(filing, "screening", confirmed_class="一般")
    advance(filing, "negotiation", amount_wan="3000")
    for spec in (
        "approve_terms",
        "department_review",
        "review_materials",
        "pre_review",
        "review_meeting",
        "contract_review",
        "approve_filing",
    ):
        advance(filing, spec)

    # 5. A lead the screening team rejected (reason kept).
    rejected = start(
        project_name="小型造纸项目",
        investor="益阳某纸业有限公司",
        amount_wan="1500",
        industry="造纸",
        source_channel="其他",
    )
    advance(
        rejected,
        "screening",
        screening_decision="不予通过",
        confirmed_class="一般",
        screening_opinion="属于《产业结构调整指导目录》淘汰类，不予引进。",
    )

    # 6. The other county registers the same investor as project 1 (抢商争商 warning).
    start("tj_zhaoshang", confirm_duplicate=True, project_name="稻虾冷链物流园", host_site="jkq")

    # 7. An investor complaint (《郴州市关于进一步加强招商引资工作的实施意见》 §15) waiting for 自然资源局's
    # answer.
    from workflows.capabilities import complaint_service

    complaint_service.complaint_start(
        actor("shangwu"),
        {
            "investor": "湖南锂晟新能源科技有限公司",
            "contact_name": "周凯",
            "contact_phone": "13907370001",
            "channel": "投诉电话",
            "subject": "项目用地报批进度缓慢",
            "content": "用地预审材料已提交 40 天，尚未收到补正或受理意见。",
            "related_project": "新能源电池结构件生产基地",
            "responsible_unit": "zrzyj",
            "routing_note": "请核实并答复企业。",
        },
    )
