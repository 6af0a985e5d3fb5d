"""The signed-in hint: a browser that may be signed in carries ``signed_in=1`` (readable by the
page's script, meaning nothing to the server), so that shared pages ask for the caller's own state
only there (static/js/state.js); every way of signing out takes it away (app/auth/sessions.py).
And the state call that counts a work page's view, in place of the view beacon."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app.engagement import services, visitors
from app.extensions import db
from app.models import LoginSession, password_fingerprint, utcnow
from tests.builders_support import make_published_story, view_count
from tests.sign_in_support import NEW_PASSWORD, bearer, csrf_on, fresh_client, login_form, page_state

HINT = "signed_in"


def _set_cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def _hint(client) -> str | None:
    cookie = client.get_cookie(HINT)
    return cookie.value if cookie is not None else None


@pytest.fixture
def work(app, open_campaign):
    return make_published_story(open_campaign)


# --- the hint follows the session ---------------------------------------------------------------


@pytest.mark.parametrize("remember", [None, "y"])
def test_logging_in_gives_a_hint_the_pages_script_can_read_and_nothing_else(app, client, make_user, remember):
    user = make_user()
    extra = {"remember": remember} if remember else {}
    answer = login_form(client, user.email, **extra)
    assert answer.status_code == 302
    header = _set_cookies(answer)[HINT]
    assert header.startswith(f"{HINT}=1;")
    assert "HttpOnly" not in header and "SameSite=Lax" in header and "Path=/" in header
    # It lives as long as the longest way of staying signed in (a remember-me cookie).
    assert f"Max-Age={app.config['REMEMBER_DAYS'] * 24 * 3600}" in header
    assert _hint(client) == "1"


def test_the_hint_is_secure_wherever_the_session_cookie_is(app, client, make_user):
    app.config["SESSION_COOKIE_SECURE"] = True
    answer = login_form(client, make_user().email)
    assert "Secure" in _set_cookies(answer)[HINT]


def test_an_anonymous_visitor_and_an_api_client_never_get_the_hint(app, client, make_user, work):
    for path in ("/", f"/works/{work.id}", "/login", "/api/v1/me/state"):
        assert HINT not in _set_cookies(client.get(path)), path
    api = fresh_client(app).get("/api/v1/me", headers=bearer(make_user()))
    assert api.status_code == 200 and HINT not in _set_cookies(api)


def test_log_out_deletes_the_hint(client, make_user):
    user = make_user()
    login_form(client, user.email)
    answer = client.post("/logout", data={"csrf_token": csrf_on(client, "/account")})
    assert "Expires=Thu, 01 Jan 1970" in _set_cookies(answer)[HINT]
    assert _hint(client) is None


def test_log_out_with_remember_me_deletes_the_hint_too(client, make_user):
    user = make_user()
    login_form(client, user.email, remember="y")
    answer = client.post("/logout", data={"csrf_token": csrf_on(client, "/account")})
    assert "Expires=Thu, 01 Jan 1970" in _set_cookies(answer)[HINT]
    assert _hint(client) is None and client.get_cookie("remember_token") is None


def test_signing_out_everywhere_deletes_this_browsers_hint(client, make_user):
    user = make_user()
    login_form(client, user.email, remember="y")
    answer = client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_on(client, "/account")})
    assert answer.status_code == 302
    assert "Expires=Thu, 01 Jan 1970" in _set_cookies(answer)[HINT]
    assert _hint(client) is None


def test_a_password_reset_in_a_signed_in_browser_deletes_its_hint(app, client, make_user):
    user = make_user()
    login_form(client, user.email)
    token = URLSafeTimedSerializer(app.secret_key, salt="password-reset").dumps(
        {"u": user.id, "p": password_fingerprint(user.password_hash)}
    )
    path = f"/reset-password/{token}"
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_on(client, path)}
    answer = client.post(path, data=data)
    assert answer.status_code == 302
    assert "Expires=Thu, 01 Jan 1970" in _set_cookies(answer)[HINT]
    assert _hint(client) is None


def test_a_session_ended_elsewhere_loses_its_hint_at_its_next_state_call(app, client, make_user):
    user = make_user()
    login_form(client, user.email)
    db.session.execute(sa.update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    answer = client.get("/api/v1/me/state")
    assert answer.json["signed_in"] is False
    assert "Expires=Thu, 01 Jan 1970" in _set_cookies(answer)[HINT]
    assert _hint(client) is None


def test_a_session_without_the_hint_gets_it_with_its_next_page(app, client, make_user, work):
    # Signed in before the hint existed, or the person deleted it: any page puts it back, even a
    # shared body served from the cache, without loading the account.
    app.config["PAGE_CACHE_ENABLED"] = True
    user = make_user()
    login_form(client, user.email)
    client.delete_cookie(HINT)
    answer = client.get(f"/works/{work.id}")
    assert answer.status_code == 200 and _set_cookies(answer)[HINT].startswith(f"{HINT}=1;")
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert _hint(client) == "1"


def test_a_signed_in_browser_carrying_its_hint_is_not_sent_it_again(client, make_user, work):
    login_form(client, make_user().email)
    assert _hint(client) == "1"
    assert HINT not in _set_cookies(client.get(f"/works/{work.id}"))


# --- the state call counts a work page's view -----------------------------------------------------


def _state(client, work, token=None):
    token = visitors.beacon_token(work.id) if token is None else token
    answer = client.get(f"/api/v1/me/state?works={work.id}&view={token}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


def test_a_signed_in_readers_state_call_counts_the_view_once_a_day(client, make_user, work):
    login_form(client, make_user().email)
    assert _state(client, work)["view_counted"] is True
    assert view_count(work) == 1
    assert _state(client, work)["view_counted"] is True  # handled: no beacon needed
    assert view_count(work) == 1


def test_a_visitor_without_a_visitor_cookie_is_told_to_send_the_beacon(app, work):
    state = _state(app.test_client(), work)
    assert state["view_counted"] is False and state["signed_in"] is False
    assert view_count(work) == 0


def test_a_visitor_with_a_visitor_cookie_is_counted_by_the_state_call(app, work):
    client = app.test_client()
    beacon = f"/works/{work.id}/view?t={visitors.beacon_token(work.id)}"
    assert client.post(beacon).status_code == 202  # gives the cookie, counts nothing yet
    assert _state(client, work)["view_counted"] is True
    assert view_count(work) == 1


def test_a_state_call_with_a_forged_view_token_counts_nothing(client, make_user, work):
    login_form(client, make_user().email)
    assert _state(client, work, token="12.forged.token")["view_counted"] is False
    assert view_count(work) == 0


def test_a_state_call_without_a_view_token_counts_no_view(client, make_user, work):
    login_form(client, make_user().email)
    assert page_state(client, work.id)["view_counted"] is False
    assert view_count(work) == 0


def test_a_new_visitors_beacon_reads_no_sql_while_the_work_is_remembered(app, work):
    # During a spike thousands of new visitors open the same work: its publication is read once
    # a moment per process (app/engagement/like_targets.py), not once per visitor.
    beacon = f"/works/{work.id}/view?t={visitors.beacon_token(work.id)}"
    assert app.test_client().post(beacon).status_code == 202
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        answer = app.test_client().post(beacon)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert answer.status_code == 202 and statements == []


def test_the_signed_in_state_call_reads_likes_comments_and_the_bell_in_one_statement(client, make_user, work):
    user = make_user()
    login_form(client, user.email)
    services.like_work(user, work)
    work_id = work.id
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        state = page_state(client, work_id)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert state["liked"] == [work_id] and state["unread"] == 0 and state["own_comments"] == []
    # The account with its login session, then the caller's facts about the page's works.
    assert len(statements) == 2, statements
