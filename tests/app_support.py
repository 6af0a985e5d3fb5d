"""What every test app of a process shares: the Redis server and this process's key prefix, the
databases the suite runs on, an app made on a database, and scratch PostgreSQL databases.

Test processes run side by side (pytest-xdist, `make test`), and other checkouts' runs share
the machine: each process keeps to its own Redis key prefix, RQ queue names and PostgreSQL
databases, all named here.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.extensions import db

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# "gw0", "gw1"… under pytest-xdist; "main" in a plain run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
RUN_TOKEN = secrets.token_hex(4)
RUN_PREFIX = f"wmcwm-test-{WORKER}-{RUN_TOKEN}:"

DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def database_url(engine: str, postgres_url: str | None) -> str:
    """A test's database on `engine`, with the schema and no rows: "sqlite", the process's own
    file, made anew from a copy of the schema for each test; "postgresql", the process's scratch
    database (the `app` fixture creates its schema once and empties it after each test)."""
    if engine == "sqlite":
        return _fresh_sqlite_file()
    return postgres_url


# Every test's app on these URLs (the process's SQLite file and scratch PostgreSQL database)
# gets the same engine: a new engine starts with an empty compiled-statement cache, and compiling
# each test's statements again was a sixth of an API test's time (py-spy). Other URLs (a test's
# own database file) get engines of their own, as in production.
_SHARED_URLS: set[str] = set()
_ENGINES: dict[str, sa.Engine] = {}


def _share_engines() -> None:
    make_engine = db._make_engine

    def shared(bind_key, options, app):
        if _plain(options.get("url")) not in _SHARED_URLS:
            return make_engine(bind_key, options, app)
        key = repr((bind_key, sorted(options.items(), key=lambda item: item[0])))
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = make_engine(bind_key, options, app)
        return engine

    db._make_engine = shared  # Flask-SQLAlchemy's one place that creates an app's engines


_share_engines()


def share_engine_for(url: str) -> str:
    """`url`, whose apps from now on share one engine in this process."""
    _SHARED_URLS.add(_plain(url))
    return url


def _plain(url) -> str | None:
    return None if url is None else sa.engine.make_url(url).render_as_string(hide_password=False)


def _fresh_sqlite_file() -> str:
    """The process's SQLite file, replaced by a copy of the schema made once per process
    (create_all writes some 80 statements, 0.1-0.3 s a test). The engines on it close their
    connections first; the old file is unlinked, not overwritten, so that a connection left
    open by a stray thread keeps the old file and never reads the new one half-written."""
    path = Path(tempfile.gettempdir()) / "test.db"
    url = share_engine_for(f"sqlite:///{path}")
    for engine in _ENGINES.values():
        if engine.url.database == str(path):
            engine.dispose()
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        path.with_name(name).unlink(missing_ok=True)
    shutil.copyfile(_sqlite_schema(), path)
    return url


@functools.cache
def _sqlite_schema() -> Path:
    path = Path(tempfile.mkdtemp(prefix="wmcwm-schema-")) / "schema.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    db.metadata.create_all(engine)
    engine.dispose()  # the last connection closed: the WAL is written back, the file complete
    assert not path.with_name(path.name + "-wal").exists()
    return path


def redis_runs() -> list:
    """The runs of a test marked ``also_on_redis_cluster`` (tests/conftest.py): each database with
    the machine's Redis, and once more with the app's Redis (counters, rankings, page cache,
    limits) on a Redis Cluster (tests/redis_cluster_support.py; marked ``cluster``), on SQLite:
    the cluster changes what is sent to Redis, never a SQL statement."""
    runs = [pytest.param(engine, "standalone", id=engine) for engine in DATABASES]
    runs.append(pytest.param("sqlite", "cluster", id="sqlite-cluster", marks=pytest.mark.cluster))
    return runs


def flush_prefix(client: redis.Redis, prefix: str) -> None:
    # Flask-Limiter's storage puts its own "LIMITS:LIMITER/" in front of our prefix.
    for pattern in (f"{prefix}*", f"LIMITS:LIMITER/{prefix}*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


def make_test_app(
    db_url: str, media_root: str, *, prefix: str, queue: str, redis_url: str = REDIS_URL
) -> Flask:
    """The testing app on `db_url`, counting in Redis under `prefix` (on `redis_url`: the
    machine's Redis, or a Redis Cluster), sending media jobs to `queue` on the machine's Redis."""
    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=db_url,
        MEDIA_ROOT=media_root,
        REDIS_URL=redis_url,
        QUEUE_REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=prefix,
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_KEY_PREFIX=prefix + "limiter",
        MEDIA_QUEUE=queue,
    )


@contextmanager
def scratch_postgres_database(label: str) -> Iterator[str]:
    """A database of its own on the TEST_DATABASE_URL server, dropped on the way out."""
    url = sa.engine.make_url(os.environ["TEST_DATABASE_URL"])
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"wmcwm_test_{label}_{secrets.token_hex(4)}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        # A commit here need not survive a power cut, and waiting for its WAL flush costs
        # 2.5 ms against 0.3 ms (measured on this machine): the suite commits tens of thousands
        # of times. The fault drills that restart PostgreSQL run their own cluster, untouched.
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
