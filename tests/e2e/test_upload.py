"""A collective uploads a generated video through the upload page in Chromium, a real media worker
process transcodes it, and the video plays on the work page (currentTime advances, a seek lands).
"""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, Work, WorkStatus
from tests.builders_support import make_work
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


@pytest.fixture
def on_a_slow_link(page: Page, live_server, app, make_collective, make_user, open_campaign, tmp_path) -> Page:
    """A film's upload page behind a weak mobile uplink, as Chromium's own throttling makes it,
    its upload started: the file, a single part, takes about six seconds to go up."""
    member = make_user(Role.COLLECTIVE, collective=make_collective())
    work = make_work(member.collective, open_campaign, title="弱网上传", kind="film", status="draft")
    clip = make_clip(tmp_path / "film.mp4", width=1280, height=720, seconds=4)
    assert clip.stat().st_size < app.config["UPLOAD_PART_SIZE"]  # one part: the old bar went 0 → 100
    log_in(page, live_server, member)
    page.goto(f"{live_server}/works/{work.id}/upload")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = max(64 * 1024, clip.stat().st_size // 6)  # bytes a second
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": rate},
    )
    page.set_input_files("[data-file]", str(clip))
    page.click("[data-start]")
    return page


PART_UNDER_WAY = (
    "() => { const v = document.querySelector('[data-upload-bar]').value; return v > 0 && v < 100; }"
)


def test_on_a_slow_link_the_bar_moves_while_a_part_is_still_going_up(on_a_slow_link: Page):
    page = on_a_slow_link
    page.wait_for_function(PART_UNDER_WAY, timeout=20_000)
    expect(page.locator("[data-upload-bar]")).to_have_attribute("value", "100", timeout=60_000)


def test_a_part_paused_half_way_goes_up_again_on_resume(on_a_slow_link: Page):
    page = on_a_slow_link
    page.wait_for_function(PART_UNDER_WAY, timeout=20_000)
    page.click("[data-pause]")
    expect(page.locator("[data-message]")).to_contain_text("已暂停")
    # The half-sent part is dropped: the bar shows only what arrived whole.
    expect(page.locator("[data-upload-bar]")).to_have_attribute("value", "0")
    page.click("[data-resume]")
    expect(page.locator("[data-upload-bar]")).to_have_attribute("value", "100", timeout=60_000)
    expect(page.locator("[data-message]")).not_to_contain_text("上传失败")


def test_an_upload_cancelled_half_way_frees_the_work(on_a_slow_link: Page):
    page = on_a_slow_link
    page.wait_for_function(PART_UNDER_WAY, timeout=20_000)
    page.click("[data-cancel] button")
    expect(page.locator(".flash")).to_contain_text("已取消上传")
    expect(page.locator("[data-cancel]")).to_be_hidden()  # nothing left to cancel
    expect(page.locator("[data-upload-form]")).to_be_visible()
    db.session.expire_all()
    assert db.session.scalar(db.select(Work).where(Work.title == "弱网上传")).status == WorkStatus.DRAFT
