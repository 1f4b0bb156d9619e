"""A model carries its own words: a deployment's translation files (bpmn/<process file>.<lang>.json,
workflows/engine/vocabulary.py) give the English of its task names, form texts and the like; the English
pages show it, a text without one stays Chinese, and deploying (流程版本 page, deploy_model) lists it.
"""

from __future__ import annotations

import io
import re

from flow_support import do_task, login, ready_tasks
from test_list_declarations import _deploy, _files, _start, _table

# English for the model's texts, except the approval form's 审定意见 (left out on purpose).
ENGLISH = {
    "客商来访接待申请": "Visitor reception request",
    "县商务局登记客商来访；重要客商的接待方案报投资办主任审定。": "The commerce bureau registers a visit; "
    "the head of the investment office approves the plan for important visitors.",
    "登记来访": "Register the visit",
    "审定接待方案": "Approve the reception plan",
    "接待方案已审定": "Reception plan approved",
    "来访已登记": "Visit registered",
    "来访客商": "Visitor",
    "来访人数": "Number of visitors",
    "客商级别": "Visitor level",
    "一般": "Ordinary",
    "重要": "Important",
    "来访事由": "Purpose of the visit",
    "说明": "Remarks",
    "同意": "Approved",
    "修改后同意": "Approved with changes",
}


def test_english_pages_show_the_models_own_english_and_chinese_where_it_has_none(app, client):
    page = _deploy(client, _files(english=ENGLISH))
    # The deployment went through, with a warning naming the text that has no English.
    assert "已部署流程版本" in page
    warning = re.search(r'<div class="flash" role="status">提示：[^<]*</div>', page)
    assert warning and "“审定意见”" in warning.group(0) and "说明" not in warning.group(0), page[:3000]
    instance_id = _start(client)

    login(client, "zhuren")
    client.post("/lang/en", data={"next": "/"})
    inbox = _table(client.get("/").data.decode(), "inbox")
    assert "Approve the reception plan" in inbox and "审定接待方案" not in inbox
    task_id = ready_tasks(app, instance_id)[0][0]
    task_page = client.get(f"/tasks/{task_id}").data.decode()
    assert "Remarks" in task_page and "Approved with changes" in task_page and "Visitor" in task_page
    assert "审定意见" in task_page  # no English for it in the model: shown in Chinese
    assert ">修改后同意<" not in task_page  # the option shows its English (its value stays the code)

    do_task(client, "zhuren", task_id, {"plan_decision": "同意", "plan_note": "由经开区陪同"})
    client.post("/lang/en", data={"next": "/"})  # signing in again (do_task) starts in Chinese
    project = client.get(f"/projects/{instance_id}").data.decode()
    assert "Approve the reception plan" in project and "审定接待方案" not in project

    login(client, "shangwu")
    client.post("/lang/en", data={"next": "/"})
    start = client.get("/start/").data.decode()
    assert "Visitor reception request" in start and "客商来访接待申请" not in start


def test_a_model_without_translations_is_shown_in_chinese_and_deploying_lists_what_it_lacks(app, client):
    page = _deploy(client, _files())
    warning = re.search(r'<div class="flash" role="status">提示：[^<]*</div>', page).group(0)
    assert "英文翻译" in warning and "“审定接待方案”" in warning
    instance_id = _start(client)
    login(client, "zhuren")
    client.post("/lang/en", data={"next": "/"})
    inbox = _table(client.get("/").data.decode(), "inbox")
    assert "审定接待方案" in inbox and f"#{instance_id}" in inbox


def test_the_shipped_models_carry_english_for_every_text_they_show():
    from workflows.engine import model_store, vocabulary

    models = model_store.processes_in(model_store.read_model_files())
    for process_id in ("investment_project", "investor_complaint"):
        files = models[process_id].files
        assert f"bpmn/{process_id}.en.json" in files
        assert vocabulary.missing(files) == {"en": []}
    assert vocabulary.translations(models["investment_project"].files)["en"]["项目洽谈"] == "Negotiation"


def test_a_translation_file_must_map_text_to_text_and_belong_to_a_process(app, client):
    files = _files()
    files["visit_request.en.json"] = b'["not", "a", "table"]'
    login(client, "admin")
    response = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"files": [(io.BytesIO(d), n) for n, d in files.items()]},
    )
    assert response.status_code == 422 and "visit_request.en.json" in response.data.decode()
    orphan = {**_files(), "other_process.en.json": b"{}"}
    response = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"files": [(io.BytesIO(d), n) for n, d in orphan.items()]},
    )
    assert response.status_code == 422 and "other_process.bpmn" in response.data.decode()


def test_deploy_model_prints_the_missing_translations(sqlite_database, tmp_path, monkeypatch, capsys):
    from workflows.commands import deploy_model

    monkeypatch.setenv("DATABASE_URL", sqlite_database)

    for name, data in _files(english={k: v for k, v in ENGLISH.items() if k != "来访人数"}).items():
        folder = tmp_path / ("bpmn" if name.endswith((".bpmn", ".en.json")) else "forms")
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
    assert deploy_model.main([str(tmp_path), "--by", "admin"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "warning:" in out and "“来访人数”" in out and "“审定意见”" in out and "“说明”" not in out
