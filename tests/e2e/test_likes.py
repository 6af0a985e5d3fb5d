"""Likes in a real browser at phone size: no reload, the count stays, a second tap takes it back,
and a signed-out visitor is sent to log in and brought back."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from app.engagement import services
from app.extensions import db
from app.models import utcnow
from tests.e2e.browser_support import sign_up
from tests.e2e.stories import published_story
from tests.sign_in_support import PASSWORD

NEW_PASSWORD = "Wenming2026go"


def test_a_new_viewer_likes_a_work_and_takes_the_like_back_on_a_phone(
    page: Page, live_server, make_collective, open_campaign, output_path
):
    story = published_story(make_collective(), open_campaign)

    sign_up(page, live_server, "xiaohong@example.com", "小红", NEW_PASSWORD)

    page.goto(f"{live_server}/works/{story.id}")
    button = page.locator(".work-page .like-button")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button.locator(".like-count")).to_have_text("0")

    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    with page.expect_response(re.compile(rf"/api/v1/works/{story.id}/like$")) as liked:
        button.click()
    assert liked.value.status == 200
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator(".like-count")).to_have_text("1")
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=f"{output_path}/liked-phone.png", full_page=True)

    page.reload()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator(".like-count")).to_have_text("1")

    with page.expect_response(re.compile(rf"/api/v1/works/{story.id}/like$")) as unliked:
        button.click()
    assert unliked.value.status == 200 and unliked.value.request.method == "DELETE"
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button.locator(".like-count")).to_have_text("0")
    page.reload()
    expect(button.locator(".like-count")).to_have_text("0")

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_a_signed_out_visitor_tapping_like_logs_in_and_comes_back(
    page: Page, live_server, make_collective, make_user, open_campaign
):
    story = published_story(make_collective(), open_campaign)
    user = make_user()

    page.goto(f"{live_server}/")
    page.locator(".work-card .like-button").first.click()
    expect(page).to_have_url(re.compile(r"/login\?next=/"))
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{live_server}/")  # loaded: likes.js has wired the buttons

    card_button = page.locator(".work-card .like-button").first
    # The button answers at once (optimistic); SQL is checked once the server has answered.
    with page.expect_response(lambda response: response.url.endswith("/like")) as answer:
        card_button.click()
    assert answer.value.ok
    expect(card_button).to_have_attribute("aria-pressed", "true")
    expect(card_button.locator(".like-count")).to_have_text("1")
    assert services.liked_by(user, [story.id]) == {story.id}


def test_a_refused_like_goes_back_and_shows_why(page: Page, live_server, make_collective, open_campaign):
    story = published_story(make_collective(), open_campaign)
    sign_up(page, live_server, "xiaogang@example.com", "小刚", NEW_PASSWORD)

    page.goto(f"{live_server}/works/{story.id}")
    # The page is open and shows the person's state (its state call, which also counted the
    # view, has answered); then the window closes.
    page.evaluate("() => window.pageState")
    open_campaign.voting_closes = utcnow()
    db.session.commit()
    button = page.locator(".work-page .like-button")
    button.click()
    expect(page.locator(".work-page .like-message")).to_contain_text("现在不在投票期内")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button.locator(".like-count")).to_have_text("0")
