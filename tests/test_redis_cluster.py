"""Redis Cluster as a setting (app/redis_connections.py, docs/scaling.md): a ``redis+cluster://``
REDIS_URL puts the counters, rankings, page cache and rate limits on a cluster, and the RQ queue
stays on a standalone Redis of its own. The counters, rebuild/reconcile, page cache and limits
modules also run whole on a real cluster (``also_on_redis_cluster``); these are the wiring."""

from __future__ import annotations

import pytest
import redis
from redis.crc import key_slot

from app import create_app, redis_connections, redis_keys
from app.extensions import queue_redis, redis_client
from app.queue import enqueue_job, media_queue
from tests.app_support import REDIS_URL


def test_a_cluster_url_lists_its_nodes_and_a_server_url_stays_one_server():
    cluster = redis_connections.connect("redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7001/")
    server = redis_connections.connect("redis://127.0.0.1:6379/2")
    try:
        assert isinstance(cluster, redis_connections.LazyCluster)
        assert sorted(node.name for node in cluster.startup_nodes) == [
            "10.0.0.1:7000",
            "10.0.0.2:7001",
        ]
        assert type(server) is redis.Redis
        assert server.connection_pool.connection_kwargs["db"] == 2
    finally:
        server.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://10.0.0.1",
        "redis+cluster://10.0.0.1:7000/3",
    ],
)
def test_a_cluster_url_that_cannot_work_is_refused_saying_why(url):
    with pytest.raises(redis_connections.RedisUrlError, match="Redis Cluster"):
        redis_connections.connect(url)


def test_the_queue_on_a_cluster_is_refused_at_start_saying_to_set_queue_redis_url(db_url):
    with pytest.raises(redis_connections.RedisUrlError, match="QUEUE_REDIS_URL") as refused:
        create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=db_url,
            REDIS_URL="redis+cluster://:s3cret@127.0.0.1:7000",
        )
    assert "s3cret" not in str(refused.value)


@pytest.mark.also_on_redis_cluster
def test_the_app_counts_on_redis_url_and_queues_on_queue_redis_url(app, redis_url):
    is_cluster = redis_connections.is_cluster(redis_url)
    assert isinstance(redis_client.client, redis_connections.LazyCluster) is is_cluster
    assert type(queue_redis.client) is redis.Redis
    assert (
        queue_redis.client.connection_pool.connection_kwargs["port"]
        == redis.Redis.from_url(REDIS_URL).connection_pool.connection_kwargs["port"]
    )
    job = enqueue_job("media_worker.jobs.echo_job", "你好", job_id=f"{app.config['MEDIA_QUEUE']}-echo")
    assert job.id in media_queue().job_ids


def _slot(key: str) -> int:
    return key_slot(key.encode())


def test_the_keys_one_script_or_rename_touches_share_a_slot_and_rankings_spread(app):
    one_work = {_slot(key) for key in (redis_keys.counts_key(7), redis_keys.fence_key(7))}
    one_work |= {_slot(redis_keys.pending_views_key(7)), _slot(redis_keys.seen_key(7, "20261206"))}
    assert len(one_work) == 1
    name = redis_keys.ranking_name("likes", "p", "上海")
    assert _slot(redis_keys.ranking_key(name)) == _slot(redis_keys.ranking_temp_key(name, "ab12"))
    cache = {_slot(redis_keys.page_cache_key("w:7")), _slot(redis_keys.page_cache_generation_key("w:7"))}
    assert cache == {_slot(redis_keys.page_cache_lock_key("w:7", "v"))}
    limits = {_slot(redis_keys.rate_window_key("like-account", "42", n, 60)) for n in (10, 60)}
    assert len(limits) == 1
    spread = {_slot(redis_keys.counts_key(n)) for n in range(1, 50)}
    spread |= {_slot(redis_keys.ranking_key(redis_keys.ranking_name(m, "all"))) for m in ("likes", "hot")}
    assert len(spread) > 40
