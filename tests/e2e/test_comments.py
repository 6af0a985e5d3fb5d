"""Comments in a real browser at phone size: a signed-in viewer comments and replies without a
reload, markup shows as text, a held comment says so, and everything is still there after reload."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.stories import published_story
from tests.sign_in_support import PASSWORD


def test_a_viewer_comments_and_replies_without_a_reload_and_it_stays(
    page: Page, live_server, make_collective, make_user, open_campaign, output_path
):
    story = published_story(make_collective(), open_campaign)
    viewer = make_user()
    alerts: list[str] = []  # an alert() would mean markup ran; confirm() is the delete question

    def on_dialog(dialog):
        if dialog.type == "confirm":
            dialog.accept()
        else:
            alerts.append(dialog.message)
            dialog.dismiss()

    page.on("dialog", on_dialog)

    # Signed out: a link to log in that comes back to the comments.
    page.goto(f"{live_server}/works/{story.id}")
    page.get_by_role("link", name="登录后发表评论").click()
    page.fill("#email", viewer.email)
    page.fill("#password", PASSWORD)
    page.click("form.stacked button[type=submit]")
    # Until the page has loaded, its deferred comments.js may not have run, and a click then
    # posts the form the plain way (a reload): wait for "load", not just for the new address.
    page.wait_for_url(re.compile(rf"/works/{story.id}#comments$"))

    section = page.locator("#comments")
    expect(section.locator("[data-comment-count]")).to_have_text("0")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # An empty comment is refused in the browser, in Chinese.
    section.get_by_role("button", name="发表评论").click()
    expect(section.locator("[data-comment-error]")).to_have_text("评论内容不能为空。")

    text = "为末班车的守候点赞！\n<img src=x onerror=alert(1)>"
    section.locator("textarea").fill(text)
    with page.expect_response(re.compile(rf"/api/v1/works/{story.id}/comments$")) as posted:
        section.get_by_role("button", name="发表评论").click()
    assert posted.value.status == 201
    first = section.locator(".comment-list > .comment").first
    expect(first.locator(".comment-body")).to_have_text(text)
    expect(first.locator(".comment-author")).to_have_text(viewer.display_name)
    expect(section.locator("[data-comment-count]")).to_have_text("1")
    expect(section.locator("textarea")).to_have_value("")
    assert page.evaluate("window.__sameDocument") is True

    # A reply goes under its comment, still without a reload.
    first.get_by_role("link", name="回复").click()
    expect(section.locator("[data-replying-name]")).to_have_text(viewer.display_name)
    section.locator("textarea").fill("同感！")
    with page.expect_response(re.compile(rf"/api/v1/works/{story.id}/comments$")):
        section.get_by_role("button", name="发表评论").click()
    expect(first.locator(".replies .comment-body")).to_have_text("同感！")
    expect(section.locator("[data-comment-count]")).to_have_text("2")

    # A comment the word filter holds: the author is told, and sees it marked.
    section.locator("textarea").fill("刷 票 群，加我")
    with page.expect_response(re.compile(rf"/api/v1/works/{story.id}/comments$")):
        section.get_by_role("button", name="发表评论").click()
    expect(section.locator("[data-comment-notice]")).to_have_text(
        "评论包含需要审核的内容，审核通过后将公开显示。"
    )
    expect(section.locator(".comment-pending")).to_have_count(1)
    expect(section.locator("[data-comment-count]")).to_have_text("2")
    assert page.evaluate("window.__sameDocument") is True

    page.reload()
    section = page.locator("#comments")
    expect(section.locator("[data-comment-count]")).to_have_text("2")
    expect(section.locator(".comment-body", has_text="为末班车的守候点赞！")).to_have_text(text)
    expect(section.locator(".replies .comment-body")).to_have_text("同感！")
    expect(section.locator(".comment-pending")).to_contain_text("待审核")
    assert page.locator("img[src=x]").count() == 0
    assert alerts == []

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=f"{output_path}/comments-phone.png", full_page=True)

    # Deleting one's own comment takes it, and its reply, off the page at once.
    thread = section.locator(".comment-list > .comment", has_text="为末班车的守候点赞！")
    with page.expect_response(re.compile(r"/api/v1/comments/\d+$")) as deleted:
        thread.locator(".comment-actions").first.get_by_role("button", name="删除").click()
    assert deleted.value.status == 204
    expect(thread).to_have_count(0)
    expect(section.locator("[data-comment-count]")).to_have_text("0")
    page.reload()
    expect(page.locator("#comments .comment-body", has_text="为末班车")).to_have_count(0)


def test_more_comments_and_every_reply_load_in_place(
    page: Page, live_server, make_collective, make_user, open_campaign
):
    from app.engagement import comments

    story = published_story(make_collective(), open_campaign)
    author = make_user()
    posted = [comments.post_comment(author, story, f"第{n}条点评") for n in range(comments.PAGE_SIZE + 3)]
    for n in range(5):
        comments.post_comment(make_user(), story, f"第{n}条回复", parent_id=posted[-1].id)

    page.goto(f"{live_server}/works/{story.id}")
    section = page.locator("#comments")
    expect(section.locator(".comment-list > .comment")).to_have_count(comments.PAGE_SIZE)
    newest = section.locator(f"#comment-{posted[-1].id}")
    expect(newest.locator(".replies > .comment")).to_have_count(comments.REPLIES_SHOWN)
    page.evaluate("window.__sameDocument = true")

    newest.get_by_role("button", name="查看全部 5 条回复").click()
    expect(newest.locator(".replies > .comment")).to_have_count(5)
    expect(newest.locator(".replies .comment-body").last).to_have_text("第4条回复")

    section.get_by_role("link", name="加载更多").click()
    expect(section.locator(".comment-list > .comment")).to_have_count(comments.PAGE_SIZE + 3)
    expect(section.locator(".comment-list > .comment .comment-body").last).to_have_text("第0条点评")
    expect(section.get_by_role("link", name="加载更多")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
