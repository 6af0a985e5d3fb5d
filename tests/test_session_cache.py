"""A signed-in browser's account, remembered in Redis for reads and likes (app/auth/session_cache.py).

The cache is in Redis, so what one web process does is what every other sees: "another browser
holding a copy of the cookie" stands for another process as well. Changes made "where Redis did
not hear of them" are made with plain SQL on a connection of their own, past this process's
session and its commit hooks: what a commit looks like whose generation Redis failed to take.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from app import redis_connections, redis_keys
from app.auth import session_cache, sessions
from app.engagement import counters
from app.extensions import db, redis_client
from app.models import LoginSession, Role, User
from app.moderation import accounts
from tests.builders_support import make_published_story
from tests.engagement_support import like_rows
from tests.fault_support import RedisServer
from tests.sign_in_support import NEW_PASSWORD, account_reads, csrf_on, fresh_client, login_form, page_state

# The cluster runs what touches its slots differently: the lookup's and the forgetting's keys in two
# slots, the global generation, a racing fill, and the like's own round trips beside them.
on_the_cluster_too = pytest.mark.also_on_redis_cluster


@pytest.fixture
def work(app, open_campaign):
    return make_published_story(open_campaign)


@pytest.fixture
def viewer(make_user):
    return make_user(email="li.viewer@example.com")


@pytest.fixture
def browser(client, viewer):
    """A browser that logged in through the form and opened a page: its account is remembered."""
    login_form(client, viewer.email)
    assert page_state(client)["signed_in"]
    return client


def _copy_of(app, browser):
    """Another browser (or another process) holding a copy of `browser`'s session cookie."""
    other = fresh_client(app)
    other.set_cookie(
        app.config["SESSION_COOKIE_NAME"], browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    )
    return other


def _elsewhere(statement: str, **params) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _like(browser, work):
    token = page_state(browser, work.id)["csrf_token"]
    return browser.put(f"/api/v1/works/{work.id}/like", headers={"X-CSRFToken": token})


@on_the_cluster_too
def test_a_remembered_browser_reads_its_state_without_asking_sql_for_its_account(browser, viewer):
    assert account_reads(lambda: page_state(browser)) == 0
    assert page_state(browser)["user"]["id"] == viewer.id


def test_the_first_read_after_log_in_asks_sql_once(client, viewer):
    login_form(client, viewer.email)
    session_cache.forget_accounts([viewer.id])
    assert account_reads(lambda: page_state(client)) == 1


@on_the_cluster_too
def test_a_log_out_ends_every_copy_of_the_session_at_once(app, browser):
    copy = _copy_of(app, browser)
    assert page_state(copy)["signed_in"]
    browser.post("/logout", data={"csrf_token": csrf_on(browser, "/login")})
    assert not page_state(copy)["signed_in"]


def test_a_ban_ends_the_remembered_account_at_once(browser, viewer, make_user):
    accounts.ban_user(make_user(Role.MODERATOR), viewer.id, "刷票")
    assert not page_state(browser)["signed_in"]


def test_a_password_change_ends_the_other_browsers_at_once(app, browser, viewer):
    other = fresh_client(app)
    login_form(other, viewer.email)
    assert page_state(other)["signed_in"]
    user = db.session.get(User, viewer.id)
    user.set_password(NEW_PASSWORD)
    db.session.commit()
    assert not page_state(browser)["signed_in"]
    assert not page_state(other)["signed_in"]


def test_a_role_change_is_seen_at_once(browser, viewer):
    assert page_state(browser)["nav"]["moderation"] is False
    user = db.session.get(User, viewer.id)
    user.role = Role.MODERATOR
    db.session.commit()
    assert page_state(browser)["nav"]["moderation"] is True


@on_the_cluster_too
def test_a_bulk_change_that_names_no_account_ends_every_remembered_account(browser, viewer):
    db.session.execute(sa.update(User).where(User.id == viewer.id).values(display_name="改过的名字"))
    db.session.commit()
    assert page_state(browser)["user"]["display_name"] == "改过的名字"


def _identity(browser) -> tuple[int, str, str]:
    """(account id, login session hash, password fingerprint) of the browser's session cookie."""
    with browser.session_transaction() as session:
        user_id, token, fingerprint = session["_user_id"].split(".")
    return int(user_id), hashlib.sha256(token.encode()).hexdigest(), fingerprint


def _entry(app, browser) -> dict:
    user_id, session_hash, _fingerprint = _identity(browser)
    raw = redis_client.client.hget(redis_keys.session_cache_key(user_id), session_hash)
    return json.loads(raw)


@on_the_cluster_too
def test_a_fill_that_raced_a_change_is_never_used(app, browser, viewer):
    user_id, session_hash, fingerprint = _identity(browser)
    session_cache.forget_accounts([viewer.id])
    _, ticket = session_cache.lookup(user_id, session_hash, fingerprint)  # read before the change…
    session_cache.forget_accounts([viewer.id])  # …the change commits…
    row = db.session.execute(sa.select(User, LoginSession.expires_at).join(LoginSession)).one()
    session_cache.remember(ticket, row[0], row[1])  # …and the fill lands after it
    assert session_cache.lookup(user_id, session_hash, fingerprint)[0] is None


def test_an_entry_counts_for_its_bound_after_its_fill_whatever_fills_follow(app, browser, viewer):
    user_id, session_hash, _fingerprint = _identity(browser)
    entry = _entry(app, browser)
    entry["filled"] -= app.config["SESSION_CACHE_SECONDS"] + 1  # as if filled over a minute ago
    key = redis_keys.session_cache_key(user_id)
    redis_client.client.hset(key, session_hash, json.dumps(entry))
    other = fresh_client(app)
    login_form(other, viewer.email)
    page_state(other)  # another browser of the account fills its own entry, and the hash lives on
    assert account_reads(lambda: page_state(browser)) == 1


def test_no_password_hash_e_mail_or_lock_out_state_is_kept(app, browser, viewer):
    entry = _entry(app, browser)
    kept = json.dumps(entry, ensure_ascii=False)
    user = db.session.get(User, viewer.id)
    assert user.password_hash not in kept and viewer.email not in kept
    assert set(entry["account"]) == set(session_cache.CACHED_COLUMNS)
    assert not {"password_hash", "email", "failed_logins", "locked_until"} & set(entry["account"])


def test_a_page_that_reads_a_column_not_kept_loads_it_from_sql(browser, viewer):
    assert browser.get("/api/v1/me").json["user"]["email"] == viewer.email


def test_the_fill_keeps_the_row_as_sql_has_it_not_as_the_request_loaded_it(app, browser, viewer):
    user_id, _session_hash, _fingerprint = _identity(browser)
    db.session.get(User, viewer.id)  # this session holds the account from before the change
    promote = f'UPDATE "{User.__table__.name}" SET role = :role WHERE id = :id'
    _elsewhere(promote, role="moderator", id=viewer.id)
    session_cache.forget_accounts([viewer.id])
    with browser.session_transaction() as session:
        identity = session["_user_id"]
    with app.test_request_context("/api/v1/me/state"):
        assert sessions.user_for_identity(identity).role == Role.MODERATOR
    assert _entry(app, browser)["account"]["role"] == "moderator"


def test_a_savepoint_rolled_back_does_not_drop_the_transactions_other_changes(browser, viewer):
    user = db.session.get(User, viewer.id)
    user.role = Role.MODERATOR
    db.session.flush()
    db.session.begin_nested().rollback()
    db.session.commit()
    assert page_state(browser)["nav"]["moderation"] is True


def test_wrong_passwords_typed_by_a_stranger_do_not_empty_the_accounts_entries(app, browser, viewer):
    stranger = fresh_client(app)
    login_form(stranger, viewer.email, password="Wrong-password-1")
    assert account_reads(lambda: page_state(browser)) == 0


def test_a_process_with_the_cache_off_still_forgets_what_it_changes(app, browser, viewer, make_user):
    app.config["SESSION_CACHE_SECONDS"] = 0
    accounts.ban_user(make_user(Role.MODERATOR), viewer.id, "刷票")
    app.config["SESSION_CACHE_SECONDS"] = 60
    assert not page_state(browser)["signed_in"]


@on_the_cluster_too
def test_a_log_out_redis_never_heard_of_still_refuses_the_like_and_writes_nothing(browser, work):
    _elsewhere(f'DELETE FROM "{LoginSession.__table__.name}"')
    # Reads are within the documented bound (SESSION_CACHE_SECONDS): the account is remembered.
    assert page_state(browser)["signed_in"]
    refused = _like(browser, work)
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "unauthorized"
    assert like_rows(work.id) == 0
    assert counters.read_counts([work.id])[work.id].likes == 0
    # The refusal made every process forget the account.
    assert not page_state(browser)["signed_in"]


def test_a_ban_redis_never_heard_of_still_refuses_the_unlike(browser, work, viewer):
    assert _like(browser, work).status_code == 200
    _elsewhere(f'UPDATE "{User.__table__.name}" SET banned = true WHERE id = :id', id=viewer.id)
    token = page_state(browser, work.id)["csrf_token"]
    refused = browser.delete(f"/api/v1/works/{work.id}/like", headers={"X-CSRFToken": token})
    assert refused.status_code == 401
    assert like_rows(work.id) == 1


def test_a_remembered_like_counts_once(browser, work):
    assert _like(browser, work).json == {"liked": True, "likes": 1}
    assert _like(browser, work).json == {"liked": True, "likes": 1}
    assert like_rows(work.id) == 1


def test_writes_other_than_the_like_read_the_account_from_sql(browser, work):
    _elsewhere(f'DELETE FROM "{LoginSession.__table__.name}"')
    token = page_state(browser, work.id)["csrf_token"]
    answer = browser.post(
        f"/api/v1/works/{work.id}/comments", json={"body": "登出后的评论"}, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 401


def test_with_the_cache_off_every_request_reads_sql(app, browser):
    app.config["SESSION_CACHE_SECONDS"] = 0
    assert account_reads(lambda: page_state(browser)) == 1


def test_with_redis_down_a_signed_in_browser_reads_its_state_from_sql(app, browser, viewer, tmp_path):
    server = RedisServer(tmp_path / "redis.log")
    remembered = redis_client._client
    try:  # the app's Redis is a server that then dies
        redis_client._client = redis_connections.connect(server.url, socket_timeout=1)
        server.kill()
        state = page_state(browser)
        assert state["signed_in"] and state["user"]["id"] == viewer.id
    finally:
        redis_client._client = remembered
