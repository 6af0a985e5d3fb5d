"""Fixtures: the app on SQLite and (when TEST_DATABASE_URL is set) PostgreSQL, a real Redis with a
per-run key prefix emptied around each test, LocalStorage in a temporary folder, and helpers to
make accounts and log in.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from app import create_app
from app.extensions import db, limiter
from app.models import Campaign, Collective, Level, Role, User, utcnow

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_PREFIX = f"wmcwm-test-{secrets.token_hex(4)}:"
PASSWORD = "Civility-2026!"

DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])

# Rounds of each `@pytest.mark.race` test, a fresh world each round: by default 3, or the
# test's `race(rounds=N)`; `--race-rounds=50` (or RACE_ROUNDS=50) runs every one 50 times, which
# is how a fix is proven (`pytest -m race --race-rounds=50`).
DEFAULT_RACE_ROUNDS = 3


def pytest_addoption(parser):
    parser.addoption(
        "--race-rounds",
        type=int,
        default=int(os.environ["RACE_ROUNDS"]) if os.environ.get("RACE_ROUNDS") else None,
        help=f"rounds of every @pytest.mark.race test (default: its own, else {DEFAULT_RACE_ROUNDS})",
    )


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("race")
    if marker:
        rounds = metafunc.config.getoption("race_rounds") or marker.kwargs.get("rounds", DEFAULT_RACE_ROUNDS)
        metafunc.parametrize("race_round", range(1, max(1, rounds) + 1), ids=lambda n: f"round{n}")


@pytest.fixture(autouse=True)
def race_round(request) -> int:
    """Which round of a race test this is (0 for other tests)."""
    return getattr(request, "param", 0)


def _flush_prefix(client: redis.Redis, prefix: str) -> None:
    # Flask-Limiter's storage puts its own "LIMITS:LIMITER/" in front of our prefix.
    for pattern in (f"{prefix}*", f"LIMITS:LIMITER/{prefix}*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


class RequestContextClient(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    The `app` fixture keeps an app context open for the whole test, and Flask would reuse it
    for requests; Flask-Login caches the user in `g` on that context, so one client's log-in
    would leak into another client's requests.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def redis_server() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:  # pragma: no cover - a set-up problem, said plainly
        pytest.exit(f"Redis does not answer at {REDIS_URL}: run `make test`, which starts it ({exc})")
    yield client
    _flush_prefix(client, RUN_PREFIX)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A throw-away database on the TEST_DATABASE_URL server, dropped at the end of the run."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield None
        return
    url = sa.engine.make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"wmcwm_test_{secrets.token_hex(4)}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=DATABASES)
def db_url(request, tmp_path, postgres_url) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return postgres_url


@pytest.fixture
def app(db_url, tmp_path, redis_server):
    prefix = f"{RUN_PREFIX}{secrets.token_hex(3)}:"
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=db_url,
        MEDIA_ROOT=str(tmp_path / "media"),
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=prefix,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=prefix + "limiter",
    )
    app.test_client_class = RequestContextClient
    # Flask-Limiter keeps the key prefix of the first app it was bound to; one process serves
    # one app in production, but here each test's app must count in its own keys.
    limiter._key_prefix = app.config["RATELIMIT_KEY_PREFIX"]
    with app.app_context():
        postgres = db_url.startswith("postgresql")
        if not postgres or db_url not in _SCHEMAS:
            db.create_all()
            if postgres:
                _SCHEMAS.add(db_url)
        try:
            yield app
        finally:
            db.session.remove()
            if postgres:
                _empty_tables()
            db.engine.dispose()
    _flush_prefix(redis_server, prefix)


# PostgreSQL databases whose schema this run has created. Each test then empties every table
# (TRUNCATE, ~40 ms) instead of dropping and creating the schema again (~170 ms a test).
_SCHEMAS: set[str] = set()


def _empty_tables() -> None:
    tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client) -> str:
    """The CSRF token a page gives the browser, read the way a browser would."""
    html = client.get("/login").get_data(as_text=True)
    match = _CSRF_META.search(html)
    assert match, "the page carries no csrf-token meta tag"
    return match.group(1)


@pytest.fixture
def open_campaign(app) -> Campaign:
    now = utcnow()
    campaign = Campaign(
        title="2026年“网络倡文明”主题活动",
        submission_opens=now - timedelta(days=10),
        submission_closes=now + timedelta(days=30),
        voting_opens=now - timedelta(days=10),
        voting_closes=now + timedelta(days=60),
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


@pytest.fixture
def make_collective(app):
    def make(name: str = "北京地铁青年文明号", industry: str = "交通运输", province: str = "北京"):
        collective = Collective(name=name, industry=industry, province=province, level=Level.PROVINCIAL)
        db.session.add(collective)
        db.session.commit()
        return collective

    return make


@pytest.fixture
def make_user(app):
    counter = iter(range(1, 10_000))

    def make(role: Role | str = Role.VIEWER, *, collective=None, province=None, email=None):
        n = next(counter)
        user = User(
            email=email or f"user{n}@example.com",
            display_name=f"用户{n}",
            role=Role(role),
            collective_id=collective.id if collective else None,
            province=province,
        )
        # One real hash of PASSWORD for every account: hashing costs 0.1 s (scrypt), and a test
        # world has a handful of accounts. Log-in still checks it the real way.
        user.password_hash = _password_hash()
        db.session.add(user)
        db.session.commit()
        return user

    return make


@functools.cache
def _password_hash() -> str:
    return generate_password_hash(PASSWORD)


@pytest.fixture
def login(client):
    """Log `user` in through the real log-in form."""

    def do(user: User, test_client=None):
        c = test_client or client
        response = c.post(
            "/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(c)},
        )
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
        return c

    return do
