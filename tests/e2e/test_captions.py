"""Captions and seek previews in Chromium, on a video that went through the real upload and
transcode: a caption cue is showing over the playing video through hls.js (the subtitle group of
the master playlist) and through the MP4 fallback (<track>), and moving over the seek bar shows a
storyboard thumbnail."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.extensions import db
from app.media.captions import put_caption
from app.models import AssetRole, MediaAsset, Role, WorkStatus
from tests.builders_support import make_work
from tests.captions_support import CRLF_BOM_SRT, transcoded_video
from tests.e2e.browser_support import log_in

# The page's predicates are functions, not strings: the page's CSP refuses eval().
CUE_SHOWING = """() => {
  const video = document.querySelector('video.player');
  return Array.from(video.textTracks).some((track) => track.mode === 'showing'
    && track.activeCues && Array.from(track.activeCues).some((cue) => cue.text.includes('站台上的温暖守候')));
}"""


@pytest.fixture
def video(app, make_collective, make_user, open_campaign, tmp_path):
    """A published 4 s video with Simplified Chinese captions (a cue over the first 10 s)."""
    collective = make_collective()
    owner = make_user(Role.COLLECTIVE, collective=collective)
    work = transcoded_video(collective, open_campaign, owner, tmp_path, status="pending_review")
    put_caption(work.id, owner, "zh-CN", CRLF_BOM_SRT)
    work.status = WorkStatus.PUBLISHED
    db.session.commit()
    return work


def play(page: Page) -> None:
    page.evaluate("() => { const v = document.querySelector('video.player'); v.muted = true; v.play(); }")
    page.wait_for_function("() => document.querySelector('video.player').currentTime > 0.5", timeout=30_000)


def test_a_caption_cue_shows_over_the_video_played_through_hls(page: Page, live_server, video):
    page.goto(f"{live_server}/works/{video.id}")
    expect(page.locator("video.player")).to_have_attribute("data-player", "hls.js")
    play(page)
    page.wait_for_function(CUE_SHOWING, timeout=30_000)
    # hls.js made the track from the subtitle group; the <track> children are out of the way.
    assert page.locator("video.player track").count() == 0


def test_a_caption_cue_shows_over_the_mp4_fallback(page: Page, live_server, video):
    db.session.execute(
        sa.delete(MediaAsset).where(MediaAsset.work_id == video.id, MediaAsset.role == AssetRole.HLS)
    )
    db.session.commit()

    page.goto(f"{live_server}/works/{video.id}")
    expect(page.locator("video.player")).to_have_attribute("data-player", "mp4")
    play(page)
    page.wait_for_function(CUE_SHOWING, timeout=30_000)


def test_moving_over_the_seek_bar_shows_the_storyboard_thumbnail(page: Page, live_server, video):
    page.goto(f"{live_server}/works/{video.id}")
    bar = page.locator("[data-seek-bar]")
    expect(page.locator("[data-storyboard]")).to_have_attribute("data-ready", "true")
    box = bar.bounding_box()

    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    preview = page.locator("[data-seek-preview]")
    expect(preview).to_be_visible()
    thumb = page.locator("[data-seek-thumb]")
    assert "storyboard.jpg" in thumb.evaluate("(el) => el.style.backgroundImage")
    # 80 % of a 4 s video is 3.2 s: the fourth thumbnail, at x = 3 × its width.
    width = thumb.evaluate("(el) => el.getBoundingClientRect().width")
    assert thumb.evaluate("(el) => el.style.backgroundPosition") == f"-{round(3 * width)}px 0px"
    assert float(preview.get_attribute("data-time")) == pytest.approx(3.2, abs=0.2)
    assert (
        thumb.evaluate(
            "(el) => new Promise((done) => { const i = new Image(); i.onload = () => done(i.naturalWidth);"
            " i.onerror = () => done(0); i.src = el.style.backgroundImage.slice(5, -2); })"
        )
        > 0
    )  # the sprite itself loads


def test_dragging_the_seek_bar_previews_then_seeks_there(page: Page, live_server, video):
    page.goto(f"{live_server}/works/{video.id}")
    expect(page.locator("[data-storyboard]")).to_have_attribute("data-ready", "true")
    page.wait_for_function("() => document.querySelector('video.player').readyState >= 1", timeout=30_000)
    box = page.locator("[data-seek-bar]").bounding_box()
    y = box["y"] + box["height"] / 2

    page.mouse.move(box["x"] + 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    preview = page.locator("[data-seek-preview]")
    expect(preview).to_be_visible()
    assert float(preview.get_attribute("data-time")) == pytest.approx(2.0, abs=0.3)
    page.mouse.up()
    page.wait_for_function(
        "() => Math.abs(document.querySelector('video.player').currentTime - 2) < 0.3", timeout=30_000
    )


def test_a_collective_adds_captions_from_its_phone(
    page: Page, live_server, make_collective, make_user, open_campaign, tmp_path
):
    collective = make_collective()
    owner = make_user(Role.COLLECTIVE, collective=collective)
    work = make_work(collective, open_campaign, title="微视频", kind="video", status="draft")
    subtitles = tmp_path / "字幕.srt"
    subtitles.write_bytes(CRLF_BOM_SRT)
    log_in(page, live_server, owner)

    page.goto(f"{live_server}/works/{work.id}")
    page.get_by_role("link", name="字幕", exact=True).click()
    page.select_option("#caption-lang", "zh-CN")
    page.set_input_files("#caption-file", str(subtitles))
    page.get_by_role("button", name="上传字幕（同一语言将替换原字幕）").click()
    expect(page.locator("body")).to_contain_text("已保存“简体中文”字幕，共 2 条")
    expect(page.locator('[data-caption-lang="zh-CN"]')).to_contain_text("2 条")
    # Nothing sticks out of a phone's screen.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
