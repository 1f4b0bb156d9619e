"""`zhaoshang import-projects`: a county's existing ledger (台账) brought in, each project at the entry
point its model declares for the row's stage, with one 导入 event, no decision made up, bad rows named by
number and nothing half-imported; a dry run changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from openpyxl import Workbook
from service_support import advance, ready
from sqlalchemy import func, select

from workflows.commands import cli, project_import
from workflows.commands.provisioning import Refused, RowErrors
from workflows.db import transaction
from workflows.models import AuditEvent, ProcessInstance

HEADER = [
    "项目名称",
    "投资方",
    "产业/产业链",
    "投资额（万元，人民币）",
    "币种（内资/外资）",
    "项目落户地",
    "来源渠道",
    "联系人",
    "联系电话",
    "阶段",
    "登记日期",
]
LEAD_ROW = [
    "智能农机装备制造项目",
    "湖南田野农机有限公司",
    "农产品加工·稻虾产业链",
    18000,
    "人民币（内资）",
    "经济开发区",
    "商协会",
    "周强",
    "13900001111",
    "线索",
    "2025-11-03",
]
NEGOTIATING_ROW = [
    "冷链物流园项目",
    "湖南洞庭冷链物流有限公司",
    "现代物流",
    30000,
    "CNY",
    "南洲镇",
    "以商招商",
    "刘芳",
    "0737-5221234",
    "洽谈",
    "2025-06-18",
]


def ledger(path: Path, rows: list[list], header: list[str] = HEADER) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def counts() -> tuple[int, int]:
    with transaction() as s:
        return (
            s.scalar(select(func.count()).select_from(ProcessInstance)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
        )


def by_name(name: str) -> ProcessInstance:
    with transaction() as s:
        return s.scalar(select(ProcessInstance).where(ProcessInstance.project_name == name))


def test_each_row_enters_at_its_stage_with_one_import_event_and_no_decision_made_up(database, tmp_path):
    path = ledger(tmp_path / "台账.xlsx", [LEAD_ROW, NEGOTIATING_ROW])
    before = counts()
    planned = project_import.import_projects(path, "南县", "zhaoshang", dry_run=True)
    assert [(p.row, p.stage, p.waiting_at) for p in planned] == [
        (2, "线索", ["研判专班初审"]),
        (3, "洽谈", ["项目洽谈"]),
    ]
    assert counts() == before  # the dry run rolled back

    imported = project_import.import_projects(path, "南县", "zhaoshang")
    assert [p.waiting_at for p in imported] == [["研判专班初审"], ["项目洽谈"]]
    lead, negotiating = by_name("智能农机装备制造项目"), by_name("冷链物流园项目")
    assert lead.investor == "湖南田野农机有限公司" and float(lead.amount_wan) == 18000
    assert [r.spec_name for r in ready(lead.id)] == ["screening"]
    assert [r.spec_name for r in ready(negotiating.id)] == ["negotiation"]
    with transaction() as s:
        events = list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.instance_id == negotiating.id).order_by(AuditEvent.id)
            )
        )
    imports = [e for e in events if e.action == "project_imported"]
    assert len(imports) == 1 and imports[0].actor == "zhaoshang"
    assert imports[0].data["row"] == 3 and imports[0].data["stage"] == "洽谈"
    assert imports[0].data["registered_on"] == "2025-06-18"
    assert imports[0].data["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # Only the registration form (the ledger's own data) is completed: nobody screened the project here.
    completed = [e.task_spec for e in events if e.action == "task_completed"]
    assert completed == ["register_lead"]
    assert not any(e.task_spec == "screening" for e in events)

    # The imported project carries on as any other: negotiation, then the head of office's approval, with
    # the class the rules proposed (there was no screening to confirm one).
    advance(negotiating.id, "negotiation")
    assert [r.spec_name for r in ready(negotiating.id)] == ["approve_terms"]
    advance(lead.id, "screening", confirmed_class="重点")  # what the rules propose for it
    assert [r.spec_name for r in ready(lead.id)] == ["negotiation"]

    # The same ledger again: every row names a project the county already has; refused, nothing added.
    middle = counts()
    with pytest.raises(RowErrors) as again:
        project_import.import_projects(path, "南县", "zhaoshang")
    assert [row for row, _ in again.value.errors] == [2, 3]
    assert "本县已有该项目（冷链物流园项目，湖南洞庭冷链物流有限公司）" in again.value.errors[1][1]
    assert counts() == middle


def test_bad_rows_are_listed_by_number_and_nothing_is_imported(sqlite_database, tmp_path):
    rows = [
        LEAD_ROW,
        [*NEGOTIATING_ROW[:8], "12345", "洽谈", "2025-06-18"],  # not a phone number
        [*NEGOTIATING_ROW[:9], "已开工", "2025-06-18"],  # no entry point for that stage
        [*NEGOTIATING_ROW[:9], "洽谈", "去年六月"],  # not a date
        [*NEGOTIATING_ROW[:4], "欧元", *NEGOTIATING_ROW[5:]],  # a currency the form does not offer
        LEAD_ROW,
    ]  # the first row twice
    path = ledger(tmp_path / "bad.xlsx", rows)
    before = counts()
    with pytest.raises(RowErrors) as bad:
        project_import.import_projects(path, "南县", "zhaoshang")
    by_row = {}
    for row, message in bad.value.errors:
        by_row.setdefault(row, []).append(message)
    assert sorted(by_row) == [3, 4, 5, 6, 7]
    assert any(m.startswith("联系电话") for m in by_row[3])
    assert "阶段“已开工”不是流程模型声明的导入入口（可用：线索、初筛、洽谈）" in by_row[4][0]
    assert "登记日期“去年六月”不是日期" in by_row[5][0]
    assert any(m.startswith("币种") for m in by_row[6])
    assert "与第 2 行是同一项目" in by_row[7][0]
    assert counts() == before

    with pytest.raises(Refused, match="缺少列“阶段”"):
        project_import.import_projects(
            ledger(tmp_path / "no-stage.xlsx", [LEAD_ROW[:9]], HEADER[:9]), "南县", "zhaoshang"
        )
    with pytest.raises(RowErrors, match="登记人 nobody 不是南县的在用账号"):
        project_import.import_projects(path, "南县", "nobody")
    with pytest.raises(RowErrors, match="没有发起本流程的角色"):
        project_import.import_projects(ledger(tmp_path / "one.xlsx", [LEAD_ROW]), "南县", "shangwu")
    assert counts() == before


def test_entry_points_are_the_models_a_county_whose_model_declares_no_negotiation_entry_refuses_that_stage(
    sqlite_database, tmp_path
):
    """桃江县 runs the 湘西州-style variant, which declares only 线索 and 初筛 as entry points."""
    path = ledger(tmp_path / "tj.xlsx", [NEGOTIATING_ROW])
    with pytest.raises(RowErrors, match="可用：线索、初筛"):
        project_import.import_projects(path, "桃江县", "tj_zhaoshang")
    lead = ledger(tmp_path / "tj-lead.xlsx", [LEAD_ROW])
    imported = project_import.import_projects(lead, "桃江县", "tj_zhaoshang")
    assert len(imported) == 1 and imported[0].waiting_at


def test_the_command_line_prints_the_plan_on_a_dry_run_and_the_bad_rows_with_exit_status_1(
    sqlite_database, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_URL", sqlite_database)
    monkeypatch.setenv("ZS_DEMO_DATA", "0")
    path = ledger(tmp_path / "台账.xlsx", [LEAD_ROW, NEGOTIATING_ROW])
    code = cli.main(["import-projects", str(path), "--county", "南县", "--officer", "zhaoshang", "--dry-run"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "试运行" in out.out and "第 3 行" in out.out and "项目洽谈" in out.out
    assert by_name("冷链物流园项目") is None
    assert cli.main(["import-projects", str(path), "--county", "南县", "--officer", "zhaoshang"]) == 0
    assert "已导入 2 个项目" in capsys.readouterr().out
    assert by_name("冷链物流园项目") is not None
    bad = ledger(tmp_path / "bad.xlsx", [[*LEAD_ROW[:9], "已开工", "2025-01-01"]])
    assert cli.main(["import-projects", str(bad), "--county", "南县", "--officer", "zhaoshang"]) == 1
    err = capsys.readouterr().err
    assert "第 2 行" in err and "未导入" in err
