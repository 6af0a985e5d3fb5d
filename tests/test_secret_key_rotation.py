"""Rotating SECRET_KEY: the new key in SECRET_KEY, the old one in SECRET_KEY_FALLBACKS.

What was signed under the old key keeps working while it is listed (app/secret_keys.py): nobody
is signed out, a link mailed before still opens, a form served before still posts, a visitor
keeps its id. What is signed after uses the new key only. Without the fallback, all of it ends.
"""

from __future__ import annotations

import pytest
from flask import Response
from flask_login.utils import decode_cookie
from itsdangerous import BadSignature, Signer, TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer

from app import paging
from app.auth import password_reset, verification
from app.engagement import visitors
from app.extensions import db
from app.models import User, password_fingerprint
from tests.builders_support import make_published_story
from tests.sign_in_support import (
    account_reads,
    fresh_client,
    login_form,
    page_csrf_token,
    page_state,
    signed_in_email,
)

NEW_KEY = "a-new-key-after-the-rotation-4f9c2e7a1b8d"


@pytest.fixture
def work(app, open_campaign):
    return make_published_story(open_campaign)


def _rotate(app, *, keep_old: bool = True) -> str:
    """SECRET_KEY becomes NEW_KEY; the old one stays accepted when `keep_old`. Returns the old."""
    old = app.secret_key
    app.config["SECRET_KEY_FALLBACKS"] = [old] if keep_old else []
    app.secret_key = NEW_KEY
    return old


def _visitor_cookie(app, vid: str) -> str:
    """The value of the visitor cookie the app gives `vid` now."""
    with app.test_request_context():
        header = visitors.give_cookie(Response(), vid).headers["Set-Cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


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
    value = _visitor_cookie(app, "visitor-1")
    _rotate(app)
    with app.test_request_context(headers={"Cookie": f"{visitors.COOKIE}={value}"}):
        assert visitors.visitor_id() == "visitor-1"


def test_a_list_cursor_from_before_the_rotation_still_pages(app):
    cursor = paging.encode_cursor({"id": 42})
    _rotate(app)
    assert paging.decode_cursor(cursor) == {"id": 42}


def test_a_view_beacon_token_from_a_page_served_before_the_rotation_still_counts(app, client, work):
    token = visitors.beacon_token(work.id)
    _rotate(app)
    assert client.post(f"/works/{work.id}/view?t={token}").status_code in (202, 204)


def test_a_beacon_gives_a_visitor_id_signed_with_a_retired_key_again_under_the_new_one(app, client, work):
    client.set_cookie(visitors.COOKIE, _visitor_cookie(app, "visitor-2"))
    _rotate(app)
    answer = client.post(f"/works/{work.id}/view?t={visitors.beacon_token(work.id)}")
    assert answer.status_code == 204
    renewed = client.get_cookie(visitors.COOKIE).value
    assert Signer(NEW_KEY, salt="visitor-id").unsign(renewed) == b"visitor-2"
    # Under the current key already: nothing to give again.
    again = client.post(f"/works/{work.id}/view?t={visitors.beacon_token(work.id)}")
    assert not [h for h in again.headers.getlist("Set-Cookie") if h.startswith(f"{visitors.COOKIE}=")]


def test_dropping_the_retired_key_ends_its_logins_at_once_even_those_the_session_cache_holds(
    app, client, make_user
):
    user = make_user()
    login_form(client, user.email)
    _rotate(app)
    assert page_state(client)["signed_in"]  # remembered in the session cache
    with client.session_transaction() as session:
        session["touched"] = True  # the cookie signed again, now with the new key
    app.config["SECRET_KEY_FALLBACKS"] = []  # the old key leaked: dropped
    assert signed_in_email(client) is None


def test_a_log_in_after_the_rotation_is_signed_and_fingerprinted_with_the_new_key_only(
    app, client, make_user
):
    user = make_user()
    old = _rotate(app)
    login_form(client, user.email, remember="y")
    session_cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    identity = _session_serializer(app, NEW_KEY).loads(session_cookie)["_user_id"]
    assert identity.rsplit(".", 1)[1] == password_fingerprint(user.password_hash, NEW_KEY)
    with pytest.raises(BadSignature):
        _session_serializer(app, old).loads(session_cookie)
    remembered = client.get_cookie("remember_token").value
    assert decode_cookie(remembered, key=NEW_KEY) == identity
    assert decode_cookie(remembered, key=old) is None
    csrf = page_csrf_token(client)
    assert URLSafeTimedSerializer(NEW_KEY, salt="wtf-csrf-token").loads(csrf)
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer(old, salt="wtf-csrf-token").loads(csrf)


def test_links_ids_tokens_and_cursors_made_after_the_rotation_verify_under_the_new_key_only(
    app, make_user, work
):
    user = make_user()
    old = _rotate(app)
    with app.test_request_context():
        made = {
            "reset link": password_reset.make_token(user),
            "confirmation link": verification.make_token(user),
            "beacon token": visitors.beacon_token(work.id),
            "cursor": paging.encode_cursor({"id": 42}),
        }
    made["visitor id"] = _visitor_cookie(app, "visitor-3")
    for what, token in made.items():
        _checks_under(NEW_KEY)[what](token)
        with pytest.raises(BadSignature):
            _checks_under(old)[what](token)


def _checks_under(key: str) -> dict:
    """How each signed thing is checked, under `key` alone."""
    return {
        "reset link": URLSafeTimedSerializer(key, salt="password-reset").loads,
        "confirmation link": URLSafeTimedSerializer(key, salt="email-verify").loads,
        "beacon token": TimestampSigner(key, salt="view-beacon").unsign,
        "cursor": URLSafeSerializer(key, salt="paging.cursor").loads,
        "visitor id": Signer(key, salt="visitor-id").unsign,
    }


def _session_serializer(app, key: str) -> URLSafeTimedSerializer:
    """Flask's session cookie serializer, under `key` alone."""
    interface = app.session_interface
    return URLSafeTimedSerializer(
        key, salt=interface.salt, serializer=interface.serializer, signer_kwargs={"key_derivation": "hmac"}
    )
