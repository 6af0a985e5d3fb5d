"""A signed-in viewer on pages served from the shared cache (app/page_cache.py): the body is the
same for everyone, and the page's script (static/js/state.js) shows this person's own state
before they can act. An anonymous visitor's page asks for no state at all: only a browser holding
the signed-in hint cookie does (app/auth/sessions.py)."""

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


def _calls(page: Page) -> list[str]:
    """The paths of the calls the page's scripts make, as they are made."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url.split("//", 1)[1].partition("/")[2]))
    return seen


def test_an_anonymous_visitors_cached_page_asks_no_state_and_still_counts_the_view(
    cached_app, page: Page, live_server, make_collective, open_campaign
):
    story = published_story(make_collective(), open_campaign)
    calls = _calls(page)
    with page.expect_response(lambda r: "/view" in r.url and "again=1" in r.url) as counted:
        page.goto(f"{live_server}/works/{story.id}")
    assert counted.value.status == 204
    # state.js decided before views.js ran (deferred scripts run in order): no state call.
    assert not [c for c in calls if c.startswith("api/v1/me/state")], calls
    # The shared body as served: the log-in links, and a like link that leads to the log-in page.
    expect(page.locator(".site-header [data-signed-out]")).to_be_visible()
    expect(page.locator(".site-header [data-signed-in]")).to_be_hidden()
    page.locator(".work-page .like a.like-button").click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert services.counts_for([story.id])[story.id].views == 1


def test_a_signed_in_readers_state_call_counts_the_view_without_a_beacon(
    cached_app, page: Page, live_server, make_collective, make_user, open_campaign
):
    story = published_story(make_collective(), open_campaign)
    viewer = make_user()
    log_in(page, live_server, viewer)
    calls = _calls(page)
    with page.expect_response(lambda r: "/api/v1/me/state" in r.url) as state:
        page.goto(f"{live_server}/works/{story.id}")
    assert state.value.json()["view_counted"] is True
    expect(page.locator(".site-header [data-me-name]")).to_have_text(viewer.display_name)
    expect(page.locator(".work-page .like-button")).to_have_attribute("aria-pressed", "false")
    # views.js decides once the state is known; a call after that comes after any beacon.
    page.evaluate("() => window.pageState.then(() => fetch('/healthz'))")
    assert not [c for c in calls if f"works/{story.id}/view" in c], calls
    assert services.counts_for([story.id])[story.id].views == 1
