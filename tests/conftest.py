"""Fixtures: the app on SQLite and (when TEST_DATABASE_URL is set) PostgreSQL, a real Redis with a
per-run key prefix emptied around each test, LocalStorage in a temporary folder, and the common
builders (tests/builders_support.py) as fixtures.

Test processes run side by side (pytest-xdist, `make test`), and other checkouts' runs share the
machine: each process keeps to its own Redis key prefix, RQ queue names, PostgreSQL database
(tests/app_support.py), ports (tests/web_process.py) and temp folder, all set up here so that no
test has to remember. Test modules import from the support modules, never from this file.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from email import message_from_string
from pathlib import Path

import jinja2
import jinja2.bccache
import pytest
import redis
import sqlalchemy as sa
import werkzeug.routing.rules
from flask.testing import FlaskClient

from app import redis_connections
from app.extensions import db, limiter
from app.models import Campaign, Role
from tests import builders_support as builders
from tests.app_support import (
    DATABASES,
    REDIS_URL,
    RUN_PREFIX,
    RUN_TOKEN,
    WORKER,
    database_url,
    flush_prefix,
    make_test_app,
    redis_runs,
    scratch_postgres_database,
    share_engine_for,
)
from tests.media_worker_process import forget_queue
from tests.redis_cluster_support import RedisClusterProcesses

# The upload tests' fixtures, shared by the media, metrics and request-id tests.
from tests.uploads_support import media_app, people, samples  # noqa: F401


def _memoise_url_builders() -> None:
    """Compile each URL rule's builders once per test process instead of once per app.

    Every test makes an app, and Werkzeug compiles two Python functions per URL rule for each
    (some 80 rules: most of create_app's time). A builder depends on nothing but its rule (it
    reaches the rule's converters through the rule it is bound to), so the same rule, default
    values and host settings get the function compiled the first time. Without the private
    method (another Werkzeug), apps are built as usual.
    """
    compile_builder = getattr(werkzeug.routing.rules.Rule, "_compile_builder", None)
    if compile_builder is None:
        return
    compiled: dict = {}

    def memoised(rule, append_unknown=True):
        key = (
            rule.rule,
            append_unknown,
            tuple(rule._trace),
            tuple(sorted((rule.defaults or {}).items(), key=repr)),
            rule.map.host_matching,
            rule.subdomain,
            rule.host,
            rule.merge_slashes,
        )
        if key not in compiled:
            compiled[key] = compile_builder(rule, append_unknown)
        return compiled[key]

    werkzeug.routing.rules.Rule._compile_builder = memoised


_memoise_url_builders()


def _memoise_rule_parsing() -> None:
    """Parse each URL rule once per test process instead of once per app (Werkzeug's parser was
    a twentieth of an API test's time, py-spy): a rule's parts, trace and converters depend on
    its text and on the map's settings and converter classes, all the same in every test app.
    Converters are shared between apps' maps: none of Werkzeug's reads its map after being made.
    Without the private attributes (another Werkzeug), rules are parsed as usual."""
    rule_class = werkzeug.routing.rules.Rule
    compile_rule = rule_class.compile
    if not all(hasattr(rule_class, name) for name in ("_parse_rule", "_compile_builder")):
        return
    parsed: dict = {}

    def memoised(rule):
        url_map = rule.map
        key = (
            rule.rule,
            url_map.host_matching,
            rule.host,
            rule.subdomain,
            rule.merge_slashes,
            tuple(sorted(url_map.converters.items())),
        )
        found = parsed.get(key)
        if found is None:
            compile_rule(rule)
            parsed[key] = (tuple(rule._parts), tuple(rule._trace), dict(rule._converters))
            return
        parts, trace, converters = found
        rule._parts = list(parts)
        rule._trace = list(trace)
        rule._converters = dict(converters)
        rule.arguments.update(converters)
        rule._build = rule._compile_builder(False).__get__(rule, None)
        rule._build_unknown = rule._compile_builder(True).__get__(rule, None)

    rule_class.compile = memoised


_memoise_rule_parsing()


class _CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's bytecode cache, in memory and shared by every app of the test process: each
    test's app would otherwise compile base.html and its pages again (a third of a page test's
    time). Keyed by template and source checksum, as Jinja's own caches are."""

    def __init__(self) -> None:
        self._code: dict[str, tuple[str, object]] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        found = self._code.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = (bucket.checksum, bucket.code)


_TEMPLATES = _CompiledTemplates()

# Rounds of each `@pytest.mark.race` test, a fresh world each round: by default 3, or the
# test's `race(rounds=N)`; `--race-rounds=50` (or RACE_ROUNDS=50) runs every one 50 times, which
# is how a fix is proven (`pytest -m race --race-rounds=50`).
DEFAULT_RACE_ROUNDS = 3


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if config.pluginmanager.hasplugin("dsession"):
        return  # the xdist controller: it runs no test
    # A temp folder of this process's own, for it and every program it starts (media workers
    # clean up dead jobs' folders in theirs, Chromium keeps its profiles there). Readable by
    # the postgres user, who runs the fault drills' private cluster from a folder inside.
    # pytest's own folder for tmp_path stays where it was (kept for a look after the run).
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None and not hasattr(config, "workerinput"):
        factory.getbasetemp()
    own_tmp = Path(tempfile.mkdtemp(prefix=f"wmcwm-test-{WORKER}-"))
    own_tmp.chmod(0o755)
    config.stash[_OWN_TMP] = own_tmp
    os.environ["TMPDIR"] = str(own_tmp)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    # The queue a media worker or app started without one listens on: never the shared "media".
    os.environ["MEDIA_QUEUE"] = f"media-test-{WORKER}-{RUN_TOKEN}"
    os.environ["MAINTENANCE_QUEUE"] = f"maintenance-test-{WORKER}-{RUN_TOKEN}"
    # And the instance folder (SQLite, secret key) of a process started without one: not the
    # checkout's instance/, which a developer's `make run` uses.
    os.environ["INSTANCE_PATH"] = str(own_tmp / "instance")


def pytest_unconfigure(config):
    own_tmp = config.stash.get(_OWN_TMP, None)
    if own_tmp is not None:
        shutil.rmtree(own_tmp, ignore_errors=True)


_OWN_TMP = pytest.StashKey[Path]()


def pytest_addoption(parser):
    parser.addoption(
        "--phase",
        choices=("all", "parallel", "serial"),
        default="all",
        help="`make test` runs the parallel phase on xdist workers, then the @pytest.mark.serial tests alone",
    )
    parser.addoption(
        "--race-rounds",
        type=int,
        default=int(os.environ["RACE_ROUNDS"]) if os.environ.get("RACE_ROUNDS") else None,
        help=f"rounds of every @pytest.mark.race test (default: its own, else {DEFAULT_RACE_ROUNDS})",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    # A marker rather than a direct parametrize, added before pytest's own hooks run: the db_url
    # fixture's own params then give way to it (tests that use no app keep their own runs).
    wanted = {"db_url", "redis_url"} <= set(metafunc.fixturenames)
    if wanted and metafunc.definition.get_closest_marker("also_on_redis_cluster"):
        metafunc.definition.add_marker(
            pytest.mark.parametrize(("db_url", "redis_url"), redis_runs(), indirect=True)
        )
    marker = metafunc.definition.get_closest_marker("race")
    if marker:
        rounds = metafunc.config.getoption("race_rounds") or marker.kwargs.get("rounds", DEFAULT_RACE_ROUNDS)
        metafunc.parametrize("race_round", range(1, max(1, rounds) + 1), ids=lambda n: f"round{n}")


def pytest_collection_modifyitems(config, items):
    phase = config.getoption("phase")
    if phase != "all":
        keep, drop = [], []
        for item in items:
            serial = item.get_closest_marker("serial") is not None
            (keep if serial == (phase == "serial") else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
    # The long tests first, so that xdist hands them out while every worker is busy and the
    # workers run out of tests together, rather than one of them starting a 30-second test last.
    items.sort(key=lambda item: not (item.get_closest_marker("slow") or "/e2e/" in item.nodeid))


@pytest.fixture(autouse=True)
def race_round(request) -> int:
    """Which round of a race test this is (0 for other tests)."""
    return getattr(request, "param", 0)


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
    flush_prefix(client, RUN_PREFIX)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A throw-away database on the TEST_DATABASE_URL server, dropped at the end of the run."""
    if not os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    with scratch_postgres_database(WORKER) as url:
        yield share_engine_for(url)


@pytest.fixture(params=DATABASES)
def db_url(request, postgres_url) -> str:
    return database_url(request.param, postgres_url)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterProcesses]:
    """A Redis Cluster of this process's own, started for the first test that needs it."""
    cluster = RedisClusterProcesses()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_url(request) -> str:
    """The app's REDIS_URL: the machine's Redis, or with ``also_on_redis_cluster`` the cluster's."""
    if getattr(request, "param", "standalone") == "cluster":
        return request.getfixturevalue("redis_cluster").url
    return REDIS_URL


@pytest.fixture
def app(db_url, tmp_path, redis_server, redis_url):
    token = secrets.token_hex(3)
    prefix = f"{RUN_PREFIX}{token}:"
    queue = f"media-test-{WORKER}-{RUN_TOKEN}-{token}"
    app = make_test_app(db_url, str(tmp_path / "media"), prefix=prefix, queue=queue, redis_url=redis_url)
    app.test_client_class = RequestContextClient
    app.jinja_env.bytecode_cache = _TEMPLATES
    # Flask-Limiter keeps the key prefix of the first app it was bound to; one process serves
    # one app in production, but here each test's app must count in its own keys.
    limiter._key_prefix = app.config["RATELIMIT_KEY_PREFIX"]
    postgres = db_url.startswith("postgresql")
    with app.app_context():
        if postgres and db_url not in _SCHEMAS:
            db.create_all()
            _SCHEMAS.add(db_url)
        try:
            yield app
        finally:
            db.session.remove()
            if postgres:
                _empty_tables()
            db.engine.dispose()
    if redis_url == REDIS_URL:
        flush_prefix(redis_server, prefix)
    else:
        cluster = redis_connections.connect(redis_url)
        flush_prefix(cluster, prefix)
        cluster.close()
    forget_queue(redis_server, queue)


# PostgreSQL databases whose schema this run has created. Each test then empties every table
# (TRUNCATE, ~40 ms) instead of dropping and creating the schema again (~170 ms a test).
_SCHEMAS: set[str] = set()


def _empty_tables() -> None:
    """Every table emptied and its ids restarted at 1, as a new database has them, in one round
    trip. DELETE rather than TRUNCATE: a test leaves a few rows, and TRUNCATE pays for new files
    for every table and index (~40 ms) and waits for every other session's locks."""
    with db.engine.begin() as conn:
        conn.execute(sa.text(_emptying_block()))


@functools.cache
def _emptying_block() -> str:
    statements = [f'DELETE FROM "{table.name}";' for table in reversed(db.metadata.sorted_tables)]
    for table in db.metadata.sorted_tables:
        id_column = table.columns.get("id")
        if id_column is not None and isinstance(id_column.type, sa.Integer):
            statements.append(f"PERFORM setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), 1, false);")
    return "DO $$ BEGIN " + " ".join(statements) + " END $$"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def open_campaign(app) -> Campaign:
    return builders.make_campaign(title="2026年“网络倡文明”主题活动")


@pytest.fixture
def make_collective(app):
    return builders.make_collective


@pytest.fixture
def collective(make_collective):
    """A collective in Beijing (a module may define its own)."""
    return make_collective()


@pytest.fixture
def member(make_user, collective):
    """An account of `collective`."""
    return make_user(Role.COLLECTIVE, collective=collective)


@pytest.fixture
def metro(make_collective):
    """With `bank`, two collectives of two provinces and industries."""
    return make_collective("北京地铁青年文明号", "交通运输", "北京")


@pytest.fixture
def bank(make_collective):
    return make_collective("上海银行青年文明号", "金融", "上海")


@pytest.fixture
def make_user(app):
    """Accounts numbered from 1 in each test (user1@example.com, 用户1, …), with PASSWORD."""
    counter = iter(range(1, 10_000))

    def make(role: Role | str = Role.VIEWER, *, collective=None, province=None, email=None):
        return builders.make_user(next(counter), role, collective=collective, province=province, email=email)

    return make


@pytest.fixture
def mails(caplog):
    """The bodies of the mails the log backend (MAIL_BACKEND=log, the default) wrote, decoded."""

    def bodies() -> list[str]:
        found = [r.getMessage().split("\n", 1)[1] for r in caplog.records if r.name == "app.mail"]
        return [message_from_string(raw).get_payload(decode=True).decode() for raw in found]

    with caplog.at_level(logging.INFO, logger="app.mail"):
        yield bodies
