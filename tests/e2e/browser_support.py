"""What the browser tests share: signing in and up through the pages, as a person does, and
reading Content-Security-Policy reports off the console (tests/e2e/conftest.py watches every
test's pages with it)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.sign_in_support import PASSWORD

CSP_MARK = "Content Security Policy"


def csp_violations(messages: list[str]) -> list[str]:
    return [text for text in messages if CSP_MARK in text]


def log_in(page: Page, live_server: str, user, password: str = PASSWORD) -> None:
    """Through the log-in page; returns once the header shows the account and the page it led
    to has loaded (its deferred scripts have run, so what they wire up answers a click)."""
    page.goto(f"{live_server}/login")
    page.fill("#email", user.email)
    page.fill("#password", password)
    page.click("form.stacked button[type=submit]")
    expect(page.locator(".site-header")).to_contain_text(user.display_name)
    page.wait_for_load_state()


def log_out(page: Page) -> None:
    page.locator(".site-header .logout button").click()
    expect(page.locator(".site-header")).to_contain_text("登录")


def sign_up(page: Page, live_server: str, email: str, name: str, password: str) -> None:
    """Through the registration page; returns once the header greets the new account and the
    page has loaded, as log_in does."""
    page.goto(f"{live_server}/register")
    page.fill("#email", email)
    page.fill("#display_name", name)
    page.fill("#password", password)
    page.fill("#confirm", password)
    page.click("form.stacked button[type=submit]")
    expect(page.locator(".site-header")).to_contain_text(name)
    page.wait_for_load_state()


def plays_and_seeks(page: Page) -> None:
    """The page's player runs on hls.js, plays, and seeks to 3 s."""
    video = page.locator("video.player")
    expect(video).to_have_attribute("data-player", "hls.js")
    page.evaluate("() => { const v = document.querySelector('video.player'); v.muted = true; v.play(); }")
    # Predicates are functions, not expression strings: Playwright evaluates a string with
    # eval(), which the page's Content-Security-Policy (no 'unsafe-eval') refuses.
    page.wait_for_function("() => document.querySelector('video.player').currentTime > 0.5", timeout=30_000)
    page.evaluate("() => { document.querySelector('video.player').currentTime = 3; }")
    page.wait_for_function(
        "() => { const v = document.querySelector('video.player');"
        " return !v.seeking && v.currentTime >= 3; }",
        timeout=30_000,
    )
