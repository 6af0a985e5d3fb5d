"""The QR poster on a phone: its code, photographed from the screen, leads to the work's page,
where the visitor can like it; printed, the poster is one A4 sheet."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from app.extensions import db
from tests.e2e.stories import published_story
from tests.sharing_support import decode_qr_png


def test_scanning_the_posters_qr_code_opens_the_work_page_with_its_like_button(
    page: Page, app, live_server, make_collective, open_campaign, output_path
):
    # Printed links are built on PUBLIC_BASE_URL; here the public site is the live server.
    app.config["PUBLIC_BASE_URL"] = live_server
    collective = make_collective()
    collective.promise = "微笑服务，准点安全，乘客至上。"
    db.session.commit()
    story = published_story(collective, open_campaign)

    page.goto(f"{live_server}/works/{story.id}")
    page.click(f"a[href='/works/{story.id}/poster']")
    expect(page.locator(".poster-title")).to_have_text(story.title)
    expect(page.locator(".poster-promise")).to_contain_text("微笑服务")
    expect(page.locator(".print-poster")).to_have_text("打印海报")
    page.screenshot(path=f"{output_path}/poster-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    decoded = decode_qr_png(page.locator(".poster-scan .qr").screenshot())
    assert decoded == [f"{live_server}/w/{story.id}"]

    page.goto(decoded[0])
    expect(page).to_have_url(f"{live_server}/works/{story.id}")
    expect(page.locator(".work-page .like-button")).to_be_visible()


def test_the_printed_poster_is_one_a4_page_without_the_site_header(
    page: Page, live_server, make_collective, open_campaign, output_path
):
    story = published_story(make_collective(), open_campaign)
    page.goto(f"{live_server}/works/{story.id}/poster")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.emulate_media(media="print")
    page.screenshot(path=f"{output_path}/poster-print.png")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".print-poster")).to_be_hidden()
    expect(page.locator(".poster-scan .qr")).to_be_visible()

    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    # A4 is 210 x 297 mm, about 595 x 842 PostScript points.
    width, height = map(float, re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf).groups())
    assert round(width) == 595 and round(height) == 842
