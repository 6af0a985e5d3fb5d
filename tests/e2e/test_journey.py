"""A newcomer's first visit, in a real browser at phone size."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.app_support import DATABASES
from tests.e2e.browser_support import sign_up
from tests.e2e.stories import published_story

NEW_PASSWORD = "Wenming2026go"

# The one browser walk through every kind of write a person makes, on both engines (the other
# browser tests run on SQLite: tests/e2e/conftest.py).
pytestmark = pytest.mark.parametrize("db_url", DATABASES, indirect=True)


def test_a_visitor_signs_up_logs_in_and_reads_a_story_on_a_phone(
    page: Page, live_server, make_collective, open_campaign, output_path
):
    story = published_story(make_collective(), open_campaign)

    sign_up(page, live_server, "xiaoming@example.com", "小明", NEW_PASSWORD)

    page.click(".site-header .logout button")  # 退出
    expect(page.locator(".site-header")).to_contain_text("登录")

    page.goto(f"{live_server}/login")
    page.fill("#email", "xiaoming@example.com")
    page.fill("#password", NEW_PASSWORD)
    page.click("form.stacked button[type=submit]")
    expect(page.locator(".site-header")).to_contain_text("小明")

    page.goto(live_server + "/")
    page.get_by_role("link", name=story.title).first.click()
    expect(page).to_have_url(re.compile(rf"/works/{story.id}$"))
    expect(page.locator("h1")).to_contain_text(story.title)
    expect(page.locator(".story-body")).to_contain_text("最后一位乘客")

    # Nothing overflows sideways on a phone.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=f"{output_path}/story-phone.png", full_page=True)
