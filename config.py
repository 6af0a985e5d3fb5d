"""Configuration classes, every value read from the environment.

`APP_ENV` picks the class (development, testing, production); `create_app()` defaults to
production so that a forgotten setting fails closed: production refuses to start without
`SECRET_KEY`.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))

MiB = 1024 * 1024


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Rotating the key (docs/security.md, "Rotating SECRET_KEY"): keys that are accepted but
    # never sign, comma-separated, oldest first. Sessions, remember-me cookies, links in mails
    # and visitor ids made under the old key keep working while it is listed (app/secret_keys.py).
    SECRET_KEY_FALLBACKS = _list("SECRET_KEY_FALLBACKS")
    # werkzeug's method for new password hashes. A stored hash names its own method, so changing
    # this never locks anyone out: old hashes keep verifying.
    PASSWORD_HASH_METHOD = "scrypt"
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'app.db'}"
    # Connections kept per process: at least gunicorn's --threads, or each request beyond the pool
    # opens and closes its own connection (a new PostgreSQL backend process every time).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": _int("DB_POOL_SIZE", 10)}
    # A PostgreSQL streaming replica for the page cache's shared renders (app/db_replica.py,
    # docs/scaling.md): read while its lag is within REPLICA_MAX_LAG_SECONDS (measured every
    # REPLICA_CHECK_SECONDS), never for a browser that wrote in the last READ_YOUR_WRITES_SECONDS.
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL")
    REPLICA_MAX_LAG_SECONDS = float(os.environ.get("REPLICA_MAX_LAG_SECONDS", "1"))
    REPLICA_CHECK_SECONDS = float(os.environ.get("REPLICA_CHECK_SECONDS", "1"))
    READ_YOUR_WRITES_SECONDS = _int("READ_YOUR_WRITES_SECONDS", 5)

    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # Every Redis key (counters, limiter, queue) starts with this, so that several deployments
    # or test runs can share one server.
    REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "wmcwm:")
    # REDIS_URL may name a Redis Cluster (redis+cluster://host:port,host:port…); the RQ queue
    # cannot run on one and then needs a standalone Redis of its own here (unset: REDIS_URL).
    # app/redis_connections.py, docs/scaling.md.
    QUEUE_REDIS_URL = os.environ.get("QUEUE_REDIS_URL")
    MEDIA_QUEUE = os.environ.get("MEDIA_QUEUE", "media")
    # The shared page cache (app/page_cache.py, docs/scaling.md "The page cache"). Its own Redis
    # if PAGE_CACHE_REDIS_URL names one (it can be lost at any time), else REDIS_URL.
    PAGE_CACHE_ENABLED = _bool("PAGE_CACHE_ENABLED", True)
    PAGE_CACHE_REDIS_URL = os.environ.get("PAGE_CACHE_REDIS_URL")
    # Lists (home, search, wall, API lists, collectives): fresh this long, no purge needed. With
    # the lock's 3 s of an expired body served while one process renders, at most 8 s old at the
    # web processes; nginx or a CDN in front adds at most the HTTP seconds below (5 s).
    PAGE_CACHE_LIST_SECONDS = _int("PAGE_CACHE_LIST_SECONDS", 5)
    # A work's page, API answer and comments: purged by every change; this bounds its counts.
    PAGE_CACHE_PAGE_SECONDS = _int("PAGE_CACHE_PAGE_SECONDS", 10)
    # An expired body is served while one process renders the new one, at most the lock's life.
    PAGE_CACHE_LOCK_SECONDS = float(os.environ.get("PAGE_CACHE_LOCK_SECONDS", "3"))
    PAGE_CACHE_STALE_SECONDS = _int("PAGE_CACHE_STALE_SECONDS", 5)
    # A slow or dead cache Redis: give up on it this fast, and skip it this long after a failure.
    PAGE_CACHE_TIMEOUT_SECONDS = float(os.environ.get("PAGE_CACHE_TIMEOUT_SECONDS", "0.25"))
    PAGE_CACHE_RETRY_SECONDS = float(os.environ.get("PAGE_CACHE_RETRY_SECONDS", "1"))
    # What a CDN or nginx in front may hold a public body for (s-maxage, stale-while-revalidate).
    PAGE_CACHE_HTTP_SECONDS = _int("PAGE_CACHE_HTTP_SECONDS", 1)
    PAGE_CACHE_HTTP_STALE_SECONDS = _int("PAGE_CACHE_HTTP_STALE_SECONDS", 4)
    # The periodic jobs' queue (app/schedule.py): `flask schedule cron` feeds it, `flask
    # schedule worker` runs it.
    MAINTENANCE_QUEUE = os.environ.get("MAINTENANCE_QUEUE", "maintenance")

    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(INSTANCE_DIR / "media"))
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL")
    S3_BUCKET = os.environ.get("S3_BUCKET", "wmcwm-media")
    S3_REGION = os.environ.get("S3_REGION", "us-east-1")
    S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID")
    S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY")
    S3_ADDRESSING_STYLE = os.environ.get("S3_ADDRESSING_STYLE", "path")
    S3_PUBLIC_BASE_URL = os.environ.get("S3_PUBLIC_BASE_URL")
    # `flask storage init` (app/media/cli.py): the browser origins allowed to PUT upload parts
    # straight to the bucket (PUBLIC_BASE_URL's origin is always one), and whether the command
    # may create a missing bucket (production buckets are often made by whoever owns the account).
    S3_CORS_ORIGINS = _list("S3_CORS_ORIGINS")
    S3_CREATE_BUCKET = _bool("S3_CREATE_BUCKET", True)

    # A request body larger than this is refused with 413 before it is read.
    MAX_CONTENT_LENGTH = _int("MAX_REQUEST_BYTES", 100 * MiB)
    MAX_IMAGE_BYTES = _int("MAX_IMAGE_BYTES", 10 * MiB)
    MAX_IMAGE_PIXELS = _int("MAX_IMAGE_PIXELS", 40_000_000)
    STORY_MAX_IMAGES = _int("STORY_MAX_IMAGES", 9)
    UPLOAD_PART_SIZE = _int("UPLOAD_PART_SIZE", 8 * MiB)
    # An upload session left unfinished this long is abandoned: the periodic cleanup
    # (expire-abandoned-uploads, hourly) aborts its multipart upload and drops its parts.
    UPLOAD_ABANDON_SECONDS = _int("UPLOAD_ABANDON_SECONDS", 24 * 3600)
    MAX_FILM_BYTES = _int("MAX_FILM_BYTES", 2048 * MiB)
    MAX_VIDEO_BYTES = _int("MAX_VIDEO_BYTES", 500 * MiB)
    MAX_FILM_SECONDS = _int("MAX_FILM_SECONDS", 30 * 60)
    MAX_VIDEO_SECONDS = _int("MAX_VIDEO_SECONDS", 5 * 60)

    # A started transcode whose worker has not reported for this long is taken as dead and
    # requeued; workers report every MEDIA_JOB_MONITORING_INTERVAL seconds while a job runs.
    MEDIA_STALE_JOB_SECONDS = _int("MEDIA_STALE_JOB_SECONDS", 120)
    MEDIA_JOB_MONITORING_INTERVAL = _int("MEDIA_JOB_MONITORING_INTERVAL", 30)
    # Pauses (seconds) before the retries of a transcode that failed for a transient reason
    # (storage unreachable, a full temp disk): as many retries as pauses.
    MEDIA_RETRY_INTERVALS = [int(s) for s in os.environ.get("MEDIA_RETRY_INTERVALS", "10,30,60").split(",")]

    # Length of each demo clip `flask demo load` has the worker make (0: each its own, 10–16 s);
    # the tests make short ones.
    DEMO_CLIP_SECONDS = _int("DEMO_CLIP_SECONDS", 0)

    API_TOKEN_DAYS = _int("API_TOKEN_DAYS", 30)
    # Seconds a web process remembers the account behind an API token (app/auth/token_cache.py:
    # how soon other processes see a revocation or a ban; likes and unlikes see it at once). 0: off.
    TOKEN_CACHE_SECONDS = _int("TOKEN_CACHE_SECONDS", 5)
    # Seconds a signed-in browser's account stays in Redis after it was read from SQL
    # (app/auth/session_cache.py): reads and likes take it from there. Every change to the account
    # or its login sessions replaces its generation at once; this bounds an entry only when Redis
    # failed to take that. 0: off.
    SESSION_CACHE_SECONDS = _int("SESSION_CACHE_SECONDS", 60)
    # Seconds a web process remembers what a like needs of a published work (its voting window,
    # its rankings): app/engagement/like_targets.py. A take-down is refused at once regardless. 0: off.
    LIKE_TARGET_CACHE_SECONDS = _int("LIKE_TARGET_CACHE_SECONDS", 2)

    RATELIMIT_STORAGE_URI = REDIS_URL
    RATELIMIT_KEY_PREFIX = REDIS_KEY_PREFIX + "limiter"
    # No X-RateLimit-* headers: they cost two Redis reads on every limited request (a like among
    # them); a refused request still gets Retry-After (app/errors.py).
    RATELIMIT_HEADERS_ENABLED = False
    # A Redis outage must not take the site down: the limiter lets requests through instead.
    RATELIMIT_SWALLOW_ERRORS = True
    # Per IP + e-mail: slows password guessing on one account.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    # Per IP alone, and high: hundreds of colleagues behind one office NAT log in together.
    LOGIN_IP_RATE_LIMIT = os.environ.get("LOGIN_IP_RATE_LIMIT", "200 per minute")
    # Per IP, and generous: a whole office behind one NAT is asked to sign up in the same hour.
    REGISTER_RATE_LIMIT = os.environ.get("REGISTER_RATE_LIMIT", "100 per hour")
    # Likes (and unlikes) per account: the fine-grained brake on one person or one scripted account.
    LIKE_RATE_LIMIT = os.environ.get("LIKE_RATE_LIMIT", "60 per minute;1000 per day")
    # Likes per IP, very generous: a whole office behind one NAT is mobilised to like in the same minutes.
    LIKE_IP_RATE_LIMIT = os.environ.get("LIKE_IP_RATE_LIMIT", "3000 per minute")
    # Comments per account: the fine-grained brake on spam and floods.
    COMMENT_RATE_LIMIT = os.environ.get("COMMENT_RATE_LIMIT", "5 per minute;100 per day")
    # Comments per IP, generous: a whole office behind one NAT comments in the same minutes.
    COMMENT_IP_RATE_LIMIT = os.environ.get("COMMENT_IP_RATE_LIMIT", "600 per minute")
    # Reports per account: a person reports a few things, a bot hundreds.
    REPORT_RATE_LIMIT = os.environ.get("REPORT_RATE_LIMIT", "10 per hour;50 per day")
    # Reports per IP, generous: colleagues behind one office NAT may all report the same spam.
    REPORT_IP_RATE_LIMIT = os.environ.get("REPORT_IP_RATE_LIMIT", "300 per hour")
    # Searches per IP, generous: an office behind one NAT searches together; a scraper looping
    # the most expensive read is what this stops (listings without q are not counted).
    SEARCH_IP_RATE_LIMIT = os.environ.get("SEARCH_IP_RATE_LIMIT", "600 per minute")
    # oEmbed lookups by partner sites' servers and readers' browsers, per IP (app/pages/embeds.py).
    OEMBED_IP_RATE_LIMIT = os.environ.get("OEMBED_IP_RATE_LIMIT", "600 per minute")
    # Longest comment in characters (after trimming); comments are short remarks, not essays.
    COMMENT_MAX_CHARS = _int("COMMENT_MAX_CHARS", 500)
    # Comments matching a word here wait for a moderator; the file is re-read when it changes.
    SENSITIVE_WORDS_FILE = os.environ.get("SENSITIVE_WORDS_FILE", str(BASE_DIR / "data/sensitive_words.txt"))

    # Views: an anonymous viewer is a signed visitor-id cookie kept this long (app/engagement/
    # visitors.py); clients returning no cookie count on IP + User-Agent, at most this many
    # viewers per address per work per day however many User-Agents they send.
    VISITOR_COOKIE_DAYS = _int("VISITOR_COOKIE_DAYS", 400)
    COOKIELESS_VIEWERS_PER_IP = _int("COOKIELESS_VIEWERS_PER_IP", 3)
    # New visitor ids given to one address: a script throwing its cookie away to be a new viewer
    # each time stops here (then counts on its address, as above); a campus NAT opening a shared
    # link stays well within it.
    VISITOR_COOKIE_IP_RATE_LIMIT = os.environ.get(
        "VISITOR_COOKIE_IP_RATE_LIMIT", "300 per minute;3000 per hour;20000 per day"
    )

    # The "hot" ranking: a work published this many seconds later needs 10x fewer likes to tie.
    HOT_DECAY_SECONDS = _int("HOT_DECAY_SECONDS", 45_000)

    # Links that leave the site (mails, share cards, QR codes on printed posters) start with this,
    # never with the request's Host header (app/public_urls.py). Production refuses to start
    # without it; unset in development and tests, links use the request's own host.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL")
    # Origins that may frame the embeddable player (/embed/works/<id>), as CSP frame-ancestors
    # sources: "*" (the default) lets any partner site embed; every other page refuses frames.
    EMBED_ALLOWED_ORIGINS = _list("EMBED_ALLOWED_ORIGINS") or ["*"]
    # Host names the site answers to (Flask: other Host headers, or X-Forwarded-Host through
    # PROXY_HOPS, get 400). Production adds PUBLIC_BASE_URL's host; unset elsewhere: any host.
    TRUSTED_HOSTS = _list("TRUSTED_HOSTS") or None

    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ["zh", "en"]

    # "记住我" keeps a browser signed in this long (a server-side login session, app/auth/sessions.py).
    REMEMBER_DAYS = _int("REMEMBER_DAYS", 30)
    REMEMBER_COOKIE_DURATION = timedelta(days=REMEMBER_DAYS)

    # Liking and commenting need a confirmed e-mail address (app/auth/verification.py): on in
    # production, off for `make run` and the tests (a test turns it on when it needs it).
    REQUIRE_VERIFIED_EMAIL = _bool("REQUIRE_VERIFIED_EMAIL", True)
    EMAIL_VERIFY_DAYS = _int("EMAIL_VERIFY_DAYS", 7)
    # Confirmation mails asked for again, per account.
    EMAIL_VERIFY_RATE_LIMIT = os.environ.get("EMAIL_VERIFY_RATE_LIMIT", "3 per hour;10 per day")

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Strict-Transport-Security on HTTPS responses (production only, see app/security_headers.py).
    HSTS_ENABLED = False

    # Account lock-out: this many wrong passwords for one account within the window lock it
    # for LOGIN_LOCKOUT_MINUTES (per account, not per IP: docs/security.md).
    LOGIN_LOCKOUT_FAILURES = _int("LOGIN_LOCKOUT_FAILURES", 10)
    LOGIN_LOCKOUT_MINUTES = _int("LOGIN_LOCKOUT_MINUTES", 15)

    # Password reset by e-mail: how long a link stays valid, and how often it may be asked for.
    PASSWORD_RESET_MINUTES = _int("PASSWORD_RESET_MINUTES", 60)
    PASSWORD_RESET_RATE_LIMIT = os.environ.get("PASSWORD_RESET_RATE_LIMIT", "3 per hour;10 per day")
    PASSWORD_RESET_IP_RATE_LIMIT = os.environ.get("PASSWORD_RESET_IP_RATE_LIMIT", "60 per hour")

    # Outgoing mail: "log" writes each mail to the log (local runs), "smtp" sends it.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "log")
    MAIL_FROM = os.environ.get("MAIL_FROM", "网络倡文明 <no-reply@localhost>")
    SMTP_HOST = os.environ.get("SMTP_HOST", "localhost")
    SMTP_PORT = _int("SMTP_PORT", 587)
    SMTP_USER = os.environ.get("SMTP_USER")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD")
    SMTP_STARTTLS = _bool("SMTP_STARTTLS", True)
    SMTP_TIMEOUT = _int("SMTP_TIMEOUT", 10)

    # Reverse proxies in front of the app that append to X-Forwarded-For (and set -Proto, -Host):
    # 0 trusts no header (the app faces clients itself), 1 one nginx or load balancer, and so on.
    # Per-IP rate limits and the vote-integrity detector key on the client address, so behind a
    # proxy this must be set, or every client shares the proxy's address and its budget.
    PROXY_HOPS = _int("PROXY_HOPS", 0)

    HOST = os.environ.get("HOST", "127.0.0.1")
    PORT = _int("PORT", 5000)

    # Logs: one JSON object per line for machines (json), or text for a person (text); see
    # docs/observability.md.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # `/metrics` answers a scraper presenting this as a Bearer token; unset, only clients on
    # loopback or private addresses (docs/observability.md).
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None

    @classmethod
    def init_app(cls, app) -> None:
        """Checks and derived settings that need the app; overridden per environment."""


def _instance_secret() -> str:
    """A per-machine secret kept in instance/, so local sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    REQUIRE_VERIFIED_EMAIL = _bool("REQUIRE_VERIFIED_EMAIL", False)

    @classmethod
    def init_app(cls, app) -> None:
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = _instance_secret()


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    SECRET_KEY = "testing-only-secret"
    # The suite makes and signs in thousands of accounts, and scrypt spends 0.1 s of CPU on each
    # hash on purpose: minutes of a run that tests who may sign in, not what a hash costs.
    # Production keeps scrypt (tests/test_config.py holds it).
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", f"wmcwm-test-{secrets.token_hex(4)}:")
    RATELIMIT_KEY_PREFIX = REDIS_KEY_PREFIX + "limiter"
    # RQ's keys are global to the Redis server: a test app never feeds a real worker's "media".
    MEDIA_QUEUE = os.environ.get("MEDIA_QUEUE", f"media-test-{secrets.token_hex(4)}")
    MAINTENANCE_QUEUE = os.environ.get("MAINTENANCE_QUEUE", f"maintenance-test-{secrets.token_hex(4)}")
    SESSION_COOKIE_SECURE = False
    REQUIRE_VERIFIED_EMAIL = False
    # Pages still render as shared bodies (nothing personal in them), but are not stored: a test
    # that changes rows without a signal reads them back at once. tests/test_page_cache*.py turn
    # the store on.
    PAGE_CACHE_ENABLED = False
    TRUSTED_HOSTS = None

    @classmethod
    def init_app(cls, app) -> None:
        pass


def cookie_secure() -> bool:
    """Production's Secure flag on cookies: on unless COOKIE_SECURE (or the older
    SESSION_COOKIE_SECURE) turns it off."""
    return _bool("COOKIE_SECURE", _bool("SESSION_COOKIE_SECURE", True))


# Keys that must never sign a production session: the test suite's, and placeholders copied
# from documentation.
WEAK_SECRET_KEYS = frozenset(
    {TestingConfig.SECRET_KEY, "dev", "development", "secret", "changeme", "change-me", "secret-key"}
)
SECRET_KEY_MIN_LENGTH = 32
_SECRET_HINT = "Set one: export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')"


class ProductionConfig(Config):
    ENV_NAME = "production"
    # COOKIE_SECURE=0 is for a plain-HTTP intranet deployment only: without it a browser never
    # sends the cookies back over http://, and nobody can log in. SESSION_COOKIE_SECURE (the
    # older name) is still read.
    SESSION_COOKIE_SECURE = cookie_secure()
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    HSTS_ENABLED = SESSION_COOKIE_SECURE

    @classmethod
    def init_app(cls, app) -> None:
        cls._check_secret_key(app)
        cls._check_public_base_url(app)

    @staticmethod
    def _check_public_base_url(app) -> None:
        """Links in mails and on posters come from PUBLIC_BASE_URL, never from a request's Host;
        the site answers only to that host (and to TRUSTED_HOSTS)."""
        base = (app.config.get("PUBLIC_BASE_URL") or "").strip()
        parts = urlsplit(base)
        if not base or parts.scheme not in {"http", "https"} or not parts.hostname:
            raise RuntimeError(
                "PUBLIC_BASE_URL is not set (or is not an http(s) URL): production will not start without "
                "it, because links in mails and on printed posters are built from it. "
                "Set it to the site's public address: export PUBLIC_BASE_URL=https://wenming.example.cn"
            )
        hosts = list(app.config.get("TRUSTED_HOSTS") or [])
        if parts.hostname not in hosts:
            hosts.insert(0, parts.hostname)
        app.config["TRUSTED_HOSTS"] = hosts

    @staticmethod
    def _check_secret_key(app) -> None:
        key = app.config.get("SECRET_KEY")
        if not key:
            raise RuntimeError(f"SECRET_KEY is not set: production will not start without it. {_SECRET_HINT}")
        if key in WEAK_SECRET_KEYS or len(key) < SECRET_KEY_MIN_LENGTH:
            raise RuntimeError(
                f"SECRET_KEY is too weak (a known default, or shorter than {SECRET_KEY_MIN_LENGTH} "
                f"characters). Production refuses to start with it. {_SECRET_HINT}"
            )
        # A retired key still verifies: a weak one would let anybody sign a session.
        for fallback in app.config.get("SECRET_KEY_FALLBACKS") or ():
            if fallback in WEAK_SECRET_KEYS or len(fallback) < SECRET_KEY_MIN_LENGTH:
                raise RuntimeError(
                    "A key in SECRET_KEY_FALLBACKS is too weak (a known default, or shorter than "
                    f"{SECRET_KEY_MIN_LENGTH} characters): a retired key still verifies sessions. "
                    "Production refuses to start with it; drop it from SECRET_KEY_FALLBACKS."
                )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
