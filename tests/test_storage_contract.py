"""One contract, two backends: every test here runs on LocalStorage and on S3Storage talking
HTTP to a moto server started for the session.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import urllib.request
from pathlib import Path

import pytest
from flask import Flask

from app.media import bp as media_bp
from app.storage import MIN_PART_SIZE, LocalStorage, MultipartError, S3Storage, StorageError, check_key
from tests.s3_server import make_s3_storage, s3_endpoint, s3_storage  # noqa: F401 - fixtures
from tests.uploads_support import ArrivingPart

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    return request.getfixturevalue("s3_storage")


def _blob(size: int, seed: int = 0) -> bytes:
    """``size`` bytes that differ per seed, cheap to make."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def send_part(storage, key: str, upload_id: str, number: int, data: bytes) -> str:
    """Upload one part the way a client would with this backend; return its ETag."""
    if storage.direct_upload:
        url = storage.presign_part(key, upload_id, number, expires=600)
        # urllib would label the body as a form, which S3 servers may try to parse.
        request = urllib.request.Request(
            url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200
            return response.headers["ETag"].strip('"')
    return storage.write_part(key, upload_id, number, io.BytesIO(data))


def test_put_get_exists_delete(storage):
    storage.put("works/1/a.txt", b"hello", "text/plain")
    storage.put("works/1/b.bin", io.BytesIO(b"\x00\x01" * 1000), "application/octet-stream")
    assert storage.get("works/1/a.txt") == b"hello"
    assert storage.get("works/1/b.bin") == b"\x00\x01" * 1000
    assert storage.exists("works/1/a.txt")
    assert storage.size("works/1/b.bin") == 2000
    assert storage.read_range("works/1/b.bin", 1, 3) == b"\x01\x00\x01"
    storage.put("works/1/a.txt", b"replaced", "text/plain")
    assert storage.get("works/1/a.txt") == b"replaced"
    storage.delete("works/1/a.txt")
    assert not storage.exists("works/1/a.txt")
    storage.delete("works/1/a.txt")  # deleting what is gone is not an error


def test_missing_key_is_a_key_error(storage, tmp_path):
    with pytest.raises(KeyError):
        storage.get("works/9/nothing.mp4")
    with pytest.raises(KeyError):
        storage.size("works/9/nothing.mp4")
    with pytest.raises(KeyError):
        storage.download_to("works/9/nothing.mp4", tmp_path / "x")
    assert not storage.exists("works/9/nothing.mp4")


def test_put_file_and_download_to_stream_large_files(storage, tmp_path):
    # Over boto3's 8 MiB threshold, so the S3 run takes the multipart transfer path.
    source = tmp_path / "big.bin"
    data = _blob(9 * MiB + 123)
    source.write_bytes(data)
    storage.put_file("works/2/source.mp4", source, "video/mp4")
    assert storage.size("works/2/source.mp4") == len(data)
    target = tmp_path / "back.bin"
    storage.download_to("works/2/source.mp4", target)
    assert target.read_bytes() == data


def test_delete_prefix_removes_a_tree_and_spares_its_neighbours(storage):
    for key in ("works/1/hls/360p/a.ts", "works/1/poster.jpg", "works/10/poster.jpg", "works/1"):
        if key != "works/1":
            storage.put(key, b"x", "application/octet-stream")
    storage.delete_prefix("works/1")
    assert not storage.exists("works/1/hls/360p/a.ts")
    assert not storage.exists("works/1/poster.jpg")
    assert storage.exists("works/10/poster.jpg")
    storage.delete_prefix("works/1/")  # nothing left: still fine


def test_url_serves_the_bytes(storage):
    # A collective's badge: public, so the media route serves it without asking whose work it is
    # (works' files follow the work's visibility: tests/test_upload_keys.py).
    key = "collectives/3/badge.jpg"
    data = _blob(100_000, seed=3)
    storage.put(key, data, "image/jpeg")
    if isinstance(storage, S3Storage):
        with urllib.request.urlopen(storage.url(key)) as response:
            assert response.read() == data
        return
    app = Flask(__name__)
    app.register_blueprint(media_bp)
    app.extensions["storage"] = storage
    with app.test_request_context():
        url = storage.url(key)
    client = app.test_client()
    with client.get(url) as whole:
        assert whole.data == data
    with client.get(url, headers={"Range": "bytes=10-19"}) as partial:
        assert partial.status_code == 206 and partial.data == data[10:20]


def test_public_base_url_is_used_verbatim(tmp_path, s3_endpoint):  # noqa: F811
    s3 = make_s3_storage(s3_endpoint, public_base_url="https://cdn.example.com/media/")
    assert s3.url("works/1/poster.jpg") == "https://cdn.example.com/media/works/1/poster.jpg"
    local = LocalStorage(tmp_path, base_url="/media/")
    assert local.url("works/1/poster.jpg") == "/media/works/1/poster.jpg"


BAD_KEYS = [
    "",
    "../etc/passwd",
    "works/../../etc/passwd",
    "works/1/../../../x",
    "/etc/passwd",
    "works//1",
    "works/./1",
    "works/1/",
    ".multipart/abc/upload.json",
    "works/1/.part-123",
    "works/1/a b.mp4",
    "works\\1",
    pytest.param("x" * 1025, id="too-long"),
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_everywhere(storage, key, tmp_path):
    with pytest.raises(ValueError):
        check_key(key)
    calls = [
        lambda: storage.put(key, b"x", "text/plain"),
        lambda: storage.get(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
        lambda: storage.url(key),
        lambda: storage.download_to(key, tmp_path / "x"),
        lambda: storage.create_multipart(key, "video/mp4"),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert not (tmp_path.parent / "etc").exists()


def test_multipart_round_trip_out_of_order_and_resent(storage):
    key = "uploads/7/source"
    parts = {1: _blob(MIN_PART_SIZE, 1), 2: _blob(MIN_PART_SIZE, 2), 3: _blob(12_345, 3)}
    upload_id = storage.create_multipart(key, "video/mp4")
    etags = {3: send_part(storage, key, upload_id, 3, parts[3])}
    # Part 1 first goes up with the wrong bytes (a dropped connection, say), then again.
    send_part(storage, key, upload_id, 1, b"garbage" * 1000)
    etags[1] = send_part(storage, key, upload_id, 1, parts[1])
    etags[2] = send_part(storage, key, upload_id, 2, parts[2])
    assert etags[1] == hashlib.md5(parts[1]).hexdigest()

    listed = storage.list_parts(key, upload_id)
    assert [(p["number"], p["etag"], p["size"]) for p in listed] == [
        (n, etags[n], len(parts[n])) for n in (1, 2, 3)
    ]
    # The client sends its list in whatever order it has it.
    storage.complete_multipart(key, upload_id, [{"number": n, "etag": etags[n]} for n in (3, 1, 2)])
    assert storage.get(key) == parts[1] + parts[2] + parts[3]
    with pytest.raises(MultipartError) as gone:
        storage.list_parts(key, upload_id)
    assert gone.value.code == "no_such_upload"


def test_completion_with_a_missing_part_fails_and_can_be_resumed(storage):
    key = "uploads/8/source"
    one, two = _blob(MIN_PART_SIZE, 4), _blob(1000, 5)
    upload_id = storage.create_multipart(key, "video/mp4")
    etag1 = send_part(storage, key, upload_id, 1, one)
    claimed = [{"number": 1, "etag": etag1}, {"number": 2, "etag": hashlib.md5(two).hexdigest()}]
    with pytest.raises(MultipartError) as failed:
        storage.complete_multipart(key, upload_id, claimed)
    assert failed.value.code == "invalid_part"
    assert not storage.exists(key)
    # The upload is still open: send what was missing and finish.
    assert [p["number"] for p in storage.list_parts(key, upload_id)] == [1]
    send_part(storage, key, upload_id, 2, two)
    storage.complete_multipart(key, upload_id, claimed)
    assert storage.get(key) == one + two


def test_completion_with_a_wrong_etag_fails(storage):
    key = "uploads/9/source"
    upload_id = storage.create_multipart(key, "video/mp4")
    send_part(storage, key, upload_id, 1, b"abc")
    with pytest.raises(MultipartError) as failed:
        storage.complete_multipart(key, upload_id, [{"number": 1, "etag": "0" * 32}])
    assert failed.value.code == "invalid_part"
    assert not storage.exists(key)


def test_small_parts_other_than_the_last_are_refused(storage):
    key = "uploads/10/source"
    upload_id = storage.create_multipart(key, "video/mp4")
    parts = [{"number": n, "etag": send_part(storage, key, upload_id, n, _blob(1000, n))} for n in (1, 2)]
    with pytest.raises(MultipartError) as failed:
        storage.complete_multipart(key, upload_id, parts)
    assert failed.value.code == "part_too_small"


def test_abort_discards_the_parts(storage):
    key = "uploads/11/source"
    upload_id = storage.create_multipart(key, "video/mp4")
    send_part(storage, key, upload_id, 1, b"abc")
    storage.abort_multipart(key, upload_id)
    with pytest.raises(MultipartError):
        storage.list_parts(key, upload_id)
    storage.abort_multipart(key, upload_id)  # twice is fine
    assert not storage.exists(key)


def test_a_local_part_arriving_while_its_upload_is_aborted_is_refused_as_no_such_upload(tmp_path):
    # Local only: AWS answers NoSuchUpload here, but moto answers 500; and through S3 the
    # browser sends its parts to the bucket, never through write_part.
    storage = LocalStorage(tmp_path / "media")
    key = "uploads/12/source"
    upload_id = storage.create_multipart(key, "video/mp4")
    arriving = ArrivingPart(b"abc" * 1000, lambda: storage.abort_multipart(key, upload_id))
    with pytest.raises(MultipartError) as refused:
        storage.write_part(key, upload_id, 1, arriving)
    assert refused.value.code == "no_such_upload"
    assert not storage.exists(key)


def test_a_local_upload_id_is_bound_to_its_key(tmp_path):
    # Local only: AWS answers NoSuchUpload here too, but moto echoes whatever key it is given, so
    # the app never relies on the store for this; the upload session row (id, key, owner) does.
    storage = LocalStorage(tmp_path / "media")
    upload_id = storage.create_multipart("uploads/12/source", "video/mp4")
    with pytest.raises(MultipartError) as failed:
        storage.list_parts("uploads/13/source", upload_id)
    assert failed.value.code == "no_such_upload"


def test_bad_part_numbers_are_refused(storage):
    key = "uploads/14/source"
    upload_id = storage.create_multipart(key, "video/mp4")
    for number in (0, 10_001):
        with pytest.raises(MultipartError):
            storage.write_part(key, upload_id, number, io.BytesIO(b"x"))
    with pytest.raises(MultipartError):
        storage.complete_multipart(key, upload_id, [])


def test_server_side_write_part_works_on_both(storage):
    """write_part is the local path; on S3 it exists for tools and tests."""
    key = "uploads/15/source"
    upload_id = storage.create_multipart(key, "video/mp4")
    etag = storage.write_part(key, upload_id, 1, io.BytesIO(b"only part"), max_size=100)
    with pytest.raises(MultipartError) as too_big:
        storage.write_part(key, upload_id, 2, io.BytesIO(b"x" * 101), max_size=100)
    assert too_big.value.code == "part_too_large"
    storage.complete_multipart(key, upload_id, [{"number": 1, "etag": etag}])
    assert storage.get(key) == b"only part"


class _Endless(io.RawIOBase):
    """A request body of ``size`` bytes that never exists in memory all at once."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"\x5a" * n
        self.left -= n
        return n


def test_local_parts_are_written_in_constant_memory(tmp_path):
    storage = LocalStorage(tmp_path)
    key = "uploads/16/source"
    upload_id = storage.create_multipart(key, "video/mp4")
    tracemalloc.start()
    try:
        storage.write_part(key, upload_id, 1, io.BufferedReader(_Endless(48 * MiB)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB
    assert storage.list_parts(key, upload_id)[0]["size"] == 48 * MiB
    # Nothing of the upload is reachable as a key, so the media route can never serve it.
    assert all(not p.name.startswith(".") for p in (tmp_path).iterdir() if p.is_file())


def test_ensure_bucket_is_idempotent_and_check_sees_a_missing_bucket(s3_endpoint):  # noqa: F811
    storage = make_s3_storage(s3_endpoint)
    with pytest.raises((KeyError, StorageError)):
        storage.check()
    storage.ensure_bucket()
    storage.ensure_bucket()
    storage.check()


def test_an_unreachable_store_raises_storage_error():
    storage = make_s3_storage("http://127.0.0.1:9", max_attempts=1)  # discard port: nothing listens
    with pytest.raises(StorageError):
        storage.put("works/1/a.txt", b"x", "text/plain")
    with pytest.raises(StorageError):
        storage.get("works/1/a.txt")


def test_local_put_leaves_no_temporary_files(tmp_path):
    storage = LocalStorage(tmp_path)

    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            raise OSError("connection reset")

    with pytest.raises(OSError):
        storage.put("works/1/a.bin", io.BufferedReader(Broken()), "application/octet-stream")
    assert not any(name.startswith(".part-") for _, _, files in os.walk(tmp_path) for name in files)
    assert not Path(tmp_path / "works/1/a.bin").exists()
