"""Metrics recorded by processes that nobody scrapes, kept in Redis for `/metrics` to read.

Transcodes run in media workers (forked work horses, on any number of hosts) and reconcile runs
in the scheduled jobs' worker (`flask schedule worker`); neither serves HTTP. They add to a few
Redis hashes instead, and every web process exposes the same cluster-wide totals at scrape time
(docs/observability.md).

Keys (named in app/redis_keys.py with every other key; one hash tag, so they share a slot)::

    P{metrics}:transcode:seconds   hash  b<i>: transcodes in bucket i, sum, count
    P{metrics}:transcode:failures  hash  <reason>: failed attempts
    P{metrics}:reconcile           hash  runs, last_run (unix time), last_drift,
                                         drift:<likes|comments|views|rank>: repaired in total
    P{metrics}:media_cleanup       hash  uploads_aborted, parts_orphaned, works_requeued

A Redis that loses its data resets these to zero, which Prometheus reads as a counter reset
(``rate`` and ``increase`` handle it). Recording never fails the job that records: a Redis
error only loses that sample.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from app.extensions import redis_client
from app.redis_keys import (
    media_cleanup_key,
    reconcile_metrics_key,
    transcode_failures_key,
    transcode_seconds_key,
)

log = logging.getLogger(__name__)

# Seconds: a 10-second clip takes a few seconds, a 30-minute film tens of minutes.
TRANSCODE_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
DRIFT_COUNTERS = ("likes", "comments", "views", "rank")
# What the media pipeline's clean-up did (app/media/uploads.py, app/media/transcodes.py):
# abandoned upload sessions closed, multipart uploads no session knew aborted, stuck works requeued.
CLEANUP_COUNTS = ("uploads_aborted", "parts_orphaned", "works_requeued")


def record_transcode_seconds(seconds: float) -> None:
    """One finished transcode took `seconds`."""
    bucket = bisect.bisect_left(TRANSCODE_BUCKETS, seconds)
    key = transcode_seconds_key()
    try:
        with redis_client.client.pipeline() as pipe:
            pipe.hincrby(key, f"b{bucket}", 1)
            pipe.hincrbyfloat(key, "sum", seconds)
            pipe.hincrby(key, "count", 1)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("transcode duration not recorded: %s", exc)


def record_transcode_failure(reason: str) -> None:
    """One transcode attempt failed; `reason` is one of a bounded set (docs/observability.md)."""
    try:
        redis_client.client.hincrby(transcode_failures_key(), reason, 1)
    except redis.RedisError as exc:
        log.warning("transcode failure not recorded: %s", exc)


def record_reconcile(drift_counters: Iterable[str], now: float | None = None) -> None:
    """A reconcile ran and repaired one drift per item of `drift_counters` (likes, rank, …)."""
    found: dict[str, int] = {}
    for counter in drift_counters:
        found[counter] = found.get(counter, 0) + 1
    key = reconcile_metrics_key()
    try:
        with redis_client.client.pipeline() as pipe:
            pipe.hincrby(key, "runs", 1)
            pipe.hset(
                key, mapping={"last_run": f"{now or time.time():.3f}", "last_drift": sum(found.values())}
            )
            for counter, n in found.items():
                pipe.hincrby(key, f"drift:{counter}", n)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("reconcile figures not recorded: %s", exc)


def record_cleanup(what: str, n: int) -> None:
    """The clean-up did `what` (one of CLEANUP_COUNTS) `n` times."""
    if n <= 0:
        return
    if what not in CLEANUP_COUNTS:
        raise ValueError(f"unknown clean-up count: {what}")
    try:
        redis_client.client.hincrby(media_cleanup_key(), what, n)
    except redis.RedisError as exc:
        log.warning("clean-up count %s not recorded: %s", what, exc)


@dataclass(frozen=True, slots=True)
class Snapshot:
    transcode_buckets: list[int]  # per bucket (not cumulative), the last one is +Inf
    transcode_sum: float
    transcode_count: int
    transcode_failures: dict[str, int]
    reconcile_runs: int
    reconcile_last_run: float | None
    reconcile_last_drift: int
    drift: dict[str, int]
    cleanup: dict[str, int]


def read_snapshot() -> Snapshot:
    """Everything above, in one round trip. Raises redis.RedisError."""
    with redis_client.client.pipeline(transaction=False) as pipe:
        pipe.hgetall(transcode_seconds_key())
        pipe.hgetall(transcode_failures_key())
        pipe.hgetall(reconcile_metrics_key())
        pipe.hgetall(media_cleanup_key())
        seconds, failures, reconcile, cleanup = (
            {k.decode(): v.decode() for k, v in raw.items()} for raw in pipe.execute()
        )
    last_run = reconcile.get("last_run")
    return Snapshot(
        transcode_buckets=[int(seconds.get(f"b{i}", 0)) for i in range(len(TRANSCODE_BUCKETS) + 1)],
        transcode_sum=float(seconds.get("sum", 0)),
        transcode_count=int(seconds.get("count", 0)),
        transcode_failures={reason: int(n) for reason, n in failures.items()},
        reconcile_runs=int(reconcile.get("runs", 0)),
        reconcile_last_run=float(last_run) if last_run else None,
        reconcile_last_drift=int(reconcile.get("last_drift", 0)),
        drift={counter: int(reconcile.get(f"drift:{counter}", 0)) for counter in DRIFT_COUNTERS},
        cleanup={what: int(cleanup.get(what, 0)) for what in CLEANUP_COUNTS},
    )
