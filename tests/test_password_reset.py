"""Password reset by e-mail: the same answer for every address, a signed, expiring, single-use
link on PUBLIC_BASE_URL, the registration's password rules, and everything else revoked."""

from __future__ import annotations

import logging
import re
import time
from email import message_from_string

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.extensions import db
from app.models import ApiToken, User, password_fingerprint
from tests.sign_in_support import NEW_PASSWORD, PASSWORD, csrf_token, login_form, signed_in_email

LINK = re.compile(r"https?://\S+/reset-password/(\S+)")


@pytest.fixture
def mails(caplog):
    """The mails the log backend (MAIL_BACKEND=log, the default) wrote, as parsed messages."""

    def read():
        found = []
        for record in caplog.records:
            if record.name == "app.mail":
                raw = record.getMessage().split("\n", 1)[1]
                found.append(message_from_string(raw))
        return found

    with caplog.at_level(logging.INFO, logger="app.mail"):
        yield read


def _body(message) -> str:
    return message.get_payload(decode=True).decode()


def ask(client, email, **environ):
    data = {"email": email, "csrf_token": csrf_token(client)}
    return client.post("/forgot-password", data=data, environ_base=environ)


def _link(mails) -> str:
    [message] = mails()
    match = LINK.search(_body(message))
    assert match, _body(message)
    return match.group(0)


def set_password(client, link, password=NEW_PASSWORD, confirm=None):
    path = link.split("://", 1)[1].partition("/")[2]
    data = {"password": password, "confirm": confirm or password, "csrf_token": csrf_token(client)}
    return client.post(f"/{path}", data=data)


def test_the_login_page_links_to_forgot_password(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in html
    assert "忘记密码" in html


def test_known_and_unknown_addresses_get_the_same_answer(client, make_user, mails):
    user = make_user()
    known = ask(client, user.email)
    unknown = ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200

    def notice(response):
        return re.search(r"<p class=\"notice\"[^>]*>(.*?)</p>", response.get_data(as_text=True), re.S).group(
            1
        )

    assert notice(known) == notice(unknown)
    assert "如果该邮箱已注册" in notice(known)
    [message] = mails()  # only the account's owner got a mail
    assert message["To"] == user.email


def test_the_mail_links_to_the_public_site(app, client, make_user, mails):
    app.config["PUBLIC_BASE_URL"] = "https://wenming.example.cn"
    user = make_user()
    ask(client, user.email)
    assert _link(mails).startswith("https://wenming.example.cn/reset-password/")


def test_the_link_sets_a_new_password_that_then_opens_the_account(client, make_user, mails, app):
    user = make_user()
    ask(client, user.email)
    response = set_password(client, _link(mails))
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    fresh = app.test_client()
    assert login_form(fresh, user.email, PASSWORD).status_code == 401
    assert login_form(fresh, user.email, NEW_PASSWORD).status_code == 302


def test_the_link_works_only_once(client, make_user, mails):
    user = make_user()
    ask(client, user.email)
    link = _link(mails)
    assert set_password(client, link).status_code == 302
    again = set_password(client, link, password="Another-2026x")
    assert again.status_code == 400
    assert "链接无效或已过期" in again.get_data(as_text=True)


def test_an_expired_link_is_refused(app, client, make_user):
    user = make_user()

    class SignedTwoHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 2 * 3600

    old = URLSafeTimedSerializer(app.secret_key, salt="password-reset", signer=SignedTwoHoursAgo)
    token = old.dumps({"u": user.id, "p": password_fingerprint(user.password_hash)})
    response = client.get(f"/reset-password/{token}")
    assert response.status_code == 400
    assert "链接无效或已过期" in response.get_data(as_text=True)


def test_a_forged_link_is_refused(app, client, make_user):
    user = make_user()
    forged = URLSafeTimedSerializer("not-the-secret", salt="password-reset").dumps(
        {"u": user.id, "p": password_fingerprint(user.password_hash)}
    )
    assert client.get(f"/reset-password/{forged}").status_code == 400
    assert client.get("/reset-password/garbage").status_code == 400


def test_the_new_password_follows_the_registration_rules(client, make_user, mails):
    user = make_user()
    ask(client, user.email)
    response = set_password(client, _link(mails), password="12345678")
    assert response.status_code == 422
    assert "字母和数字" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)


def test_a_reset_revokes_api_tokens_and_ends_other_sessions(app, client, make_user, mails):
    user = make_user()
    token = (
        app.test_client()
        .post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
        .json["token"]
    )
    other_browser = app.test_client()
    login_form(other_browser, user.email)
    assert signed_in_email(other_browser) == user.email

    ask(client, user.email)
    set_password(client, _link(mails))

    assert signed_in_email(other_browser) is None
    api = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id))
        == 0
    )


def test_a_reset_lifts_a_lock_out(app, client, make_user, mails):
    app.config.update(LOGIN_LOCKOUT_FAILURES=2, LOGIN_RATE_LIMIT="1000 per minute")
    user = make_user()
    for _ in range(2):
        login_form(client, user.email, "Wrong-Password-1")
    assert login_form(client, user.email).status_code == 423
    ask(client, user.email)
    set_password(client, _link(mails))
    assert login_form(app.test_client(), user.email, NEW_PASSWORD).status_code == 302


def test_asking_is_rate_limited_per_address_whatever_the_ip(app, client, make_user):
    app.config["PASSWORD_RESET_RATE_LIMIT"] = "2 per hour"
    user = make_user()
    assert ask(client, user.email, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert ask(client, user.email, REMOTE_ADDR="198.51.100.2").status_code == 200
    assert ask(client, user.email, REMOTE_ADDR="198.51.100.3").status_code == 429
    # Addresses without an account are counted the same way, so a 429 reveals nothing.
    for _ in range(2):
        assert ask(client, "nobody@example.com").status_code == 200
    assert ask(client, "nobody@example.com").status_code == 429


def test_asking_is_rate_limited_per_ip(app, client):
    app.config["PASSWORD_RESET_IP_RATE_LIMIT"] = "3 per hour"
    for n in range(3):
        assert ask(client, f"someone{n}@example.com").status_code == 200
    assert ask(client, "someone9@example.com").status_code == 429
