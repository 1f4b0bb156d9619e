"""Demo organisations, users and projects: one prefecture with two counties (seed 004 annex units)."""
from __future__ import annotations

from sqlalchemy import select

from workflows.actor import Actor
from workflows.db import transaction
from workflows.models import Organisation, Unit, User, UserRole
from workflows.services.user_service import hash_password

DEMO_PASSWORD = "Demo@2026"

# Units of 南县 (seed 004 附件: 县商务局 as 综合协调单位 and the 产业招商单位) plus host sites and offices.
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


def seed_organisations(prefecture_name: str = "益阳市", filing_prefix: str = "益商",
                       counties: tuple[str, str] = ("南县", "桃江县")) -> None:
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
        units = {code: Unit(organisation_id=first.id, code=code, name=name, kind=kind)
                 for code, name, kind in COUNTY_UNITS}
        pref_unit = Unit(organisation_id=prefecture.id, code="sswj", name=f"{prefecture_name}商务局", kind="bureau")
        tj_units = {
            "swj": Unit(organisation_id=second.id, code="swj", name="县商务局", kind="bureau"),
            "jkq": Unit(organisation_id=second.id, code="jkq", name=f"{counties[1]}经济开发区", kind="host_site"),
        }
        s.add_all([*units.values(), pref_unit, *tj_units.values()])
        s.flush()
        password = hash_password(DEMO_PASSWORD)
        people = [(u, n, units[c].id, r) for u, n, c, r in COUNTY_USERS]
        people += [
            ("shishangwu", f"{prefecture_name}商务局 备案科 田野", pref_unit.id, ["prefecture_bureau"]),
            ("tj_zhaoshang", f"{counties[1]} 招商专员 范洁", tj_units["jkq"].id, ["lead_officer"]),
            ("tj_shangwu", f"{counties[1]}商务局 程亮", tj_units["swj"].id, ["commerce_bureau"]),
        ]
        for username, name, unit_id, roles in people:
            s.add(User(username=username, display_name=name, password_hash=password, unit_id=unit_id,
                       roles=[UserRole(role=r) for r in roles]))


def actor(username: str) -> Actor:
    with transaction() as s:
        return Actor.from_user(s.scalar(select(User).where(User.username == username)), "127.0.0.1")
