"""The command line: `zhaoshang <command>` (console script, pyproject.toml), or `python -m workflows.commands.cli`.

Every command reads its settings the way the web app does (workflows/config.py): the same database,
instance folder, checkpoint file and HMAC key. Exit status 0 on success, 1 when refused or when rows
are bad (nothing written), 2 for a usage error or a schema not at head in production.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workflows import config

DESCRIPTION = """招商引资项目评审与签约系统 命令行 / command line of the investment-project review and signing system.

常用顺序 / a new installation:
  zhaoshang db upgrade                       建库或升级数据库结构 / create or upgrade the schema
  zhaoshang init deploy/units-example.csv    市州、县、单位和管理员 / prefecture, counties, units, administrators
  zhaoshang import-users staff.xlsx          导入用户 / import the staff
  zhaoshang import-projects 台账.xlsx --county 南县 --officer zhaoshang --dry-run
                                             试导入项目台账 / try importing the project ledger
  zhaoshang filing-keys generate --county 南县 备案接口签名密钥（与市/州部署之间） / the filing API's
                                             signing key (between county and prefecture deployments)

各命令的说明 / each command's options: zhaoshang <command> --help
"""


def _delegate(module: str, *prefix: str):
    def run(argv: list[str]) -> int:
        from importlib import import_module

        return import_module(f"workflows.commands.{module}").main([*prefix, *argv]) or 0
    return run


# Commands that are the existing modules' own command lines (their --help is theirs).
DELEGATED = {
    "scheduler": (_delegate("scheduler"), ("定时任务：到期提醒、升级、备案消息、审计检查点 / fire due timers, send the outbox, "
                  "write audit checkpoints (--once, --interval)")),
    "verify": (_delegate("verify"), ("核验审计链、锚点与重放 / verify the audit chain, its anchors, replay (--project, --replay, "
               "--checkpoint)")),
    "deploy-model": (_delegate("deploy_model"), "部署新的流程模型版本 / deploy a process-model version (zip or folder)"),
    "backup": (_delegate("backup", "create"), ("写备份归档 / write a backup archive (ARCHIVE or --into FOLDER "
               "[--keep-days N])")),
    "restore": (_delegate("backup", "restore"), "从归档恢复到空数据库 / restore an archive into an empty database"),
}


def _with_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("-h", "--help", action="help", help="显示本说明并退出 / show this help and exit")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zhaoshang", add_help=False, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="设置（环境变量） / settings (environment variables):\n" + config.describe())
    _with_help(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>",
                                     title="命令 / commands")

    init = commands.add_parser(
        "init", add_help=False, help="初始化市州、县、单位和管理员（只能运行一次） / create the prefecture, counties, units and "
                     "administrators (once)",
        description="按南政发〔2022〕6号附件格式的单位名单（列：县, 单位代码, 单位名称, 类别）建立市州、各县及其单位，"
                    "并建立系统管理员、安全管理员、审计管理员，各打印一次随机一次性密码。数据库中已有组织机构时拒绝运行。 / "
                    "Creates the prefecture, its counties and their units from a unit list shaped like the annex of "
                    "南政发〔2022〕6号 (columns 县, 单位代码, 单位名称, 类别), and the administrators, each printed "
                    "once with a random one-time password. Refuses a database that already has organisations.")
    _with_help(init)
    init.add_argument("units", type=Path, help="单位名单 CSV 或 XLSX / the unit list, CSV or XLSX")
    init.add_argument("--prefecture", help="市州名称（默认 ZS_PREFECTURE_NAME） / the prefecture's name "
                                           "(default ZS_PREFECTURE_NAME); rows whose 县 is this name are its own units")
    init.add_argument("--filing-prefix", help="备案编号前缀（默认 ZS_FILING_PREFIX） / prefix of filing numbers")
    init.add_argument("--admin-unit", metavar="县/单位代码",
                      help="管理员所在单位（默认第一个县的综合协调单位） / the administrators' unit, e.g. 南县/swj "
                           "(default: the first county's 综合协调单位)")

    users = commands.add_parser(
        "import-users", add_help=False, help="从 CSV/XLSX 导入用户（列：用户名, 姓名, 单位代码, 角色） / import users",
        description="每行一个用户：用户名, 姓名, 单位代码, 角色（多个用顿号或逗号分隔，中文名或代码），可选列 县、邮箱。"
                    "有错误的行连同行号一并列出，此时一个也不导入。每个用户打印一次随机一次性密码。 / One user per row: "
                    "username, name, unit code, roles (separated by 、 or commas; names or codes), optional county "
                    "and email. Bad rows are listed with their numbers and then nobody is imported. Each user's "
                    "random one-time password is printed once.")
    _with_help(users)
    users.add_argument("file", type=Path, help="用户名单 CSV 或 XLSX / the user list, CSV or XLSX")
    users.add_argument("--county", help="单位所在的县（表中无“县”列时） / the county of the units when the file "
                                        "has no 县 column")

    ledger = commands.add_parser(
        "import-projects", add_help=False, help="从项目台账（XLSX/CSV）导入项目 / import an existing project ledger",
        description="每行一个项目。列为本县流程首个表单的字段（按标题或字段名，如 项目名称、投资方、投资额（万元，人民币）；"
                    "选项可写其名称），另加“阶段”，可选“登记日期”“登记人”。每个项目从流程模型为该阶段声明的导入入口"
                    "（任务属性 importStage）进入，记一条“导入”事件，途中不替任何人作出决定。有错误的行连同行号一并列出，"
                    "此时一个也不导入。 / One project per row: the fields of the first form of the county's process "
                    "(by title or field name; a choice by its title), plus 阶段 (stage) and optionally 登记日期 (date) "
                    "and 登记人 (username). Each project enters at the import entry point its model declares for "
                    "the stage (task property importStage), with one import event and no decision made up. Bad "
                    "rows are listed with their numbers and then nothing is imported.")
    _with_help(ledger)
    ledger.add_argument("file", type=Path, help="项目台账 XLSX 或 CSV / the ledger, XLSX or CSV")
    ledger.add_argument("--county", required=True, help="导入到哪个县（市、区） / the county the projects belong to")
    ledger.add_argument("--officer", required=True, metavar="USERNAME",
                        help="登记人（表中无“登记人”列或该列为空时），须为该县的招商专员 / the lead officer registering "
                             "rows that name nobody")
    ledger.add_argument("--dry-run", action="store_true",
                        help="试运行：完整导入后回滚，只打印结果 / do the whole import, print it, then roll it back")

    database = commands.add_parser("db", add_help=False, help="数据库结构 / the database schema",
                                   description="数据库结构迁移（生产环境中唯一的迁移方式） / schema migrations (the only "
                                               "way they run in production)")
    _with_help(database)
    actions = database.add_subparsers(dest="action", required=True, metavar="<action>")
    _with_help(actions.add_parser("upgrade", add_help=False, help="升级到最新结构 / upgrade to the newest schema",
                                  description="建立或升级数据库结构到最新版本 / create or upgrade the schema to the "
                                              "newest revision"))

    files = commands.add_parser("files", add_help=False, help="文件存储 / the file store of attachments",
                                description="附件文件存储（ZS_FILE_STORE）：迁移与核验 / the attachments' file store "
                                            "(ZS_FILE_STORE): move and check")
    _with_help(files)
    store_actions = files.add_subparsers(dest="action", required=True, metavar="<action>")
    _with_help(store_actions.add_parser(
        "migrate", add_help=False, help="把仍存在数据库中的附件移入文件存储 / move attachments still kept in the database "
                                        "to the file store", description="逐个核对 SHA-256 后移入；可重复运行 / each is "
                                        "checked against its SHA-256, then moved; safe to run again"))
    _with_help(store_actions.add_parser(
        "check", add_help=False, help="核验每个附件的文件 / check every attachment's file",
        description="每个附件的文件都在且 SHA-256 相符；有缺失或不符时退出码为 1 / every attachment's file is there "
                    "and matches its SHA-256; exit status 1 otherwise"))

    rekey = commands.add_parser(
        "pii-rekey", add_help=False, help="个人信息密钥轮换 / re-wrap personal data under the newest key",
        description="把任务记录与草稿中加密的个人信息改用 ZS_PII_KEYS 的第一个密钥封装；审计事件与流程状态不改写，"
                    "列出仍使用旧密钥的数量 / re-wrap the personal data of task records and drafts under the first key "
                    "of ZS_PII_KEYS; audit events and engine states are not rewritten: their counts per old key are "
                    "listed")
    _with_help(rekey)
    rekey.add_argument("--dry-run", action="store_true", help="只统计不写入 / count, change nothing")
    keys = commands.add_parser(
        "filing-keys", add_help=False, help="备案接口的签名密钥 / the filing API's signing key",
        description="本部署的签名私钥（Ed25519 或 SM2，ZS_FILING_SIGNING_KEY_FILE）：生成、查看公钥。私钥留在本机，"
                    "只把公钥交给对方部署。 / This deployment's signing key (Ed25519 or SM2, ZS_FILING_SIGNING_KEY_FILE): "
                    "make one, show its public key. The private key stays on this machine; only the public key "
                    "goes to the other deployment.")
    _with_help(keys)
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="<action>")
    generate = _with_help(key_actions.add_parser(
        "generate", add_help=False, help="生成私钥并打印公钥 / make a private key and print its public key",
        description="生成新的私钥（PEM，仅所有者可读；算法按 --algorithm 或 ZS_FILING_SIGNATURE_ALGORITHM，默认 "
                    "Ed25519），打印公钥、公钥编号以及对方部署应配置的设置。"
                    "已有的私钥文件不会被覆盖：轮换时用 --out 写到新文件。 / Makes a new private key (PEM, "
                    "readable by its owner only) and prints the public key, its key id and the settings the "
                    "other deployment configures. An existing key file is never overwritten: to rotate, write "
                    "the new one elsewhere with --out."))
    generate.add_argument("--out", type=Path, help="私钥文件（默认 ZS_FILING_SIGNING_KEY_FILE） / the key file "
                                                   "(default ZS_FILING_SIGNING_KEY_FILE)")
    generate.add_argument("--algorithm", choices=("ed25519", "sm2"),
                          help="签名算法（默认 ZS_FILING_SIGNATURE_ALGORITHM，未设则 ed25519；sm2 为 SM2/SM3 国密签名） / "
                               "the signature algorithm (default ZS_FILING_SIGNATURE_ALGORITHM, else ed25519; sm2: "
                               "SM2 with SM3)")
    generate.add_argument("--county", action="append", default=[], metavar="县名",
                          help="本部署报备的县（可重复），用于打印市/州部署的设置 / a county of this deployment "
                               "(repeatable), to print the prefecture's setting for it")
    show = _with_help(key_actions.add_parser(
        "show", add_help=False, help="打印现有私钥的公钥 / print the public key of the existing key",
        description="打印私钥文件对应的公钥和公钥编号 / prints the public key and key id of the key file"))
    show.add_argument("--key", type=Path, help="私钥文件（默认 ZS_FILING_SIGNING_KEY_FILE） / the key file "
                                               "(default ZS_FILING_SIGNING_KEY_FILE)")
    show.add_argument("--county", action="append", default=[], metavar="县名",
                      help="本部署报备的县（可重复） / a county of this deployment (repeatable)")

    for name, (_run, text) in DELEGATED.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return config.run_command(DELEGATED[argv[0]][0], argv[1:])
    args = build_parser().parse_args(argv)
    return config.run_command(lambda _argv: COMMANDS[args.command](args))


def _db(args) -> int:
    from workflows import db

    settings = config.load()
    config.bind(settings)
    before, _heads = config.schema_state()
    db.upgrade()
    after, _ = config.schema_state()
    print(f"数据库结构 / schema: {', '.join(before) or '空 / empty'} → {', '.join(after)}"
          + ("（已是最新 / already at head）" if before == after else ""))
    return 0


def _init(args) -> int:
    from workflows.commands import provisioning

    settings = config.start()
    try:
        result = provisioning.init(args.units, args.prefecture or settings["PREFECTURE_NAME"],
                                   args.filing_prefix or settings["FILING_PREFIX"], args.admin_unit)
    except provisioning.RowErrors as bad:
        print(f"未导入：{len(bad.errors)} 处错误 / nothing created, {len(bad.errors)} problem(s):\n{bad}", file=sys.stderr)
        return 1
    except provisioning.Refused as err:
        print(f"拒绝 / refused: {err}", file=sys.stderr)
        return 1
    counties = "，".join(f"{name} {count} 个单位" for name, count in result.counties.items())
    print(f"已建立 / created: {result.prefecture}；{counties}")
    print("管理员（密码只显示这一次，请立即登录并修改） / administrators (each password is shown only now; sign in "
          "and change it):")
    for username, display, role, password in result.administrators:
        print(f"  {display}\t{username}\t{password}\t({role})")
    for display, role in result.awaiting_roles:
        print(f"  {display}：未建立，本版本尚无角色 {role} / not created: this version has no role {role} yet")
    return 0


def _import_users(args) -> int:
    from workflows.commands import provisioning

    config.start()
    from workflows.services import role_service

    role_service.refresh_roles()  # business roles are data: the ones an administrator added count too
    try:
        created = provisioning.import_users(args.file, args.county)
    except provisioning.RowErrors as bad:
        print(f"未导入：{len(bad.errors)} 处错误 / nobody imported, {len(bad.errors)} problem(s):\n{bad}",
              file=sys.stderr)
        return 1
    except provisioning.Refused as err:
        print(f"拒绝 / refused: {err}", file=sys.stderr)
        return 1
    print(f"已导入 {len(created)} 个用户（密码只显示这一次） / {len(created)} user(s) imported (passwords shown only now):")
    for username, name, password in created:
        print(f"  {name}\t{username}\t{password}")
    return 0


def _import_projects(args) -> int:
    from workflows.commands import project_import, provisioning

    config.start()
    try:
        projects = project_import.import_projects(args.file, args.county, args.officer, dry_run=args.dry_run)
    except provisioning.RowErrors as bad:
        print(f"未导入：{len(bad.errors)} 处错误 / nothing imported, {len(bad.errors)} problem(s):\n{bad}",
              file=sys.stderr)
        return 1
    except provisioning.Refused as err:
        print(f"拒绝 / refused: {err}", file=sys.stderr)
        return 1
    for project in projects:
        print(f"  第 {project.row} 行 / row {project.row}\t{project.name}\t{project.stage} → "
              f"{'、'.join(project.waiting_at) or '已结束 / ended'}")
    if args.dry_run:
        print(f"试运行：可导入 {len(projects)} 个项目，未写入任何数据 / dry run: {len(projects)} project(s) would be "
              "imported, nothing was written")
    else:
        print(f"已导入 {len(projects)} 个项目 / {len(projects)} project(s) imported")
    return 0


def _files(args) -> int:
    config.start()
    from workflows.services import attachment_service

    if args.action == "migrate":
        moved, refused = attachment_service.move_to_store()
        print(f"已移入文件存储 {moved} 个 / {moved} moved to the file store")
        for attachment_id in refused:
            print(f"  附件 #{attachment_id}：内容与 SHA-256 不符，未移动 / content does not match its SHA-256, "
                  "left in the database", file=sys.stderr)
        return 1 if refused else 0
    report = attachment_service.check_store()
    print(f"附件 {report['checked']} 个，完好 {report['intact']} / {report['checked']} attachment(s), "
          f"{report['intact']} intact")
    for attachment_id, problem in report["problems"]:
        print(f"  附件 #{attachment_id}：{problem}", file=sys.stderr)
    return 1 if report["problems"] else 0


def _pii_rekey(args) -> int:
    config.start()
    from workflows.services import personal_data_service

    report = personal_data_service.rekey(dry_run=args.dry_run)
    print(f"当前密钥 / current key: {report['current']}；{'试运行 / dry run：' if args.dry_run else ''}"
          f"改封装 {report['rewrapped']} 个值（{report['records']} 条任务记录） / {report['rewrapped']} value(s) "
          f"re-wrapped in {report['records']} task record(s)")
    for place, kids in report["kept"].items():
        for kid, count in sorted(kids.items()):
            print(f"  {place}: {count} 个值仍用密钥 / value(s) still under key {kid}")
    return 1 if report["kept"]["unreadable"] else 0


def _filing_keys(args) -> int:
    from workflows import filing_exchange

    settings = config.load()  # no database: a key is made before anything else is set up
    path = Path(getattr(args, "out", None) or getattr(args, "key", None) or settings["FILING_SIGNING_KEY_FILE"])
    try:
        if args.action == "generate":
            algorithm = (args.algorithm or settings["FILING_SIGNATURE_ALGORITHM"] or filing_exchange.ED25519).lower()
            key = filing_exchange.generate_private(path, algorithm)
            print(f"已生成 {algorithm.upper()} 私钥 / {algorithm.upper()} private key written: {path}"
                  "（仅所有者可读，勿外传 / owner-only, never share it）")
        else:
            key = filing_exchange.load_private(path)
            if key is None:
                print(f"拒绝：没有私钥文件 {path}（先运行 zhaoshang filing-keys generate） / refused: no key file "
                      f"{path} (run zhaoshang filing-keys generate first)", file=sys.stderr)
                return 1
    except FileExistsError:
        print(f"拒绝：{path} 已存在，不覆盖；轮换时用 --out 写到新文件 / refused: {path} exists and is not "
              "overwritten; to rotate, write the new key elsewhere with --out", file=sys.stderr)
        return 1
    except filing_exchange.KeyConfigError as err:
        print(f"拒绝 / refused: {err}", file=sys.stderr)
        return 1
    public = filing_exchange.public_text(key)
    print(f"公钥 / public key: {public}")
    print(f"公钥编号 / key id: {filing_exchange.key_id(key)}（{filing_exchange.algorithm_of(key).upper()}）")
    if filing_exchange.algorithm_of(key) == filing_exchange.SM2:
        print("本部署以 SM2 签名，设置 / this deployment signs with SM2, set: ZS_FILING_SIGNATURE_ALGORITHM=sm2")
    print("本部署是县时，在市/州部署的设置中加入 / if this is a county deployment, the prefecture adds:")
    counties = ",".join(f"{name}={public}" for name in args.county) or f"<县名>={public}"
    print(f"  ZS_FILING_COUNTY_KEYS={counties}")
    print("本部署是市/州时，在各县部署的设置中加入 / if this is the prefecture deployment, each county adds:")
    print(f"  ZS_FILING_PREFECTURE_KEYS={public}")
    return 0


COMMANDS = {"init": _init, "import-users": _import_users, "import-projects": _import_projects, "db": _db,
            "files": _files, "filing-keys": _filing_keys, "pii-rekey": _pii_rekey}


if __name__ == "__main__":
    sys.exit(main())
