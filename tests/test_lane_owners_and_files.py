"""A model names the users of a lane at run time (SpiffArena's `lane_owners`) and its forms carry file
fields as rjsf writes them (tests/models/expert_review), all over HTTP: only the named users see and may
work the lane's task; a name that is not an active business user of the county fails the step with 422
and nothing lands. A file field takes an upload checked like any attachment, stored on the project,
and the task data keeps a reference to it; a wrong file is refused on its field with the rest kept.
The owners are named by scripts inside an embedded subprocess, and the run replays."""

from __future__ import annotations

import io
import re

import pytest
from flow_support import login, status_of
from test_bpmn_elements import _state, deploy, only_task, start, submit, task_data

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _expert_panel(client) -> None:
    """The administrator adds the lane's business role; 投资办主任 holds it, but is not named."""
    from workflows.demo import actor

    login(client, "admin")
    response = client.post(
        "/admin/roles", data={"role_code": "expert_panel", "role_name": "评审专家组", "role_level": "county"}
    )
    assert response.status_code == 302, response.data.decode()[:2000]
    zhuren = actor("zhuren")
    login(client, "secadmin")  # 三权分立: the security administrator assigns roles
    assert (
        client.post(
            f"/security/users/{zhuren.id}/roles", data={"roles": ["head_of_office", "expert_panel"]}
        ).status_code
        == 302
    )
    deploy(client, "expert_review")


def _at_choose(app, client) -> tuple[int, int]:
    instance_id = start(client, "expert_review", {"topic": "锂电池隔膜项目能耗评审"})
    return instance_id, only_task(app, instance_id, "er_choose")


@pytest.fixture
def app_on(database):
    from webapp import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "SERVER_NAME": "localhost",
        }
    )


def test_a_lane_whose_owners_the_model_names_is_offered_only_to_them(app_on):
    app, client = app_on, app_on.test_client()
    _expert_panel(client)
    instance_id, choose = _at_choose(app, client)
    submit(client, choose, {"experts": "rev_fgj， fazhi"})
    review = only_task(app, instance_id, "er_review")

    for outsider in ("zhuren", "shangwu", "rev_sthj", "tj_shangwu"):  # the role, the starter, others
        login(client, outsider)
        assert f"/tasks/{review}" not in client.get("/").data.decode(), outsider
        assert client.get(f"/tasks/{review}").status_code == 403, outsider
        assert client.post(f"/tasks/{review}/claim").status_code == 403, outsider
        assert client.post(f"/tasks/{review}", data={"decision": "agree"}).status_code == 403, outsider
    for owner in ("rev_fgj", "fazhi"):
        login(client, owner)
        assert f"/tasks/{review}" in client.get("/").data.decode(), owner
        page = client.get(f"/tasks/{review}").data.decode()
        assert "锂电池隔膜项目能耗评审" in page and 'id="claim"' in page, owner  # two owners: claim first

    login(client, "fazhi")
    assert client.post(f"/tasks/{review}/claim").status_code == 302
    # 转办 only to the other owner, never to a holder of the lane's role who was not named.
    from workflows.demo import actor

    page = client.get(f"/tasks/{review}").data.decode()
    options = re.search(r'<select id="transfer-to".*?</select>', page, re.DOTALL).group(0)
    assert f'value="{actor("rev_fgj").id}"' in options and f'value="{actor("zhuren").id}"' not in options
    refused = client.post(
        f"/tasks/{review}/transfer", data={"to_user_id": actor("zhuren").id, "reason": "出差"}
    )
    assert refused.status_code == 422
    response = client.post(
        f"/tasks/{review}",
        content_type="multipart/form-data",
        data={"decision": "agree", "signed_opinion": (io.BytesIO(PDF), "意见.pdf")},
    )
    assert response.status_code == 302, response.data.decode()[:2000]
    assert status_of(app, instance_id)[0] == "completed"
    login(client, "rev_fgj")
    assert client.get(f"/tasks/{review}").status_code == 409  # done by the other owner

    # The run (the owners named in an embedded subprocess's scripts) replays to the state stored.
    from workflows.db import transaction
    from workflows.models import ProcessInstance
    from workflows.services.audit_service import replay_instance

    with transaction() as s:
        assert replay_instance(s, s.get(ProcessInstance, instance_id)).consistent


@pytest.mark.parametrize(
    "experts, who",
    [("rev_fgj, nobody", "nobody"), ("shenji", "shenji"), ("tj_shangwu", "tj_shangwu"), (" , ", "")],
)
def test_a_lane_owner_who_is_no_active_business_user_of_the_county_fails_the_step(app, client, experts, who):
    """Unknown, an auditor (acts on nothing), another county's user, or nobody at all."""
    _expert_panel(client)
    instance_id, choose = _at_choose(app, client)
    before = _state(app, instance_id)
    response = client.post(f"/tasks/{choose}", data={"experts": experts})
    assert response.status_code == 422
    text = response.data.decode()
    assert "本次办理未生效" in text and "专家评审" in text  # the element: the task the lane's owners get
    assert "lane_owners" in text and who in text
    assert _state(app, instance_id) == before  # still at 指定评审专家, nothing stored


def test_a_deactivated_owner_no_longer_qualifies(app, client):
    from workflows.demo import actor

    _expert_panel(client)
    login(client, "admin")
    assert client.post(f"/admin/users/{actor('rev_fgj').id}/active", data={"active": ""}).status_code in (
        302,
        200,
    )
    _, choose = _at_choose(app, client)
    assert client.post(f"/tasks/{choose}", data={"experts": "rev_fgj"}).status_code == 422


def _attachments(app, instance_id: int) -> list[tuple]:
    from sqlalchemy import select

    from workflows.db import transaction
    from workflows.models import Attachment

    with transaction() as s:
        return [
            (a.id, a.filename, a.content_type, a.size, a.task_record_id)
            for a in s.scalars(
                select(Attachment).where(Attachment.instance_id == instance_id).order_by(Attachment.id)
            )
        ]


def test_a_file_field_takes_a_checked_upload_kept_as_an_attachment_with_a_reference_in_the_task_data(
    app, client
):
    _expert_panel(client)
    instance_id, choose = _at_choose(app, client)
    page = client.get(f"/tasks/{choose}").data.decode()
    assert 'enctype="multipart/form-data"' in page  # the form has a file field
    assert re.search(r'<input id="in-material" name="material" type="file" accept="[^"]*\.pdf', page)

    # A file whose content is not what its name says: refused on its field, the rest kept as typed.
    refused = client.post(
        f"/tasks/{choose}",
        content_type="multipart/form-data",
        data={
            "experts": "rev_fgj",
            "note": "请于三日内出具意见",
            "material": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "能耗评估.pdf"),
        },
    )
    assert refused.status_code == 422
    text = refused.data.decode()
    assert 'data-error-for="material"' in text and "文件内容与扩展名不符" in text
    assert 'value="rev_fgj"' in text and "请于三日内出具意见" in text
    assert _attachments(app, instance_id) == [] and only_task(app, instance_id, "er_choose") == choose

    # A wrong file and another wrong field: both reported at once; an unsupported type.
    both = client.post(
        f"/tasks/{choose}",
        content_type="multipart/form-data",
        data={"experts": "", "material": (io.BytesIO(b"#!/bin/sh\n"), "run.sh")},
    )
    text = both.data.decode()
    assert (
        both.status_code == 422 and 'data-error-for="experts"' in text and 'data-error-for="material"' in text
    )
    assert "不支持该文件类型" in text

    from workflows.services import attachment_service

    big = client.post(
        f"/tasks/{choose}",
        content_type="multipart/form-data",
        data={
            "experts": "rev_fgj",
            "material": (io.BytesIO(PDF + b"0" * attachment_service.MAX_SIZE), "大.pdf"),
        },
    )
    assert big.status_code == 422 and "文件过大" in big.data.decode() and "10 MB" in big.data.decode()

    submit(client, choose, {"experts": "rev_fgj", "material": (io.BytesIO(PDF), "能耗评估.pdf")})
    ((attachment_id, filename, content_type, size, on_task),) = _attachments(app, instance_id)
    assert (filename, content_type, size, on_task) == ("能耗评估.pdf", "application/pdf", len(PDF), choose)
    reference = task_data(app, instance_id)["material"]
    assert (
        reference
        == {
            "attachment_id": attachment_id,
            "filename": "能耗评估.pdf",
            "content_type": "application/pdf",
            "size": len(PDF),
            "sha256": reference["sha256"],
        }
        and len(reference["sha256"]) == 64
    )

    # The next task shows it read-only, with a link; the owner downloads the same bytes.
    review = only_task(app, instance_id, "er_review")
    login(client, "rev_fgj")
    page = client.get(f"/tasks/{review}").data.decode()
    assert f'href="/attachments/{attachment_id}"' in page and 'name="signed_opinion" type="file"' in page
    assert client.get(f"/attachments/{attachment_id}").data == PDF

    # A required file field left empty is 此项必填; a PNG under the ui:widget file field is taken.
    missing = client.post(f"/tasks/{review}", content_type="multipart/form-data", data={"decision": "agree"})
    assert missing.status_code == 422 and 'data-error-for="signed_opinion"' in missing.data.decode()
    submit(
        client,
        review,
        {"decision": "revise", "comment": "补充用能测算", "signed_opinion": (io.BytesIO(PNG), "签字页.png")},
    )
    data = task_data(app, instance_id)
    assert (
        data["signed_opinion"]["filename"] == "签字页.png"
        and data["signed_opinion"]["content_type"] == "image/png"
    )
    assert [a[1] for a in _attachments(app, instance_id)] == ["能耗评估.pdf", "签字页.png"]
    page = client.get(f"/projects/{instance_id}").data.decode()
    assert "签字页.png" in page and "attachment_id" not in page and PNG.decode("latin-1") not in page


def test_the_first_form_takes_a_file_when_the_process_starts(app, client):
    _expert_panel(client)
    login(client, "shangwu")
    form = client.get("/start/expert_review").data.decode()
    assert 'enctype="multipart/form-data"' in form and 'name="brief" type="file"' in form
    refused = client.post(
        "/start/expert_review",
        content_type="multipart/form-data",
        data={"topic": "锂电池隔膜项目能耗评审", "brief": (io.BytesIO(b"\xff\xfe not text"), "说明.txt")},
    )
    text = refused.data.decode()
    assert (
        refused.status_code == 422
        and 'data-error-for="brief"' in text
        and 'value="锂电池隔膜项目能耗评审"' in text
    )

    from sqlalchemy import func, select

    from workflows.db import transaction
    from workflows.models import ProcessInstance

    with transaction() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(ProcessInstance)
                .where(ProcessInstance.process_id == "expert_review")
            )
            == 0
        )  # nothing started
    instance_id = start(
        client,
        "expert_review",
        {"topic": "锂电池隔膜项目能耗评审", "brief": (io.BytesIO("立项依据：……".encode()), "说明.txt")},
    )
    ((attachment_id, filename, content_type, _, on_task),) = _attachments(app, instance_id)
    assert (filename, content_type, on_task) == ("说明.txt", "text/plain; charset=utf-8", None)
    assert task_data(app, instance_id)["brief"]["attachment_id"] == attachment_id
