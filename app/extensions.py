"""Every extension object, created unbound here and bound in create_app with init_app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager, current_user
from flask_login.utils import encode_cookie
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from app import redis_connections
from app.clients import client_ip
from app.db_replica import RoutingSession, init_replica
from app.secret_keys import CurrentSigningKeys, decode_remember_cookie
from app.storage import init_storage

# Named constraints make migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# RoutingSession: SELECTs of the page cache's shared renders may go to a replica (app/db_replica.py).
db = SQLAlchemy(
    metadata=MetaData(naming_convention=NAMING_CONVENTION), session_options={"class_": RoutingSession}
)
migrate = Migrate(render_as_batch=True)


class _LoginManager(LoginManager):
    def _load_user_from_remember_cookie(self, cookie: str) -> Any:
        # Flask-Login checks the remember-me cookie against SECRET_KEY alone: after a rotation,
        # one signed with a retired key (app/secret_keys.py) is read here and handed on signed
        # with the current key, so Flask-Login's own loading (and its signals) run unchanged.
        identity = decode_remember_cookie(cookie)
        return super()._load_user_from_remember_cookie(encode_cookie(identity)) if identity else None


login_manager = _LoginManager()
csrf = CSRFProtect()
babel = Babel()


LANGUAGE_COOKIE = "lang"


def request_language() -> str:
    """The footer's switch (``?lang=``, then remembered in a cookie), else the browser's
    preferred language among ours, else Simplified Chinese. Flask-Babel's locale selector, and
    the language part of a shared page's cache key (app/page_cache.py)."""

    languages = current_app.config["LANGUAGES"]
    # Services also run without a request (CLI, worker): they speak the default language.
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in languages:
        return chosen
    best = _best_language(request.headers.get("Accept-Language", "")[:500], tuple(languages))
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


@lru_cache(maxsize=1024)
def _best_language(header: str, languages: tuple[str, ...]) -> str | None:
    """The browser's most wanted language (by weight, then order) that we speak, matched on the
    language alone: zh-CN, zh-Hans and zh_CN are our zh. None for none of ours, or for ``*``.

    Not werkzeug's best_match: it takes an exact tag before a language match whatever the
    weights, so "zh-CN,zh-Hans;q=0.9,en;q=0.8", a Chinese iPhone with English added, got English.
    Cached: browsers send a handful of distinct headers, and parsing one was a sixth of serving
    a cached page; a header made up per request only churns this bounded memory."""
    ours = {_primary(language): language for language in languages}
    for tag, quality in parse_accept_header(header, LanguageAccept):  # most wanted first
        if quality <= 0:
            continue  # q=0: "not this one"
        if tag == "*":
            return None
        if (language := ours.get(_primary(tag))) is not None:
            return language
    return None


def _primary(tag: str) -> str:
    return tag.replace("_", "-").split("-", 1)[0].lower()


def remember_language(response):
    """After ``?lang=xx`` the choice sticks for the following pages, for a year."""

    chosen = request.args.get("lang")
    if g.get("cookieless"):
        return response  # the embeddable player sets no cookie: ?lang= holds for that page only
    if chosen in current_app.config["LANGUAGES"] and request.cookies.get(LANGUAGE_COOKIE) != chosen:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        )
    return response


def account_or_ip_key() -> str:
    """Per account when signed in, else per IP: an office NAT shares one IP."""

    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{client_ip()}"


limiter = Limiter(key_func=account_or_ip_key, default_limits=[])


class RedisClient:
    """One of the app's Redis connections, bound at init_app so the URL comes from config:
    ``redis_client`` on REDIS_URL (counters, rankings, limits; a server or a Redis Cluster) and
    ``queue_redis`` on the RQ queue's own URL (always one server: app/redis_connections.py)."""

    def __init__(self, name: str, url_of: Callable[[Any], str]) -> None:
        self._name = name
        self._url_of = url_of
        self._client: redis.Redis | redis_connections.LazyCluster | None = None

    def init_app(self, app: Flask) -> None:
        self._client = redis_connections.connect(
            self._url_of(app.config), socket_connect_timeout=1, socket_timeout=2
        )
        app.extensions[self._name] = self

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError(f"{self._name}.init_app() has not been called")
        return self._client  # type: ignore[return-value]  # a cluster client answers the same calls


redis_client = RedisClient("redis_client", lambda config: config["REDIS_URL"])
queue_redis = RedisClient("queue_redis", redis_connections.queue_url)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite under several gunicorn workers: WAL lets readers run beside the one writer, and a
    busy timeout makes a writer wait for the lock instead of failing at once."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


log = logging.getLogger(__name__)


def _end_session(exc: BaseException | None) -> None:
    """End the request's session, whose close rolls back what it left open. When the database
    goes away after the request's own work is done (a restart, a failover), that ROLLBACK fails;
    raised from the teardown, it would turn the answer already made into a 500 (the fault drill
    that restarts PostgreSQL met it). The connection is dropped instead: the pool's pre-ping
    replaces it at the next checkout. Registered after Flask-SQLAlchemy's own teardown, so it
    runs first (teardowns run last-registered first); theirs then finds nothing left to close."""
    try:
        db.session.remove()
    except sa.exc.DBAPIError as error:
        log.warning("database gone while ending the request's session: %s", error.orig)
        db.session().invalidate()  # its connections dropped, no ROLLBACK sent
        db.session.remove()


def init_extensions(app: Flask) -> None:
    db.init_app(app)
    init_replica(app)
    app.teardown_appcontext(_end_session)
    migrate.init_app(app, db)
    login_manager.init_app(app)
    # CSRF tokens signed with SECRET_KEY and accepted under a rotation's retired keys too.
    app.config.setdefault("WTF_CSRF_SECRET_KEY", CurrentSigningKeys())
    csrf.init_app(app)
    babel.init_app(app, locale_selector=request_language)
    app.after_request(remember_language)
    limiter.init_app(app)
    redis_client.init_app(app)
    queue_redis.init_app(app)

    init_storage(app)
