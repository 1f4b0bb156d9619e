"""The task forms in forms/: valid JSON Schema, complete UI schemas, Chinese labels with English
translations (in the gettext catalogue webapp/translations/en/LC_MESSAGES/messages.po), and the
validation rules of docs/process.md."""

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from workflows import form_strings

ROOT = Path(__file__).resolve().parent.parent
FORMS_DIR = ROOT / "forms"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")

# The contract (docs/process.md, "Task data written by each form"): form -> task-data keys.
LEAD_KEYS = {
    "project_name",
    "investor",
    "industry",
    "amount_wan",
    "currency",
    "amount_usd_wan",
    "host_site",
    "source_channel",
    "source_org",
    "contact_name",
    "contact_phone",
    "plan_summary",
}
CONTRACT = {
    "register_lead": LEAD_KEYS,
    "supplement_lead": LEAD_KEYS | {"screening_opinion", "supplement_note"},
    "screening": {
        "proposed_class",
        "screening_decision",
        "confirmed_class",
        "class_reason",
        "negative_list_ok",
        "industry_policy_ok",
        "eco_redline_ok",
        "land_plan_ok",
        "energy_ok",
        "screening_opinion",
    },
    "negotiation": {
        "negotiation_decision",
        "amount_wan",
        "currency",
        "amount_usd_wan",
        "land_mu",
        "tax_per_mu_wan",
        "annual_output_wan",
        "jobs",
        "incentives",
        "special_terms",
        "special_terms_detail",
        "needs_new_land",
        "water_use",
        "hazardous",
        "forestry",
        "negotiation_minutes",
        "negotiation_opinion",
    },
    "approve_terms": {"terms_decision", "terms_opinion"},
    "department_review": {
        "department",
        "review_decision",
        "review_conditions",
        "review_reasons",
        "review_opinion",
    },
    "objection_decision": {"objection_decision", "objection_opinion"},
    "review_materials": {
        "materials_summary",
        "land_guarantee",
        "power_guarantee",
        "water_guarantee",
        "factor_guarantee_opinion",
    },
    "pre_review": {"pre_review_decision", "pre_review_opinion"},
    "review_meeting": {"meeting_decision", "meeting_date", "meeting_opinion"},
    "supplement_materials": {"supplement_materials_note"},
    "executive_meeting": {
        "exec_decision",
        "exec_meeting_type",
        "exec_minutes_number",
        "exec_meeting_date",
        "exec_opinion",
    },
    "contract_review": {
        "review_conditions_all",
        "contract_decision",
        "legality_ok",
        "fair_competition_ok",
        "conditions_in_contract",
        "contract_opinion",
    },
    "approve_filing": {"filing_approval", "filing_approval_opinion"},
    "prefecture_review": {"prefecture_decision", "prefecture_opinion"},
    "revise_filing": {"revise_note"},
    "signing": {
        "contract_number",
        "sign_date",
        "signatories",
        "signing_place",
        "signing_opinion",
        # the "五个一" of a major project (《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(
        # 九)) and what the rewards need
        "project_class",
        "currency",
        "sector",
        "chain_project",
        "investor_origin",
        "lead_leader",
        "responsible_department",
        "task_force",
        "advance_plan",
    },
    # after signing (履约跟踪, )
    "track_progress": {
        "tracking_cycle",
        "sign_date",
        "funds_in_place_wan",
        "funds_this_year_wan",
        "foreign_paid_in_usd_wan",
        "construction_started",
        "construction_start_date",
        "production_started",
        "production_start_date",
        "jobs_created",
        "tax_paid_wan",
        "progress_note",
    },
    "reply_reminder": {"sign_date", "delay_reasons", "measures", "planned_start_date"},
    # bpmn/investor_complaint.bpmn (《郴州市关于进一步加强招商引资工作的实施意见》 §15)
    "register_complaint": {
        "investor",
        "contact_name",
        "contact_phone",
        "channel",
        "subject",
        "content",
        "related_project",
        "responsible_unit",
        "routing_note",
    },
    "answer_complaint": {
        "investor",
        "subject",
        "content",
        "routing_note",
        "complaint_round",
        "feedback_note",
        "facts",
        "answer",
        "measures",
    },
    "confirm_answer": {
        "subject",
        "complaint_round",
        "facts",
        "answer",
        "measures",
        "investor_feedback",
        "feedback_note",
        "second_round_unit",
    },
    "coordinate_complaint": {
        "investor",
        "subject",
        "content",
        "answer",
        "feedback_note",
        "coordination_result",
        "coordination_opinion",
    },
}
# Decision fields and their routes' values, exactly as in docs/process.md.
DECISIONS = {
    "screening": ("screening_decision", ["通过", "退回补充", "不予通过"]),
    "negotiation": ("negotiation_decision", ["达成一致", "放弃"]),
    "approve_terms": ("terms_decision", ["同意", "退回洽谈"]),
    "department_review": ("review_decision", ["同意", "有条件同意", "不同意"]),
    "objection_decision": ("objection_decision", ["重新洽谈", "终止项目"]),
    "pre_review": ("pre_review_decision", ["通过", "退回落户地"]),
    "review_meeting": ("meeting_decision", ["通过", "暂缓", "不通过"]),
    "executive_meeting": ("exec_decision", ["同意", "修改后再议", "不同意"]),
    "contract_review": ("contract_decision", ["通过", "修改", "不予通过"]),
    "approve_filing": ("filing_approval", ["同意报备", "退回洽谈"]),
    "prefecture_review": ("prefecture_decision", ["受理", "退回"]),
    "confirm_answer": ("investor_feedback", ["满意", "基本满意", "不满意"]),
}
READ_ONLY = {
    "screening": {"proposed_class"},
    "department_review": {"department"},
    "supplement_lead": {"screening_opinion"},
    "contract_review": {"review_conditions_all"},
    "signing": {"project_class", "currency"},
    "track_progress": {"tracking_cycle", "sign_date"},
    "reply_reminder": {"sign_date"},
    "answer_complaint": {
        "investor",
        "subject",
        "content",
        "routing_note",
        "complaint_round",
        "feedback_note",
    },
    "confirm_answer": {"subject", "complaint_round", "facts", "answer", "measures"},
    "coordinate_complaint": {"investor", "subject", "content", "answer", "feedback_note"},
}
FORM_NAMES = sorted(CONTRACT)


def load(name: str):
    return json.loads((FORMS_DIR / name).read_text(encoding="utf-8"))


def schema(form: str) -> dict:
    return load(f"{form}-schema.json")


def uischema(form: str) -> dict:
    return load(f"{form}-uischema.json")


def errors(form: str, data: dict) -> list[str]:
    validator = Draft202012Validator(schema(form), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [e.message for e in validator.iter_errors(data)]


def is_valid(form: str, data: dict) -> bool:
    return not errors(form, data)


def strings(node):
    """Every string value in a JSON document (keys are property names, not user text; a `$comment`
    is for the modeler, never shown)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key != "$comment":
                yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def all_form_files():
    return sorted(FORMS_DIR.glob("*.json"))


# --- structure ---------------------------------------------------------------------------------


def test_every_form_of_the_process_has_a_schema_and_a_uischema_and_nothing_else():
    expected = {f"{f}-schema.json" for f in FORM_NAMES} | {f"{f}-uischema.json" for f in FORM_NAMES}
    assert {p.name for p in all_form_files()} == expected


@pytest.mark.parametrize("form", FORM_NAMES)
def test_schema_is_a_valid_draft_2020_12_object_schema(form):
    s = schema(form)
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["type"] == "object"
    assert s["additionalProperties"] is False
    assert CJK.search(s["title"]), "the form title is Chinese"
    assert set(s["required"]) <= set(s["properties"])


@pytest.mark.parametrize("form", FORM_NAMES)
def test_schema_properties_are_exactly_the_task_data_keys_of_the_contract(form):
    assert set(schema(form)["properties"]) == CONTRACT[form]


@pytest.mark.parametrize("form", FORM_NAMES)
def test_every_property_has_a_chinese_title(form):
    for name, prop in schema(form)["properties"].items():
        assert CJK.search(prop.get("title", "")), f"{form}.{name} has no Chinese title"


@pytest.mark.parametrize("form", FORM_NAMES)
def test_uischema_order_lists_exactly_the_schema_properties(form):
    order = uischema(form)["ui:order"]
    assert len(order) == len(set(order)), "ui:order has duplicates"
    assert set(order) == set(schema(form)["properties"])


@pytest.mark.parametrize("form", FORM_NAMES)
def test_uischema_only_describes_schema_properties(form):
    ui = uischema(form)
    props = schema(form)["properties"]
    assert set(ui) - {"ui:order"} <= set(props)
    for name, entry in ui.items():
        if name == "ui:order":
            continue
        if props[name].get("maxLength", 0) >= 2000:
            assert entry.get("ui:widget") == "textarea", f"{form}.{name} is long text"


@pytest.mark.parametrize("form", sorted(DECISIONS))
def test_decision_field_is_required_radio_with_the_contract_values(form):
    field, values = DECISIONS[form]
    s = schema(form)
    assert s["properties"][field]["enum"] == values
    assert field in s["required"]
    assert uischema(form)[field]["ui:widget"] == "radio"


@pytest.mark.parametrize("form", FORM_NAMES)
def test_read_only_marks_exactly_the_values_that_come_from_the_workflow(form):
    props = schema(form)["properties"]
    assert {n for n, p in props.items() if p.get("readOnly")} == READ_ONLY.get(form, set())


@pytest.mark.parametrize("form", FORM_NAMES)
def test_booleans_default_to_false_and_texts_have_a_length_limit(form):
    for name, prop in schema(form)["properties"].items():
        types = prop.get("type")
        types = types if isinstance(types, list) else [types]
        if "boolean" in types:
            assert prop.get("default") is False, f"{form}.{name}"
        if "string" in types and "enum" not in prop and "oneOf" not in prop and "format" not in prop:
            assert 0 < prop["maxLength"] <= 5000, f"{form}.{name}"


def test_code_lists_carry_their_chinese_names_as_data():
    currency = schema("register_lead")["properties"]["currency"]["oneOf"]
    assert {c["const"]: c["title"] for c in currency} == {"CNY": "人民币（内资）", "USD": "美元（外资）"}
    sites = schema("register_lead")["properties"]["host_site"]["oneOf"]
    assert {c["const"] for c in sites} == {"jkq", "nykjyq", "nzz", "mcjz"}
    departments = schema("department_review")["properties"]["department"]["oneOf"]
    assert {c["const"]: c["title"] for c in departments} == {
        "fgj": "发改局",
        "sthj": "生态环境分局",
        "zrzyj": "自然资源局",
        "swj": "商务局",
        "kgxj": "科工信局",
        "zjj": "住建局",
        "slj": "水利局",
        "yjglj": "应急管理局",
        "lyj": "林业局",
    }


# --- English translations --------------------------------------------------------------------


def test_every_chinese_string_in_the_forms_has_an_english_translation_in_its_model():
    from workflows.engine import model_store, vocabulary

    texts = {s for p in all_form_files() for s in form_strings.strings(load(p.name))}
    chinese = {s for p in all_form_files() for s in strings(load(p.name)) if CJK.search(s)}
    assert not sorted(chinese - texts), "workflows/form_strings.py does not extract these"
    # The English comes with the model: the translation file beside each process's BPMN.
    english: dict[str, str] = {}
    for model in model_store.processes_in(model_store.read_model_files()).values():
        english.update(vocabulary.translations(model.files).get("en", {}))
    missing = sorted(s for s in texts if not english.get(s.strip()))
    assert not missing, f"missing in bpmn/*.en.json: {missing}"
    for text in sorted(texts):
        assert not CJK.search(english[text.strip()]), f"bad translation for {text!r}"


# --- behaviour with sample data -----------------------------------------------------------------

VALID_LEAD = {
    "project_name": "南县稻虾产业园项目",
    "investor": "湖南某食品有限公司",
    "industry": "稻虾食品加工",
    "amount_wan": 25000,
    "currency": "CNY",
    "host_site": "jkq",
    "source_channel": "商协会",
    "source_org": "深圳市湖南益阳商会",
    "contact_name": "张三",
    "contact_phone": "13812345678",
    "plan_summary": "建设年加工小龙虾 5 万吨生产线。",
}
VALID_SCREENING = {
    "proposed_class": "重点",
    "negative_list_ok": True,
    "industry_policy_ok": True,
    "eco_redline_ok": True,
    "land_plan_ok": True,
    "energy_ok": True,
    "confirmed_class": "重点",
    "screening_decision": "通过",
    "screening_opinion": "无准入障碍，同意进入洽谈。",
}
VALID_NEGOTIATION = {
    "negotiation_decision": "达成一致",
    "amount_wan": 25000,
    "currency": "CNY",
    "land_mu": 120,
    "tax_per_mu_wan": 30,
    "annual_output_wan": 80000,
    "jobs": 300,
    "special_terms": False,
    "needs_new_land": True,
    "water_use": False,
    "hazardous": False,
    "forestry": False,
    "negotiation_minutes": "县商务局组织自然资源局、落户地洽谈，达成一致。",
}


def test_a_complete_lead_is_accepted():
    assert errors("register_lead", VALID_LEAD) == []


def test_a_lead_with_unanswered_optional_fields_stored_as_null_is_accepted():
    assert is_valid("register_lead", {**VALID_LEAD, "amount_usd_wan": None, "source_org": None})


def test_a_lead_without_a_project_name_is_rejected():
    lead = dict(VALID_LEAD)
    del lead["project_name"]
    assert not is_valid("register_lead", lead)
    assert not is_valid("register_lead", {**VALID_LEAD, "project_name": ""})


@pytest.mark.parametrize("phone", ["13812345678", "0737-5221234", "07375221234", "010-12345678"])
def test_mobile_and_landline_numbers_are_accepted(phone):
    assert is_valid("register_lead", {**VALID_LEAD, "contact_phone": phone})


@pytest.mark.parametrize("phone", ["12345", "12812345678", "138123456789", "5221234", "tel:13812345678"])
def test_a_bad_phone_number_is_rejected(phone):
    assert not is_valid("register_lead", {**VALID_LEAD, "contact_phone": phone})


def test_a_negative_amount_is_rejected():
    assert not is_valid("register_lead", {**VALID_LEAD, "amount_wan": -1})
    assert not is_valid("negotiation", {**VALID_NEGOTIATION, "amount_wan": -0.5})
    assert not is_valid("negotiation", {**VALID_NEGOTIATION, "land_mu": -10})


def test_a_foreign_lead_needs_the_usd_amount():
    foreign = {**VALID_LEAD, "currency": "USD"}
    assert not is_valid("register_lead", foreign)
    assert is_valid("register_lead", {**foreign, "amount_usd_wan": 3000})


def test_an_unknown_host_site_or_extra_key_is_rejected():
    assert not is_valid("register_lead", {**VALID_LEAD, "host_site": "经济开发区"})
    assert not is_valid("register_lead", {**VALID_LEAD, "is_admin": True})


def test_supplementing_a_lead_needs_a_note():
    data = {**VALID_LEAD, "screening_opinion": "请补充投资计划书。"}
    assert not is_valid("supplement_lead", data)
    assert is_valid("supplement_lead", {**data, "supplement_note": "已补充投资计划书。"})


def test_a_valid_screening_passes():
    assert errors("screening", VALID_SCREENING) == []


def test_screening_cannot_lower_the_proposed_class():
    lowered = {
        **VALID_SCREENING,
        "proposed_class": "重大",
        "confirmed_class": "一般",
        "class_reason": "投资额偏小",
    }
    assert not is_valid("screening", lowered)
    assert not is_valid(
        "screening",
        {**VALID_SCREENING, "proposed_class": "重点", "confirmed_class": "一般", "class_reason": "理由"},
    )


def test_screening_changing_the_class_needs_a_reason():
    raised = {**VALID_SCREENING, "proposed_class": "一般", "confirmed_class": "重点"}
    assert not is_valid("screening", raised)
    assert not is_valid("screening", {**raised, "class_reason": ""})
    assert not is_valid("screening", {**raised, "class_reason": None})
    assert is_valid("screening", {**raised, "class_reason": "属于县主导产业链关键环节"})
    assert is_valid(
        "screening", {**VALID_SCREENING, "confirmed_class": "重大", "class_reason": "一事一议，提级管理"}
    )


def test_screening_always_needs_an_opinion():
    no_opinion = dict(VALID_SCREENING)
    del no_opinion["screening_opinion"]
    assert not is_valid("screening", no_opinion)
    assert not is_valid(
        "screening", {**VALID_SCREENING, "screening_decision": "不予通过", "screening_opinion": ""}
    )


def test_screening_decision_outside_the_contract_is_rejected():
    assert not is_valid("screening", {**VALID_SCREENING, "screening_decision": "pass"})


def test_a_valid_negotiation_passes():
    assert errors("negotiation", VALID_NEGOTIATION) == []


def test_negotiation_in_usd_needs_the_usd_amount():
    usd = {**VALID_NEGOTIATION, "currency": "USD"}
    assert not is_valid("negotiation", usd)
    assert not is_valid("negotiation", {**usd, "amount_usd_wan": None})
    assert is_valid("negotiation", {**usd, "amount_usd_wan": 3000})


def test_negotiation_special_terms_need_their_detail():
    special = {**VALID_NEGOTIATION, "special_terms": True}
    assert not is_valid("negotiation", special)
    assert is_valid("negotiation", {**special, "special_terms_detail": "厂房代建，租金三年减半。"})


def test_negotiation_jobs_must_be_a_whole_number():
    assert not is_valid("negotiation", {**VALID_NEGOTIATION, "jobs": 12.5})


def test_department_review_disapproval_needs_reasons():
    data = {"department": "zrzyj", "review_decision": "不同意"}
    assert not is_valid("department_review", data)
    assert is_valid("department_review", {**data, "review_reasons": "拟用地块不符合国土空间规划。"})


def test_department_review_conditional_approval_needs_conditions():
    data = {"department": "sthj", "review_decision": "有条件同意"}
    assert not is_valid("department_review", data)
    assert is_valid("department_review", {**data, "review_conditions": "须取得环评批复后开工。"})
    assert is_valid("department_review", {"department": "fgj", "review_decision": "同意"})


def test_department_review_rejects_an_unknown_department():
    assert not is_valid("department_review", {"department": "xyz", "review_decision": "同意"})


def test_prefecture_return_needs_an_opinion():
    assert not is_valid("prefecture_review", {"prefecture_decision": "退回"})
    assert is_valid(
        "prefecture_review", {"prefecture_decision": "退回", "prefecture_opinion": "与某县项目重复。"}
    )
    assert is_valid("prefecture_review", {"prefecture_decision": "受理"})


def test_executive_meeting_needs_its_minutes_number_and_a_real_date():
    data = {"exec_decision": "同意", "exec_meeting_type": "县政府常务会议", "exec_meeting_date": "2025-03-14"}
    assert not is_valid("executive_meeting", data)
    good = {**data, "exec_minutes_number": "县政府常务会议纪要〔2025〕5号"}
    assert is_valid("executive_meeting", good)
    assert not is_valid("executive_meeting", {**good, "exec_meeting_date": "2025-02-30"})
    assert not is_valid("executive_meeting", {**good, "exec_meeting_date": "2025年3月14日"})


def test_an_opinion_longer_than_2000_characters_is_rejected():
    assert not is_valid(
        "objection_decision", {"objection_decision": "终止项目", "objection_opinion": "字" * 2001}
    )
    assert is_valid(
        "objection_decision", {"objection_decision": "终止项目", "objection_opinion": "字" * 2000}
    )


def test_signing_records_number_date_and_signatories():
    data = {
        "contract_number": "NX-2025-001",
        "sign_date": "2025-06-18",
        "signatories": "县人民政府 李四；湖南某食品有限公司 王五",
        "signing_place": "南县",
        "sector": "农业",
    }
    assert is_valid("signing", data)
    assert not is_valid("signing", {**data, "sign_date": None})
    assert not is_valid("signing", {k: v for k, v in data.items() if k != "sector"})


FIVE_ONES = {
    "lead_leader": "常务副县长 李卫东",
    "responsible_department": "kgxj",
    "task_force": "科工信局、自然资源局、经开区抽调5人",
    "advance_plan": "6个月内开工，18个月内投产",
}


def test_a_major_project_needs_its_five_ones_at_signing():
    """《湘西自治州优势产业精准招商行动计划（2023—2025年）》 §(九): 一名牵头领导、一个主体责任部门、一个工
    作专班、一套落地推进方案 (《郴州市关于进一步加强招商引资工作的实施意见》 §3: "五个一")."""
    data = {
        "contract_number": "NX-2025-001",
        "sign_date": "2025-06-18",
        "signatories": "县长；董事长",
        "sector": "工业",
        "project_class": "重大",
    }
    assert is_valid("signing", {**data, **FIVE_ONES})
    for key in FIVE_ONES:
        assert not is_valid("signing", {**data, **{k: v for k, v in FIVE_ONES.items() if k != key}}), key
    assert is_valid("signing", {**data, "project_class": "重点"})


def test_a_tracking_report_needs_dates_and_production_needs_a_start():
    data = {
        "funds_in_place_wan": 3000,
        "construction_started": False,
        "production_started": False,
        "progress_note": "办理用地手续",
    }
    assert is_valid("track_progress", data)
    assert not is_valid("track_progress", {**data, "construction_started": True})
    assert is_valid(
        "track_progress", {**data, "construction_started": True, "construction_start_date": "2026-03-01"}
    )
    assert not is_valid(
        "track_progress", {**data, "production_started": True, "production_start_date": "2026-09-01"}
    )
    assert not is_valid("track_progress", {**data, "funds_in_place_wan": -1})
