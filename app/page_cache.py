"""The shared page cache: public pages and public API reads rendered once per key and served to
everyone from Redis (docs/scaling.md, "The page cache"; docs/decisions.md says why it is our own
small module rather than Flask-Caching).

- **One body for everyone.** A cached view renders with an anonymous user in place of the caller
  (``shared_render``): nothing personal can reach the body, whoever caused the render. Templates
  see ``shared_page`` and leave the personal parts for the page's script, which fills them from
  ``GET /api/v1/me/state``. ``csrf_token()`` renders empty in a shared body, so a render never
  touches the session. API answers with per-caller fields get them added per request
  (``personalise``) on top of the shared part.
- **Keys** (app/redis_keys.py): a *group* is what one purge drops together (a work: its page,
  its API answer and its comment pages in every language; the wall; each list). Each group is a
  Redis hash of variants (path, normalised query, language), with a generation number beside it.
- **Freshness.** Entries carry their own expiry (``PAGE_CACHE_LIST_SECONDS`` for lists,
  ``PAGE_CACHE_PAGE_SECONDS`` for a work's page, which purges keep fresh). The signals of
  app/signals.py purge groups: INCR the generation, then DEL the hash. A new visible comment
  purges nothing: readers see it within ``PAGE_CACHE_PAGE_SECONDS``, as they see counts, and its
  author at once (the state call's ``own_comments`` sends the page's script to the API, which
  answers signed-in callers fresh). On a hot work, a purge per comment re-rendered its page
  about once a second; the campaign bench's profile found re-renders its largest CPU cost
  (docs/performance.md). A render writes its body
  only if the generation is still the one it read before rendering (one Lua script), so a render
  that raced a take-down never stores the page of a work that is gone.
- **One render per expired key.** The first miss takes a lock (SET NX PX); the others serve the
  stale body meanwhile, or, with nothing to serve, wait for the lock holder's body.
- **Never an outage.** Any Redis error means render as before, uncached; after a failure the
  cache is skipped for ``PAGE_CACHE_RETRY_SECONDS`` so a dead Redis costs one timeout, not one per
  request.
- **HTTP.** ETag and 304; ``Cache-Control: public, max-age=0, s-maxage, stale-while-revalidate``
  on anonymous shared bodies; ``private, no-store`` on anything personal and anything setting a
  cookie (``CacheAwareSessionInterface``, since Flask saves the session after every
  after_request hook); ``Vary``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from functools import wraps
from typing import Any

import redis
from flask import Flask, Response, current_app, g, make_response, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app import db_replica, redis_connections, redis_keys, signals
from app.extensions import login_manager, request_language

log = logging.getLogger(__name__)

# Groups every list lives in; a publish, take-down or edit can change any of them.
LIST_GROUPS = ("home", "search", "api:works", "wall", "campaigns")

_WRITE_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Query parameters that never change a body: the language switch is part of the key already.
_IGNORED_PARAMS = {"lang"}


class Stats:
    """Renders and serves of this process, for tests and /metrics-style inspection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def get(self, name: str) -> int:
        return self.counts.get(name, 0)


stats = Stats()


# --------------------------------------------------------------------------------------------
# Set-up


def init_page_cache(app: Flask) -> None:
    bind_cache_redis(app, app.config.get("PAGE_CACHE_REDIS_URL") or app.config["REDIS_URL"])
    app.session_interface = CacheAwareSessionInterface()
    # Flask-WTF offers csrf_token both ways; ours, registered after it, takes their place.
    app.jinja_env.globals.update(csrf_token=_template_csrf_token, shared_page=_shared_page)
    app.context_processor(lambda: {"csrf_token": _template_csrf_token})
    app.after_request(_private_by_default)
    subscribe()


def bind_cache_redis(app: Flask, url: str) -> None:
    """The cache's own client: short timeouts, since a slow cache must cost less than a render."""
    timeout = app.config["PAGE_CACHE_TIMEOUT_SECONDS"]
    client = redis_connections.connect(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    app.extensions["page_cache"] = {
        "client": client,
        "write": client.register_script(_WRITE_IF_CURRENT),
        "release": client.register_script(_RELEASE),
        "down_until": 0.0,
    }


def subscribe() -> None:
    """Purges follow what the capabilities announce (app/signals.py)."""
    signals.work_published.connect(_on_work_changed)
    signals.work_unpublished.connect(_on_work_changed)
    signals.work_edited.connect(_on_work_changed)
    signals.comment_approved.connect(_on_comments_changed)
    signals.comments_hidden.connect(_on_comments_changed)
    signals.wall_changed.connect(_on_wall_changed)


def _on_work_changed(_sender: Any, *, work: Any, **_: Any) -> None:
    purge(work_group(work.id), collective_group(work.collective_id), *LIST_GROUPS)


def _on_comments_changed(_sender: Any, *, work: Any, **_: Any) -> None:
    purge(work_group(work.id))


def _on_wall_changed(_sender: Any, **_: Any) -> None:
    purge("wall")


def work_group(work_id: int) -> str:
    return f"w:{int(work_id)}"


def collective_group(collective_id: int) -> str:
    return f"c:{int(collective_id)}"


# --------------------------------------------------------------------------------------------
# Redis, guarded


def _cache() -> dict[str, Any] | None:
    """The cache's client, or None while it is off or recently failed."""
    if not current_app.config["PAGE_CACHE_ENABLED"]:
        return None
    cache = current_app.extensions["page_cache"]
    if cache["down_until"] > time.monotonic():
        return None
    return cache


def _failed(exc: Exception) -> None:
    cache = current_app.extensions["page_cache"]
    cache["down_until"] = time.monotonic() + current_app.config["PAGE_CACHE_RETRY_SECONDS"]
    stats.add("errors")
    log.warning("page cache unavailable, rendering uncached: %s", exc)


def purge(*groups: str) -> None:
    """Drop every variant of these groups; a render in flight for them will not store its body."""
    if not current_app.config["PAGE_CACHE_ENABLED"]:
        return
    # Tried even while reads skip a failing Redis: a purge lost is a body served too long.
    client = current_app.extensions["page_cache"]["client"]
    try:
        # Not a transaction: each group is its own slot on a cluster. Per group, INCR comes first,
        # so no render that read the old generation can write after the DEL.
        pipe = client.pipeline(transaction=False)
        # With a database replica, the groups' next renders read the primary, which has the change.
        marked_ms = int(db_replica.fresh_after_purge_seconds() * 1000) if db_replica.configured() else 0
        for group in dict.fromkeys(groups):
            pipe.incr(redis_keys.page_cache_generation_key(group))
            pipe.delete(redis_keys.page_cache_key(group))
            if marked_ms:
                pipe.set(redis_keys.page_cache_purged_key(group), 1, px=marked_ms)
        pipe.execute()
        stats.add("purges")
    except redis.RedisError as exc:
        # Lists still expire within their bound; a take-down's page is caught by the next render.
        _failed(exc)


# --------------------------------------------------------------------------------------------
# Shared renders


def _shared_page() -> bool:
    return bool(g.get("shared_render"))


def _template_csrf_token() -> str:
    # A shared body carries no token: the page's script takes the caller's from the state call.
    return "" if g.get("shared_render") else generate_csrf()


class _AnonymousRender:
    """Within it, the view sees an anonymous visitor and templates render the shared body."""

    def __enter__(self) -> None:
        self.had_user = "_login_user" in g
        self.user = g.get("_login_user")
        g._login_user = login_manager.anonymous_user()
        g.shared_render = True

    def __exit__(self, *exc: Any) -> None:
        g.shared_render = False
        if self.had_user:
            g._login_user = self.user
        else:
            g.pop("_login_user", None)


def _caller_may_be_signed_in() -> bool:
    """Without loading the account: does the request carry anything that could sign it in?"""
    config = current_app.config
    if request.headers.get("Authorization"):
        return True
    names = (config["SESSION_COOKIE_NAME"], config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    return any(name in request.cookies for name in names)


def _variant(kind: str) -> str:
    args = sorted(
        (k, v) for k, values in request.args.lists() if k not in _IGNORED_PARAMS for v in values if v != ""
    )
    # The language as the locale selector picks it: Flask-Babel's get_locale() would also build a
    # babel Locale, which nothing on a cache hit needs.
    text = json.dumps([kind, request.path, args, request_language()], ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()


class Entry:
    __slots__ = ("body", "content_type", "etag", "expires_at", "status")

    def __init__(self, body: bytes, content_type: str, etag: str, expires_at: float, status: int = 200):
        self.body, self.content_type, self.etag = body, content_type, etag
        self.expires_at, self.status = expires_at, status

    def dump(self) -> bytes:
        head = json.dumps([self.status, self.content_type, self.etag, self.expires_at])
        return head.encode() + b"\n" + self.body

    @classmethod
    def load(cls, raw: bytes | None) -> Entry | None:
        if not raw:
            return None
        head, _, body = raw.partition(b"\n")
        try:
            status, content_type, etag, expires_at = json.loads(head)
        except ValueError:
            return None
        return cls(body, content_type, etag, expires_at, status)

    @property
    def fresh(self) -> bool:
        return time.time() < self.expires_at


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'


def cached(
    group: Callable[..., str],
    *,
    kind: str = "page",
    seconds: str = "PAGE_CACHE_LIST_SECONDS",
    personalise: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None,
    per_caller: bool = False,
) -> Callable:
    """Serve the view from the shared cache (group: the view's kwargs → its purge group).

    ``personalise``: API views whose answer has per-caller fields; it gets the shared JSON and the
    signed-in caller and adds them. ``per_caller``: the answer differs per signed-in caller in
    ways not worth patching (their own held comments): signed-in callers get it rendered as today.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if request.method not in ("GET", "HEAD") or "_flashes" in session:
                # A flash belongs to one person: that page is theirs, rendered as before.
                return _personal(view, *args, **kwargs)
            signed_in = _caller_may_be_signed_in()
            if per_caller and signed_in and current_user.is_authenticated:
                return _personal(view, *args, **kwargs)
            try:
                entry, source = _shared_entry(view, group(**kwargs), kind, seconds, args, kwargs)
            except _NotShared:
                # Not a public body (a draft its owner may see, a 404): render for the caller.
                return _personal(view, *args, **kwargs)
            body = entry.body
            personal = False
            if personalise is not None and signed_in and current_user.is_authenticated:
                body = json.dumps(
                    personalise(json.loads(body), current_user), ensure_ascii=False, separators=(",", ":")
                ).encode()
                personal = True
            return _respond(
                entry, body, source, personal=personal or (signed_in and kind == "api"), signed_in=signed_in
            )

        wrapper.page_cache_kind = kind  # type: ignore[attr-defined]
        return wrapper

    return decorator


class _NotShared(Exception):
    pass


def _render_shared(view: Callable, args: tuple, kwargs: dict, ttl: float, *, replica: bool = False) -> Entry:
    """``replica``: the render may read a database replica (app/db_replica.py): only when the
    cache says its group was not purged in the last seconds."""
    stats.add("renders")
    try:
        with _AnonymousRender(), db_replica.reads_from_replica() if replica else nullcontext():
            response = make_response(view(*args, **kwargs))
    except Exception as exc:
        raise _NotShared() from exc
    if response.status_code != 200 or response.headers.get("Set-Cookie") or response.direct_passthrough:
        raise _NotShared()
    body = response.get_data()
    return Entry(body, response.content_type, etag_of(body), time.time() + ttl)


def _shared_entry(
    view: Callable, group: str, kind: str, seconds: str, args: tuple, kwargs: dict
) -> tuple[Entry, str]:
    ttl = float(current_app.config[seconds])
    cache = _cache()
    if cache is None:
        return _render_shared(view, args, kwargs, ttl), "off"
    client = cache["client"]
    field = _variant(kind)
    key = redis_keys.page_cache_key(group)
    try:
        # A hit is this one command. The generation a render must write under is read after its
        # lock is taken (below): only a render needs it.
        entry = Entry.load(client.hget(key, field))
        if entry is not None and entry.fresh:
            stats.add("hits")
            return entry, "hit"
        gen_key = redis_keys.page_cache_generation_key(group)
        lock_key = redis_keys.page_cache_lock_key(group, field)
        token = secrets.token_hex(8)
        lock_ms = int(current_app.config["PAGE_CACHE_LOCK_SECONDS"] * 1000)
        if not client.set(lock_key, token, nx=True, px=lock_ms):
            if entry is not None:
                stats.add("stale")
                return entry, "stale"
            waited = _wait_for(client, key, field, lock_key, lock_ms / 1000)
            if waited is not None:
                stats.add("waited")
                return waited, "hit"
            return _render_shared(view, args, kwargs, ttl), "miss"
        # The lock may be ours because the last holder just finished: its body is then there.
        pipe = client.pipeline(transaction=False).hget(key, field).get(gen_key)
        if db_replica.configured():  # only a replica's renders ask whether the group was just purged
            raw, generation, purged = pipe.exists(redis_keys.page_cache_purged_key(group)).execute()
        else:
            (raw, generation), purged = pipe.execute(), True
        entry = Entry.load(raw)
        if entry is not None and entry.fresh:
            cache["release"](keys=[lock_key], args=[token])
            stats.add("hits")
            return entry, "hit"
    except redis.RedisError as exc:
        _failed(exc)
        return _render_shared(view, args, kwargs, ttl), "off"
    try:
        fresh = _render_shared(view, args, kwargs, ttl, replica=not purged)
        keep = int(ttl + current_app.config["PAGE_CACHE_STALE_SECONDS"]) + 1
        try:
            cache["write"](keys=[key, gen_key], args=[field, fresh.dump(), generation or b"0", keep])
        except redis.RedisError as exc:
            _failed(exc)
        return fresh, "miss"
    finally:
        try:
            cache["release"](keys=[lock_key], args=[token])
        except redis.RedisError:
            pass  # the lock expires on its own


def _wait_for(client: redis.Redis, key: str, field: str, lock_key: str, limit: float) -> Entry | None:
    """Another process renders this key: wait for its body rather than render it too."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.01)
        raw, locked = client.pipeline(transaction=False).hget(key, field).exists(lock_key).execute()
        entry = Entry.load(raw)
        if entry is not None:
            return entry
        if not locked:
            return None
    return None


def _personal(view: Callable, *args: Any, **kwargs: Any) -> Response:
    stats.add("personal")
    response = make_response(view(*args, **kwargs))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Cache"] = "bypass"
    return response


def _respond(entry: Entry, body: bytes, source: str, *, personal: bool, signed_in: bool) -> Response:
    """``signed_in``: what ``_caller_may_be_signed_in`` said of this request."""
    config = current_app.config
    etag = entry.etag if body is entry.body else etag_of(body)
    if request.if_none_match.contains_weak(etag.strip('"')):
        response = Response(status=304)
    else:
        response = Response(body, status=entry.status, content_type=entry.content_type)
    response.headers["ETag"] = etag
    response.headers["X-Cache"] = source
    vary = ["Accept-Language", "Cookie"]
    if request.blueprint == "api":
        vary.append("Authorization")
    response.headers["Vary"] = ", ".join(vary)
    if personal:
        response.headers["Cache-Control"] = "private, no-store"
    elif signed_in:
        # The same shared body, but a copy per session cookie in a CDN would only waste space.
        response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    else:
        response.headers["Cache-Control"] = (
            f"public, max-age=0, s-maxage={config['PAGE_CACHE_HTTP_SECONDS']}, "
            f"stale-while-revalidate={config['PAGE_CACHE_HTTP_STALE_SECONDS']}"
        )
    return response


# --------------------------------------------------------------------------------------------
# Nothing personal is ever cacheable


def _private_by_default(response: Response) -> Response:
    """A dynamic answer that did not say it is public is not: pages with forms, accounts, the API."""
    if "Cache-Control" not in response.headers and response.mimetype in ("text/html", "application/json"):
        response.headers["Cache-Control"] = "private, no-store"
    return response


class CacheAwareSessionInterface(SecureCookieSessionInterface):
    """Flask saves the session after the after_request hooks: only here can an answer that sets
    a cookie be marked uncacheable, whichever cookie it is (session, visitor, language)."""

    def get_signing_serializer(self, app: Flask) -> Any:
        # Flask builds a new serializer for every request that carries or sets the cookie: a
        # tenth of reading a signed-in request's session (the campaign bench's profile). It holds
        # nothing per request, so one per set of keys serves them all; new keys, a new one.
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("session_serializer")
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            app.extensions["session_serializer"] = cached
        return cached[1]

    def save_session(self, app: Flask, session_: Any, response: Response) -> None:
        super().save_session(app, session_, response)
        if response.headers.get("Set-Cookie"):
            response.headers["Cache-Control"] = "private, no-store"


def group_keys(groups: Iterable[str]) -> list[str]:
    """The hash keys of these groups (tests and the docs' examples)."""
    return [redis_keys.page_cache_key(group) for group in groups]
