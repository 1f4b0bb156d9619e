"""Where the bytes of attachments and received filing forms live: a content-addressed store outside the
database, named by SHA-256. A local folder by default (one machine); S3-compatible object storage
(MinIO, a government cloud's OSS) when several app nodes share it. Every read checks the bytes
against their name, so a damaged or replaced file is never served as the original.

Settings (workflows/config.py): ZS_FILE_STORE = local | s3; ZS_FILE_STORE_PATH (local, default
`files/` in the instance folder); ZS_S3_ENDPOINT_URL, ZS_S3_BUCKET, ZS_S3_REGION, ZS_S3_ACCESS_KEY_ID,
ZS_S3_SECRET_ACCESS_KEY (s3).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from workflows import settings

DIGEST = re.compile(r"[0-9a-f]{64}")


class StoredFileMissing(LookupError):
    """No file of that SHA-256 is in the store."""


class StoredFileCorrupted(ValueError):
    """The stored bytes do not hash to their name."""


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(digest: str) -> str:
    if not DIGEST.fullmatch(digest or ""):
        raise StoredFileMissing(digest)
    return digest


def _verified(digest: str, data: bytes) -> bytes:
    if digest_of(data) != digest:
        raise StoredFileCorrupted(digest)
    return data


class LocalFileStore:
    """Files under `root/ab/cd/<sha256>`, written to a temporary name and renamed (never half a file)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        digest = _checked(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = digest_of(data)
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            return _verified(digest, self._path(digest).read_bytes())
        except FileNotFoundError:
            raise StoredFileMissing(digest) from None

    def digests(self) -> Iterator[str]:
        if self.root.exists():
            for path in sorted(self.root.glob("??/??/*")):
                if DIGEST.fullmatch(path.name):
                    yield path.name


class S3FileStore:
    """Objects named by their SHA-256 in one bucket of S3-compatible storage."""

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ):
        import boto3

        self.bucket = bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
        )

    def put(self, data: bytes) -> str:
        digest = digest_of(data)
        self.client.put_object(Bucket=self.bucket, Key=digest, Body=data)  # same name, same bytes: harmless
        return digest

    def get(self, digest: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=_checked(digest))["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StoredFileMissing(digest) from None
            raise
        return _verified(digest, body)

    def digests(self) -> Iterator[str]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                if DIGEST.fullmatch(item["Key"]):
                    yield item["Key"]


_store: LocalFileStore | S3FileStore | None = None


def configure(config: dict) -> None:
    """Choose the store from the configuration (config.bind calls this for every entry point)."""
    global _store
    if config["FILE_STORE"] == "s3":
        if not config["S3_BUCKET"]:
            raise RuntimeError(
                "ZS_FILE_STORE=s3 needs ZS_S3_BUCKET (and ZS_S3_ENDPOINT_URL for non-AWS storage)."
            )
        _store = S3FileStore(
            config["S3_BUCKET"],
            config["S3_ENDPOINT_URL"],
            config["S3_REGION"],
            config["S3_ACCESS_KEY_ID"],
            config["S3_SECRET_ACCESS_KEY"],
        )
    elif config["FILE_STORE"] == "local":
        _store = LocalFileStore(config["FILE_STORE_PATH"] or Path(config["INSTANCE_PATH"]) / "files")
    else:
        raise RuntimeError(f"ZS_FILE_STORE must be local or s3, not {config['FILE_STORE']!r}.")


def store() -> LocalFileStore | S3FileStore:
    """The configured store; a program that bound only the database gets the one its settings name."""
    if _store is None:
        configure(settings.load())
    return _store
