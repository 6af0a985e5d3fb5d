"""A collective uploads a generated video through the upload page in Chromium, a real media worker
process transcodes it, and the video plays on the work page (currentTime advances, a seek lands).
"""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, Work, WorkStatus
from tests.e2e.browser_support import log_in, plays_and_seeks
from tests.media_samples import make_clip
from tests.media_worker_process import forget_queue, start_media_worker, stop_media_worker


@pytest.fixture
def worker(app, redis_server, tmp_path):
    queue = f"media-test-e2e-{secrets.token_hex(4)}"
    app.config["MEDIA_QUEUE"] = queue
    process = start_media_worker(app, tmp_path / "worker.log")
    yield process
    stop_media_worker(process)
    forget_queue(redis_server, queue)


def test_a_collective_uploads_a_video_and_it_plays(
    page: Page, live_server, worker, make_collective, make_user, open_campaign, tmp_path
):
    collective = make_collective()
    member = make_user(Role.COLLECTIVE, collective=collective)
    clip = make_clip(tmp_path / "我们的站台.mp4", width=640, height=360, seconds=4)

    log_in(page, live_server, member)

    page.goto(f"{live_server}/my/works/new-media")
    page.select_option("#kind", "video")
    page.fill("#title", "站台上的温暖守候")
    page.click("form.stacked button[type=submit]")
    expect(page.locator("#media-upload")).to_be_visible()

    page.set_input_files("[data-file]", str(clip))
    page.click("[data-start]")
    expect(page.locator("[data-upload-bar]")).to_have_attribute("value", "100", timeout=30_000)
    expect(page.locator("[data-message]")).to_contain_text("处理完成，等待审核", timeout=120_000)
    expect(page.locator("[data-transcode-bar]")).to_have_attribute("value", "100")

    db.session.expire_all()
    work = db.session.scalar(db.select(Work).where(Work.title == "站台上的温暖守候"))
    assert work.status == WorkStatus.PENDING_REVIEW

    page.goto(f"{live_server}/works/{work.id}")
    plays_and_seeks(page)
