"""A vote flag in a real browser, on a phone: a national moderator reads the cohort's evidence
(when and where its accounts were made, their look-alike names) and voids its likes in one
action; the work's count drops to its honest likes."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from app.models import Role, utcnow
from app.moderation import integrity
from tests.builders_support import make_work
from tests.e2e.browser_support import log_in
from tests.integrity_support import farm_liking


def test_a_national_moderator_reads_the_cohort_and_voids_its_likes_in_one_action(
    page: Page, live_server, make_collective, make_user, open_campaign, output_path
):
    beijing = make_collective("北京地铁青年文明号", "交通运输", "北京")
    work = make_work(beijing, open_campaign, title="站台上的温暖守候")
    farm_liking(work, now=utcnow(), size=40, honest=5)
    (flag,) = integrity.detect(now=utcnow() + timedelta(seconds=1))
    national = make_user(Role.MODERATOR)

    log_in(page, live_server, national)
    page.goto(f"{live_server}/moderation/flags")
    card = page.locator(f"#flag-{flag.id}")
    expect(card).to_contain_text("站台上的温暖守候")
    expect(card.locator("section.cohort")).to_contain_text("40 个账号在")
    expect(card.locator("section.cohort")).to_contain_text("103.21.40.0/24（40）")
    expect(card).to_contain_text("yx#@mail-box.cn")
    card.get_by_text("这批账号中的 20 个").click()
    expect(card.locator("table.cohort-accounts")).to_contain_text("yx3000@mail-box.cn")
    # On a phone the evidence tables scroll inside their cards; the page itself does not.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=f"{output_path}/vote-flag-phone.png", full_page=True)

    void = card.locator("form[action$='/void']")
    void.locator("input[name=reason]").fill("同批注册的账号集中刷票")
    void.get_by_role("button", name="作废这 40 个账号的全部点赞").click()
    expect(page.locator(".flash")).to_contain_text("可疑账号的点赞已作废")
    expect(page.locator(f"#flag-{flag.id}")).to_have_count(0)

    page.goto(f"{live_server}/works/{work.id}")
    expect(page.locator(".like-count").first).to_have_text("5")
