"""From review to the wall in a real browser: a provincial moderator approves a pending work and
recommends it (推报); a national moderator features it and moves it to first place; it leads the
public wall; the organisers' dashboard charts its like."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from app.engagement import services as engagement
from app.models import Role
from app.wall import services as wall
from tests.builders_support import make_work
from tests.e2e.browser_support import log_in, log_out


def test_a_work_goes_from_the_review_queue_to_the_top_of_the_wall(
    page: Page, live_server, make_collective, make_user, open_campaign, output_path
):
    beijing = make_collective("北京地铁青年文明号", "交通运输", "北京")
    provincial = make_user(Role.MODERATOR, province="北京")
    national = make_user(Role.MODERATOR)
    earlier = make_work(beijing, open_campaign, title="早先上墙的作品")
    engagement.work_published(earlier)
    wall.feature(national, earlier.id, "")
    work = make_work(beijing, open_campaign, title="站台上的温暖守候", status="pending_review")

    # The provincial moderator: approve, then recommend from the published queue.
    log_in(page, live_server, provincial)
    page.goto(f"{live_server}/moderation")
    item = page.locator(f"#work-{work.id}")
    expect(item).to_contain_text("站台上的温暖守候")
    item.locator('[data-action="approve"]').click()
    expect(page.locator(".flash")).to_contain_text("已审核通过并发布")
    page.goto(f"{live_server}/moderation?queue=published")
    page.locator(f'#work-{work.id} [data-action="recommend"]').click()
    expect(page.locator(".flash")).to_contain_text("已推报到全国组委会")
    log_out(page)

    engagement.like_work(make_user(Role.VIEWER), work)

    # The national moderator: sees the recommendation, puts it on the wall, moves it first.
    log_in(page, live_server, national)
    page.goto(f"{live_server}/moderation?queue=recommended")
    expect(page.locator(f"#work-{work.id}")).to_contain_text("已推报")
    page.goto(f"{live_server}/moderation/wall")
    page.fill("#add-work-id", str(work.id))
    page.fill("#add-note", "末班车前的十分钟")
    page.locator("form[action$='/moderation/wall/add'] button[type=submit]").click()
    slots = page.locator(".wall-slot")
    expect(slots.nth(1)).to_contain_text("站台上的温暖守候")
    slots.nth(1).get_by_role("button", name="上移").click()
    expect(page.locator(".wall-slot").first).to_contain_text("站台上的温暖守候")

    # The public wall leads with it.
    page.goto(f"{live_server}/wall")
    first = page.locator(".work-card").first
    expect(first).to_contain_text("站台上的温暖守候")
    expect(page.get_by_text("末班车前的十分钟").first).to_be_visible()
    page.screenshot(path=f"{output_path}/wall-phone.png", full_page=True)

    # The dashboard's likes chart has the like, under 北京, today.
    page.goto(f"{live_server}/moderation/dashboard?group=province&days=7")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-likes')")
    today = page.evaluate(
        """() => {
            const chart = Chart.getChart('chart-likes');
            const line = chart.data.datasets.find((d) => d.label === '北京');
            return line ? line.data[line.data.length - 1] : null;
        }"""
    )
    assert today == 1
    expect(page.locator("#dashboard-totals")).to_contain_text(re.compile("北京"))
    page.screenshot(path=f"{output_path}/dashboard-phone.png", full_page=True)
