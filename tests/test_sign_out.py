"""Signing out ends every way of being signed in: the session and "记住我" cookies of that
browser (refused even when a copy is replayed), every browser and token with "log out
everywhere", and API tokens one by one (issue 17, findings 1 and 2)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth import session_cache
from app.extensions import db
from app.models import LoginSession, Role, utcnow
from tests.builders_support import make_campaign, make_work
from tests.sign_in_support import PASSWORD, csrf_token, fresh_client, login_form, signed_in_email


@pytest.fixture
def member(make_collective, make_user):
    return make_user(Role.COLLECTIVE, collective=make_collective())


def _cookie(client, name: str) -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _log_out(client):
    return client.post("/logout", data={"csrf_token": csrf_token(client)})


def _with_cookie(app, name: str, value: str):
    other = fresh_client(app)
    other.set_cookie(name, value)
    return other


def _set_cookie_headers(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


# --- finding 1: log-out left "记住我" signed in ------------------------------------------------


def test_log_out_deletes_the_remember_me_cookie(client, member):
    login_form(client, member.email, remember="y")
    answer = _log_out(client)
    deleted = _set_cookie_headers(answer)["remember_token"]
    assert "Expires=Thu, 01 Jan 1970" in deleted
    assert client.get_cookie("remember_token") is None


def test_after_log_out_with_remember_me_the_next_page_is_signed_out(client, member):
    login_form(client, member.email, remember="y")
    assert client.get("/my/works").status_code == 200
    _log_out(client)
    answer = client.get("/my/works")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_remember_me_cookie_kept_through_log_out_signs_nobody_back_in(app, client, member):
    # The reported attack: the browser never dropped the cookie, and the next person on the
    # shared PC opened the site.
    login_form(client, member.email, remember="y")
    remembered = _cookie(client, "remember_token")
    _log_out(client)
    next_person = _with_cookie(app, "remember_token", remembered)
    answer = next_person.get("/my/works")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


# --- finding 2: stolen cookies and tokens outlived log-out --------------------------------------


def test_a_copy_of_the_session_cookie_taken_before_log_out_opens_nothing_after_it(app, client, member):
    login_form(client, member.email)
    stolen = _cookie(client, "session")
    assert signed_in_email(_with_cookie(app, "session", stolen)) == member.email  # it worked before
    _log_out(client)
    assert signed_in_email(_with_cookie(app, "session", stolen)) is None


def test_a_copy_of_the_remember_cookie_taken_before_log_out_opens_nothing_after_it(app, client, member):
    login_form(client, member.email, remember="y")
    stolen = _cookie(client, "remember_token")
    assert signed_in_email(_with_cookie(app, "remember_token", stolen)) == member.email
    _log_out(client)
    assert signed_in_email(_with_cookie(app, "remember_token", stolen)) is None


def test_log_out_ends_an_older_remembered_log_in_of_the_same_browser(app, client, member):
    login_form(client, member.email, remember="y")
    older = _cookie(client, "remember_token")
    login_form(client, member.email)  # again, without "记住我": the old cookie is replaced
    assert signed_in_email(_with_cookie(app, "remember_token", older)) is None


def test_log_out_in_one_browser_leaves_the_others_signed_in(app, client, member):
    phone = fresh_client(app)
    login_form(phone, member.email)
    login_form(client, member.email)
    _log_out(client)
    assert signed_in_email(phone) == member.email


def test_a_session_past_its_lifetime_is_refused_on_the_server(app, client, member):
    login_form(client, member.email, remember="y")
    db.session.execute(sa.update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert signed_in_email(client) is None


def test_a_dead_remember_cookie_is_dropped_by_the_browser(app, client, member):
    login_form(client, member.email, remember="y")
    remembered = _cookie(client, "remember_token")
    _log_out(client)
    browser = _with_cookie(app, "remember_token", remembered)
    # Public pages are shared bodies that never look at the account: every page's script asks
    # the state call, which does, and drops the dead cookie.
    answer = browser.get("/api/v1/me/state")
    assert "Expires=Thu, 01 Jan 1970" in _set_cookie_headers(answer)["remember_token"]


def _token(app, user) -> str:
    answer = fresh_client(app).post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_api_client_revokes_the_token_it_uses(app, member):
    token = _token(app, member)
    api = fresh_client(app)
    assert api.delete("/api/v1/auth/token", headers=_bearer(token)).status_code == 204
    refused = api.get("/api/v1/me", headers=_bearer(token))
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "invalid_token"


def test_revoking_the_token_in_use_leaves_the_others_working(app, member):
    kept, dropped = _token(app, member), _token(app, member)
    fresh_client(app).delete("/api/v1/auth/token", headers=_bearer(dropped))
    assert fresh_client(app).get("/api/v1/me", headers=_bearer(kept)).status_code == 200


def test_revoking_the_token_in_use_needs_a_token(client, member):
    login_form(client, member.email)
    answer = client.delete("/api/v1/auth/token", headers={"X-CSRFToken": csrf_token(client)})
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "no_bearer_token"


def test_the_token_list_shows_the_callers_tokens_and_which_one_is_in_use(app, member, make_user):
    first, second = _token(app, member), _token(app, member)
    _token(app, make_user())  # someone else's
    listed = fresh_client(app).get("/api/v1/auth/tokens", headers=_bearer(second)).json["items"]
    assert len(listed) == 2
    assert [item["current"] for item in listed] == [True, False]  # newest first
    assert all(first not in str(item) and second not in str(item) for item in listed)


def test_a_listed_token_is_revoked_by_id_and_only_by_its_owner(app, member, make_user):
    token = _token(app, member)
    [item] = fresh_client(app).get("/api/v1/auth/tokens", headers=_bearer(token)).json["items"]
    stranger = _token(app, make_user())
    assert (
        fresh_client(app).delete(f"/api/v1/auth/tokens/{item['id']}", headers=_bearer(stranger)).status_code
        == 404
    )
    assert fresh_client(app).get("/api/v1/me", headers=_bearer(token)).status_code == 200
    other = _token(app, member)
    assert (
        fresh_client(app).delete(f"/api/v1/auth/tokens/{item['id']}", headers=_bearer(other)).status_code
        == 204
    )
    assert fresh_client(app).get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_the_account_page_lists_tokens_and_revokes_one(app, client, member):
    token = _token(app, member)
    login_form(client, member.email)
    page = client.get("/account").get_data(as_text=True)
    [token_id] = [int(part.split('"')[0]) for part in page.split('data-token="')[1:]]
    answer = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client)})
    assert answer.status_code == 302
    assert fresh_client(app).get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_log_out_everywhere_ends_every_browser_and_token(app, client, member):
    phone = fresh_client(app)
    login_form(phone, member.email, remember="y")
    remembered = _cookie(phone, "remember_token")
    token = _token(app, member)
    login_form(client, member.email)
    answer = client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_token(client)})
    assert answer.status_code == 302
    assert signed_in_email(client) is None
    assert signed_in_email(phone) is None
    assert signed_in_email(_with_cookie(app, "remember_token", remembered)) is None
    assert fresh_client(app).get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_the_account_page_marks_this_browser_among_the_signed_in_ones(app, client, member):
    login_form(fresh_client(app), member.email)
    login_form(client, member.email)
    page = client.get("/account").get_data(as_text=True)
    assert page.count("data-browser") == 2
    assert page.count("当前浏览器") == 1


def test_only_a_hash_of_the_session_token_is_stored(client, member):
    login_form(client, member.email)
    [row] = db.session.scalars(sa.select(LoginSession)).all()
    identity = _session_identity(client)
    token = identity.split(".")[1]
    assert token not in row.id and len(row.id) == 64


def _session_identity(client) -> str:
    with client.session_transaction() as session:
        return session["_user_id"]


def _like_counting_statements(client, work, member, *, remembered: bool) -> list[str]:
    token = csrf_token(client)  # a read: it leaves the account remembered (app/auth/session_cache.py)
    if not remembered:
        session_cache.forget_accounts([member.id])
    sent: list[str] = []

    def count(conn, cursor, statement, *args):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        answer = client.put(f"/api/v1/works/{work.id}/like", headers={"X-CSRFToken": token})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    return sent


def _account_reads(statements: list[str]) -> list[str]:
    return [
        s
        for s in statements
        if s.lstrip().upper().startswith("SELECT") and re.search(r'\b"?(user|login_session)"?\b', s)
    ]


def test_a_cookie_like_loads_its_account_and_login_session_in_one_query(client, member, make_collective):
    # The hot path: checking the login session on the server costs no extra round trip.
    work = make_work(make_collective("上海银行青年文明号", "金融", "上海"), make_campaign(), title="一件作品")
    login_form(client, member.email)
    reads = _account_reads(_like_counting_statements(client, work, member, remembered=False))
    assert len(reads) == 1 and "login_session" in reads[0], reads


def test_a_cookie_like_with_its_account_remembered_checks_the_login_session_as_it_writes(
    client, member, make_collective
):
    work = make_work(make_collective("上海银行青年文明号", "金融", "上海"), make_campaign(), title="一件作品")
    login_form(client, member.email)
    statements = _like_counting_statements(client, work, member, remembered=True)
    assert _account_reads(statements) == []
    [insert] = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert "login_session" in insert and "banned" in insert
