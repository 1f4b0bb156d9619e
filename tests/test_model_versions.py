"""Each process is versioned on its own and each county is bound to a version: a running project keeps
the files it started with, a deployment touches only the processes it carries, and a code upgrade
never changes what a county runs."""

from __future__ import annotations

import re
import shutil

import pytest
from service_support import advance, instance, start
from sqlalchemy import select

from workflows.capabilities import complaint_service
from workflows.db import transaction
from workflows.demo import DEMO_LEAD, actor
from workflows.engine import model_store
from workflows.errors import ValidationFailed
from workflows.models import ModelVersion
from workflows.services import model_service, project_service


def _files(root) -> list[tuple[str, bytes]]:
    return [
        (p.name, p.read_bytes()) for folder in ("bpmn", "forms") for p in sorted((root / folder).iterdir())
    ]


def _model_with_threshold(tmp_path, threshold: str):
    """A copy of the shipped model whose 重大 threshold is `threshold` 万元 (a DMN edit, no Python)."""
    root = tmp_path / "model"
    shutil.copytree(model_store.ROOT / "bpmn", root / "bpmn")
    shutil.copytree(model_store.ROOT / "forms", root / "forms")
    dmn = root / "bpmn" / "project_class.dmn"
    text = dmn.read_text(encoding="utf-8")
    assert text.count("&gt;= 20000") == 1
    dmn.write_text(text.replace("&gt;= 20000", f"&gt;= {threshold}"), encoding="utf-8")
    return root


def _processes_using(file: str) -> set[str]:
    """The shipped processes whose version carries `file`."""
    return {
        pid for pid, m in model_store.processes_in(model_store.read_model_files()).items() if file in m.files
    }


def _versions() -> list[ModelVersion]:
    with transaction() as s:
        return list(s.scalars(select(ModelVersion).order_by(ModelVersion.id)))


def test_a_running_project_keeps_its_rules_when_a_new_version_is_deployed(sqlite_database, tmp_path):
    old = start(amount_wan="3000", project_name="旧版本项目", investor="甲公司")
    advance(old, "screening", confirmed_class="一般")
    before = _versions()

    # 南县 raises the 重大 threshold to 3 亿元 and binds itself to the new version.
    nanxian = actor("zhaoshang").org_id
    ids = model_service.version_deploy(
        actor("admin"), _files(_model_with_threshold(tmp_path, "30000")), "重大门槛 3 亿元", [nanxian]
    )

    # Only the processes whose files changed got a new version (both county variants of the investment
    # process call the class DMN); the complaint process was left alone.
    after = _versions()
    uses_dmn = {v.process_id for v in before if "bpmn/project_class.dmn" in v.files}
    assert len(uses_dmn) == 2 and len(ids) == 2 and len(after) == len(before) + 2
    assert {v.process_id for v in after[len(before) :]} == uses_dmn
    assert {v.process_id for v in after if v.number == 1} == {v.process_id for v in before}
    # 南县 moved to the new version of the process it runs, not to the other county's variant.
    changed = next(v for v in after[len(before) :] if v.process_id == instance(old).process_id)
    assert changed.id in ids and changed.number == 2

    new = start(amount_wan="3000", project_name="新版本项目", investor="乙公司")
    advance(new, "screening", confirmed_class="一般")
    for pid in (old, new):
        advance(pid, "negotiation", amount_wan="25000")
    assert instance(old).project_class == "重大"  # pinned: 2 亿元 threshold
    assert instance(new).project_class == "重点"  # new version: 3 亿元 threshold
    assert instance(new).model_version_id == changed.id
    assert instance(old).model_version_id == next(v.id for v in before if v.process_id == changed.process_id)


def test_two_counties_run_different_versions_side_by_side(sqlite_database, tmp_path):
    model_service.version_deploy(
        actor("admin"), _files(_model_with_threshold(tmp_path, "30000")), "", [actor("zhaoshang").org_id]
    )
    nanxian = start(amount_wan="25000", project_name="南县项目", investor="甲公司")
    taojiang = project_service.project_start(
        actor("tj_zhaoshang"),
        {**DEMO_LEAD, "amount_wan": "25000", "project_name": "桃江项目", "investor": "丙公司"},
    )
    # 南县's bound version proposes 重点 for 2.5 亿元; 桃江县 keeps the shipped rule (重大 from 2 亿元).
    assert instance(nanxian).project_class == "重点"
    assert instance(taojiang).project_class == "重大"
    assert instance(nanxian).model_version_id != instance(taojiang).model_version_id


def test_a_code_upgrade_only_offers_its_models(sqlite_database, tmp_path, monkeypatch):
    first = start(amount_wan="3000", project_name="升级前项目", investor="甲公司")
    with transaction() as s:
        assert model_store.offered_processes(s) == []  # what ships is what is deployed
    monkeypatch.setattr(model_store, "ROOT", _model_with_threshold(tmp_path, "30000"))  # the code is upgraded

    later = start(amount_wan="3000", project_name="升级后项目", investor="乙公司")
    assert instance(later).model_version_id == instance(first).model_version_id  # nothing changed by itself
    with transaction() as s:
        offered = model_store.offered_processes(s)
    # The processes calling the changed class DMN: 南县's process and 桃江县's county variant.
    assert sorted((m.process_id, newest.number) for m, newest in offered) == sorted(
        (pid, 1) for pid in _processes_using("bpmn/project_class.dmn")
    )
    assert instance(first).process_id in {m.process_id for m, _ in offered}

    ids = model_service.shipped_deploy(
        actor("admin"), instance(first).process_id, [actor("zhaoshang").org_id]
    )
    assert (
        instance(start(amount_wan="3000", project_name="部署后项目", investor="丙公司")).model_version_id
        == ids[0]
    )
    deployed = instance(first).process_id
    with transaction() as s:
        assert [m.process_id for m, _ in model_store.offered_processes(s)] == sorted(
            _processes_using("bpmn/project_class.dmn") - {deployed}
        )


def test_a_deployment_identical_to_a_deployed_version_is_refused(sqlite_database):
    shipped = [(p.name, p.read_bytes()) for p in sorted((model_store.ROOT / "bpmn").glob("*.bpmn"))]
    shipped += [(p.name, p.read_bytes()) for p in sorted((model_store.ROOT / "bpmn").glob("*.dmn"))]
    shipped += [(p.name, p.read_bytes()) for p in sorted((model_store.ROOT / "bpmn").glob("*.en.json"))]
    shipped += [(p.name, p.read_bytes()) for p in sorted((model_store.ROOT / "forms").glob("*.json"))]
    with pytest.raises(ValidationFailed) as refused:
        model_service.version_deploy(actor("admin"), shipped)
    assert "内容相同" in refused.value.errors["files"]


def test_a_county_with_no_bound_process_is_told_so(sqlite_database):
    with transaction() as s:
        from workflows.models import ProcessBinding

        for binding in s.scalars(
            select(ProcessBinding).where(ProcessBinding.purpose == complaint_service.PURPOSE)
        ):
            s.delete(binding)
    from workflows.errors import NotFound

    with pytest.raises(NotFound) as refused:
        complaint_service.complaint_form(actor("shangwu"))
    assert "尚未绑定" in str(refused.value)


def test_the_command_line_deploys_a_folder_and_binds_the_named_counties(
    sqlite_database, tmp_path, monkeypatch, capsys
):
    from workflows.commands import deploy_model

    monkeypatch.setenv("DATABASE_URL", sqlite_database)
    root = _model_with_threshold(tmp_path, "30000")
    assert deploy_model.main([str(root), "--by", "admin", "--bind", "南县", "--note", "门槛 3 亿元"]) == 0
    assert "deployed process versions #" in capsys.readouterr().out
    assert instance(start(amount_wan="25000")).project_class == "重点"  # 南县 runs the new version
    assert deploy_model.main([str(root), "--by", "admin"]) == 1  # the same again: nothing new
    assert "内容相同" in capsys.readouterr().err
    assert deploy_model.main([str(root), "--by", "admin", "--bind", "北县"]) == 1
    assert "no county 北县" in capsys.readouterr().err


def test_an_administrator_deploys_an_offered_model_and_rebinds_a_county_from_the_page(
    app, client, tmp_path, monkeypatch
):
    from flow_support import login

    login(client, "admin")
    assert 'id="nothing-offered"' in client.get("/admin/versions").data.decode()
    monkeypatch.setattr(model_store, "ROOT", _model_with_threshold(tmp_path, "30000"))  # the code is upgraded
    page = client.get("/admin/versions").data.decode()
    offered = re.findall(r'class="offered" data-process-id="([^"]+)"', page)
    # only the processes whose files changed are offered (both county variants call the class DMN)
    assert sorted(offered) == sorted(_processes_using("bpmn/project_class.dmn"))
    nanxian, taojiang = actor("zhaoshang").org_id, actor("tj_zhaoshang").org_id
    with transaction() as s:
        offered = [model_store.bound_version(s, nanxian, model_store.INVESTMENT).process_id]  # 南县's process
    deployed = client.post("/admin/versions/shipped", data={"process_id": offered[0], "bind": [str(nanxian)]})
    assert deployed.status_code == 302
    still = re.findall(
        r'class="offered" data-process-id="([^"]+)"', client.get("/admin/versions").data.decode()
    )
    assert offered[0] not in still and len(still) == 1  # 桃江县's variant is still on offer
    new_id = _versions()[-1].id
    assert instance(start(amount_wan="25000")).model_version_id == new_id  # 南县 moved
    taojiang_lead = {**DEMO_LEAD, "amount_wan": "25000", "investor": "丙公司"}
    assert (
        instance(project_service.project_start(actor("tj_zhaoshang"), taojiang_lead)).model_version_id
        != new_id
    )

    assert (
        client.post(
            "/admin/versions/bindings", data={"county_id": str(taojiang), "version_id": str(new_id)}
        ).status_code
        == 302
    )
    second = project_service.project_start(actor("tj_zhaoshang"), {**taojiang_lead, "investor": "丁公司"})
    assert instance(second).model_version_id == new_id  # 桃江县 moved too, by the administrator
    assert client.post("/admin/versions/shipped", data={"process_id": offered[0]}).status_code == 404
    assert (
        client.post(
            "/admin/versions/bindings", data={"county_id": "0", "version_id": str(new_id)}
        ).status_code
        == 404
    )
