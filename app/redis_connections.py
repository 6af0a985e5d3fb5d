"""Every Redis connection the app and its processes open, from a URL: one place that knows the
URL schemes, so that a Redis Cluster is a setting and not a code change (docs/scaling.md).

- ``redis://`` / ``rediss://`` / ``unix://``: one Redis server (redis-py's own URL syntax).
- ``redis+cluster://[:password@]host:port[,host:port…][/]`` (``rediss+cluster://`` with TLS):
  a Redis Cluster, reached through any of the nodes listed (the client learns the rest). The
  same syntax Flask-Limiter's storage (the ``limits`` library) takes, so ``RATELIMIT_STORAGE_URI``
  can stay equal to ``REDIS_URL``.

The counters, rankings, page cache and rate limits run on either: every key they use is
hash-tagged so that each Lua script and each RENAME stays in one slot, and their pipelines are
non-transactional, which a cluster client splits per node (app/redis_keys.py). The RQ queue does
not: RQ needs MULTI/EXEC and WATCH across its keys, so ``QUEUE_REDIS_URL`` must name one server
(``queue_url``).
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.commands.core import Script
from redis.exceptions import RedisClusterException

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")


class RedisUrlError(ValueError):
    """A Redis URL that cannot be used where it is given; the message says what to change."""


def is_cluster(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in CLUSTER_SCHEMES


def connect(url: str, **options: Any) -> redis.Redis | LazyCluster:
    """A client for `url`; `options` are redis-py's (timeouts above all). Neither connects
    before its first command, so a process starts while its Redis is away, as with one server."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, **options)
    nodes, settings = _cluster_parts(url)
    return LazyCluster(nodes, {**settings, **options})


# What redis-py 5's cluster client raises besides RedisErrors. ``RedisClusterException`` (and its
# ``SlotNotCoveredError``) while a slot has no primary, during a failover. The others when one
# thread, having learnt the new topology, closes the connections of the old one while other
# threads are reading from them: the client is shared by a process's threads, and redis-py does
# not guard that moment. The failover drill (tests/test_redis_cluster_failover.py, 8 threads
# liking at once) met a ValueError ("I/O operation on closed file"), an AttributeError (a
# connection's parser gone) and a RuntimeError (a dict changed size during iteration), one in
# the like's counter update after its SQL commit, where only a RedisError is handled. They mean
# what a ConnectionError means: this call failed, the connection is gone, the next call
# reconnects. A client per thread avoided them but paid the cluster's discovery in every new
# thread (64 of them at once made the page cache's single flight miss its wait).
_CLUSTER_RACES = (RedisClusterException, ValueError, AttributeError, RuntimeError)


class _Cluster(RedisCluster):
    """redis-py's cluster client whose every failure is a ``redis.RedisError``, since every caller
    here takes a RedisError for "Redis is away" (503 for a like, a render from SQL for a page).
    Only the cluster client converts: the same calls on one server (most of the suite) raise
    whatever they raise, so a bug of ours is never taken for a failover."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)
        except _CLUSTER_RACES as exc:
            raise redis.ConnectionError(f"Redis Cluster: {exc!r}") from exc

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        pipe.__class__ = _ClusterPipeline
        return pipe


class _ClusterPipeline(ClusterPipeline):
    def execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute(*args, **kwargs)
        except _CLUSTER_RACES as exc:
            raise redis.ConnectionError(f"Redis Cluster: {exc!r}") from exc


class LazyCluster:
    """A Redis Cluster client made at its first command; answers every call a ``RedisCluster``
    does. Lazy because redis-py's client learns the cluster's nodes as it is made and refuses to
    exist without one: a process must start while its Redis is away, as with one server."""

    def __init__(self, nodes: list[ClusterNode], options: dict[str, Any]) -> None:
        self.startup_nodes = nodes
        self._options = options
        self._client: _Cluster | None = None
        self._lock = threading.Lock()

    def real(self) -> RedisCluster:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = _Cluster(startup_nodes=self.startup_nodes, **self._options)
                    except _CLUSTER_RACES as exc:
                        raise redis.ConnectionError(f"Redis Cluster unreachable: {exc!r}") from exc
                client = self._client
        return client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)

    def register_script(self, script: str) -> Script:
        return Script(self, script)  # no connection needed to name a script

    def get_encoder(self) -> Any:
        options = self._options
        return redis.connection.Encoder(
            options.get("encoding", "utf-8"),
            options.get("encoding_errors", "strict"),
            options.get("decode_responses", False),
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def run_script(target: Any, script: str, keys: Sequence[str], args: Sequence[object] = ()) -> Any:
    """EVAL ``script`` on a client or a pipeline, standalone or cluster. The command itself rather
    than ``eval()``: a Redis Cluster's pipeline has no ``eval()``, yet sends an EVAL to the node of
    its keys' slot like any other command. EVAL rather than EVALSHA: no SCRIPT LOAD round trip per
    pipeline, and it survives a server restart (Redis caches the compiled script by its SHA)."""
    return target.execute_command("EVAL", script, len(keys), *keys, *args)


def queue_url(config: Any) -> str:
    """The URL of the RQ queue's Redis: ``QUEUE_REDIS_URL``, else ``REDIS_URL``; never a cluster."""
    url = config.get("QUEUE_REDIS_URL") or config["REDIS_URL"]
    if is_cluster(url):
        raise RedisUrlError(
            "RQ, the media and maintenance queue, cannot run on a Redis Cluster: set QUEUE_REDIS_URL "
            f"to a standalone Redis (it needs little memory: one key per job), not {display(url)}"
        )
    return url


def display(url: str) -> str:
    """The URL with its password masked, for logs and errors."""
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


def _cluster_parts(url: str) -> tuple[list[ClusterNode], dict[str, Any]]:
    # urllib does not parse several host:port pairs in one netloc, so the netloc is split here.
    scheme, rest = url.split("://", 1)
    netloc, _, tail = rest.partition("/")
    credentials, _, hosts = netloc.rpartition("@")
    settings: dict[str, Any] = {}
    if credentials:
        username, _, password = credentials.partition(":")
        if username:
            settings["username"] = urllib.parse.unquote(username)
        if password:
            settings["password"] = urllib.parse.unquote(password)
    if scheme == "rediss+cluster":
        settings["ssl"] = True
    nodes = []
    for address in filter(None, hosts.split(",")):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RedisUrlError(
                f"a Redis Cluster URL lists host:port pairs, not {address!r} ({display(url)})"
            )
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    if not nodes:
        raise RedisUrlError(f"a Redis Cluster URL needs at least one host:port ({display(url)})")
    database = tail.split("?", 1)[0].strip("/")
    if database not in ("", "0"):
        raise RedisUrlError(f"a Redis Cluster has only database 0, not {database!r} ({display(url)})")
    return nodes, settings
