"""A head of office reads the dashboard in headless Chromium with the demo projects: the
period chooser, the funnel, signed amounts, the rates with their formulas, and the BPMN heatmap.
Screenshot: test-output/screenshots/dashboard.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from browser_support import SCREENSHOTS, serve, sign_in

pytestmark = pytest.mark.browser

# Days each step of the demo projects is made to have taken, so waiting times show (the demo drives
# every step within a second).
DAYS = {
    "screening": 3,
    "supplement_lead": 4,
    "negotiation": 12,
    "approve_terms": 2,
    "department_review": 6,
    "review_materials": 8,
    "pre_review": 3,
    "review_meeting": 10,
    "executive_meeting": 14,
    "contract_review": 5,
    "approve_filing": 2,
    "prefecture_review": 4,
    "signing": 7,
}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('browser_dashboard') / 'dashboard.sqlite3'}"
    from sqlalchemy import select

    from workflows import db
    from workflows.db import transaction
    from workflows.demo import seed_organisations, seed_projects
    from workflows.models import ProcessInstance, TaskRecord
    from workflows.models._types import utcnow

    db.init(url)
    db.upgrade()
    seed_organisations()
    seed_projects()
    now = utcnow()
    with transaction() as s:  # spread each demo project's steps backwards from now
        for instance in s.scalars(select(ProcessInstance)):
            cursor = now
            rows = s.scalars(
                select(TaskRecord).where(TaskRecord.instance_id == instance.id).order_by(TaskRecord.id.desc())
            ).all()
            for r in rows:
                days = timedelta(days=DAYS.get(r.spec_name, 0), hours=7 * (r.id % 3))
                if r.state == "ready":
                    r.created_at = now - days
                    if r.due_at is not None:
                        r.due_at = r.created_at + timedelta(days=5)
                    cursor = min(cursor, r.created_at)
                elif r.state == "completed":
                    r.completed_at = cursor
                    r.created_at = cursor - days
                    cursor = r.created_at
            instance.created_at = cursor
    db.engine().dispose()
    return url


@pytest.fixture(scope="module")
def live_server(database_url):
    with serve(database_url) as url:
        yield url


def test_the_head_of_office_reads_the_dashboard_with_the_demo_projects(page, live_server):
    sign_in(page, live_server, "zhuren")
    page.click("#dashboard-link")
    page.wait_for_selector("#funnel svg")
    assert page.locator("#funnel .funnel-step").count() == 9
    assert page.locator('#funnel .funnel-step[data-label="已签约"]').get_attribute("data-value") == "1"
    assert "履约率 = 按期开工的签约项目数" in page.locator("#rates").inner_text()
    assert page.locator('#signed-industry .bar[data-label="农产品加工·稻虾产业链"]').count() == 1
    heat = page.locator('#heatmap [data-element="executive_meeting"]')
    assert heat.get_attribute("data-state") == "heat" and "天 · 1次" in heat.text_content()
    assert page.locator("#overdue").is_visible()
    page.set_viewport_size({"width": 1400, "height": 900})
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    # Another period: an empty one shows no rate rather than 0 %.
    page.select_option("#period", "2024")
    page.wait_for_url("**period=2024**")
    assert page.locator('[data-rate="performance"] .big').inner_text() == "—"
    assert page.locator('#funnel .funnel-step[data-label="线索登记"]').get_attribute("data-value") == "0"


def test_the_prefecture_chooses_a_county(page, live_server):
    sign_in(page, live_server, "shishangwu")
    page.goto(f"{live_server}/dashboard/")
    assert page.locator('#funnel .funnel-step[data-label="线索登记"]').get_attribute("data-value") == "6"
    page.select_option("#county", label="桃江县")
    page.wait_for_url("**county=**")
    assert page.locator('#funnel .funnel-step[data-label="线索登记"]').get_attribute("data-value") == "1"
