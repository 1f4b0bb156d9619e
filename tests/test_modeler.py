"""The process editor's endpoints over HTTP (the browser flow: tests/test_browser_modeler.py): what it
loads, bad input answered with a clear 422 and nothing stored, drafts kept per user and process,
form previews escaped, and deploys that create a version of the edited process only."""

from __future__ import annotations

import re

import pytest
from flow_support import login

from workflows.engine import model_store


@pytest.fixture
def admin(client):
    login(client, "admin")
    return client


def _investment(client) -> int:
    page = client.get("/admin/versions").get_data(as_text=True)
    return int(re.search(r'data-version-id="(\d+)" data-process-id="investment_project"', page).group(1))


def _files(client, version_id: int) -> dict:
    response = client.get(f"/admin/versions/{version_id}/edit/files")
    assert response.status_code == 200
    return response.get_json()


def test_the_editor_loads_the_versions_files_operators_and_roles(admin):
    vid = _investment(admin)
    assert f'id="edit-version-{vid}"' in admin.get("/admin/versions").get_data(as_text=True)
    page = admin.get(f"/admin/versions/{vid}/edit").get_data(as_text=True)
    assert "/static/modeler/modeler.js" in page and "<script>" not in page  # no inline script (CSP)
    data = _files(admin, vid)
    assert data["main"] == "bpmn/investment_project.bpmn"
    assert "forms/screening-schema.json" in data["files"] and "bpmn/review_departments.dmn" in data["files"]
    assert "bpmn/investor_complaint.bpmn" not in data["files"]  # only what the process runs from
    assert "task_overdue_remind" in data["config"]["operators"]
    assert "screening_team" in {r["code"] for r in data["config"]["roles"]}
    assert data["draft"] is None


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"files": []},
        {"files": {"bpmn/x.bpmn": 5}},
        {"files": {f"forms/f{i}.json": "{}" for i in range(201)}},
        {"files": {"bpmn/x.bpmn": "a" * (8 * 1024 * 1024 + 1)}},
    ],
)
@pytest.mark.parametrize("action", ["validate", "draft", "deploy"])
def test_bad_bodies_are_a_clear_422(admin, body, action):
    vid = _investment(admin)
    response = (
        admin.post(f"/admin/versions/{vid}/edit/{action}", json=body)
        if body is not None
        else admin.post(
            f"/admin/versions/{vid}/edit/{action}", data="not json", content_type="application/json"
        )
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]
    assert _files(admin, vid)["draft"] is None


def test_validate_reports_the_deploy_checks(admin):
    vid = _investment(admin)
    files = _files(admin, vid)["files"]
    assert admin.post(f"/admin/versions/{vid}/edit/validate", json={"files": files}).get_json() == {
        "ok": True,
        "errors": [],
    }
    broken = dict(files)
    broken["bpmn/investment_project.bpmn"] = files["bpmn/investment_project.bpmn"].replace(
        'name="screening_team"', 'name="no_such_role"'
    )
    answer = admin.post(f"/admin/versions/{vid}/edit/validate", json={"files": broken}).get_json()
    assert answer["ok"] is False and any("no_such_role" in e for e in answer["errors"])
    renamed = dict(files)
    renamed["bpmn/investment_project.bpmn"] = files["bpmn/investment_project.bpmn"].replace(
        '"investment_project"', '"investment_project_2"'
    )
    answer = admin.post(f"/admin/versions/{vid}/edit/validate", json={"files": renamed}).get_json()
    assert answer["ok"] is False


def test_drafts_are_per_user_and_process_and_can_be_discarded(admin, app):
    vid = _investment(admin)
    files = _files(admin, vid)["files"]
    edited = {
        **files,
        "forms/screening-schema.json": files["forms/screening-schema.json"].replace("研判结论", "研判意见"),
    }
    saved = admin.post(f"/admin/versions/{vid}/edit/draft", json={"files": edited})
    assert saved.status_code == 200 and saved.get_json()["saved_at"]
    again = _files(admin, vid)
    assert (
        again["draft"]
        and again["files"]["forms/screening-schema.json"] == edited["forms/screening-schema.json"]
    )
    login(admin, "zhaoshang")  # another user is refused outright, and sees no draft
    assert admin.get(f"/admin/versions/{vid}/edit/files").status_code == 403
    login(admin, "admin")
    assert admin.post(f"/admin/versions/{vid}/edit/draft/discard").status_code == 302
    assert _files(admin, vid)["draft"] is None


def test_the_form_preview_is_the_task_forms_rendering_escaped(admin):
    answer = admin.post(
        "/admin/versions/form-preview",
        json={
            "schema": '{"title": "<b>表</b>", "type": "object", "properties": {"x": {"type": "string", '
            '"title": "<script>alert(1)</script>"}}}',
            "uischema": "{}",
        },
    )
    html = answer.get_json()["html"]
    assert "<script>alert" not in html and "&lt;script&gt;" in html and 'name="x"' in html
    bad = admin.post("/admin/versions/form-preview", json={"schema": '{"type": 5}', "uischema": "{}"})
    assert bad.status_code == 422 and "JSON Schema" in bad.get_json()["errors"][0]
    bad = admin.post("/admin/versions/form-preview", json={"schema": "{", "uischema": "{}"})
    assert bad.status_code == 422


def test_deploy_creates_a_version_of_the_edited_process_only(admin, app):
    vid = _investment(admin)
    files = _files(admin, vid)["files"]
    edited = {
        **files,
        "forms/screening-schema.json": files["forms/screening-schema.json"].replace("研判结论", "研判意见"),
    }
    admin.post(f"/admin/versions/{vid}/edit/draft", json={"files": edited})
    answer = admin.post(
        f"/admin/versions/{vid}/edit/deploy", json={"files": edited, "note": "改标题", "bind": []}
    )
    assert answer.status_code == 200, answer.get_json()
    (new_id,) = answer.get_json()["ids"]
    assert _files(admin, vid)["draft"] is None  # deployed: the draft is gone
    new = _files(admin, new_id)["files"]
    assert "研判意见" in new["forms/screening-schema.json"]
    # deploying the same content again is refused with the reason, nothing created
    again = admin.post(f"/admin/versions/{vid}/edit/deploy", json={"files": edited, "bind": []})
    assert again.status_code == 422 and "内容相同" in again.get_json()["errors"][0]
    bad_bind = admin.post(f"/admin/versions/{vid}/edit/deploy", json={"files": edited, "bind": "x"})
    assert bad_bind.status_code == 422
    assert model_store.processes_in(new).keys() == {"investment_project"}


def test_unknown_versions_are_404(admin):
    assert admin.get("/admin/versions/9999/edit").status_code == 404
    assert (
        admin.post("/admin/versions/9999/edit/validate", json={"files": {"bpmn/a.bpmn": "x"}}).status_code
        == 404
    )
