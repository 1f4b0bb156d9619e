"""Documents (文书) of a project as PDF: who may have them, what goes into them, and the audit record
of every generation (action `document_generated`, with the PDF's SHA-256 and the document kind).

The data comes from the project's completed steps (TaskRecord), its filing and its audit log; the
rendering is workflows/rendering/documents. Which documents a project has, and which of its steps fill them, its
model declares (workflows/rendering/documents/declarations.py, docs/process.md): no task id or answer of a
shipped model is named here. Texts put on paper are Chinese only (official documents).
"""
from __future__ import annotations

import hashlib
import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import audit, auth, forms, personal_data
from workflows.action_names import ACTION_NAMES
from workflows.actor import Actor
from workflows.db import transaction
from workflows.deadlines import START_WITHIN_MONTHS, add_months
from workflows.engine.model_store import form_file_names, form_files
from workflows.errors import Conflict, NotFound
from workflows.localtime import to_local
from workflows.models import Filing, ModelVersion, Organisation, ProcessInstance, TaskRecord, Unit, User
from workflows.models._types import utcnow
from workflows.rendering import documents
from workflows.rendering.documents.declarations import (
    ALWAYS,
    ANSWER_CLASSES,
    REQUIRED,
    Declarations,
    declarations,
)
from workflows.services.lookups import unit_name
from workflows.services.project_records import history, project_data

KINDS = documents.KINDS
# Signing → start of construction within 6 months (《郴州市关于进一步加强招商引资工作的实施意见》 §3: 原则上合同签约到开工落地一般不超过6个月).
# How long the addressee of a 项目推进提醒函 has to report back: our default, not from the seeds.
REMINDER_REPLY_WORKING_DAYS = 10
# Project data shown in a form's head rows, so not repeated in every opinion box.
SUMMARY_KEYS = {"project_name", "investor", "industry", "amount_wan", "currency", "amount_usd_wan", "host_site",
                "source_channel", "source_org", "contact_name", "contact_phone", "plan_summary", "land_mu",
                "tax_per_mu_wan", "annual_output_wan", "jobs", "incentives", "special_terms",
                "special_terms_detail", "needs_new_land", "water_use", "hazardous", "forestry"}
# Why a declared document cannot be generated yet: its required place (declarations.REQUIRED) has no
# completed step, or (filing form) the project has no filing.
NOT_YET = {"joint-review": "该项目尚无部门会审意见，暂不能生成联合会审意见汇总表。",
           "contract-review": "该项目尚未完成合同审查，暂不能生成合同审签单。",
           "filing-form": "该项目尚未报市/州商务局备案，暂不能生成备案表。",
           "reminder-letter": "项目推进提醒函只适用于已签约的项目。"}


def document_list(actor: Actor, instance_id: int) -> list[tuple[str, str]]:
    """(kind, title) of the documents this user may generate for the project now; [] if none."""
    with transaction() as s:
        instance = _get(s, instance_id)
        if not auth.project_view(s, actor, instance):
            return []
        decl = _declared(s, instance)
        return [(kind, title) for kind, title in KINDS.items()
                if decl.has(kind) and auth.document_generate(s, actor, instance, kind)
                and _unavailable(s, instance, kind) is None]


def document_pdf(actor: Actor, instance_id: int, kind: str, addressee: str | None = None) -> tuple[str, bytes]:
    """(file name, PDF) of one document of a project, recorded in the audit log with its SHA-256.

    Not allowed to see the project → Forbidden; unknown kind → NotFound; the reminder letter is the
    county commerce bureau's → Forbidden for others; a document whose stage the project has not
    reached (no filing yet …) → Conflict. `addressee` is the unit code a reminder letter is sent to
    (default: the project's host site).
    """
    with transaction() as s:
        instance = _get(s, instance_id)
        auth.require(auth.project_view(s, actor, instance), "您无权查看该项目。")
        if kind not in KINDS:
            raise NotFound("没有这种文书。")
        auth.require(auth.document_generate(s, actor, instance, kind), "只有本县县商务局可以出具项目推进提醒函。")
        missing = _unavailable(s, instance, kind)
        if missing:
            raise Conflict(missing)
        if kind == "reminder-letter":
            unit = _addressee(s, instance, addressee)
            context = _reminder_context(s, instance, unit, _days_overdue(s, instance), contact=actor.display_name)
        else:
            context = BUILDERS[kind](s, instance)
    # Rendered outside the transaction: SQLite's write lock is not held while WeasyPrint works.
    pdf = documents.render(kind, context)
    name = filename(kind, context["project"]["name"])
    with transaction() as s:
        _record(s, instance_id, kind, name, pdf, actor.username, actor.address,
                {"addressee": context["addressee"], "days_overdue": context["days_overdue"]}
                if kind == "reminder-letter" else None)
    return name, pdf


def reminder_letter(s: Session, instance: ProcessInstance, addressee_code: str, days_overdue: int, *,
                    by: str = "system", address: str | None = None) -> tuple[str, bytes]:
    """项目推进提醒函 (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十二)) to a responsible unit about a signed project that has not
    started construction, inside the caller's transaction (a timer's engine step, for instance).

    `days_overdue` > 0: the letter says by how many days the start deadline (signing + 6 months) is
    past; 0 or less: how many days are left. Recorded in the audit log like every document.
    """
    unit = _addressee(s, instance, addressee_code)
    context = _reminder_context(s, instance, unit, days_overdue)
    pdf = documents.render("reminder-letter", context)
    name = filename("reminder-letter", instance.project_name)
    _record(s, instance.id, "reminder-letter", name, pdf, by, address,
            {"addressee": context["addressee"], "days_overdue": days_overdue})
    return name, pdf


def filing_form_pdf(instance_id: int, *, by: str = "system") -> tuple[str, bytes]:
    """The 备案表 a county sends with its filing to a remote prefecture (filing exchange): made by
    the system, not for a user, and recorded in the audit log like every document."""
    with transaction() as s:
        context = _filing_form(s, _get(s, instance_id))
    pdf = documents.render("filing-form", context)
    name = filename("filing-form", context["project"]["name"])
    with transaction() as s:
        _record(s, instance_id, "filing-form", name, pdf, by, None, {"sent_to": "prefecture"})
    return name, pdf


def filename(kind: str, project_name: str) -> str:
    """项目评审表-年产10万吨稻虾深加工项目.pdf: the title, then the project's name without characters
    file systems refuse."""
    safe = re.sub(r'[\\/:*?"<>|\s]+', "", project_name or "")[:60] or "项目"
    return f"{KINDS[kind]}-{safe}.pdf"


def _record(s: Session, instance_id: int, kind: str, name: str, pdf: bytes, by: str, address: str | None,
            extra: dict | None) -> None:
    audit.append(s, "document_generated", actor=by, instance_id=instance_id, outcome=KINDS[kind],
                 data={"kind": kind, "title": KINDS[kind], "filename": name, "size": len(pdf),
                       "sha256": hashlib.sha256(pdf).hexdigest(), **(extra or {})},
                 address=address)


def _get(s: Session, instance_id: int) -> ProcessInstance:
    instance = s.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("项目不存在。")
    return instance


def _completed(s: Session, instance: ProcessInstance, *specs: str) -> list[TaskRecord]:
    query = select(TaskRecord).where(TaskRecord.instance_id == instance.id, TaskRecord.state == "completed")
    if specs:
        query = query.where(TaskRecord.spec_name.in_(specs))
    return list(s.scalars(query.order_by(TaskRecord.completed_at, TaskRecord.id)))


_DECLARED: dict[tuple[str, str], Declarations] = {}


def _declared(s: Session, instance: ProcessInstance) -> Declarations:
    """The documents the project's model version declares (kept by the version's content hash: a
    version's files never change)."""
    version = s.get(ModelVersion, instance.model_version_id)
    key = (version.content_hash, version.process_id)
    if key not in _DECLARED:
        if len(_DECLARED) > 64:
            _DECLARED.clear()
        _DECLARED[key] = declarations(version.files, version.process_id)
    return _DECLARED[key]


def _filled(s: Session, instance: ProcessInstance, kind: str, slot: str, *,
            declared_only: bool = True) -> list[TaskRecord]:
    """The completed steps filling a place of a document, oldest first (none when the model does not
    declare the document, unless `declared_only` is False)."""
    tasks = _declared(s, instance).tasks_for(kind, slot, declared_only=declared_only)
    return _completed(s, instance, *tasks) if tasks else []


def _last(s: Session, instance: ProcessInstance, kind: str, slot: str, **kw) -> TaskRecord | None:
    rows = _filled(s, instance, kind, slot, **kw)
    return rows[-1] if rows else None


def _filing(s: Session, instance: ProcessInstance) -> Filing | None:
    return s.scalar(select(Filing).where(Filing.instance_id == instance.id))


def _unavailable(s: Session, instance: ProcessInstance, kind: str) -> str | None:
    """Why the project has no such document yet, or None when it can be generated."""
    if kind == ALWAYS:
        return None
    if not _declared(s, instance).has(kind):
        return "该项目的流程没有这种文书。"
    if kind in REQUIRED and not _filled(s, instance, kind, REQUIRED[kind]):
        return NOT_YET[kind]
    if kind == "filing-form" and _filing(s, instance) is None:
        return NOT_YET[kind]
    return None


# ---- What goes into the documents --------------------------------------------------------------

def _common(s: Session, instance: ProcessInstance, kind: str) -> dict:
    county = s.get(Organisation, instance.county_id)
    registered = to_local(instance.created_at)
    version = s.get(ModelVersion, instance.model_version_id)
    if _declared(s, instance).kinds:  # a project model: 南县招商引资项目评审表
        heading = f"{county.name}招商引资{'' if KINDS[kind].startswith('项目') else '项目'}{KINDS[kind]}"
    else:  # a model without documents has its record only: 南县投资者投诉办理记录
        heading = f"{county.name}{version.name}记录"
    return {
        "county": county.name,
        # The issuer is the county's commerce bureau (县商务局 / 县投资促进服务中心), named with its county.
        "issuer": f"{county.name}商务局",
        "heading": heading,
        "doc_number": documents.document_number(county.name, kind, registered.year, instance.id),
        "issued": to_local(utcnow()).date(),
        "project": _project(s, instance),
    }


def _project_schema(s: Session, instance: ProcessInstance) -> dict:
    """The form of the step whose data is the project itself (declared `review-form.project`)."""
    version = s.get(ModelVersion, instance.model_version_id)
    decl = _declared(s, instance)
    for task_id in decl.tasks_for("review-form", "project", declared_only=False):
        schema = _schema(version, decl.task(task_id).form)
        if schema:
            return schema.get("properties", {})
    return {}


def _project(s: Session, instance: ProcessInstance) -> dict:
    data = personal_data.mask_all(project_data(s, instance))
    fields = _project_schema(s, instance)
    source = forms.option_title(fields.get("source_channel", {}), data.get("source_channel")) or ""
    if data.get("source_org"):
        source = f"{source}（{data['source_org']}）"
    if instance.status == "running":
        status = f"办理中（当前环节：{instance.stage}）" if instance.stage else "办理中"
    elif instance.status == "cancelled":
        status = "已撤销"
    else:
        status = f"已办结（{instance.stage}）"
    return {
        "name": instance.project_name, "investor": instance.investor, "industry": data.get("industry"),
        "amount_wan": data.get("amount_wan", instance.amount_wan),
        # The currency as the project's form names it; a foreign amount where the form recorded one.
        "currency": forms.option_title(fields.get("currency", {}), data.get("currency")) or "—",
        "amount_usd_wan": data.get("amount_usd_wan"),
        "project_class": instance.project_class, "host_site": unit_name(s, instance, data.get("host_site")),
        "source": source, "land_mu": data.get("land_mu"), "tax_per_mu_wan": data.get("tax_per_mu_wan"),
        "annual_output_wan": data.get("annual_output_wan"), "jobs": data.get("jobs"),
        "incentives": data.get("incentives"), "special_terms": bool(data.get("special_terms")),
        "special_terms_detail": data.get("special_terms_detail"),
        "exec_minutes_number": data.get("exec_minutes_number"), "plan_summary": data.get("plan_summary"),
        "started_by": instance.started_by.display_name, "started_unit": instance.started_unit.name,
        "registered_at": instance.created_at, "status": status,
    }


def _schema(version: ModelVersion, form: str | None) -> dict:
    if not form or form_file_names(version.files, form)[0] not in version.files:
        return {}
    return form_files(version, form)[0]


def _box(s: Session, record: TaskRecord | None) -> dict | None:
    """An opinion box: the step's decision and opinion (the fields its task declares as
    decisionField / opinionField), the facts it recorded (labelled from its form), who signed (and
    for whom), the drawn signature and the date."""
    if record is None:
        return None
    version = s.get(ModelVersion, record.instance.model_version_id)
    properties = _schema(version, record.form).get("properties", {})
    declared = _declared(s, record.instance).task(record.spec_name)
    decision_field = declared.field_of("decisionField") if declared else None
    opinion_field = declared.field_of("opinionField") if declared else None
    data = personal_data.mask_all(record.data or {})  # no document needs personal data in clear
    decision, lines, opinions = None, [], []
    for key, prop in properties.items():
        value = data.get(key)
        if value in (None, "", []) or prop.get("readOnly") or key in SUMMARY_KEYS:
            continue
        shown = forms.option_title(prop, value)
        label = prop.get("title", key)
        if key == decision_field:
            decision = str(shown)
        elif key == opinion_field:
            opinions.append({"text": str(value), "opinion": True})
        elif isinstance(value, bool):
            lines.append({"text": f"{label}：{'是' if value else '否'}", "opinion": False})
        elif prop.get("format") == "date":
            lines.append({"text": f"{label}：{documents.cn_date(value)}", "opinion": False})
        else:
            lines.append({"text": f"{label}：{shown}", "opinion": False})
    if decision is None and not lines and not opinions:
        return None
    unit = unit_name(s, record.instance, record.unit_code)
    return {
        # `lines`: the facts the step recorded, then its opinion; `opinions`: the opinion alone.
        "label": record.title, "unit": unit, "decision": decision, "lines": lines + opinions, "opinions": opinions,
        "by": record.completed_by.display_name if record.completed_by else None,
        "acted_for": s.get(User, record.acted_for_id).display_name if record.acted_for_id else None,
        "at": record.completed_at, "signature": documents.png_data_uri(record.signature_png),
    }


def _opinion_rows(s: Session, instance: ProcessInstance, task_ids: tuple[str, ...]) -> list[dict]:
    """Department opinions side by side: each unit's latest completed step among `task_ids` (a 加签
    round replaces the unit's earlier opinion), read through the fields its task declares."""
    if not task_ids:
        return []
    decl = _declared(s, instance)
    version = s.get(ModelVersion, instance.model_version_id)
    latest: dict[str | None, TaskRecord] = {}
    for record in _completed(s, instance, *task_ids):
        latest[record.unit_code] = record
    rows = []
    for record in latest.values():
        task = decl.task(record.spec_name)
        data = personal_data.mask_all(record.data or {})

        def value(prop: str, task=task, data=data):
            name = task.field_of(prop) if task else None
            return data.get(name) if name else None

        answer = value("decisionField")
        prop = _schema(version, record.form).get("properties", {}).get(task.field_of("decisionField") or "", {}) \
            if task else {}
        rows.append({"unit": unit_name(s, instance, record.unit_code),
                     "decision": forms.option_title(prop, answer) if answer not in (None, "") else None,
                     "answer_class": task.answers.get(answer) if task else None,
                     "conditions": value("conditionsField"), "reasons": value("reasonsField"),
                     "opinion": value("opinionField"),
                     "by": record.completed_by.display_name if record.completed_by else None,
                     "at": record.completed_at, "signature": documents.png_data_uri(record.signature_png)})
    return rows


def _review_form(s: Session, instance: ProcessInstance) -> dict:
    decl = _declared(s, instance)
    project_steps = set(decl.tasks_for("review-form", "project"))
    grouped = decl.tasks_for("review-form", "group")
    boxes: list[dict] = []
    group_at: int | None = None
    for record in _completed(s, instance):
        if record.spec_name in project_steps:
            continue
        if record.spec_name in grouped:
            # The departments' opinions are one box here (each in full on the joint-review sheet).
            if group_at is None:
                group_at = len(boxes)
                boxes.append({"group": True, "label": "联合会审", "lines": []})
            continue
        box = _box(s, record)
        if box is not None:
            boxes.append({"group": False, **box})
    if group_at is not None:
        boxes[group_at]["lines"] = [
            f"{r['unit']}：{r['decision']}" + (f"——{r['conditions']}" if r["conditions"] else "")
            + (f"——{r['reasons']}" if r["reasons"] else "")
            for r in _opinion_rows(s, instance, grouped)]
    return {**_common(s, instance, "review-form"), "boxes": boxes}


def _conditions(s: Session, instance: ProcessInstance) -> list[dict]:
    """The conditions of the opinions whose answer the model classes `conditional` (有条件同意), which
    must be written into the contract."""
    return [{"unit": r["unit"], "text": r["conditions"]}
            for r in _opinion_rows(s, instance, _declared(s, instance).answering())
            if r["answer_class"] == "conditional" and r["conditions"]]


def _joint_review(s: Session, instance: ProcessInstance) -> dict:
    decl = _declared(s, instance)
    tasks = decl.tasks_for("joint-review", "rows")
    rows = _opinion_rows(s, instance, tasks)
    # One count per answer class the model declares, labelled with the answer that has that class.
    labels: dict[str, str] = {}
    for task_id in tasks:
        for answer, cls in decl.task(task_id).answers.items():
            labels.setdefault(cls, answer)
    counts = [{"class": cls, "label": labels[cls], "count": sum(1 for r in rows if r["answer_class"] == cls)}
              for cls in ANSWER_CLASSES if cls in labels]
    return {**_common(s, instance, "joint-review"), "rows": rows, "counts": counts,
            "objections": sum(1 for r in rows if r["answer_class"] == "objection"),
            "conditions": _conditions(s, instance),
            "objection_box": _box(s, _last(s, instance, "joint-review", "objection"))}


def _reached(s: Session, instance: ProcessInstance, kind: str, slot: str) -> bool:
    """Whether the project's path has come to a step filling this place (open or done)."""
    tasks = _declared(s, instance).tasks_for(kind, slot)
    return bool(tasks) and s.scalar(select(TaskRecord.id).where(
        TaskRecord.instance_id == instance.id, TaskRecord.spec_name.in_(tasks),
        TaskRecord.state.in_(("ready", "completed"))).limit(1)) is not None


def _contract_review(s: Session, instance: ProcessInstance) -> dict:
    legal = _last(s, instance, "contract-review", "legal")
    checks = {k: (legal.data or {}).get(k) for k in ("legality_ok", "fair_competition_ok", "conditions_in_contract")}
    filing = _filing(s, instance)
    executive = _last(s, instance, "contract-review", "exec")
    exec_type = (executive.data or {}).get("exec_meeting_type") if executive else None
    common = _common(s, instance, "contract-review")
    return {**common, "checks": checks, "conditions": _conditions(s, instance),
            # Before signing (or filing) the sheet leaves the contract number to be filled in.
            "contract": {"contract_number": None, **(filing.signing if filing and filing.signing else {})},
            "legal_box": _box(s, legal), "meeting_box": _box(s, _last(s, instance, "contract-review", "meeting")),
            "exec_box": _box(s, executive), "exec_label": (exec_type or "常务会议").removeprefix("县政府"),
            # The executive meeting's row appears when the project's path went through it (the model's
            # gateway decides; it is not repeated here).
            "exec_required": _reached(s, instance, "contract-review", "exec"),
            "head_box": _box(s, _last(s, instance, "contract-review", "head"))}


def _filing_form(s: Session, instance: ProcessInstance) -> dict:
    filing = _filing(s, instance)
    prefecture = s.get(Organisation, filing.prefecture_id)
    common = _common(s, instance, "filing-form")
    # What was filed is what the prefecture received (Filing.summary), over the project's latest data.
    filed = {k: v for k, v in (filing.summary or {}).items() if v not in (None, "")}
    project = {**common["project"]}
    for key in ("industry", "amount_wan", "land_mu", "tax_per_mu_wan", "annual_output_wan", "jobs",
                "special_terms_detail", "exec_minutes_number", "project_class"):
        if key in filed:
            project[key] = filed[key]
    return {**common, "project": project, "prefecture_bureau": f"{prefecture.name}商务局",
            "filing": {"number": filing.number, "state": filing.state, "submitted_at": filing.submitted_at,
                       "accepted_at": filing.accepted_at, "times_submitted": filing.times_submitted,
                       "return_reason": filing.return_reason},
            # Before signing (the filing's normal moment) the signing rows are empty, not missing.
            "contract": {**dict.fromkeys(("contract_number", "sign_date", "signatories", "signing_place")),
                        **(filing.signing or {})}, "conditions": _conditions(s, instance),
            "head_box": _box(s, _last(s, instance, "filing-form", "head")),
            "prefecture_box": _box(s, _last(s, instance, "filing-form", "prefecture"))}


def _signed_on(s: Session, instance: ProcessInstance) -> date:
    """The signing date: the dateField of the latest step declared `reminder-letter.signed`, else the
    day it was completed; without such a step the filing's reported signing date, else today."""
    signing = _last(s, instance, "reminder-letter", "signed", declared_only=False)
    if signing is None:
        filing = _filing(s, instance)
        raw = (filing.signing or {}).get("sign_date") if filing else None
        fallback = to_local(utcnow()).date()
    else:
        task = _declared(s, instance).task(signing.spec_name)
        name = task.field_of("dateField") if task else None
        raw = (signing.data or {}).get(name) if name else None
        fallback = to_local(signing.completed_at).date()
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        return fallback


def _days_overdue(s: Session, instance: ProcessInstance) -> int:
    """Days past the start deadline (signing + 6 months), or 0 while it has not passed."""
    deadline = add_months(_signed_on(s, instance), START_WITHIN_MONTHS)
    return max(0, (to_local(utcnow()).date() - deadline).days)


def _addressee(s: Session, instance: ProcessInstance, code: str | None) -> Unit:
    """The responsible unit a reminder letter goes to: a unit of the project's county, by default its
    host site (the 园区/乡镇 where it was to be built, 《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(十二))."""
    code = code or project_data(s, instance).get("host_site")
    unit = s.scalar(select(Unit).where(Unit.organisation_id == instance.county_id, Unit.code == (code or ""),
                                       Unit.active.is_(True)))
    if unit is None:
        raise NotFound("没有这个责任单位。")
    return unit


def _reminder_context(s: Session, instance: ProcessInstance, unit: Unit, days_overdue: int,
                      contact: str | None = None) -> dict:
    common = _common(s, instance, "reminder-letter")
    signed_on = _signed_on(s, instance)
    start_by = add_months(signed_on, START_WITHIN_MONTHS)
    filing = _filing(s, instance)
    county = common["county"]
    return {**common, "addressee": unit.name, "signed_on": signed_on, "start_by": start_by, "months": START_WITHIN_MONTHS,
            "days_overdue": int(days_overdue), "days_left": max(0, (start_by - common["issued"]).days),
            # Before signing (or filing) the sheet leaves the contract number to be filled in.
            "contract": {"contract_number": None, **(filing.signing if filing and filing.signing else {})},
            "filing_number": filing.number if filing else None,
            "reply_working_days": REMINDER_REPLY_WORKING_DAYS, "contact": contact,
            "copy_to": f"{county}人民政府办公室，{county}发展开放型经济领导小组办公室"}


def _history(s: Session, instance: ProcessInstance) -> dict:
    events = []
    for e in history(s, instance.id):
        # An ending is logged by its BPMN end-event id; paper shows its name (the finished stage).
        outcome = instance.stage if e.action == "project_ended" and e.outcome == instance.outcome else e.outcome
        events.append({"at": e.at, "time": f"{to_local(e.at):%H:%M:%S}", "actor": e.actor_name,
                       "action": ACTION_NAMES.get(e.action, e.action),
                       "step": (e.task_title or "") + (f"（{e.unit_name}）" if e.unit_name else
                                                        f" #{e.mi_index + 1}" if e.mi_index is not None else ""),
                       "detail": _detail(outcome, e.data)})
    return {**_common(s, instance, "history"), "events": events}


def _detail(outcome: str | None, data: dict | None) -> str:
    """What the history shows of an event: its outcome, else a few telling fields of its data."""
    parts = [outcome] if outcome and outcome not in ("completed",) else []
    data = data if isinstance(data, dict) else {}
    for key, label in (("reason", "理由"), ("note", "附言"), ("to", "对象"), ("filename", "文件"),
                       ("addressee", "主送"), ("sha256", "SHA-256")):
        value = data.get(key)
        if value not in (None, "", []) and not (key == "filename" and outcome):
            parts.append(f"{label}：{value}")
    return "；".join(str(p) for p in parts)[:300]


BUILDERS = {"review-form": _review_form, "joint-review": _joint_review, "contract-review": _contract_review,
            "filing-form": _filing_form, "history": _history}
