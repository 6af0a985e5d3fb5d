"""Fault drill: the Redis Cluster primary serving the hot work's slot is killed in the middle of a
storm of likes. Its replica takes over (the cluster's own failover, within seconds); meanwhile
likes answer 503 and write nothing, or stand in SQL and are counted from there. Nothing
acknowledged is lost: SQL holds every acknowledged like and no acknowledged unlike, and one
reconcile makes every counter and ranking exact. The app reconnects by itself (its cluster client
learns the new primary); no restart.

What the drill taught: the promoted replica holds the fence tokens of the likes that were in
flight on the old primary when it died (their finish never reached a primary). A reconcile cannot
measure a work while it sees a write in flight, so it queues the work for repair until those
tokens go stale (``counters.FLIGHT_STALE_MS``, 30 s). The drill shortens that to 2 s, waits until
no flight is live, then reconciles once.

The drill runs on a cluster of its own, since it kills one of its nodes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from app import redis_keys
from app.engagement import counters, reconcile, services
from app.engagement.scoring import Ranking
from app.errors import ServiceError
from app.extensions import db
from app.models import User, Work
from tests.builders_support import make_collective, make_voters, make_work
from tests.engagement_support import in_threads, like_rows, liked_pairs
from tests.fault_support import wait_until
from tests.redis_cluster_support import RedisClusterProcesses

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.serial,
    pytest.mark.slow,
    pytest.mark.parametrize(("db_url", "redis_url"), [("sqlite", "cluster")], indirect=True),
]

THREADS = 8
VOTERS = 240
STALE_MS = 2000


@pytest.fixture
def redis_cluster() -> Iterator[RedisClusterProcesses]:
    """This module's own cluster (the suite's shared one must keep all its nodes)."""
    cluster = RedisClusterProcesses()
    yield cluster
    cluster.stop()


def test_a_primary_killed_mid_storm_fails_over_and_loses_no_acknowledged_like(
    app, open_campaign, redis_cluster, monkeypatch
):
    monkeypatch.setattr(counters, "FLIGHT_STALE_MS", STALE_MS)
    works = [
        make_work(make_collective("北京地铁", "交通运输", "北京"), open_campaign, title="甲"),
        make_work(make_collective("上海银行", "金融", "上海"), open_campaign, title="乙"),
    ]
    for work in works:
        services.work_published(work)
    hot, other = (work.id for work in works)
    voters = make_voters(VOTERS)
    acknowledged: set[tuple[int, int]] = set()
    refused: list[str] = []
    lock, halfway = threading.Lock(), threading.Event()
    done = iter(range(1, VOTERS + 1))

    def vote(index: int) -> None:
        user = db.session.get(User, voters[index])
        plan = [("like", hot), ("like", other)] + ([("unlike", other)] if index % 4 == 0 else [])
        for action, work_id in plan:
            work = db.session.get(Work, work_id)
            try:
                if action == "like":
                    liked, _ = services.like_work(user, work)
                else:
                    liked, _ = services.unlike_work(user, work)
            except ServiceError as error:  # Redis unreachable before the write: nothing written
                assert error.code == "counters_unavailable", error
                with lock:
                    refused.append(action)
                continue
            with lock:
                (acknowledged.add if liked else acknowledged.discard)((user.id, work_id))
        with lock:
            if next(done) == VOTERS // 3:
                halfway.set()

    errors: list[Exception] = []
    storm = threading.Thread(target=lambda: errors.extend(in_threads(app, range(VOTERS), vote, THREADS)))
    storm.start()
    assert halfway.wait(60)
    victim = redis_cluster.primary_port_of(redis_keys.counts_key(hot))
    redis_cluster.kill(victim)
    storm.join(180)
    assert not storm.is_alive() and errors == []
    wait_until(redis_cluster.healthy, 30, "no replica took over the killed primary's slots")
    assert redis_cluster.primary_port_of(redis_keys.counts_key(hot)) != victim

    assert refused, "no like met the failover: the drill tested nothing"
    # SQL holds every acknowledged like and no acknowledged unlike; a refused call wrote nothing.
    assert liked_pairs() == acknowledged
    wait_until(
        lambda: not any(counters.flights_in_progress([hot, other]).values()),
        STALE_MS / 1000 + 10,
        "fence tokens of the old primary's flights never went stale",
    )
    reconcile.reconcile_counters()
    for work_id in (hot, other):
        assert services.counts_for([work_id])[work_id].likes == like_rows(work_id)
    # Which work leads depends on how many of the hot work's likes the failover refused, so the
    # expected order is read from SQL: most likes first, the newer work first on a tie.
    expected = sorted(((like_rows(work_id), work_id) for work_id in (hot, other)), reverse=True)
    ranked = services.top_works(Ranking.of()).items
    assert [(ranked_work.score, ranked_work.work_id) for ranked_work in ranked] == expected
    # And the app likes again on the new primary, without a restart.
    late = db.session.get(User, make_voters(1, start=VOTERS)[0])
    assert services.like_work(late, db.session.get(Work, hot))[1] == like_rows(hot)
