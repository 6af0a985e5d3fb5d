"""Prometheus metrics and the `/metrics` endpoint (docs/observability.md lists every metric).

Two sources, one page:

* Per-process counters of the web tier (requests, durations, likes), in prometheus_client's
  own objects. gunicorn runs several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set
  (scripts/run.sh does) every process writes its values to files there and a scrape of any
  process adds them all up; without it (tests, a single process) the values live in memory.
* Cluster-wide figures read from Redis at scrape time: the media queue's depth, and what the
  media workers and the counters loop recorded (app/observability/shared.py).

Access: with ``METRICS_TOKEN`` set, only ``Authorization: Bearer <token>``; without it, only
clients on loopback or private addresses, and never a request that came through a proxy the app
was not told about (see ``scrape_allowed``). Not rate limited, not part of the API contract.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator

import redis
from flask import Blueprint, Response, current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

# app.queue as a module, not its names: app.queue imports app.observability (the request id of a
# job), so whichever of the two is imported first finds the other half-initialised.
from app import queue as job_queue
from app.clients import client_ip, forwarding_headers_present
from app.extensions import limiter
from app.observability import shared

log = logging.getLogger(__name__)

# The *_created series (when each labelled child was first used) double the page for nothing
# these dashboards read; and multiprocess mode never exposes them, so both modes look the same.
disable_created_metrics()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Route label of a request no URL rule matched (404s, and 405s): raw paths would let anyone
# create series at will.
UNMATCHED = "unmatched"

# Where this process's own metrics are registered; in multiprocess mode their values go to files
# and are read back from there, so this registry is only scraped in single-process mode.
WEB_REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "http_requests",
    "Requests answered, by URL rule, method and status.",
    ("route", "method", "status"),
    registry=WEB_REGISTRY,
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from routing to the response being ready, by URL rule and method.",
    ("route", "method"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=WEB_REGISTRY,
)
LIKES = Counter("likes", "Likes recorded (a new like row committed).", registry=WEB_REGISTRY)
UNLIKES = Counter("unlikes", "Likes taken back (a like row deleted).", registry=WEB_REGISTRY)
VISITOR_COOKIES_REFUSED = Counter(
    "visitor_cookies_refused",
    "First visits counted on their address because it was given VISITOR_COOKIE_IP_RATE_LIMIT new ids.",
    registry=WEB_REGISTRY,
)


def observe_request(route: str | None, method: str, status: int, seconds: float) -> None:
    route = route or UNMATCHED
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(seconds)


# --------------------------------------------------------------------------------------------
# Collectors read at scrape time.


class QueueCollector:
    """The media queue's depth and its registries, read from RQ at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = job_queue.media_queue()
        jobs = GaugeMetricFamily("media_queue_jobs", "Jobs of the media queue, by state.", labels=("state",))
        registries = {
            "started": StartedJobRegistry,
            "failed": FailedJobRegistry,
            "scheduled": ScheduledJobRegistry,
            "deferred": DeferredJobRegistry,
        }
        jobs.add_metric(["queued"], queue.count)
        for state, registry in registries.items():
            jobs.add_metric([state], registry(queue=queue).count)
        yield jobs


class SharedCollector:
    """What media workers and the counters loop recorded in Redis (app/observability/shared.py)."""

    def collect(self) -> Iterator[object]:
        snapshot = shared.read_snapshot()
        buckets, running = [], 0
        bounds = [*(floatToGoString(b) for b in shared.TRANSCODE_BUCKETS), "+Inf"]
        for bound, n in zip(bounds, snapshot.transcode_buckets, strict=True):
            running += n
            buckets.append((bound, running))
        yield HistogramMetricFamily(
            "transcode_duration_seconds",
            "Successful transcodes by wall time (download, probe, the ffmpeg pass, upload).",
            buckets=buckets,
            sum_value=snapshot.transcode_sum,
        )
        failures = CounterMetricFamily(
            "transcode_failures", "Failed transcode attempts, by reason.", labels=("reason",)
        )
        for reason, n in sorted(snapshot.transcode_failures.items()):
            failures.add_metric([reason], n)
        yield failures
        yield CounterMetricFamily(
            "reconcile_runs", "Counter reconciles completed.", value=snapshot.reconcile_runs
        )
        drift = CounterMetricFamily(
            "counter_drift_repaired",
            "Redis numbers reconcile found wrong and repaired from SQL, by counter.",
            labels=("counter",),
        )
        for counter, n in snapshot.drift.items():
            drift.add_metric([counter], n)
        yield drift
        yield GaugeMetricFamily(
            "reconcile_last_drift",
            "Numbers the last reconcile repaired.",
            value=snapshot.reconcile_last_drift,
        )
        yield CounterMetricFamily(
            "media_uploads_abandoned",
            "Upload sessions left unfinished past UPLOAD_ABANDON_SECONDS, closed and their parts dropped.",
            value=snapshot.cleanup["uploads_aborted"],
        )
        yield CounterMetricFamily(
            "media_orphan_uploads_aborted",
            "Multipart uploads no open session knew of, aborted (S3) or deleted (local parts).",
            value=snapshot.cleanup["parts_orphaned"],
        )
        yield CounterMetricFamily(
            "media_stuck_works_requeued",
            "Works found stuck in processing whose transcode was enqueued again.",
            value=snapshot.cleanup["works_requeued"],
        )
        if snapshot.reconcile_last_run is not None:
            yield GaugeMetricFamily(
                "reconcile_last_run_timestamp_seconds",
                "When the last reconcile finished (Unix time).",
                value=snapshot.reconcile_last_run,
            )


class _Scrape:
    """One scrape: this process's (or every gunicorn process's) metrics, then Redis's figures.

    A Redis that does not answer leaves its figures out and says so in ``redis_up``: the web
    tier's own metrics matter most while Redis is down.
    """

    def collect(self) -> Iterator[object]:
        if os.environ.get(MULTIPROC_ENV):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            yield from merged.collect()
        else:
            yield from WEB_REGISTRY.collect()
        redis_figures: list[object] = []
        try:
            for collector in (QueueCollector(), SharedCollector()):
                redis_figures.extend(collector.collect())
            up = 1
        except redis.RedisError as exc:
            log.warning("metrics: Redis figures left out of this scrape: %s", exc)
            up = 0
        yield from redis_figures
        yield GaugeMetricFamily("redis_up", "1 if this scrape could read Redis, else 0.", value=up)


# --------------------------------------------------------------------------------------------
# The endpoint.

bp = Blueprint("observability", __name__)


# Loopback and the private ranges (RFC 1918, IPv6 unique local): spelled out, because Python's
# ``is_private`` also counts the documentation and benchmarking ranges, which are public here.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)


def _private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _PRIVATE_NETWORKS)


def scrape_allowed() -> tuple[bool, int]:
    """(allowed, status to refuse with).

    With a token configured it is all that counts, from any address. Without one, the client's
    address (as PROXY_HOPS makes it) must be loopback or private; and with PROXY_HOPS=0 a request
    carrying any forwarding header (X-Forwarded-For, X-Real-IP, Forwarded, …) came through a
    proxy nobody declared, whose own address (often 127.0.0.1) says nothing about the client's,
    so it is refused.
    """
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())
        return ok, 401
    if not current_app.config["PROXY_HOPS"] and forwarding_headers_present():
        return False, 403
    return _private(client_ip()), 403


@bp.get("/metrics")
@limiter.exempt
def metrics() -> Response:
    allowed, status = scrape_allowed()
    if not allowed:
        response = Response("metrics: not allowed from here\n", status=status, mimetype="text/plain")
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return Response(generate_latest(_Scrape()), content_type=CONTENT_TYPE_LATEST)
