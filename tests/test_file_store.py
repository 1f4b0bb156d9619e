"""Attachments live in a content-addressed file store outside the database: a local folder by default,
S3-compatible storage (tested against moto's S3 server) for several app nodes. Every read checks the
bytes against their SHA-256; `zhaoshang files migrate` moves the bytes older versions kept in the
database, and `zhaoshang files check` finds a missing or damaged file."""

from __future__ import annotations

import io

import pytest
from flow_support import login, register_lead
from sqlalchemy import select

from workflows import filestore
from workflows.db import transaction
from workflows.models import Attachment

PDF = b"%PDF-1.4\n" + "投资计划书".encode() * 50 + b"\n%%EOF\n"


def _upload(client, pid: int) -> int:
    login(client, "zhaoshang")
    response = client.post(
        f"/projects/{pid}/attachments",
        content_type="multipart/form-data",
        data={"kind": "投资计划书", "file": (io.BytesIO(PDF), "计划书.pdf")},
    )
    assert response.status_code == 302, response.data.decode()[:2000]
    with transaction() as s:
        return s.scalars(select(Attachment.id).where(Attachment.instance_id == pid)).one()


@pytest.fixture
def local_store(tmp_path, monkeypatch, sqlite_url):
    """A local store in its own folder; `zhaoshang …` run in the test finds it and the app's database."""
    store = filestore.LocalFileStore(tmp_path / "files")
    monkeypatch.setattr(filestore, "_store", store)
    monkeypatch.setenv("ZS_FILE_STORE_PATH", str(store.root))
    monkeypatch.setenv("ZS_DATABASE_URL", sqlite_url)
    return store


def test_an_upload_is_kept_in_the_file_store_by_its_hash_and_not_in_the_database(app, client, local_store):
    pid = register_lead(client)
    attachment_id = _upload(client, pid)
    with transaction() as s:
        row = s.get(Attachment, attachment_id)
        assert row.content is None
        digest = row.sha256
    assert local_store.get(digest) == PDF and list(local_store.digests()) == [digest]
    assert client.get(f"/attachments/{attachment_id}").data == PDF


def test_a_damaged_or_missing_file_is_refused_with_a_clear_message_and_found_by_files_check(
    app, client, local_store, capsys
):
    from workflows.commands import cli

    pid = register_lead(client)
    attachment_id = _upload(client, pid)
    with transaction() as s:
        digest = s.get(Attachment, attachment_id).sha256
    path = local_store._path(digest)
    path.write_bytes(PDF.replace(b"1.4", b"1.7"))
    damaged = client.get(f"/attachments/{attachment_id}")
    assert damaged.status_code == 500 and "SHA-256 不符" in damaged.data.decode()
    assert cli.main(["files", "check"]) == 1
    assert f"附件 #{attachment_id}" in capsys.readouterr().err
    path.unlink()
    missing = client.get(f"/attachments/{attachment_id}")
    assert missing.status_code == 500 and "不在文件存储中" in missing.data.decode()
    local_store.put(PDF)  # put back from a backup
    assert client.get(f"/attachments/{attachment_id}").data == PDF
    assert cli.main(["files", "check"]) == 0


def test_files_migrate_moves_bytes_kept_in_rows_and_leaves_a_tampered_row_alone(
    app, client, local_store, capsys
):
    from workflows.commands import cli

    pid = register_lead(client)
    first = _upload(client, pid)
    login(client, "zhaoshang")
    client.post(
        f"/projects/{pid}/attachments",
        content_type="multipart/form-data",
        data={"kind": "洽谈纪要", "file": (io.BytesIO(PDF + b"2"), "纪要.pdf")},
    )
    with transaction() as s:
        second = s.scalars(
            select(Attachment.id).where(Attachment.instance_id == pid, Attachment.id != first)
        ).one()
        # As an earlier version stored them: the bytes in the row (the second one tampered with).
        s.get(Attachment, first).content = PDF
        s.get(Attachment, second).content = PDF + b"tampered"
    for path in local_store.root.glob("??/??/*"):
        path.unlink()
    assert client.get(f"/attachments/{first}").data == PDF  # still served from the row
    assert cli.main(["files", "migrate"]) == 1
    assert f"附件 #{second}" in capsys.readouterr().err
    with transaction() as s:
        assert s.get(Attachment, first).content is None and s.get(Attachment, second).content is not None
    assert client.get(f"/attachments/{first}").data == PDF
    assert cli.main(["files", "migrate"]) == 1  # run again: nothing more to move, the tampered row stays


@pytest.fixture
def s3_store(monkeypatch):
    """An S3 server on loopback (moto's server mode) with a bucket, as the configuration names it."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    ).create_bucket(Bucket="zhaoshang-files")
    settings = {
        "FILE_STORE": "s3",
        "S3_BUCKET": "zhaoshang-files",
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "k",
        "S3_SECRET_ACCESS_KEY": "s",
    }
    monkeypatch.setattr(filestore, "_store", None)
    filestore.configure(settings)
    yield filestore.store()
    monkeypatch.setattr(filestore, "_store", None)
    server.stop()


def test_with_s3_storage_uploads_go_to_the_bucket_and_come_back_checked(app, client, s3_store):
    pid = register_lead(client)
    attachment_id = _upload(client, pid)
    with transaction() as s:
        digest = s.get(Attachment, attachment_id).sha256
    assert list(s3_store.digests()) == [digest]
    body = s3_store.client.get_object(Bucket=s3_store.bucket, Key=digest)["Body"].read()
    assert body == PDF
    assert client.get(f"/attachments/{attachment_id}").data == PDF
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=digest, Body=b"replaced")
    assert client.get(f"/attachments/{attachment_id}").status_code == 500


def test_the_store_refuses_a_name_that_is_not_a_sha256(tmp_path):
    store = filestore.LocalFileStore(tmp_path)
    with pytest.raises(filestore.StoredFileMissing):
        store.get("../../etc/passwd")
    with pytest.raises(RuntimeError, match="ZS_FILE_STORE"):
        filestore.configure({"FILE_STORE": "ftp"})
