"""A media worker killed with SIGKILL mid-transcode: the job is taken up again by the next worker
and the work reaches pending_review; the dead job's temp folder does not survive.
"""

from __future__ import annotations

import os
import secrets
import signal
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.media.progress import get_progress
from app.models import MediaAsset, Role, WorkStatus
from media_worker.jobs import TEMP_PREFIX
from tests.builders_support import make_work
from tests.media_samples import make_clip
from tests.media_worker_process import children, forget_queue, start_media_worker, stop_media_worker
from tests.uploads_support import Uploader, fresh

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(message)


@pytest.fixture
def queue_app(app, redis_server):
    queue = f"media-test-recovery-{secrets.token_hex(4)}"
    app.config["MEDIA_QUEUE"] = queue
    yield app
    forget_queue(redis_server, queue)


def test_a_job_whose_worker_was_killed_runs_again(
    queue_app, make_collective, make_user, open_campaign, tmp_path
):
    collective = make_collective()
    owner = make_user(Role.COLLECTIVE, collective=collective)
    work = make_work(collective, open_campaign, kind="video", status="draft")
    # Long enough that the transcode is still running when the worker is killed.
    clip = make_clip(tmp_path / "long.mp4", width=1280, height=720, seconds=6)
    _, response = Uploader(queue_app, owner).upload(work.id, clip.read_bytes())
    assert response.status_code == 202, response.json

    log = tmp_path / "worker.log"
    first = start_media_worker(queue_app, log, MEDIA_JOB_MONITORING_INTERVAL=1)
    try:
        wait_for(lambda: (get_progress(work.id) or 0) > 0, 60, f"no progress:\n{log.read_text()}")
        horses = children(first.pid)
        assert horses, log.read_text()
        os.kill(first.pid, signal.SIGKILL)
        for pid in horses:
            os.kill(pid, signal.SIGKILL)
        first.wait()
        dead_dirs = [p for pid in horses for p in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}{pid}-*")]
        assert dead_dirs, "the killed job left no temp folder: was it killed before it began?"
    finally:
        stop_media_worker(first)
    assert fresh(work.id).status == WorkStatus.PROCESSING

    time.sleep(2.5)  # the dead worker's last heartbeat grows stale
    second = start_media_worker(queue_app, log, MEDIA_STALE_JOB_SECONDS=2)
    try:
        wait_for(lambda: fresh(work.id).status != WorkStatus.PROCESSING, 120, f"not done:\n{log.read_text()}")
    finally:
        stop_media_worker(second)
    work = fresh(work.id)
    assert work.status == WorkStatus.PENDING_REVIEW, log.read_text()
    roles = sorted(
        a.role.value for a in db.session.scalars(sa.select(MediaAsset).where(MediaAsset.work_id == work.id))
    )
    assert roles == ["hls", "mp4_360", "mp4_720", "poster", "source", "storyboard"]
    assert not any(path.exists() for path in dead_dirs)
    assert not list(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}{second.pid}-*"))
