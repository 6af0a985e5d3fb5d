"""Forgotten password, in a real browser at phone size: from the log-in page's link to the mail
(the log backend) to the new password, which then opens the account."""

from __future__ import annotations

import logging
import re
from email import message_from_string

from playwright.sync_api import Page, expect

from tests.sign_in_support import NEW_PASSWORD

LINK = re.compile(r"http://\S+/reset-password/\S+")


def test_a_member_who_forgot_the_password_sets_a_new_one_from_the_mail(
    page: Page, live_server, make_user, caplog
):
    user = make_user()
    page.goto(f"{live_server}/login")
    with caplog.at_level(logging.INFO, logger="app.mail"):
        page.click("text=忘记密码？")
        page.fill("#email", user.email)
        page.click("form.stacked button[type=submit]")
        expect(page.locator("[data-reset-sent]")).to_contain_text("如果该邮箱已注册")
    [mail] = [r.getMessage() for r in caplog.records if r.name == "app.mail"]
    body = message_from_string(mail.split("\n", 1)[1]).get_payload(decode=True).decode()
    link = LINK.search(body).group(0)

    page.goto(link)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    page.click("form.stacked button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("密码已重设")

    page.fill("#email", user.email)
    page.fill("#password", NEW_PASSWORD)
    page.click("form.stacked button[type=submit]")
    expect(page.locator(".site-header")).to_contain_text(user.display_name)
