"""Signed-in browsers, kept on the server so that signing out really ends them.

Flask's session and Flask-Login's remember-me cookie are signed, not stored: on their own, a copy
taken before log-out would keep working until it expires (31 and 365 days). So each log-in opens
a ``LoginSession`` row, and both cookies carry its token in Flask-Login's identity
(``<user id>.<token>.<password fingerprint>``, see ``User.get_id``). Every cookie-authenticated
request looks the account up *joined to that row*: one query, as before, so the like path pays
no extra round trip. Log-out deletes the row (and tells the browser to drop both cookies);
"log out everywhere" deletes all of the account's rows and API tokens; a password reset does
the same; a password change alone already fails the fingerprint.

Only a SHA-256 of the token is stored, like API tokens: the table alone opens nothing.

**The signed-in hint.** Shared pages (app/page_cache.py) ask ``GET /api/v1/me/state`` for the
caller's own part, but an anonymous visitor has no own part: that call would only bring counts a
few seconds fresher. So a browser that may be signed in carries a second cookie, ``signed_in=1``:
not HttpOnly (static/js/state.js reads it), not secret, meaning nothing to the server, which never
trusts it. It is there exactly while the browser holds a session naming an account or a
remember-me cookie (``keep_signed_in_hint``, after every request), and every log-out path deletes
it with the other cookies (``forget_cookies``). A hint left over (the session expired, or was
ended from another browser) costs one state call, which answers "signed out" and deletes it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask_login import logout_user

from app.auth import session_cache
from app.extensions import db
from app.models import ApiToken, LoginSession, User, fingerprint_matches, password_fingerprint, utcnow
from app.secret_keys import decode_remember_cookie

log = logging.getLogger(__name__)

USER_AGENT_MAX = 120


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def remember_cookie_name() -> str:
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")


def remember_duration() -> timedelta:
    return timedelta(days=current_app.config["REMEMBER_DAYS"])


def _lifetime(remember: bool) -> timedelta:
    # A session cookie without "remember me" dies with the browser, but its signature stays
    # valid for PERMANENT_SESSION_LIFETIME: the row must not outlive that.
    return remember_duration() if remember else current_app.permanent_session_lifetime


def open_session(user: User, *, remember: bool, user_agent: str = "") -> str:
    """A new signed-in browser for `user`; returns the identity its cookies carry (and sets it
    on `user`, where ``get_id`` hands it to Flask-Login). Commits; expired rows of the account
    are removed on the way, so the table holds live sessions only."""
    now = utcnow()
    token = secrets.token_urlsafe(24)
    identity = f"{user.id}.{token}.{password_fingerprint(user.password_hash)}"
    db.session.execute(
        sa.delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at <= now),
        execution_options={session_cache.ACCOUNTS_OPTION: [user.id]},
    )
    db.session.add(
        LoginSession(
            id=_hash(token),
            user_id=user.id,
            remember=remember,
            user_agent=(user_agent or "")[:USER_AGENT_MAX],
            created_at=now,
            expires_at=now + _lifetime(remember),
        )
    )
    db.session.commit()
    user.login_identity = identity
    return identity


def _parse(identity: str) -> tuple[int, str, str] | None:
    user_id, _dot, rest = (identity or "").partition(".")
    token, _dot, fingerprint = rest.partition(".")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) <= 10) or not token or not fingerprint:
        return None
    return int(user_id), token, fingerprint


# The account of a live session, in one query: every cookie-authenticated request that does not
# find it in the session cache runs it. Built once, so SQLAlchemy reuses its compiled form.
_USER_OF_SESSION = (
    sa.select(User, LoginSession.expires_at)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(
        LoginSession.id == sa.bindparam("session_hash"),
        User.id == sa.bindparam("user_id"),
        LoginSession.expires_at > sa.bindparam("now", type_=LoginSession.__table__.c.expires_at.type),
    )
    # The row as SQL has it now, even if this request's session loaded the account earlier:
    # it is what the session cache keeps.
    .execution_options(populate_existing=True)
)


def remembered_identity() -> str | None:
    """The identity the request's remember-me cookie carries, if it has a valid one."""
    cookie = request.cookies.get(remember_cookie_name())
    return decode_remember_cookie(cookie) if cookie else None


_RECHECKED_ENDPOINTS: set[str] = set()


def rechecks_in_sql(endpoint: str) -> None:
    """Declare a writing endpoint whose statement checks the login session and the ban again in
    SQL (the like): it may take its account from the session cache."""
    _RECHECKED_ENDPOINTS.add(endpoint)


def _may_use_remembered_account() -> bool:
    return request.method in ("GET", "HEAD") or request.endpoint in _RECHECKED_ENDPOINTS


def user_for_identity(identity: str) -> User | None:
    """The account behind a session or remember-me cookie's identity, while its login session
    lives, its password is unchanged and it is not banned; else None.

    Reads and the endpoints declared with ``rechecks_in_sql`` take it from the session cache
    (app/auth/session_cache.py) when it is there; every other request reads SQL."""
    parsed = _parse(identity)
    if parsed is None:
        return None
    user_id, token, fingerprint = parsed
    session_hash = _hash(token)
    user = ticket = None
    if _may_use_remembered_account():
        user, ticket = session_cache.lookup(user_id, session_hash, fingerprint)
    if user is None:
        row = db.session.execute(
            _USER_OF_SESSION, {"session_hash": session_hash, "user_id": user_id, "now": utcnow()}
        ).first()
        if row is None:
            return None
        user = row[0]
        session_cache.remember(ticket, user, row[1])
        if not fingerprint_matches(fingerprint, user.password_hash):
            return None
    # Flask-Login checks is_active only when logging in; a ban must also end open sessions.
    if user.banned:
        return None
    user.login_identity = identity
    g.login_session_hash = session_hash
    return user


def signed_in_session() -> str | None:
    """The login session (its hash) of a request signed in with a cookie: what a like checks
    again in SQL as it writes. None for a bearer token (never loaded from a cookie) or nobody."""
    return g.get("login_session_hash")


_SESSION_LIVE = (
    sa.select(LoginSession.id)
    .join(User, LoginSession.user_id == User.id)
    .where(
        LoginSession.id == sa.bindparam("session_hash"),
        LoginSession.user_id == sa.bindparam("user_id"),
        LoginSession.expires_at > sa.bindparam("now", type_=LoginSession.__table__.c.expires_at.type),
        User.banned.is_(False),
    )
)


def session_still_live(user_id: int, session_hash: str) -> bool:
    """Asked from SQL, never the cache: the login session lives and its account is not banned (a
    password change ends every login session: the reset is the only way to change it). When it
    is not, every process forgets the account."""
    params = {"session_hash": session_hash, "user_id": user_id, "now": utcnow()}
    live = db.session.execute(_SESSION_LIVE, params).first() is not None
    if not live:
        session_cache.forget_accounts([user_id])
    return live


def _identities_of_this_browser() -> list[str]:
    """The identities this request's cookies carry: the session's and the remember-me cookie's
    (which may name an older log-in than the session does)."""
    found = [str(session["_user_id"])] if session.get("_user_id") else []
    remembered = remembered_identity()
    return [*found, remembered] if remembered else found


def _delete(identities: list[str]) -> int:
    parsed_identities = [parsed for parsed in map(_parse, identities) if parsed is not None]
    if not parsed_identities:
        return 0
    ended = db.session.execute(
        sa.delete(LoginSession).where(LoginSession.id.in_([_hash(p[1]) for p in parsed_identities])),
        execution_options={session_cache.ACCOUNTS_OPTION: [p[0] for p in parsed_identities]},
    ).rowcount
    db.session.commit()
    return ended


def end_this_browser() -> None:
    """Log-out: the login sessions this browser's cookies name end on the server, Flask-Login
    forgets the account, and the whole Flask session is cleared. The caller deletes the cookies
    on its response (``forget_cookies``): clearing the session also wiped Flask-Login's own note
    to delete the remember-me cookie."""
    _delete(_identities_of_this_browser())
    logout_user()
    session.clear()


def replace_remembered_session() -> None:
    """Before a new log-in in this browser: a remember-me cookie left from an earlier log-in is
    replaced, so its session ends now rather than living on unseen until it expires."""
    remembered = remembered_identity()
    if remembered:
        _delete([remembered])


def forget_cookies(response):
    """Tell the browser to drop the remember-me cookie and the signed-in hint (the session cookie
    is rewritten by Flask)."""
    config = current_app.config
    g.signed_in_hint_done = True
    response.delete_cookie(
        SIGNED_IN_HINT,
        path="/",
        secure=config.get("SESSION_COOKIE_SECURE", False),
        samesite="Lax",
    )
    response.delete_cookie(
        remember_cookie_name(),
        path=config.get("REMEMBER_COOKIE_PATH", "/"),
        domain=config.get("REMEMBER_COOKIE_DOMAIN"),
        secure=config.get("REMEMBER_COOKIE_SECURE", False),
        httponly=True,
        samesite=config.get("REMEMBER_COOKIE_SAMESITE"),
    )
    return response


SIGNED_IN_HINT = "signed_in"


def keep_signed_in_hint(response):
    """After every request: the hint cookie is present exactly while this browser holds
    something that may sign it in (a session naming an account, a remember-me cookie that was
    not just found dead). Reads only what Flask already decoded; never loads the account."""
    if g.get("signed_in_hint_done"):
        return response
    remembered = remember_cookie_name() in request.cookies and session.get("_remember") != "clear"
    wanted = bool(session.get("_user_id")) or remembered
    present = SIGNED_IN_HINT in request.cookies
    config = current_app.config
    if wanted and not present:
        response.set_cookie(
            SIGNED_IN_HINT,
            "1",
            # As long as the longest way of being signed in; a leftover costs one state call.
            max_age=int(remember_duration().total_seconds()),
            path="/",
            secure=config.get("SESSION_COOKIE_SECURE", False),
            httponly=False,
            samesite="Lax",
        )
    elif present and not wanted:
        response.delete_cookie(
            SIGNED_IN_HINT, path="/", secure=config.get("SESSION_COOKIE_SECURE", False), samesite="Lax"
        )
    return response


def end_everywhere(user_id: int) -> tuple[int, int]:
    """Every login session and every API token of the account end; returns how many of each.

    Part of the caller's transaction: the caller commits."""
    sessions = db.session.execute(
        sa.delete(LoginSession).where(LoginSession.user_id == user_id),
        execution_options={session_cache.ACCOUNTS_OPTION: [user_id]},
    ).rowcount
    tokens = db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user_id)).rowcount
    return sessions, tokens


def current_session_hash() -> str | None:
    parsed = _parse(str(session.get("_user_id") or ""))
    return _hash(parsed[1]) if parsed else None


def live_sessions(user_id: int, now: datetime | None = None) -> list[LoginSession]:
    """The account's signed-in browsers, newest first."""
    return list(
        db.session.scalars(
            sa.select(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.expires_at > (now or utcnow()))
            .order_by(LoginSession.created_at.desc())
        )
    )
