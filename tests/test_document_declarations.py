"""Documents are a capability a model opts into: the process declares which documents it has, its
tasks which places of them they fill and what their fields mean (workflows/rendering/documents/declarations.py,
docs/process.md). So a county's model with other task ids gets the same documents with no change of
Python; a model that declares none has none (only 项目办理记录, its audit record); and a declaration
naming an unknown document, place or field is refused at deploy with the element named.
"""
from __future__ import annotations

import io
import re

import pytest
from flow_support import login
from pypdf import PdfReader
from sqlalchemy import select

from workflows import db
from workflows.capabilities import document_service
from workflows.db import transaction
from workflows.demo import DEMO_ANSWERS, DEMO_LEAD, DEPT_REVIEWER, DOER, FORM_OF, HOST_TASKS, HOSTS, actor
from workflows.engine import model_store
from workflows.errors import Conflict
from workflows.models import ModelVersion, Organisation, ProcessInstance, TaskRecord
from workflows.rendering import documents
from workflows.rendering.documents.declarations import declarations, problems
from workflows.services import operator_registry, project_service, task_service

PROCESS = "investment_project"
BPMN = f"bpmn/{PROCESS}.bpmn"
# Every task a document is built from, under another id, as a county's own model could name them.
RENAMED = {"register_lead": "lead_intake", "department_review": "dept_opinions",
           "supplementary_review": "dept_opinions_added", "objection_decision": "dissent_ruling",
           "review_meeting": "appraisal_meeting", "executive_meeting": "standing_meeting",
           "contract_review": "legal_check", "approve_filing": "director_approval",
           "prefecture_review": "city_filing_check", "signing": "contract_signing"}
CONDITION = "须先完成水土保持方案审批后方可开工建设。"


def renamed_model(files: dict[str, str]) -> dict[str, str]:
    """The shipped model with the tasks of RENAMED under their new ids wherever the BPMN refers to
    them (ids, flows, boundary events, diagram, lanes, return targets, ids quoted in expressions);
    form files and form fields (the declared decisionField …) keep their names."""
    text = files[BPMN]
    for old, new in RENAMED.items():
        text = re.sub(rf"(?<!Field\" value=\")(?<=[\"',>]){old}(?=[\"',<])", new, text)
    return {**files, BPMN: text}


def _pdf_text(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


@pytest.fixture(scope="module")
def county_model(tmp_path_factory):
    """南县 runs the renamed variant of the investment process; 桃江县 keeps the shipped one."""
    from webapp import create_app

    path = tmp_path_factory.mktemp("declarations") / "declarations.sqlite3"
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "t"})
    files = renamed_model(model_store.read_model_files())
    with transaction() as s:
        (version,) = model_store.deploy(s, files, "admin", "县自定流程（任务编号不同）", [PROCESS], operator_registry.names())
        county = s.scalar(select(Organisation).where(Organisation.name == "南县"))
        model_store.bind(s, county.id, version, "admin")
    yield app
    db.engine().dispose()


def step(instance_id: int, spec: str, only_units: set[str] | None = None, **overrides) -> None:
    """Complete the ready tasks `spec` (a shipped id; the task runs under its RENAMED id) as the demo
    users would, with the demo answers of its form."""
    task_id = RENAMED.get(spec, spec)
    with transaction() as s:
        records = list(s.scalars(select(TaskRecord).where(
            TaskRecord.instance_id == instance_id, TaskRecord.state == "ready", TaskRecord.spec_name == task_id)
            .order_by(TaskRecord.id)))
    assert records, f"{task_id} is not ready"
    for record in records:
        if only_units is not None and record.unit_code not in only_units:
            continue
        doer = DEPT_REVIEWER[record.unit_code] if spec in ("department_review", "supplementary_review") else \
            HOSTS[record.unit_code] if spec in HOST_TASKS else DOER[spec]
        task_service.task_claim(actor(doer), record.id)
        answers = {**DEMO_ANSWERS[FORM_OF.get(spec, spec)], **overrides}
        task_service.task_complete(actor(doer), record.id, {k: v for k, v in answers.items() if v is not None})


def test_the_renamed_model_names_none_of_the_shipped_ids_and_declares_the_same_documents():
    shipped = model_store.read_model_files()
    files = renamed_model(shipped)
    for old in RENAMED:
        assert f'id="{old}"' not in files[BPMN]
    assert problems(files, documents.KINDS) == []
    before, after = declarations(shipped, PROCESS), declarations(files, PROCESS)
    assert after.kinds == before.kinds
    assert set(after.tasks_for("joint-review", "rows")) == {"dept_opinions", "dept_opinions_added"}
    assert after.tasks_for("contract-review", "legal") == ("legal_check",)


def test_a_county_model_with_other_task_ids_gets_every_document_without_a_python_change(county_model):
    app = county_model
    pid = project_service.project_start(actor("zhaoshang"), DEMO_LEAD)
    with transaction() as s:  # the project runs the county's model
        version = s.get(ModelVersion, s.get(ProcessInstance, pid).model_version_id)
        assert 'id="lead_intake"' in version.files[BPMN]
    step(pid, "screening", confirmed_class="重大")
    step(pid, "negotiation", special_terms="true", special_terms_detail="前三年按地方留成部分给予产业扶持。")
    step(pid, "approve_terms")
    step(pid, "department_review", only_units={"sthj"}, review_decision="有条件同意", review_conditions=CONDITION)
    step(pid, "department_review")
    for spec in ("review_materials", "pre_review", "review_meeting", "executive_meeting"):
        step(pid, spec)
    # Before the legal check the contract sheet is not there yet (its required place is declared).
    assert [k for k, _ in document_service.document_list(actor("shangwu"), pid)] == ["review-form", "joint-review",
                                                                                    "history"]
    with pytest.raises(Conflict):
        document_service.document_pdf(actor("shangwu"), pid, "contract-review")
    step(pid, "contract_review", conditions_in_contract="true")
    step(pid, "approve_filing")
    step(pid, "prefecture_review")
    step(pid, "signing")

    offered = [k for k, _ in document_service.document_list(actor("shangwu"), pid)]
    assert offered == list(documents.KINDS)

    client = app.test_client()
    login(client, "shangwu")
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    for kind in documents.KINDS:
        assert f'href="/projects/{pid}/documents/{kind}.pdf"' in page

    joint = _pdf_text(client.get(f"/projects/{pid}/documents/joint-review.pdf").data)
    assert CONDITION in joint and "有条件同意1个" in joint and "不同意0个" in joint
    contract = _pdf_text(client.get(f"/projects/{pid}/documents/contract-review.pdf").data)
    # The legal check's opinion, the meetings' decisions and the head's approval are in their boxes.
    assert DEMO_ANSWERS["contract_review"]["contract_opinion"] in contract
    assert DEMO_ANSWERS["executive_meeting"]["exec_opinion"] in contract
    assert DEMO_ANSWERS["approve_filing"]["filing_approval_opinion"] in contract
    assert CONDITION in contract
    review = _pdf_text(client.get(f"/projects/{pid}/documents/review-form.pdf").data)
    assert "联合会审" in review and DEMO_ANSWERS["screening"]["screening_opinion"] in review
    filing = _pdf_text(client.get(f"/projects/{pid}/documents/filing-form.pdf").data)
    assert DEMO_ANSWERS["prefecture_review"]["prefecture_opinion"] in filing
    letter = _pdf_text(client.get(f"/projects/{pid}/documents/reminder-letter.pdf").data)
    sign_date = DEMO_ANSWERS["signing"]["sign_date"]
    assert documents.cn_date(sign_date) in letter  # the signing date from the task's dateField


def test_a_model_that_declares_no_documents_has_only_its_record_and_does_not_crash(county_model):
    """The shipped model stripped of every document declaration: the project has its 项目办理记录 only;
    the other documents are refused as not part of its process (409), not a server error."""
    app = county_model
    files = model_store.read_model_files()
    bare = re.sub(r'\s*<spiffworkflow:property name="(documents|document|decisionField|opinionField|dateField|'
                  r'conditionsField|reasonsField)" value="[^"]*" />', "", files[BPMN])
    assert 'name="document' not in bare
    files = {**files, BPMN: bare}
    assert declarations(files, PROCESS).kinds == () and declarations(files, PROCESS).tasks == {}
    with transaction() as s:
        (version,) = model_store.deploy(s, files, "admin", "未声明文书的流程", [PROCESS], operator_registry.names())
        county = s.scalar(select(Organisation).where(Organisation.name == "桃江县"))
        model_store.bind(s, county.id, version, "admin")
    pid = project_service.project_start(actor("tj_zhaoshang"), {**DEMO_LEAD, "investor": "桃江竹业有限公司"})
    assert document_service.document_list(actor("tj_shangwu"), pid) == [("history", documents.KINDS["history"])]
    client = app.test_client()
    login(client, "tj_shangwu")
    for kind in ("review-form", "joint-review", "contract-review", "filing-form", "reminder-letter"):
        response = client.get(f"/projects/{pid}/documents/{kind}.pdf")
        assert response.status_code == 409, (kind, response.status_code)
    response = client.get(f"/projects/{pid}/documents/history.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert "history.pdf" in page and "review-form.pdf" not in page


FORM = "forms/department_review-schema.json"


@pytest.mark.parametrize(("name", "change", "expected"), [
    # The process lists a document there is no template for.
    (BPMN, lambda t: t.replace('value="review-form, joint-review,', 'value="review-form, site-visit, joint-review,'),
     "流程 investment_project 声明的文书“site-visit”没有对应的文书模板"),
    # A task fills a place no template has.
    (BPMN, lambda t: t.replace('value="contract-review.legal"', 'value="contract-review.lawyer"'),
     "流程 investment_project 的任务 合同审签（contract_review） 声明的文书位置“contract-review.lawyer”不存在"),
    # A task fills a document the process does not declare.
    (BPMN, lambda t: t.replace('value="review-form, joint-review, contract-review, filing-form, reminder-letter"',
                               'value="review-form, joint-review, contract-review, reminder-letter"'),
     ("流程 investment_project 的任务 报备审批（approve_filing） 填写文书“备案表”（filing-form.head），"
      "但流程未在 documents 中声明该文书")),
    # A declared document whose required place no task fills.
    (BPMN, lambda t: t.replace('value="contract-review.legal"', 'value=""'),
     "流程 investment_project 声明了文书“合同审签单”，但没有任务声明 contract-review.legal"),
    # A field the task's form does not have.
    (BPMN, lambda t: t.replace('name="decisionField" value="contract_decision"', 'name="decisionField" value="verdict"'),
     "流程 investment_project 的任务 合同审签（contract_review） 的 decisionField 指向的字段 verdict 不在表单"),
    # Department opinions whose answers mean nothing declared, an answer the field cannot take, an unknown meaning.
    (FORM, lambda t: t.replace('"x-outcomes"', '"x-meanings"'), "须声明 decisionField，并在表单该字段上以 x-outcomes"),
    (FORM, lambda t: t.replace('"同意": "agree"', '"赞成": "agree"'),
     "的表单字段 review_decision 的 x-outcomes 中的答案“赞成”不是该字段的选项"),
    (FORM, lambda t: t.replace('"不同意": "objection"', '"不同意": "veto"'),
     "的 x-outcomes 中“不同意”的含义“veto”不是部门意见的含义"),
])
def test_a_wrong_document_declaration_is_reported_with_the_element_named(name, change, expected):
    """What deploy refuses (model_store.deploy runs these checks; the upload below goes through it)."""
    files = model_store.read_model_files()
    changed = change(files[name])
    assert changed != files[name]
    found = problems({**files, name: changed}, documents.KINDS)
    assert any(expected in message for message in found), found


def test_an_administrator_uploading_a_wrong_declaration_sees_it_named_and_nothing_is_deployed(app, client):
    from sqlalchemy import func

    from workflows.models import ModelVersion

    files = model_store.read_model_files()
    files[BPMN] = files[BPMN].replace('value="contract-review.legal"', 'value="contract-review.lawyer"')
    with transaction() as s:
        before = s.scalar(select(func.count(ModelVersion.id)))
    login(client, "admin")
    response = client.post("/admin/versions", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(text.encode()), name.split("/")[1]) for name, text in files.items()], "note": "x"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "声明的文书位置“contract-review.lawyer”不存在" in html
    with transaction() as s:
        assert s.scalar(select(func.count(ModelVersion.id))) == before
