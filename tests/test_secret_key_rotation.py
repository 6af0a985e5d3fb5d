"""Rotating SECRET_KEY: the new key in SECRET_KEY, the old one in SECRET_KEY_FALLBACKS.

What was signed under the old key keeps working while it is listed (app/secret_keys.py): nobody
is signed out, a link mailed before still opens, a form served before still posts, a visitor
keeps its id. What is signed after uses the new key only. Without the fallback, all of it ends.
"""

from __future__ import annotations

import pytest
from flask import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app import paging
from app.auth import password_reset, verification
from app.engagement import visitors
from app.extensions import db
from app.models import User
from tests.sign_in_support import (
    account_reads,
    fresh_client,
    login_form,
    page_csrf_token,
    page_state,
    signed_in_email,
)

NEW_KEY = "a-new-key-after-the-rotation-4f9c2e7a1b8d"


def _rotate(app, *, keep_old: bool = True) -> str:
    """SECRET_KEY becomes NEW_KEY; the old one stays accepted when `keep_old`. Returns the old."""
    old = app.secret_key
    app.config["SECRET_KEY_FALLBACKS"] = [old] if keep_old else []
    app.secret_key = NEW_KEY
    return old


def _only_cookie(app, client, name: str):
    """Another browser holding nothing but `client`'s cookie `name`."""
    other = fresh_client(app)
    other.set_cookie(name, client.get_cookie(name).value)
    return other


def test_a_browser_signed_in_before_the_rotation_stays_signed_in(app, client, make_user):
    user = make_user()
    login_form(client, user.email)
    _rotate(app)
    assert signed_in_email(client) == user.email


def test_without_the_old_key_as_a_fallback_the_rotation_signs_everyone_out(app, client, make_user):
    user = make_user()
    login_form(client, user.email, remember="y")
    remembered = _only_cookie(app, client, "remember_token")
    _rotate(app, keep_old=False)
    assert signed_in_email(client) is None
    assert signed_in_email(remembered) is None


def test_a_remember_me_cookie_from_before_the_rotation_signs_the_browser_in(app, client, make_user):
    user = make_user()
    login_form(client, user.email, remember="y")
    browser_reopened = _only_cookie(app, client, "remember_token")  # its session cookie gone
    _rotate(app)
    assert signed_in_email(browser_reopened) == user.email


def test_a_session_from_before_the_rotation_is_still_read_from_the_session_cache(app, client, make_user):
    user = make_user()
    login_form(client, user.email)
    _rotate(app)
    assert page_state(client)["signed_in"]  # read from SQL once, and remembered
    assert account_reads(lambda: page_state(client)) == 0


def test_a_changed_password_still_ends_a_session_from_before_the_rotation(app, client, make_user):
    user = make_user()
    login_form(client, user.email)
    _rotate(app)
    user.set_password("Another-Passphrase-2026")
    db.session.commit()
    assert signed_in_email(client) is None


def test_a_form_served_before_the_rotation_still_posts(app, client, make_user):
    user = make_user()
    login_form(client, user.email)
    token = page_csrf_token(client)
    _rotate(app)
    answer = client.post("/logout", data={"csrf_token": token})
    assert answer.status_code == 302
    assert signed_in_email(client) is None


def test_a_password_reset_link_mailed_before_the_rotation_still_opens(app, client, make_user):
    user = make_user()
    token = password_reset.make_token(user)
    _rotate(app)
    assert client.get(f"/reset-password/{token}").status_code == 200


def test_an_address_confirmation_link_mailed_before_the_rotation_still_confirms(app, client, make_user):
    user = make_user()
    token = verification.make_token(user)
    _rotate(app)
    assert client.get(f"/verify-email/{token}").status_code == 200
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified_at is not None


def test_a_visitor_keeps_its_id_across_the_rotation(app):
    with app.test_request_context():
        cookie = visitors.give_cookie(Response(), "visitor-1").headers["Set-Cookie"]
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    _rotate(app)
    with app.test_request_context(headers={"Cookie": f"{visitors.COOKIE}={value}"}):
        assert visitors.visitor_id() == "visitor-1"


def test_a_list_cursor_from_before_the_rotation_still_pages(app):
    cursor = paging.encode_cursor({"id": 42})
    _rotate(app)
    assert paging.decode_cursor(cursor) == {"id": 42}


def test_what_is_signed_after_the_rotation_is_signed_with_the_new_key_only(app, make_user):
    user = make_user()
    old = _rotate(app)
    token = password_reset.make_token(user)
    assert URLSafeTimedSerializer(NEW_KEY, salt="password-reset").loads(token)
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer(old, salt="password-reset").loads(token)
