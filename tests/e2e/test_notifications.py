"""Notifications in a real browser, on a phone-sized screen: a collective member whose work a
moderator approved and recommended (推报) sees 2 on the bell, opens the list, and the bell clears."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.models import Role
from app.moderation import services as moderation
from tests.builders_support import make_work
from tests.e2e.browser_support import log_in


def test_the_bell_counts_news_of_a_members_work_and_clears_once_read(
    page: Page, live_server, make_collective, make_user, open_campaign, output_path
):
    metro = make_collective("北京地铁青年文明号", "交通运输", "北京")
    member = make_user(Role.COLLECTIVE, collective=metro)
    moderator = make_user(Role.MODERATOR, province="北京")
    work = make_work(metro, open_campaign, title="站台上的温暖守候", status="pending_review")
    moderation.approve_work(moderator, work.id)
    moderation.recommend_work(moderator, work.id)

    log_in(page, live_server, member)
    bell = page.locator(".site-header [data-bell]")
    expect(bell.locator("[data-unread]")).to_have_text("2")
    page.screenshot(path=f"{output_path}/bell-phone.png")

    bell.click()
    expect(page).to_have_url(f"{live_server}/notifications")
    items = page.locator(".notification-list li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("《站台上的温暖守候》已被推报到全国组委会。")
    expect(items.nth(1)).to_contain_text("您的作品《站台上的温暖守候》已审核通过，现已公开展示。")
    page.screenshot(path=f"{output_path}/notifications-phone.png", full_page=True)

    page.reload()
    expect(page.locator(".site-header [data-bell]")).to_be_visible()
    expect(page.locator(".site-header [data-unread]")).to_have_count(0)
    expect(page.locator(".notification-list li.unread")).to_have_count(0)

    page.locator(".notification-list li a").first.click()
    expect(page).to_have_url(f"{live_server}/works/{work.id}")
