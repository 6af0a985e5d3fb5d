"""Reads from a PostgreSQL streaming replica (app/db_replica.py, docs/scaling.md): the page
cache's shared renders read the replica; a purged page, a browser that just wrote, a replica past
its lag bound and a replica that is down all read the primary, and nothing answers an error.

Each test runs on a primary and its replica of this module's own (tests/postgres_replica_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app import db_replica
from app.engagement import services as engagement
from app.extensions import db
from app.models import Role
from app.moderation import services as moderation
from tests.builders_support import make_collective, make_work
from tests.fault_support import wait_until
from tests.postgres_replica_support import PrimaryAndReplica
from tests.sign_in_support import bearer

pytestmark = [pytest.mark.replica, pytest.mark.slow, pytest.mark.xdist_group("replica")]


@pytest.fixture(scope="module")
def pair() -> Iterator[PrimaryAndReplica]:
    pair = PrimaryAndReplica()
    yield pair
    pair.destroy()


@pytest.fixture
def db_url(pair) -> str:
    """The app's database: the module's primary (instead of the suite's two databases)."""
    return pair.primary.url


@pytest.fixture
def replica_app(app, pair):
    app.config.update(
        PAGE_CACHE_ENABLED=True,
        DATABASE_REPLICA_URL=pair.url,
        REPLICA_CHECK_SECONDS=0,  # measured at every render: the tests move the lag themselves
        REPLICA_MAX_LAG_SECONDS=60,
    )
    db_replica.init_replica(app)
    yield app
    pair.resume_replay()
    app.extensions["db_replica"].engine.dispose()


@pytest.fixture
def work(replica_app, open_campaign, pair):
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign, title="站台上的守候")
    engagement.work_published(work)
    wait_until(pair.caught_up, 10, "the replica did not catch up")
    return work


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if "wal_" not in statement:  # the lag measurement itself
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def _replica_engine(app) -> sa.Engine:
    return app.extensions["db_replica"].engine


def test_a_public_page_is_rendered_from_the_replica(replica_app, work):
    with statements(_replica_engine(replica_app)) as on_replica, statements(db.engine) as on_primary:
        page = replica_app.test_client().get("/")
    assert page.status_code == 200 and "站台上的守候" in page.text
    assert on_replica and on_primary == []


def test_a_work_published_while_the_replica_lags_is_shown_at_once(
    replica_app, open_campaign, pair, make_user
):
    pending = make_work(
        make_collective("上海银行青年文明号"), open_campaign, title="柜台前的微笑", status="pending_review"
    )
    pair.pause_replay()
    moderation.approve_work(make_user(Role.ADMIN), pending.id)  # purges its page and the lists
    with statements(_replica_engine(replica_app)) as on_replica:
        page = replica_app.test_client().get(f"/works/{pending.id}")
        home = replica_app.test_client().get("/")
    assert page.status_code == 200 and "柜台前的微笑" in page.text
    assert "柜台前的微笑" in home.text
    assert on_replica == []


def test_a_browser_that_just_wrote_reads_the_primary_while_others_read_the_replica(
    replica_app, work, pair, make_user
):
    headers = bearer(make_user())
    liker = replica_app.test_client()
    pair.pause_replay()
    assert liker.put(f"/api/v1/works/{work.id}/like", headers=headers).status_code == 200
    assert liker.get_cookie(db_replica.READ_YOUR_WRITES_COOKIE) is not None
    with statements(_replica_engine(replica_app)) as on_replica:
        mine = liker.get("/api/v1/works?sort=new", headers=headers)
    assert mine.status_code == 200 and on_replica == []
    with statements(_replica_engine(replica_app)) as on_replica:
        theirs = replica_app.test_client().get(f"/collectives/{work.collective_id}")
    assert theirs.status_code == 200 and "站台上的守候" in theirs.text and on_replica


def test_a_replica_past_its_lag_bound_is_not_read(replica_app, work, pair, make_user):
    replica_app.config["REPLICA_MAX_LAG_SECONDS"] = 0.2
    pair.pause_replay()
    make_user()  # a transaction the replica will not have
    replica = replica_app.extensions["db_replica"]
    wait_until(lambda: (db_replica._measure_lag(replica) or 0) > 0.2, 10, "the replica never fell behind")
    with statements(_replica_engine(replica_app)) as on_replica:
        page = replica_app.test_client().get("/wall")
    assert page.status_code == 200 and on_replica == []
    assert db_replica.replica_lag() > 0.2


def test_with_the_replica_stopped_every_public_page_answers_200_from_the_primary(replica_app, work, pair):
    pair.stop_replica()
    try:
        client = replica_app.test_client()
        for path in ("/", f"/works/{work.id}", "/wall", "/api/v1/works", f"/api/v1/works/{work.id}"):
            assert client.get(path).status_code == 200, path
        assert db_replica.replica_lag() is None
    finally:
        pair.start_replica()
