"""Object storage behind one interface: LocalStorage (a folder) and S3Storage (boto3).

One module, though long: the two backends keep one contract, and a difference between them is
caught by reading them side by side (and by tests/test_storage_contract.py, run on both).

Keys are relative, slash-separated paths such as ``works/12/images/3.jpg``; every storage call in
the application goes through the object returned by :func:`get_storage`.

Multipart uploads have the same five calls on both backends, so the upload sessions and the
contract tests do not care which one is configured::

    upload_id = storage.create_multipart(key, content_type)
    # the client sends parts 1..n, in any order, any part again if it was lost:
    #   S3:    PUT to storage.presign_part(key, upload_id, n, expires) - straight to the bucket
    #   local: the app streams the request body into storage.write_part(key, upload_id, n, body)
    storage.list_parts(key, upload_id)            # what arrived, for resuming
    storage.complete_multipart(key, upload_id, [{"number": n, "etag": etag}, ...])
    storage.abort_multipart(key, upload_id)

``direct_upload`` says which way parts travel. Completion checks what S3 checks (every listed
part present with that ETag, every part but the last at least 5 MiB) and raises
:class:`MultipartError` - never :class:`StorageError`, because retrying cannot fix it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypedDict

from flask import Flask, current_app, url_for

log = logging.getLogger(__name__)

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
_UPLOAD_ID_RE = re.compile(r"^[a-f0-9]{32}$")
MAX_KEY_LENGTH = 1024
CHUNK = 1024 * 1024
# S3's rules, kept on the local backend too, so that a client that works locally works on S3.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
MULTIPART_DIR = ".multipart"

# The media type of every kind of file the site stores, set here rather than read from the host's
# mimetypes table: Debian's maps .ts to Qt Linguist (text/vnd.trolltech.linguist), and with
# nosniff a browser then refuses the HLS segment. Anything else is served as a download.
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def content_type_for(key: str) -> str:
    """The media type a stored file is served with, from its name's extension."""
    _stem, dot, ext = key.rpartition("/")[2].rpartition(".")
    return CONTENT_TYPES.get(f".{ext.lower()}", DEFAULT_CONTENT_TYPE) if dot else DEFAULT_CONTENT_TYPE


class StorageError(Exception):
    """The store did not answer or refused: usually transient, worth a retry."""


class MultipartError(Exception):
    """A multipart upload cannot be completed as asked; ``code`` says why.

    Codes: ``no_such_upload``, ``invalid_part`` (missing, or its ETag differs),
    ``part_too_small`` (a part other than the last is under 5 MiB), ``invalid_part_number``,
    ``part_too_large``, ``no_parts``. The upload stays open: send the missing part and complete
    again, or abort.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BucketNotAllowed(StorageError):
    """The credentials may not create the bucket or set its CORS (or creating it is turned off)."""


# Our CORS rules carry this ID prefix, so `flask storage init` replaces its own and keeps the rest.
CORS_RULE_PREFIX = "wmcwm-"
CORS_MAX_AGE = 3600


def upload_cors_rules(origins: Iterable[str]) -> list[dict[str, Any]]:
    """What browsers on `origins` need: PUT the upload parts to presigned URLs and read each
    answer's ETag (the completion lists them), and GET/HEAD media (hls.js fetches playlists and
    segments with XHR, which is cross-origin when media come straight from the bucket)."""
    allowed = sorted({origin.rstrip("/") for origin in origins if origin})
    if not allowed:
        raise ValueError("at least one origin is needed (PUBLIC_BASE_URL, S3_CORS_ORIGINS or --origin)")
    return [
        {
            "ID": f"{CORS_RULE_PREFIX}uploads",
            "AllowedOrigins": allowed,
            "AllowedMethods": ["PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": CORS_MAX_AGE,
        },
        {
            "ID": f"{CORS_RULE_PREFIX}media",
            "AllowedOrigins": allowed,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
            "MaxAgeSeconds": CORS_MAX_AGE,
        },
    ]


def _same_rules(current: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> bool:
    def norm(rule: dict[str, Any]) -> tuple:
        return (
            rule.get("ID"),
            tuple(sorted(rule.get("AllowedOrigins", []))),
            tuple(sorted(rule.get("AllowedMethods", []))),
            tuple(sorted(rule.get("AllowedHeaders", []))),
            tuple(sorted(rule.get("ExposeHeaders", []))),
            rule.get("MaxAgeSeconds"),
        )

    return sorted(map(norm, current)) == sorted(map(norm, wanted))


class Part(TypedDict):
    number: int
    etag: str
    size: int


def check_key(key: str) -> str:
    """Refuse keys that could escape the store's root, hide among its own files, or confuse a URL."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"invalid storage key: {key!r}")
    for segment in key.split("/"):
        # A segment may not start with a dot: "..", ".", and the backends' own hidden files.
        if not _SEGMENT_RE.match(segment):
            raise ValueError(f"invalid storage key: {key!r}")
    return key


def _check_part_number(number: int) -> int:
    if not isinstance(number, int) or not 1 <= number <= MAX_PART_NUMBER:
        raise MultipartError("invalid_part_number", f"part numbers run from 1 to {MAX_PART_NUMBER}")
    return number


def _sorted_parts(parts: Iterable[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """The parts to complete, ascending (clients may send them in any order), no duplicates."""
    wanted = sorted((_check_part_number(int(p["number"])), str(p["etag"]).strip('"')) for p in parts)
    if not wanted:
        raise MultipartError("no_parts", "no parts to complete")
    numbers = [number for number, _ in wanted]
    if len(set(numbers)) != len(numbers):
        raise MultipartError("invalid_part_number", "a part number is listed twice")
    return wanted


class Storage(Protocol):
    """What both backends offer. Missing keys raise KeyError, bad keys ValueError, an
    unreachable or refusing store StorageError, an impossible multipart step MultipartError."""

    direct_upload: bool  # True: clients PUT parts to presign_part URLs; False: to the app

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None: ...
    def put_file(self, key: str, path: str | os.PathLike[str], content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def read_range(self, key: str, start: int, length: int) -> bytes: ...
    def download_to(self, key: str, path: str | os.PathLike[str]) -> None: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def url(self, key: str) -> str: ...
    def check(self) -> None: ...
    def prepare(self, *, origins: Iterable[str], create: bool) -> list[str]: ...
    def create_multipart(self, key: str, content_type: str) -> str: ...
    def presign_part(self, key: str, upload_id: str, number: int, expires: int = 3600) -> str: ...
    def write_part(
        self, key: str, upload_id: str, number: int, stream: BinaryIO, max_size: int | None = None
    ) -> str: ...
    def list_parts(self, key: str, upload_id: str) -> list[Part]: ...
    def complete_multipart(self, key: str, upload_id: str, parts: Iterable[Mapping[str, Any]]) -> None: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...
    def list_multiparts(self) -> list[tuple[str, str]]: ...


def _copy_limited(source: BinaryIO, out: BinaryIO, max_size: int | None) -> tuple[int, str]:
    """Copy in 1 MiB chunks (constant memory); return (bytes, md5 hex)."""
    digest = hashlib.md5(usedforsecurity=False)
    total = 0
    while chunk := source.read(CHUNK):
        total += len(chunk)
        if max_size is not None and total > max_size:
            raise MultipartError("part_too_large", f"a part may hold at most {max_size} bytes")
        digest.update(chunk)
        out.write(chunk)
    return total, digest.hexdigest()


def _ended(upload_folder: Path) -> bool:
    """The upload went while a part of it was arriving: aborted (a new upload of the work from
    another tab) or completed. S3 answers NoSuchUpload then, and so do we."""
    return not (upload_folder / "upload.json").exists()


def _ended_meanwhile() -> MultipartError:
    return MultipartError("no_such_upload", "this upload ended while the part arrived")


class LocalStorage:
    """Files under one root folder; served by the app with HTTP Range support.

    Multipart uploads live in ``<root>/.multipart/<upload_id>/`` (a dot folder that no key can
    name, so it is never served) until they are completed or aborted.
    """

    direct_upload = False

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        base_url: str | None = None,
        min_part_size: int = MIN_PART_SIZE,
    ) -> None:
        self.root = Path(root).resolve()
        # None: URLs come from the app's media route (needs an app context).
        self.base_url = base_url.rstrip("/") if base_url else None
        self.min_part_size = min_part_size

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise ValueError(f"invalid storage key: {key!r}")
        return path

    def _write_atomic(self, path: Path, data: bytes | BinaryIO) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes | bytearray):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, CHUNK)
            os.replace(tmp, path)
        except BaseException:
            # BaseException: an interrupted write must not leave its temporary file behind.
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None:
        self._write_atomic(self.path(key), data)

    def put_file(self, key: str, path: str | os.PathLike[str], content_type: str) -> None:
        with open(path, "rb") as source:
            self._write_atomic(self.path(key), source)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    def read_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with self.path(key).open("rb") as fh:
                fh.seek(start)
                return fh.read(length)
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    def download_to(self, key: str, path: str | os.PathLike[str]) -> None:
        try:
            shutil.copyfile(self.path(key), path)
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
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
        if self.base_url:
            return f"{self.base_url}/{check_key(key)}"
        return url_for("media.serve", key=check_key(key))

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"media folder is not writable: {self.root}")

    def prepare(self, *, origins: Iterable[str], create: bool) -> list[str]:
        """`flask storage init`: the folder exists and is writable (parts go through the app, so
        no CORS is needed). Returns what was done, one line each."""
        self.check()
        return [f"media folder ready: {self.root}"]

    # -- multipart ---------------------------------------------------------------------------

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        check_key(key)
        folder = self.root / MULTIPART_DIR / upload_id
        try:
            if not _UPLOAD_ID_RE.match(upload_id):
                raise FileNotFoundError(upload_id)
            meta = json.loads((folder / "upload.json").read_text())
        except FileNotFoundError:
            raise MultipartError("no_such_upload", "this upload does not exist or has ended") from None
        if meta["key"] != key:
            raise MultipartError("no_such_upload", "this upload belongs to another key")
        return folder

    def create_multipart(self, key: str, content_type: str) -> str:
        check_key(key)
        upload_id = secrets.token_hex(16)
        folder = self.root / MULTIPART_DIR / upload_id
        folder.mkdir(parents=True)
        (folder / "upload.json").write_text(json.dumps({"key": key, "content_type": content_type}))
        return upload_id

    def presign_part(self, key: str, upload_id: str, number: int, expires: int = 3600) -> str:
        raise NotImplementedError("local storage takes parts through the app: use write_part")

    def write_part(
        self, key: str, upload_id: str, number: int, stream: BinaryIO, max_size: int | None = None
    ) -> str:
        """Store part ``number`` from ``stream`` in constant memory; return its ETag (MD5 hex).

        Sending a part again replaces it, as on S3.
        """
        folder = self._upload_dir(key, upload_id)
        _check_part_number(number)
        part = folder / f"{number:05d}.part"
        etag_file = part.with_suffix(".etag")
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
        except FileNotFoundError:
            if _ended(folder):
                raise _ended_meanwhile() from None
            raise
        replaced = False
        try:
            with os.fdopen(fd, "wb") as out:
                _, etag = _copy_limited(stream, out, max_size)
            # The part is renamed into place before its ETag, and completion re-hashes what it
            # assembles, so a reader never trusts a sidecar that describes other bytes.
            os.replace(tmp, part)
            replaced = True
            etag_file.write_text(etag)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if replaced:
                # The ETag could not be written (a full disk): the part must not count as
                # received, with no ETag or an empty or stale one; the client sends it again.
                part.unlink(missing_ok=True)
                etag_file.unlink(missing_ok=True)
            if isinstance(exc, FileNotFoundError) and _ended(folder):
                raise _ended_meanwhile() from None
            raise
        return etag

    def list_parts(self, key: str, upload_id: str) -> list[Part]:
        folder = self._upload_dir(key, upload_id)
        parts: list[Part] = []
        for part in sorted(folder.glob("*.part")):
            etag_file = part.with_suffix(".etag")
            if etag_file.is_file():
                parts.append(
                    Part(number=int(part.stem), etag=etag_file.read_text(), size=part.stat().st_size)
                )
        return parts

    def complete_multipart(self, key: str, upload_id: str, parts: Iterable[Mapping[str, Any]]) -> None:
        """Concatenate the listed parts into ``key``, checking them as S3 does."""
        folder = self._upload_dir(key, upload_id)
        wanted = _sorted_parts(parts)
        files = []
        for index, (number, _etag) in enumerate(wanted):
            path = folder / f"{number:05d}.part"
            if not path.is_file():
                raise MultipartError("invalid_part", f"part {number} has not been uploaded")
            if index < len(wanted) - 1 and path.stat().st_size < self.min_part_size:
                raise MultipartError("part_too_small", f"part {number} is smaller than the minimum")
            files.append(path)
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                for path, (number, etag) in zip(files, wanted, strict=True):
                    with path.open("rb") as source:
                        _, actual = _copy_limited(source, out, None)
                    if actual != etag:
                        raise MultipartError("invalid_part", f"part {number} has another ETag")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        shutil.rmtree(folder, ignore_errors=True)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            folder = self._upload_dir(key, upload_id)
        except MultipartError:
            return  # already gone: aborting is idempotent, as on S3
        shutil.rmtree(folder, ignore_errors=True)

    def list_multiparts(self) -> list[tuple[str, str]]:
        """(key, upload_id) of every multipart upload not completed or aborted."""
        found = []
        base = self.root / MULTIPART_DIR
        if not base.is_dir():
            return found
        for folder in base.iterdir():
            try:
                meta = json.loads((folder / "upload.json").read_text())
            except (OSError, ValueError):
                continue  # half-made or just removed: the next run sees it as it is then
            if _UPLOAD_ID_RE.match(folder.name):
                found.append((meta["key"], folder.name))
        return found


class S3Storage:
    """Any S3-compatible store through boto3 (AWS, MinIO, Ceph RGW, moto in tests)."""

    direct_upload = True

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        addressing_style: str = "path",
        public_base_url: str | None = None,
        max_attempts: int = 3,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config as BotoConfig

        self.bucket = bucket
        self.region = region
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=BotoConfig(
                s3={"addressing_style": addressing_style},
                signature_version="s3v4",
                retries={"max_attempts": max_attempts, "mode": "standard"},
                connect_timeout=3,
                read_timeout=30,
            ),
        )
        # Files go up and down in 8 MiB parts on a few threads; memory stays bounded.
        self.transfer = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)

    def _call(self, method: str, *args, **kwargs):
        """Call a boto3 method, translating its errors into KeyError / MultipartError / StorageError."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(*args, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise KeyError(kwargs.get("Key")) from exc
            if code in _MULTIPART_CODES:
                raise MultipartError(_MULTIPART_CODES[code], f"S3 {method}: {code}") from exc
            raise StorageError(f"S3 {method} failed: {code or exc}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageError(f"S3 {method} failed: {exc}") from exc

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None:
        body = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
        # upload_fileobj streams large bodies in parts; put_object would need it all in memory.
        self._call(
            "upload_fileobj",
            body,
            self.bucket,
            check_key(key),
            ExtraArgs={"ContentType": content_type},
            Config=self.transfer,
        )

    def put_file(self, key: str, path: str | os.PathLike[str], content_type: str) -> None:
        self._call(
            "upload_file",
            os.fspath(path),
            self.bucket,
            check_key(key),
            ExtraArgs={"ContentType": content_type},
            Config=self.transfer,
        )

    def get(self, key: str) -> bytes:
        return self._call("get_object", Bucket=self.bucket, Key=check_key(key))["Body"].read()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        response = self._call(
            "get_object", Bucket=self.bucket, Key=check_key(key), Range=f"bytes={start}-{start + length - 1}"
        )
        return response["Body"].read()

    def download_to(self, key: str, path: str | os.PathLike[str]) -> None:
        self._call("download_file", self.bucket, check_key(key), os.fspath(path), Config=self.transfer)

    def size(self, key: str) -> int:
        return int(self._call("head_object", Bucket=self.bucket, Key=check_key(key))["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Bucket=self.bucket, Key=check_key(key))
        except KeyError:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call("delete_object", Bucket=self.bucket, Key=check_key(key))

    def delete_prefix(self, prefix: str) -> None:
        """Delete ``prefix`` and everything under ``prefix/`` (``works/1`` spares ``works/10``)."""
        prefix = check_key(prefix.rstrip("/"))
        self.delete(prefix)
        token = None
        while True:
            kwargs = {"ContinuationToken": token} if token else {}
            page = self._call("list_objects_v2", Bucket=self.bucket, Prefix=prefix + "/", **kwargs)
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                response = self._call(
                    "delete_objects", Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )
                if response.get("Errors"):
                    raise StorageError(f"S3 delete_objects failed for {len(response['Errors'])} keys")
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def url(self, key: str) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{check_key(key)}"
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": check_key(key)}, ExpiresIn=3600
        )

    def check(self) -> None:
        self._call("head_bucket", Bucket=self.bucket)

    def prepare(self, *, origins: Iterable[str], create: bool) -> list[str]:
        """`flask storage init`: the bucket exists (created when `create`) and its CORS lets
        browsers on `origins` PUT upload parts and read the ETag (and play media). Idempotent;
        rules another tool set on the bucket are kept. Returns what was done, one line each.

        Raises :class:`BucketNotAllowed` when the bucket is missing and may not be created, or
        the credentials may not create it or set its CORS.
        """
        done: list[str] = []
        try:
            self.check()
            done.append(f"bucket {self.bucket} exists")
        except (KeyError, StorageError) as exc:
            if not create:
                state = "does not exist" if isinstance(exc, KeyError) else f"does not answer ({exc})"
                raise BucketNotAllowed(
                    f"bucket {self.bucket} {state} and S3_CREATE_BUCKET is off: "
                    "create it in the store's console, or let this command create it"
                ) from exc
            self._guarded("create the bucket", self.ensure_bucket)
            done.append(f"bucket {self.bucket} created")
        wanted = upload_cors_rules(origins)
        try:
            current = self._call("get_bucket_cors", Bucket=self.bucket).get("CORSRules", [])
        except StorageError as exc:
            if "NoSuchCORSConfiguration" not in str(exc):
                self._refused("read the bucket's CORS", exc)
            current = []
        kept = [rule for rule in current if not str(rule.get("ID", "")).startswith(CORS_RULE_PREFIX)]
        ours = [rule for rule in current if str(rule.get("ID", "")).startswith(CORS_RULE_PREFIX)]
        if _same_rules(ours, wanted):
            done.append(f"CORS already allows uploads from {', '.join(sorted(set(origins)))}")
            return done
        self._guarded(
            "set the bucket's CORS",
            lambda: self._call(
                "put_bucket_cors", Bucket=self.bucket, CORSConfiguration={"CORSRules": kept + wanted}
            ),
        )
        done.append(f"CORS set: PUT/GET/HEAD from {', '.join(sorted(set(origins)))}, exposing ETag")
        return done

    def _guarded(self, what: str, call) -> Any:
        try:
            return call()
        except StorageError as exc:
            self._refused(what, exc)

    @staticmethod
    def _refused(what: str, exc: Exception) -> None:
        if any(code in str(exc) for code in ("AccessDenied", "Forbidden", "403", "NotImplemented")):
            raise BucketNotAllowed(f"not allowed to {what}: {exc}") from exc
        raise exc

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (development and tests; production pre-creates)."""
        try:
            self.check()
            return
        except (KeyError, StorageError):
            pass
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._call("create_bucket", **kwargs)
        except StorageError as exc:
            # Another process may have created it meanwhile; that is success.
            if "BucketAlreadyOwnedByYou" not in str(exc):
                raise

    # -- multipart ---------------------------------------------------------------------------

    def create_multipart(self, key: str, content_type: str) -> str:
        response = self._call(
            "create_multipart_upload", Bucket=self.bucket, Key=check_key(key), ContentType=content_type
        )
        return response["UploadId"]

    def presign_part(self, key: str, upload_id: str, number: int, expires: int = 3600) -> str:
        """A URL the client PUTs part ``number`` to; the ETag header of the answer names the part."""
        return self.client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": check_key(key),
                "UploadId": upload_id,
                "PartNumber": _check_part_number(number),
            },
            ExpiresIn=expires,
        )

    def write_part(
        self, key: str, upload_id: str, number: int, stream: BinaryIO, max_size: int | None = None
    ) -> str:
        """Send a part through the server (clients normally PUT to :meth:`presign_part` URLs)."""
        data = stream.read(max_size + 1 if max_size is not None else -1)
        if max_size is not None and len(data) > max_size:
            raise MultipartError("part_too_large", f"a part may hold at most {max_size} bytes")
        response = self._call(
            "upload_part",
            Bucket=self.bucket,
            Key=check_key(key),
            UploadId=upload_id,
            PartNumber=_check_part_number(number),
            Body=data,
        )
        return response["ETag"].strip('"')

    def list_parts(self, key: str, upload_id: str) -> list[Part]:
        parts: list[Part] = []
        marker = 0
        while True:
            response = self._call(
                "list_parts",
                Bucket=self.bucket,
                Key=check_key(key),
                UploadId=upload_id,
                PartNumberMarker=marker,
            )
            for item in response.get("Parts", []):
                parts.append(Part(number=item["PartNumber"], etag=item["ETag"].strip('"'), size=item["Size"]))
            if not response.get("IsTruncated"):
                return parts
            marker = int(response["NextPartNumberMarker"])

    def complete_multipart(self, key: str, upload_id: str, parts: Iterable[Mapping[str, Any]]) -> None:
        wanted = _sorted_parts(parts)
        self._call(
            "complete_multipart_upload",
            Bucket=self.bucket,
            Key=check_key(key),
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": f'"{etag}"'} for n, etag in wanted]},
        )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self._call("abort_multipart_upload", Bucket=self.bucket, Key=check_key(key), UploadId=upload_id)
        except MultipartError:
            pass  # already completed or aborted: aborting is idempotent

    def list_multiparts(self) -> list[tuple[str, str]]:
        """(key, upload_id) of the bucket's multipart uploads not completed or aborted (S3 keeps
        and bills their parts until then)."""
        found = []
        params: dict[str, Any] = {"Bucket": self.bucket}
        while True:
            page = self._call("list_multipart_uploads", **params)
            found.extend((upload["Key"], upload["UploadId"]) for upload in page.get("Uploads", []))
            if not page.get("IsTruncated"):
                return found
            params.update(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])


_MULTIPART_CODES = {
    "NoSuchUpload": "no_such_upload",
    "InvalidPart": "invalid_part",
    "InvalidPartOrder": "invalid_part",
    "EntityTooSmall": "part_too_small",
    "MalformedXML": "no_parts",
}


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


def delete_quietly(keys: Iterable[str | None]) -> None:
    """Remove stored files whose rows are gone; an orphan file is harmless, so never raise."""
    storage = get_storage()
    for key in keys:
        if not key:
            continue
        try:
            storage.delete(key)
        except Exception:  # the row is already consistent; a leftover file only costs space
            log.warning("could not delete stored file %s", key, exc_info=True)
