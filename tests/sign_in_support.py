"""The one way tests sign in, and the account forms for the tests whose subject is signing in.

- A page client: ``sign_in(client, user)`` opens a login session on the server and puts it in
  the client's cookie, as the log-in page does (``signed_in(app, user)`` for a new client).
- An API caller: ``bearer(user)``, the Authorization header of a token issued by the service.
- ``login_form`` and ``register_form`` post the real forms: for tests of logging in itself.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask.testing import FlaskClient

from app.auth.services import issue_token
from app.auth.sessions import open_session
from app.extensions import db

# Every account the builders make has this password (tests/builders_support.py).
PASSWORD = "Civility-2026!"
NEW_PASSWORD = "Wenming-2026"

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_ACCOUNT_TABLES = re.compile(r'\b"?(user|login_session)"?\b')


def statements_sent(run) -> list[str]:
    """Every SQL statement `run()` sends, in order."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return seen


def account_reads(run) -> int:
    """How many SELECTs of an account or a login session `run()` sends to SQL: none when the
    signed-in account comes from the session cache (app/auth/session_cache.py)."""
    return sum(
        1
        for statement in statements_sent(run)
        if statement.lstrip().upper().startswith("SELECT") and _ACCOUNT_TABLES.search(statement)
    )


def sign_in(client, user) -> None:
    """Log a user in through the session, the way Flask-Login stores it (on a login session
    opened on the server, as the log-in page does)."""
    with client.session_transaction() as session:
        session["_user_id"] = open_session(user, remember=False)
        session["_fresh"] = True


def signed_in(app, user) -> FlaskClient:
    """A browser of its own, signed in as `user`."""
    client = app.test_client()
    sign_in(client, user)
    return client


def bearer(user) -> dict[str, str]:
    """The headers of an API caller holding a token of `user`'s."""
    return {"Authorization": f"Bearer {issue_token(user)}"}


def fresh_client(app) -> FlaskClient:
    """Another browser: its own cookies, nothing shared with `client`."""
    return app.test_client()


def signed_in_email(client) -> str | None:
    """Whose session the client holds, as GET /api/v1/me tells it (None when anonymous)."""
    response = client.get("/api/v1/me")
    return response.json["user"]["email"] if response.status_code == 200 else None


def csrf_on(client, path: str) -> str:
    """The CSRF token the page at `path` gives the browser (its csrf-token meta tag)."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF_META.search(html)
    assert match, f"{path} carries no csrf-token meta tag"
    return match.group(1)


def csrf_token(client) -> str:
    """The CSRF token the log-in page gives the browser, read the way a browser would."""
    return csrf_on(client, "/login")


def page_state(client, *work_ids: int) -> dict:
    """What a shared page's script (static/js/state.js) learns from GET /api/v1/me/state."""
    query = f"?works={','.join(str(i) for i in work_ids)}" if work_ids else ""
    response = client.get(f"/api/v1/me/state{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def page_csrf_token(client) -> str:
    """The CSRF token a signed-in browser's pages use: public pages are one shared body without
    it, so their script takes it from the state call (a signed-in browser is sent away from
    /login)."""
    # Signed out, the state call gives none: such a browser's token is the log-in page's.
    return page_state(client)["csrf_token"] or csrf_token(client)


def register_form(client, **overrides):
    data = {
        "email": "Wang.Fang@Example.com",
        "display_name": "王芳",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(client),
    }
    data.update(overrides)
    return client.post("/register", data=data)


def login_form(client, email, password=PASSWORD, *, next_url=None, **extra):
    url = "/login" if next_url is None else f"/login?next={next_url}"
    data = {"email": email, "password": password, "csrf_token": csrf_token(client), **extra}
    return client.post(url, data=data)
