"""A signed-in viewer on pages served from the shared cache (app/page_cache.py): the body is the
same for everyone, and the page's script (static/js/state.js) shows this person's own state
before they can act."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.engagement import services
from tests.builders_support import make_work
from tests.e2e.browser_support import log_in
from tests.e2e.stories import published_story


@pytest.fixture
def cached_app(app):
    app.config["PAGE_CACHE_ENABLED"] = True
    return app


def test_a_signed_in_viewer_sees_their_own_likes_and_name_on_cached_pages(
    cached_app, page: Page, live_server, make_collective, make_user, open_campaign
):
    collective = make_collective()
    liked = published_story(collective, open_campaign)
    other = make_work(collective, open_campaign, title="凌晨的检修")
    services.work_published(other)
    viewer = make_user()
    services.like_work(viewer, liked)
    anonymous = cached_app.test_client()
    for work in (liked, other):  # rendered once, anonymously: the viewer gets the cached body
        assert anonymous.get(f"/works/{work.id}").headers["X-Cache"] == "miss"

    log_in(page, live_server, viewer)
    with page.expect_response(re.compile(rf"/works/{liked.id}$")) as opened:
        page.goto(f"{live_server}/works/{liked.id}")
    assert opened.value.headers["x-cache"] == "hit"
    button = page.locator(".work-page .like-button")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator(".like-count")).to_have_text("1")
    expect(page.locator(".site-header [data-me-name]")).to_have_text(viewer.display_name)

    with page.expect_response(re.compile(rf"/works/{other.id}$")) as opened:
        page.goto(f"{live_server}/works/{other.id}")
    assert opened.value.headers["x-cache"] == "hit"
    button = page.locator(".work-page .like-button")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button.locator(".like-count")).to_have_text("0")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator(".like-count")).to_have_text("1")
    page.reload()  # the cached body's count may lag; the state call's is live
    expect(page.locator(".work-page .like-button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".work-page .like-button .like-count")).to_have_text("1")
