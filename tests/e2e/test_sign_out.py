"""Signing out in a real browser at phone size: after "记住我" and 退出, reopening the site finds
nobody signed in, and a copy of the cookies taken before the log-out opens nothing. Also: a
first-time visitor's view is counted by the page's own script, once."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from app.engagement import services
from app.models import Role
from tests.e2e.stories import published_story
from tests.sign_in_support import PASSWORD


def _signed_out(page: Page, live_server: str) -> None:
    """The site as a visitor sees it: the header offers 登录, and a member's page asks to log in."""
    page.goto(f"{live_server}/my/works")
    expect(page).to_have_url(f"{live_server}/login?next=%2Fmy%2Fworks")
    expect(page.locator(".site-header")).to_contain_text("登录")


def test_after_remember_me_and_log_out_the_reopened_site_and_copied_cookies_open_nothing(
    page: Page, browser: Browser, live_server, make_user, make_collective, browser_context_args
):
    member = make_user(Role.COLLECTIVE, collective=make_collective())

    page.goto(f"{live_server}/login")
    page.fill("#email", member.email)
    page.fill("#password", PASSWORD)
    page.check("#remember")
    page.click("form.stacked button[type=submit]")
    expect(page.locator(".site-header")).to_contain_text(member.display_name)
    page.goto(f"{live_server}/my/works")
    expect(page).to_have_url(f"{live_server}/my/works")
    copied = [c for c in page.context.cookies() if c["name"] in {"session", "remember_token"}]
    assert {c["name"] for c in copied} == {"session", "remember_token"}

    page.click(".site-header .logout button")
    expect(page.locator(".flash")).to_contain_text("您已退出登录")
    left = {c["name"] for c in page.context.cookies()}
    assert "remember_token" not in left
    assert "signed_in" not in left  # the hint too: the next pages make no state call

    # Reopen the site: a new browser window holding whatever the old one kept on disk.
    reopened = browser.new_context(**browser_context_args, storage_state=page.context.storage_state())
    try:
        _signed_out(reopened.new_page(), live_server)
    finally:
        reopened.close()

    # Someone who copied both cookies before the log-out replays them.
    thief = browser.new_context(**browser_context_args)
    try:
        thief.add_cookies(copied)
        _signed_out(thief.new_page(), live_server)
    finally:
        thief.close()


def test_a_first_time_visitor_is_counted_once_by_the_pages_script(
    page: Page, live_server, make_collective, open_campaign
):
    story = published_story(make_collective(), open_campaign)

    # The page is one cached body for everyone: the beacon's first answer gives the visitor cookie
    # (202) and the script asks again with it, which counts.
    beacon = f"{live_server}/works/{story.id}/view"
    with page.expect_response(lambda r: r.url.startswith(beacon) and "again=1" in r.url) as counted:
        page.goto(f"{live_server}/works/{story.id}")
    assert counted.value.status == 204
    page.reload()
    expect(page.locator(".counts")).to_contain_text("浏览 1")
    page.reload()
    expect(page.locator(".counts")).to_contain_text("浏览 1")
    assert services.counts_for([story.id])[story.id].views == 1
