"""The Content-Security-Policy in a real browser: the pages people open run under it without a
single violation (every browser test is watched too, see conftest.py), and the policy is
really enforced, so an inline script injected into a page does not run."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.models import Role
from tests.builders_support import make_work
from tests.e2e.browser_support import csp_violations, log_in
from tests.e2e.stories import published_story


def test_an_injected_inline_script_is_blocked_and_reported(page: Page, live_server):
    page.goto(f"{live_server}/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__injected = true;";
            document.body.appendChild(script);
        }"""
    )
    assert page.evaluate("window.__injected === undefined")
    messages = page.context.console_messages
    assert csp_violations(messages), messages
    messages.clear()  # seen and expected: the watcher must not fail this test


def test_the_site_s_pages_run_without_any_csp_violation(
    page: Page, live_server, make_collective, make_user, open_campaign
):
    collective = make_collective()
    story = published_story(collective, open_campaign)
    video = make_work(collective, open_campaign, title="待上传的微视频", kind="video", status="draft")
    member = make_user(Role.COLLECTIVE, collective=collective)

    for path in (
        "/",
        "/login",
        "/register",
        "/forgot-password",
        f"/works/{story.id}",
        "/wall",
        "/search?q=站台",
    ):
        page.goto(f"{live_server}{path}")
        expect(page.locator(".site-header")).to_be_visible()

    log_in(page, live_server, member)
    page.goto(f"{live_server}/works/{video.id}/upload")
    # upload.js read its messages from the JSON block and wired the button.
    page.click("[data-start]")
    expect(page.locator("[data-message]")).to_have_text("请先选择视频文件。")
    page.goto(f"{live_server}/my/works/new")
    expect(page.locator("form")).not_to_have_count(0)

    moderator = make_user(Role.MODERATOR)
    page.context.clear_cookies()
    log_in(page, live_server, moderator)
    for path in ("/moderation", "/moderation/dashboard", "/moderation/wall"):
        page.goto(f"{live_server}{path}")
        expect(page.locator(".site-header")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert csp_violations(page.context.console_messages) == []
