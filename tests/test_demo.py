"""The demo data `make run` starts with: organisations, users and projects at different stages."""

from __future__ import annotations

from flow_support import login
from sqlalchemy import select

from workflows.db import transaction
from workflows.models import Filing, Organisation, ProcessInstance, TaskRecord


def test_the_demo_starts_with_projects_at_different_stages(tmp_path):
    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "t",
            "DEMO_PROJECTS": True,
        }
    )
    with transaction() as s:
        orgs = {o.name: o for o in s.scalars(select(Organisation))}
        assert orgs["南县"].parent_id == orgs["益阳市"].id == orgs["桃江县"].parent_id
        projects = {p.project_name: p for p in s.scalars(select(ProcessInstance))}
        signed = projects["年产10万吨稻虾深加工项目"]
        assert (signed.status, signed.stage) == ("running", "履约跟踪")  # signed, now tracked
        assert projects["小型造纸项目"].outcome == "end_rejected"
        ready = {
            (r.instance_id, r.spec_name, r.unit_code)
            for r in s.scalars(select(TaskRecord).where(TaskRecord.state == "ready"))
        }
        review = projects["新能源电池结构件生产基地"].id
        assert (review, "department_review", "fgj") in ready and (
            review,
            "department_review",
            "sthj",
        ) not in ready
        assert (projects["农机配件智能制造项目"].id, "prefecture_review", None) in ready
        assert (projects["高端食品包装材料项目"].id, "screening", None) in ready
        assert s.scalar(
            select(Filing.number).where(Filing.instance_id == projects["年产10万吨稻虾深加工项目"].id)
        )
        complaint = projects["项目用地报批进度缓慢"]
        assert (complaint.process_id, complaint.stage) == ("investor_complaint", "责任部门答复")
        assert (complaint.id, "answer_complaint", "zrzyj") in ready
    client = app.test_client()
    login(client, "rev_fgj2")
    assert "新能源电池结构件生产基地" in client.get("/").data.decode()
    login(client, "tj_zhaoshang")
    page = client.get(f"/projects/{projects['稻虾冷链物流园'].id}").data.decode()
    assert "抢商争商" in page
