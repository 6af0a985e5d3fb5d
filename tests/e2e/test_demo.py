"""A newcomer's first look at the demo, in Chromium: `flask demo load`, a real media worker making,
uploading and transcoding the demo's film and videos, then home → a demo video plays and seeks →
the featured wall → the moderator's review queue with works waiting (a waiting video plays too).
"""

from __future__ import annotations

import re
import secrets
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.demo import content
from app.engagement.reconcile import reconcile_counters
from app.extensions import db
from app.models import Work, WorkStatus
from tests.e2e.browser_support import plays_and_seeks
from tests.media_worker_process import forget_queue, start_media_worker, stop_media_worker

pytestmark = pytest.mark.slow

VIDEO_WAIT_SECONDS = 300  # three short clips made and transcoded by one worker on a busy machine


@pytest.fixture
def demo_worker(app, redis_server, tmp_path):
    queue = f"media-test-e2e-demo-{secrets.token_hex(4)}"
    # Five-second clips: long enough to seek in, quick to make and transcode.
    app.config.update(MEDIA_QUEUE=queue, DEMO_CLIP_SECONDS=5)
    log = tmp_path / "worker.log"
    process = start_media_worker(app, log)
    yield log
    stop_media_worker(process)
    forget_queue(redis_server, queue)


def _videos_settled(log) -> dict[str, WorkStatus]:
    """Wait until each demo film and video has left the pipeline; their statuses by title."""
    titles = [video.title for video in content.VIDEOS]
    deadline = time.monotonic() + VIDEO_WAIT_SECONDS
    while True:
        db.session.expire_all()
        statuses = dict(
            db.session.execute(sa.select(Work.title, Work.status).where(Work.title.in_(titles))).all()
        )
        expected = {
            video.title: WorkStatus.PUBLISHED if video.publish else WorkStatus.PENDING_REVIEW
            for video in content.VIDEOS
        }
        if statuses == expected or WorkStatus.FAILED in statuses.values():
            return statuses
        assert time.monotonic() < deadline, f"demo videos still {statuses}:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the browser's walk is the same on both
def test_a_newcomer_walks_the_demo_from_a_playing_video_to_the_review_queue(
    page: Page, live_server, runner, demo_worker
):
    loaded = runner.invoke(args=["demo", "load"])
    assert loaded.exit_code == 0, loaded.output
    passwords = dict(re.findall(r"email: (\S+)\s+password: (\S+)", loaded.output))
    expected = {
        v.title: WorkStatus.PUBLISHED if v.publish else WorkStatus.PENDING_REVIEW for v in content.VIDEOS
    }
    assert _videos_settled(demo_worker) == expected

    film, video, waiting = content.VIDEOS
    # Home: the newest work, the film, is there; it plays and seeks.
    page.goto(live_server)
    card = page.locator(".work-card", has_text=film.title)
    expect(card).to_be_visible()
    card.locator("h3 a").click()
    expect(page.locator("h1")).to_contain_text(film.title)
    plays_and_seeks(page)
    # The other published video, portrait, too.
    page.goto(live_server)
    page.locator(".work-card", has_text=video.title).locator("h3 a").click()
    plays_and_seeks(page)

    # The wall: six featured works, the film first.
    page.goto(f"{live_server}/wall")
    featured = page.locator("#featured .work-card")
    expect(featured).to_have_count(6)
    expect(featured.first).to_contain_text(film.title)

    # The national moderator's queue: the waiting stories and the waiting video, which plays.
    page.goto(f"{live_server}/login")
    page.fill("#email", "demo-moderator@example.com")
    page.fill("#password", passwords["demo-moderator@example.com"])
    page.click("form.stacked button[type=submit]")
    page.goto(f"{live_server}/moderation")
    queue = page.locator("main")
    for title in [s.title for s in content.STORIES if s.waiting] + [waiting.title]:
        expect(queue).to_contain_text(title)
    page.locator("main a", has_text=waiting.title).first.click()
    plays_and_seeks(page)

    # Publication by the worker and the visits above left no drift between Redis and SQL.
    db.session.expire_all()
    assert reconcile_counters() == []
