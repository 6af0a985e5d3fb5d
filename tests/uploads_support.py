"""Uploads through API v1 as the page's script sends them: the app with small parts and its own
queue (``media_app``), the accounts around one collective's draft (``people``), sample clips
(``samples``) and a client that speaks the upload API (``Uploader``). The fixtures are shared
through tests/conftest.py.
"""

from __future__ import annotations

import io
import secrets
import urllib.request

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AssetRole, MediaAsset, Role, Work
from app.storage import LocalStorage
from media_worker.jobs import transcode_asset
from tests.builders_support import make_work
from tests.media_samples import SampleFactory
from tests.media_worker_process import forget_queue
from tests.sign_in_support import csrf_token, sign_in

PART = 16 * 1024  # small parts, so that a tiny clip takes several


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> SampleFactory:
    return SampleFactory(tmp_path_factory.mktemp("upload-samples"))


@pytest.fixture
def media_app(app, redis_server):
    """The app with small parts, LocalStorage taking them, and a queue of this test's own."""
    queue = f"media-test-uploads-{secrets.token_hex(4)}"
    app.config.update(UPLOAD_PART_SIZE=PART, MEDIA_QUEUE=queue)
    app.extensions["storage"] = LocalStorage(app.config["MEDIA_ROOT"], min_part_size=PART)
    yield app
    forget_queue(redis_server, queue)


@pytest.fixture
def people(media_app, make_collective, make_user, open_campaign):
    collective = make_collective()
    other = make_collective("上海银行青年文明号", "金融", "上海")
    return {
        "collective": collective,
        "campaign": open_campaign,
        "owner": make_user(Role.COLLECTIVE, collective=collective),
        "stranger": make_user(Role.COLLECTIVE, collective=other),
        "moderator": make_user(Role.MODERATOR, province="北京"),
        "viewer": make_user(Role.VIEWER),
    }


class Uploader:
    """A client signed in as one user, speaking the upload API as the page's script does."""

    def __init__(self, app, user) -> None:
        self.client = app.test_client()
        sign_in(self.client, user)
        self.headers = {"X-CSRFToken": csrf_token(self.client)}

    def open(self, work_id: int, data: bytes | int, name: str = "clip.mp4", content_type: str = "video/mp4"):
        size = data if isinstance(data, int) else len(data)
        body = {"filename": name, "size": size, "content_type": content_type}
        return self.client.post(f"/api/v1/works/{work_id}/uploads", json=body, headers=self.headers)

    def put(self, target: dict, data: bytes):
        url = target["url"]
        if url.startswith("http"):  # a presigned bucket URL: straight to S3, not through the app
            # A browser sends a File.slice() with no type; urllib would label it a form.
            headers = {"Content-Type": "application/octet-stream"}
            request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                return {"number": target["number"], "etag": response.headers["ETag"].strip('"')}
        response = self.client.put(
            url, data=data, headers={**self.headers, "Content-Type": "application/octet-stream"}
        )
        assert response.status_code == 200, response.json
        return {"number": target["number"], "etag": response.json["etag"]}

    def send(self, opened: dict, data: bytes, order=None) -> list[dict]:
        size = opened["part_size"]
        targets = opened["parts"]
        order = order or range(len(targets))
        return [self.put(targets[i], data[i * size : (i + 1) * size]) for i in order]

    def complete(self, upload_id: str, parts: list[dict]):
        return self.client.post(
            f"/api/v1/uploads/{upload_id}/complete", json={"parts": parts}, headers=self.headers
        )

    def upload(self, work_id: int, data: bytes, **kwargs):
        opened = self.open(work_id, data, **kwargs)
        assert opened.status_code == 201, opened.json
        parts = self.send(opened.json, data)
        return opened.json["upload_id"], self.complete(opened.json["upload_id"], parts)


def video_draft(people, kind: str = "video") -> Work:
    return make_work(people["collective"], people["campaign"], title="微视频", kind=kind, status="draft")


def fresh(work_id: int) -> Work:
    """The work as the database has it now (the requests ran in sessions of their own)."""
    db.session.expire_all()
    return db.session.get(Work, work_id)


def run_job(work: Work) -> Work:
    """The work's transcode, run in-process as the worker runs it; the work as it ends."""
    db.session.expire_all()  # as in a worker, where each job starts with an empty session
    source = db.session.scalar(
        sa.select(MediaAsset).where(MediaAsset.work_id == work.id, MediaAsset.role == AssetRole.SOURCE)
    )
    transcode_asset(source.id)
    return fresh(work.id)


class ArrivingPart:
    """A part's bytes on a weak link: ``meanwhile`` runs while they are still arriving."""

    def __init__(self, data: bytes, meanwhile) -> None:
        self._data = io.BytesIO(data)
        self._meanwhile = meanwhile

    def read(self, size: int | None = -1) -> bytes:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return self._data.read(size)

    def tell(self) -> int:  # werkzeug's test client asks where the body starts
        return self._data.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)
