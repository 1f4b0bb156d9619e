"""Each project is pinned to the BPMN/DMN/form version it started with; a new version never breaks it."""
from __future__ import annotations

import shutil

from service_support import advance, instance, start
from sqlalchemy import select

from workflows.db import transaction
from workflows.engine import model_store
from workflows.models import ModelVersion


def test_a_running_project_keeps_its_rules_when_a_new_version_is_deployed(sqlite_database, tmp_path, monkeypatch):
    old = start(amount_wan="3000", project_name="旧版本项目", investor="甲公司")
    advance(old, "screening", confirmed_class="一般")

    # A county raises the 重大 threshold to 3 亿元: a DMN edit, no Python change.
    new_root = tmp_path / "model"
    shutil.copytree(model_store.ROOT / "bpmn", new_root / "bpmn")
    shutil.copytree(model_store.ROOT / "forms", new_root / "forms")
    dmn = new_root / "bpmn" / "project_class.dmn"
    text = dmn.read_text(encoding="utf-8")
    assert text.count("&gt;= 20000") == 1
    dmn.write_text(text.replace("&gt;= 20000", "&gt;= 30000"), encoding="utf-8")
    monkeypatch.setattr(model_store, "ROOT", new_root)

    new = start(amount_wan="3000", project_name="新版本项目", investor="乙公司")
    advance(new, "screening", confirmed_class="一般")
    for pid in (old, new):
        advance(pid, "negotiation", amount_wan="25000")

    assert instance(old).project_class == "重大"  # pinned: 2 亿元 threshold
    assert instance(new).project_class == "重点"  # new version: 3 亿元 threshold
    with transaction() as s:
        versions = s.scalars(select(ModelVersion).order_by(ModelVersion.id)).all()
    assert len(versions) == 2 and versions[0].content_hash != versions[1].content_hash
    assert instance(old).model_version_id == versions[0].id
    assert instance(new).model_version_id == versions[1].id
