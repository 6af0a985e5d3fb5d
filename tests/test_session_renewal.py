"""A log-in starts a brand-new session: whatever a browser carried before (a session an attacker
planted, its CSRF token) is useless afterwards."""

from __future__ import annotations

import re

from tests.sign_in_support import csrf_token, login_form, register_form, signed_in_email


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _planted_session(app):
    """An attacker's browser: a session cookie with its CSRF token, not signed in."""
    attacker = app.test_client()
    token = csrf_token(attacker)
    with attacker.session_transaction() as session:
        session["planted"] = "by the attacker"
    return attacker, _session_cookie(attacker), token


def test_contents_of_the_session_before_log_in_are_gone_after_it(app, make_user):
    user = make_user()
    victim, _cookie, _token = _planted_session(app)
    login_form(victim, user.email)
    with victim.session_transaction() as session:
        assert "planted" not in session


def test_the_session_cookie_fixed_before_log_in_does_not_sign_anyone_in(app, make_user):
    user = make_user()
    victim, fixed_cookie, _token = _planted_session(app)  # the attacker gave the victim this cookie
    assert login_form(victim, user.email).status_code == 302
    assert _session_cookie(victim) != fixed_cookie

    attacker = app.test_client()
    attacker.set_cookie("session", fixed_cookie)
    assert signed_in_email(attacker) is None
    assert signed_in_email(victim) == user.email


def test_the_csrf_token_from_before_log_in_is_refused_after_it(app, make_user):
    user = make_user()
    victim, _cookie, old_token = _planted_session(app)
    login_form(victim, user.email)
    new_token = csrf_token(victim)
    assert new_token != old_token

    refused = victim.post("/api/v1/notifications/read", json={}, headers={"X-CSRFToken": old_token})
    assert refused.status_code == 400
    assert refused.json["error"]["code"] == "csrf_failed"
    accepted = victim.post("/api/v1/notifications/read", json={}, headers={"X-CSRFToken": new_token})
    assert accepted.status_code == 200


def test_signing_up_also_starts_a_new_session(app):
    browser, fixed_cookie, _token = _planted_session(app)
    assert register_form(browser).status_code == 302
    assert _session_cookie(browser) != fixed_cookie
    with browser.session_transaction() as session:
        assert "planted" not in session


def test_logging_out_clears_the_whole_session(app, client, make_user):
    user = make_user()
    login_form(client, user.email)
    with client.session_transaction() as session:
        session["left-over"] = "x"
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    client.post("/logout", data={"csrf_token": token})
    with client.session_transaction() as session:
        assert "left-over" not in session
    assert signed_in_email(client) is None


def test_a_new_secret_key_makes_cookies_signed_with_the_old_one_worthless(app, client):
    # The session's serializer is kept between requests (app/page_cache.py): it follows the keys.
    with client.session_transaction() as session:
        session["kept"] = "under the first key"
    with client.session_transaction() as session:
        assert session.get("kept") == "under the first key"
    app.secret_key = "another secret key, rotated without a fallback"
    with client.session_transaction() as session:
        assert "kept" not in session
