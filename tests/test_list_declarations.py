"""Lists show what a model declares.

A model declares its list columns with process-level properties (listTitle, listParty, listAmount,
listClass and their labels, workflows/engine/list_spec.py); a model declaring none (tests/models/
visit_request, a third party's) is listed by its process name and instance number, its initiator and
start time, with none of the investment columns (投资方, 投资额).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from flow_support import login

MODEL = Path(__file__).parent / "models" / "visit_request"
VISIT = {
    "visitor": "湖南锂晟新能源科技有限公司考察团",
    "headcount": "6",
    "level": "重要",
    "purpose_note": "考察经开区厂房",
}
INVESTMENT_LABELS = ("投资方", "投资额", "Investor", "Investment")
DECLARATIONS = """<bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="listTitle" value="visitor" />
      <spiffworkflow:property name="listTitleLabel" value="来访客商" />
      <spiffworkflow:property name="listAmount" value="headcount" />
      <spiffworkflow:property name="listAmountLabel" value="来访人数" />
      <spiffworkflow:property name="listClass" value="level" />
      <spiffworkflow:property name="listClassLabel" value="客商级别" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet"""


def _files(declare: bool = False, english: dict | None = None) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(MODEL.glob("*/*")) if p.is_file()}
    if declare:
        bpmn = files["visit_request.bpmn"].decode()
        assert bpmn.count("<bpmn:laneSet") == 1
        files["visit_request.bpmn"] = bpmn.replace("<bpmn:laneSet", DECLARATIONS).encode()
    if english is not None:
        files["visit_request.en.json"] = json.dumps(english, ensure_ascii=False).encode()
    return files


def _deploy(client, files: dict[str, bytes]) -> str:
    """Deploy at 流程版本, bound to 南县; returns the page shown after it (with its messages)."""
    from workflows.demo import actor

    login(client, "admin")
    response = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        follow_redirects=True,
        data={
            "files": [(io.BytesIO(d), n) for n, d in files.items()],
            "note": "来访接待",
            "bind": [str(actor("shangwu").org_id)],
        },
    )
    assert response.status_code == 200, response.data.decode()[:3000]
    return response.data.decode()


def _start(client) -> int:
    login(client, "shangwu")
    response = client.post("/start/visit_request", data=VISIT)
    assert response.status_code == 302, response.data.decode()[:3000]
    return int(re.search(r"/projects/(\d+)", response.headers["Location"]).group(1))


def _table(page: str, table_id: str) -> str:
    found = re.search(rf'<table class="list[^"]*" id="{table_id}">.*?</table>', page, re.DOTALL)
    assert found, f"no table #{table_id}"
    return found.group(0)


def _display_name(username: str) -> str:
    from workflows.demo import actor

    return actor(username).display_name


def test_a_model_declaring_nothing_is_listed_by_its_name_initiator_and_start(app, client):
    _deploy(client, _files())
    instance_id = _start(client)
    title = f"客商来访接待申请 #{instance_id}"

    login(client, "zhuren")  # the approval waits in 投资办主任's inbox
    inbox = _table(client.get("/").data.decode(), "inbox")
    assert title in inbox and _display_name("shangwu") in inbox
    assert not any(label in inbox for label in INVESTMENT_LABELS), inbox

    login(client, "shangwu")  # 我发起的, and the 项目 list
    for page, table_id in (
        (client.get("/?tab=started").data.decode(), "inbox-projects"),
        (client.get("/projects/").data.decode(), "projects"),
    ):
        table = _table(page, table_id)
        assert title in table and _display_name("shangwu") in table
        assert not any(label in table for label in INVESTMENT_LABELS), table
    summary = re.search(
        r'<section class="card summary">.*?</section>',
        client.get(f"/projects/{instance_id}").data.decode(),
        re.DOTALL,
    ).group(0)
    assert not any(label in summary for label in INVESTMENT_LABELS), summary


def test_a_model_declaring_its_list_paths_is_listed_by_them(app, client):
    _deploy(client, _files(declare=True))
    instance_id = _start(client)

    login(client, "zhuren")
    inbox = _table(client.get("/").data.decode(), "inbox")
    headers = re.findall(r"<th[^>]*>(.*?)</th>", inbox)
    assert headers[:3] == ["来访客商", "来访人数", "客商级别"], headers
    row = re.search(r"<tr[^>]*data-task-id.*?</tr>", inbox, re.DOTALL).group(0)
    assert "湖南锂晟新能源科技有限公司考察团" in row and "6.00" in row and "重要" in row
    assert f"#{instance_id}" not in row  # the declared title, not the default one
    assert not any(label in inbox for label in INVESTMENT_LABELS)

    # The class filter offers the classes the models filled in, not a fixed list.
    filters = re.search(
        r'<form method="get" class="filters card".*?</form>', client.get("/").data.decode(), re.DOTALL
    ).group(0)
    assert 'value="重要"' in filters and "重大" not in filters
    assert "考察团" in _table(client.get("/?class=重要").data.decode(), "inbox")
    assert "暂无待办任务" in client.get("/?class=一般").data.decode()
