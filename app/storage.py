"""Object storage behind one interface: LocalStorage (a folder) and S3Storage (boto3).

Keys are relative, slash-separated paths such as ``works/12/images/3.jpg``; every storage call in
the application goes through the object returned by :func:`get_storage`.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app, url_for

log = logging.getLogger(__name__)

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


class StorageError(Exception):
    """The store did not answer or refused: usually transient, worth a retry."""


def check_key(key: str) -> str:
    """Refuse keys that could escape the store's root or confuse a URL."""
    if not key or not _KEY_RE.match(key) or ".." in key.split("/") or "//" in key:
        raise ValueError(f"invalid storage key: {key!r}")
    return key


class Storage(Protocol):
    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def url(self, key: str) -> str: ...
    def check(self) -> None: ...


class LocalStorage:
    """Files under one root folder; served by the app with HTTP Range support."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise ValueError(f"invalid storage key: {key!r}")
        return path

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes | bytearray):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, 1024 * 1024)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        target = self.path(prefix.rstrip("/"))
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)

    def url(self, key: str) -> str:
        return url_for("media.serve", key=check_key(key))

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"media folder is not writable: {self.root}")


class S3Storage:
    """Any S3-compatible store through boto3 (AWS, MinIO, Ceph RGW, moto in tests)."""

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        addressing_style: str = "path",
        public_base_url: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=BotoConfig(
                s3={"addressing_style": addressing_style},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=3,
                read_timeout=30,
            ),
        )

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if method == "upload_fileobj":
                # boto3 streams large bodies in parts; put_object would need it all in memory.
                return self.client.upload_fileobj(
                    kwargs["Body"],
                    self.bucket,
                    kwargs["Key"],
                    ExtraArgs={"ContentType": kwargs["ContentType"]},
                )
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise KeyError(kwargs.get("Key")) from exc
            raise StorageError(f"S3 {method} failed: {code}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {method} failed: {exc}") from exc

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None:
        body = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
        self._call("upload_fileobj", Key=check_key(key), Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self._call("get_object", Key=check_key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=check_key(key))
        except KeyError:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=check_key(key))

    def delete_prefix(self, prefix: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=check_key(prefix)):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._call("delete_objects", Delete={"Objects": keys})

    def url(self, key: str) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{check_key(key)}"
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": check_key(key)}, ExpiresIn=3600
        )

    def check(self) -> None:
        self._call("head_bucket")

    def ensure_bucket(self) -> None:
        try:
            self.check()
        except StorageError:
            self._call("create_bucket")


def init_storage(app: Flask) -> None:
    backend = app.config["STORAGE_BACKEND"]
    if backend == "local":
        storage: Storage = LocalStorage(app.config["MEDIA_ROOT"])
    elif backend == "s3":
        storage = S3Storage(
            bucket=app.config["S3_BUCKET"],
            endpoint_url=app.config["S3_ENDPOINT_URL"],
            region=app.config["S3_REGION"],
            access_key=app.config["S3_ACCESS_KEY_ID"],
            secret_key=app.config["S3_SECRET_ACCESS_KEY"],
            addressing_style=app.config["S3_ADDRESSING_STYLE"],
            public_base_url=app.config["S3_PUBLIC_BASE_URL"],
        )
    else:
        raise RuntimeError(f"STORAGE_BACKEND must be 'local' or 's3', not {backend!r}")
    app.extensions["storage"] = storage


def get_storage() -> Storage:
    return current_app.extensions["storage"]
