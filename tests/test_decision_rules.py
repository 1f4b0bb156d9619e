"""A decision cannot contradict its own checks, dates keep their order, amounts are numbers, and every
rule says in its own words what is wrong — all declared in the model (forms/*.json: `if`/`then` with
`errorMessage`, `validationRules`), checked here from the user's side (HTTP form, JSON API), and what
the PDFs print equals what was submitted.

Policy clauses:
- 研判专班初审 checks the access barriers (外商投资准入负面清单, 产业政策, 生态红线, 国土空间规划, 能耗)
  before a lead goes on (衡政办发〔2025〕11号《推进招商引资机制改革实施方案》§19): 通过 needs every one of
  them.
- 合同合法性审查 and 公平竞争审查 of incentive clauses (衡政办发〔2025〕11号 §13): the legal reviewer's 通过
  needs both.
- Each currency has its own 重大 threshold (《郴州市关于进一步加强招商引资工作的实施意见》§9).
"""

from __future__ import annotations

import re

import pytest
from flow_support import LEAD, all_departments_agree, do_task, login, ready_tasks, register_lead, step

from workflows.demo import DEMO_ANSWERS

CHECKS = ("negative_list_ok", "industry_policy_ok", "eco_redline_ok", "land_plan_ok", "energy_ok")
CHECK_LABELS = {
    "negative_list_ok": "符合市场准入及外商投资准入负面清单",
    "industry_policy_ok": "符合产业政策（非淘汰类、限制类）",
    "eco_redline_ok": "不涉及生态保护红线",
    "land_plan_ok": "符合国土空间规划",
    "energy_ok": "能耗符合要求",
}


def screening_answers(decision: str, ticked: set[str]) -> dict:
    answers = {k: v for k, v in DEMO_ANSWERS["screening"].items() if k not in CHECKS}
    return {
        **answers,
        "screening_decision": decision,
        "confirmed_class": "重大",
        **{c: "on" for c in ticked},
    }  # an unticked checkbox is not sent at all


def submit(app, client, pid: int, spec: str, username: str, answers: dict, expect: int) -> str:
    (task_id,) = [t[0] for t in ready_tasks(app, pid) if t[1] == spec]
    return do_task(client, username, task_id, answers, expect=expect).data.decode()


def field_error(html: str, field: str) -> str | None:
    found = re.search(rf'data-error-for="{field}">([^<]*)<', html)
    return found.group(1) if found else None


# --- screening: 通过 needs all five admissibility checks ----------------------------------------


@pytest.mark.parametrize("unticked", [set(CHECKS), {"eco_redline_ok"}, {"negative_list_ok", "energy_ok"}])
def test_screening_cannot_pass_a_lead_with_an_admissibility_check_unticked(app, client, unticked):
    pid = register_lead(client)
    html = submit(
        app, client, pid, "screening", "yanpan", screening_answers("通过", set(CHECKS) - unticked), 422
    )
    assert {c: field_error(html, c) for c in CHECKS if field_error(html, c)} == dict.fromkeys(
        unticked, "通过须勾选全部准入审查项"
    )
    assert "所选项不符合要求" not in html
    assert [t[1] for t in ready_tasks(app, pid)] == ["screening"]  # nothing moved on


def test_screening_may_return_or_reject_a_lead_whose_checks_fail(app, client):
    returned, rejected = register_lead(client), register_lead(client, project_name="小型造纸项目")
    submit(
        app, client, returned, "screening", "yanpan", screening_answers("退回补充", {"negative_list_ok"}), 302
    )
    submit(app, client, rejected, "screening", "yanpan", screening_answers("不予通过", set()), 302)
    assert [t[1] for t in ready_tasks(app, returned)] == ["supplement_lead"]
    assert ready_tasks(app, rejected) == []


def test_screening_cannot_go_below_the_proposed_class_and_says_which(app, client):
    pid = register_lead(client)  # 25000 万元 (CNY): the DMN proposes 重大 (郴州 §9: 2亿元以上)
    html = submit(
        app,
        client,
        pid,
        "screening",
        "yanpan",
        {**screening_answers("通过", set(CHECKS)), "confirmed_class": "重点", "class_reason": "规模偏小"},
        422,
    )
    assert field_error(html, "confirmed_class") == "不得低于系统建议类别（重大）"


# --- contract review: the legal reviewer's 通过 needs both checks -------------------------------


def to_contract_review(app, client, **lead) -> int:
    pid = register_lead(client, amount_wan="3000", **lead)
    step(app, client, pid, "screening", confirmed_class="一般")
    step(app, client, pid, "negotiation", amount_wan="3000")
    step(app, client, pid, "approve_terms")
    all_departments_agree(app, client, pid)
    for spec in ("review_materials", "pre_review", "review_meeting"):
        step(app, client, pid, spec)
    return pid


def contract_answers(decision: str, legality: bool, fair: bool) -> dict:
    answers = {k: v for k, v in DEMO_ANSWERS["contract_review"].items() if not k.endswith("_ok")}
    return {
        **answers,
        "contract_decision": decision,
        **({"legality_ok": "on"} if legality else {}),
        **({"fair_competition_ok": "on"} if fair else {}),
    }


@pytest.mark.parametrize(
    "legality, fair, messages",
    [
        (False, True, {"legality_ok": "审查结论为通过，须确认合同条款合法"}),
        (True, False, {"fair_competition_ok": "审查结论为通过，须通过公平竞争审查"}),
        (
            False,
            False,
            {
                "legality_ok": "审查结论为通过，须确认合同条款合法",
                "fair_competition_ok": "审查结论为通过，须通过公平竞争审查",
            },
        ),
    ],
)
def test_the_legal_reviewer_cannot_pass_a_contract_without_both_checks(app, client, legality, fair, messages):
    pid = to_contract_review(app, client)
    html = submit(app, client, pid, "contract_review", "fazhi", contract_answers("通过", legality, fair), 422)
    assert {
        f: field_error(html, f) for f in ("legality_ok", "fair_competition_ok") if field_error(html, f)
    } == messages


# --- dates: no stage date before the registration ----------------------------------------------


def test_an_executive_meeting_dated_before_the_registration_is_refused_with_its_reason(app, client):
    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    for spec in ("negotiation", "approve_terms"):
        step(app, client, pid, spec)
    all_departments_agree(app, client, pid)
    for spec in ("review_materials", "pre_review", "review_meeting"):
        step(app, client, pid, spec)
    html = submit(
        app,
        client,
        pid,
        "executive_meeting",
        "mishu",
        {**DEMO_ANSWERS["executive_meeting"], "exec_meeting_date": "2025-01-01"},
        422,
    )
    assert field_error(html, "exec_meeting_date") == "会议日期不得早于项目登记日期"
    assert 'value="2025-01-01"' in html  # what was typed stays
    assert client.post("/lang/en", data={"next": "/"}).status_code == 302  # the same user, in English
    (task_id,) = [t[0] for t in ready_tasks(app, pid)]
    html = client.post(
        f"/tasks/{task_id}", data={**DEMO_ANSWERS["executive_meeting"], "exec_meeting_date": "2025-01-01"}
    ).data.decode()
    assert (
        field_error(html, "exec_meeting_date")
        == "The meeting date may not be before the project was registered"
    )


# --- amounts: NaN and infinities are not numbers ------------------------------------------------


@pytest.mark.parametrize("typed", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_a_lead_amount_that_is_not_a_finite_number_is_refused(app, client, typed):
    login(client, "zhaoshang")
    response = client.post("/projects/new", data={**LEAD, "amount_wan": typed})
    assert response.status_code == 422
    assert field_error(response.data.decode(), "amount_wan") == "请输入数字"


def test_the_json_api_refuses_nan_and_infinity_in_task_data(app, client):
    from workflows.demo import actor
    from workflows.services import api_token_service

    pid = register_lead(client)
    step(app, client, pid, "screening", confirmed_class="重大")
    (task_id,) = [t[0] for t in ready_tasks(app, pid) if t[1] == "negotiation"]
    token = api_token_service.token_create(actor("admin"), actor("shangwu").id, "test")
    headers = {"Authorization": f"Bearer {token}"}
    # NaN and Infinity are not JSON numbers (RFC 8259): the body is refused whole, before any field.
    for raw in ("NaN", "Infinity", "-Infinity"):
        body = f'{{"data": {{"negotiation_decision": "达成一致", "amount_wan": {raw}, "currency": "CNY"}}}}'
        response = client.post(
            f"/api/v1/tasks/{task_id}/complete", data=body, content_type="application/json", headers=headers
        )
        assert response.status_code == 422 and "data" in response.json["errors"], (raw, response.data[:300])
    for text in ("nan", "inf", "1e999"):  # a string the form would read as a float
        body = {"data": {**DEMO_ANSWERS["negotiation"], "amount_wan": text}}
        response = client.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=headers)
        assert response.status_code == 422 and response.json["errors"] == {"amount_wan": "请输入数字"}, text
    assert [t[1] for t in ready_tasks(app, pid)] == ["negotiation"]


# --- the class: one threshold per currency (郴州 §9) --------------------------------------------


@pytest.mark.parametrize(
    "lead, expected",
    [
        (
            {"currency": "USD", "amount_usd_wan": "2999", "amount_wan": "21293"},
            "重点",
        ),  # × 7.1 ≥ 2亿元: still not 重大
        ({"currency": "USD", "amount_usd_wan": "3000", "amount_wan": "21300"}, "重大"),  # 3000万美元以上
        ({"currency": "USD", "amount_usd_wan": "2999.99", "amount_wan": "0"}, "重点"),  # no RMB part
        ({"currency": "CNY", "amount_wan": "20000"}, "重大"),  # 2亿元以上
    ],
)
def test_a_lead_is_classed_by_the_threshold_of_its_own_currency(app, client, lead, expected):
    pid = register_lead(client, **lead)
    login(client, "yanpan")
    (task_id,) = [t[0] for t in ready_tasks(app, pid)]
    assert client.post(f"/tasks/{task_id}/claim").status_code == 302
    html = client.get(f"/tasks/{task_id}").data.decode()
    assert re.search(r'data-field="proposed_class">\s*([^<]+?)\s*<', html).group(1) == expected


# --- what the PDFs print equals what was submitted ----------------------------------------------


def pdf_text(pdf: bytes, tmp_path) -> str:
    """The PDF's text as pdftotext reads it, without spaces and line breaks (a label may wrap)."""
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"\s+", "", text)


def document(pid: int, kind: str, tmp_path) -> str:
    from workflows.capabilities import document_service
    from workflows.demo import actor

    _, pdf = document_service.document_pdf(actor("shangwu"), pid, kind)
    return pdf_text(pdf, tmp_path)


# 研判专班初审: decision × the five checks that may be submitted with it (通过 only with all five).
SCREENING_PDF_CASES = [
    ("通过", set(CHECKS)),
    ("退回补充", {"negative_list_ok", "land_plan_ok"}),
    ("退回补充", set()),
    ("不予通过", {"industry_policy_ok", "eco_redline_ok", "land_plan_ok", "energy_ok"}),
]


@pytest.mark.parametrize("decision, ticked", SCREENING_PDF_CASES)
def test_the_review_form_prints_the_screening_decision_and_every_check_as_submitted(
    sqlite_database, tmp_path, decision, ticked
):
    from service_support import advance, start

    pid = start()
    advance(
        pid,
        "screening",
        confirmed_class="重大",
        screening_decision=decision,
        **{c: "true" if c in ticked else "false" for c in CHECKS},
    )
    text = document(pid, "review-form", tmp_path)
    assert decision in text
    printed = {c: re.search(re.escape(CHECK_LABELS[c]) + "：(是|否)", text).group(1) for c in CHECKS}
    assert printed == {c: "是" if c in ticked else "否" for c in CHECKS}


# 合同合法性与公平竞争审查: decision × the two checks (通过 only with both), one project sent back for changes
# twice (修改: renegotiated and reviewed again), then passed; another one rejected.
CONTRACT_PDF_CASES = [
    ("修改", False, True),
    ("修改", False, False),
    ("通过", True, True),
]


def test_the_contract_sheet_prints_each_legal_decision_and_both_checks_as_submitted(
    sqlite_database, tmp_path
):
    from service_support import advance, ready, start

    def on_to_contract_review(pid: int) -> int:
        while "contract_review" not in (specs := [r.spec_name for r in ready(pid)]):
            advance(pid, specs[0], **({"amount_wan": "3000"} if specs[0] == "negotiation" else {}))
        return pid

    def to_contract_review(name: str) -> int:
        pid = start(amount_wan="3000", project_name=name, investor=f"{name}有限公司")
        advance(pid, "screening", confirmed_class="一般")
        return on_to_contract_review(pid)

    def printed(text: str) -> tuple[bool, bool]:
        legal = re.search("合同条款合法(■是□否|□是■否)", text).group(1)
        fair = re.search("优惠条款通过公平竞争审查(■是□否|□是■否)", text).group(1)
        return legal == "■是□否", fair == "■是□否"

    pid = to_contract_review("合同审查项目")
    for n, (decision, legality, fair) in enumerate(CONTRACT_PDF_CASES):
        on_to_contract_review(pid)  # renegotiated after 修改, reviewed again
        advance(
            pid,
            "contract_review",
            contract_decision=decision,
            legality_ok=str(legality).lower(),
            fair_competition_ok=str(fair).lower(),
            contract_opinion=f"第{n + 1}次审查",
        )
        text = document(pid, "contract-review", tmp_path)
        assert f"第{n + 1}次审查" in text and decision in text
        assert printed(text) == (legality, fair), (decision, legality, fair)
    rejected = to_contract_review("不予通过项目")
    advance(
        rejected,
        "contract_review",
        contract_decision="不予通过",
        legality_ok="true",
        fair_competition_ok="false",
        contract_opinion="优惠条款违反公平竞争审查规定",
    )
    text = document(rejected, "contract-review", tmp_path)
    assert "不予通过" in text and printed(text) == (True, False)
    review_form = document(rejected, "review-form", tmp_path)
    assert "合同条款合法：是" in review_form and "通过公平竞争审查：否" in review_form


def test_a_broken_validation_rule_is_the_models_fault_not_the_users():
    """A rule whose expression fails is reported as a model error (422, for an administrator), not as
    a field the user could correct and not as a server error."""
    from workflows import forms
    from workflows.errors import ModelFailed

    schema = {
        "title": "测试",
        "type": "object",
        "properties": {"d": {"type": ["string", "null"]}},
        "validationRules": [{"field": "d", "expression": "d > 1", "message": "不会显示"}],
    }
    with pytest.raises(ModelFailed) as failed:
        forms.validate(schema, {"d": "2026-01-01"}, {})
    assert failed.value.status == 422


def test_signing_and_construction_dates_cannot_precede_the_stages_before_them(sqlite_database, clock):
    """Dates keep their order (validationRules in the signing and tracking forms): no signing before the
    registration or the review meeting, no start of construction before signing, no production before it."""
    from datetime import timedelta

    from service_support import advance, instance, ready, start

    from workflows.errors import ValidationFailed
    from workflows.localtime import china_today
    from workflows.services.timer_service import fire_due_timers

    meeting, signed = china_today() + timedelta(days=2), china_today() + timedelta(days=3)
    pid = start(amount_wan="3000")
    advance(pid, "screening", confirmed_class="一般")
    while "signing" not in (specs := [r.spec_name for r in ready(pid)]):
        advance(
            pid,
            specs[0],
            **(
                {"amount_wan": "3000"}
                if specs[0] == "negotiation"
                else {"meeting_date": meeting.isoformat()}
                if specs[0] == "review_meeting"
                else {}
            ),
        )
    for sign_date, message in [
        ("2025-01-01", "签约日期不得早于项目登记日期"),
        ((meeting - timedelta(days=1)).isoformat(), "签约日期不得早于项目评审会日期"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            advance(pid, "signing", sign_date=sign_date)
        assert refused.value.errors == {"sign_date": message}
    advance(pid, "signing", sign_date=signed.isoformat())
    fire_due_timers(clock(instance(pid).next_timer_at + timedelta(minutes=1)))
    early = meeting.isoformat()
    with pytest.raises(ValidationFailed) as refused:
        advance(pid, "track_progress", construction_started="true", construction_start_date=early)
    assert refused.value.errors == {"construction_start_date": "开工日期不得早于签约日期"}
    with pytest.raises(ValidationFailed) as refused:
        advance(
            pid,
            "track_progress",
            construction_started="true",
            construction_start_date=signed.isoformat(),
            production_started="true",
            production_start_date=early,
        )
    assert refused.value.errors == {"production_start_date": "投产日期不得早于开工日期"}
    advance(pid, "track_progress", construction_started="true", construction_start_date=signed.isoformat())
