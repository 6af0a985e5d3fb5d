"""A partner site frames the player (issue 15): in Chromium, a page served from another loopback
origin embeds /embed/works/<id>, which plays (currentTime advances) and shows the like count;
the same partner page framing the plain work page gets nothing (frame-ancestors 'none').
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import AssetRole, Like, MediaAsset, Role, WorkStatus
from app.moderation.services import approve_work
from media_worker.jobs import transcode_asset
from tests.builders_support import make_work
from tests.media_samples import make_clip
from tests.uploads_support import Uploader, fresh

LIKES = 3


class PartnerSite:
    """Another origin (another loopback port) serving pages of its own, as a news site would."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                body = pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"

    def framing(self, path: str, src: str) -> str:
        self.pages[path] = (
            "<!doctype html><html><head><meta charset='utf-8'><title>合作媒体</title></head><body>"
            f"<h1>合作媒体的新闻页</h1><iframe id='work' src='{src}' width='360' height='240'></iframe>"
            "</body></html>"
        )
        return self.origin + path


@pytest.fixture
def partner() -> Iterator[PartnerSite]:
    site = PartnerSite()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def published_film(media_app, make_collective, make_user, open_campaign, tmp_path):
    """A film uploaded, transcoded (in this process) and approved, with LIKES likes."""
    collective = make_collective()
    owner = make_user(Role.COLLECTIVE, collective=collective)
    work = make_work(collective, open_campaign, title="站台上的温暖守候", kind="video", status="draft")
    clip = make_clip(tmp_path / "clip.mp4", width=640, height=360, seconds=4)
    _, response = Uploader(media_app, owner).upload(work.id, clip.read_bytes())
    assert response.status_code == 202, response.json
    db.session.expire_all()  # as in a worker: the upload ran in the requests' own sessions
    source = db.session.scalar(
        sa.select(MediaAsset).where(MediaAsset.work_id == work.id, MediaAsset.role == AssetRole.SOURCE)
    )
    transcode_asset(source.id)
    assert fresh(work.id).status == WorkStatus.PENDING_REVIEW
    for _ in range(LIKES):
        db.session.add(Like(user_id=make_user().id, work_id=work.id))
    db.session.commit()
    # Approval counts the likes written straight to SQL into Redis, where pages read them.
    approve_work(make_user(Role.ADMIN), work.id)
    return fresh(work.id)


def test_a_partner_page_plays_the_embedded_player_and_shows_the_likes(
    page: Page, context, live_server, partner, published_film
):
    page.goto(partner.framing("/news/1", f"{live_server}/embed/works/{published_film.id}"))
    frame = page.frame_locator("#work")
    expect(frame.locator(".embed-like-count")).to_have_text(str(LIKES))
    expect(frame.locator(".embed-title")).to_have_text("站台上的温暖守候")
    expect(frame.locator(".embed-like")).to_have_attribute("target", "_blank")
    video = frame.locator("video.player")
    expect(video).to_have_attribute("data-player", "hls.js")
    video.evaluate("v => { v.muted = true; v.play(); }")
    video.evaluate(
        "v => new Promise((done, fail) => {"
        " const t = setTimeout(() => fail(new Error('no progress: ' + v.currentTime)), 30000);"
        " const check = () => { if (v.currentTime > 0.5) { clearTimeout(t); done(); }"
        " else setTimeout(check, 100); }; check(); })"
    )
    assert video.evaluate("v => v.currentTime") > 0.5
    assert context.cookies() == []  # played without a cookie, none set on the way


def test_a_partner_page_framing_the_plain_work_page_gets_nothing(
    page: Page, context, live_server, partner, published_film
):
    work_url = f"{live_server}/works/{published_film.id}"
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=15_000):
        page.goto(partner.framing("/news/2", work_url))
    (child,) = [frame for frame in page.frames if frame is not page.main_frame]
    # Chromium replaces a refused frame with its own error page: the work page never renders.
    assert not child.url.startswith(live_server)
    assert child.locator(".work-page").count() == 0
    # That refusal is this test's point, not a broken page: the conftest's CSP watch lets it be.
    context.console_messages[:] = [m for m in context.console_messages if "frame-ancestors" not in m]
