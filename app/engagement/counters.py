"""The counters' Redis schema and scripts: every operation on engagement's counters and rankings.

One module because it is one protocol: the Lua scripts below, the fence they keep and the order
of the commands around them only make sense together, and a change to one is checked against the
others here. Nothing here touches SQL. Redis is a cache of numbers that SQL can always recompute
(likes and visible comments are counted from their rows, views are ``work.view_count`` plus the
buffer of app/engagement/views.py). Needs Redis 6.2 or later (GETDEL). The key names, with their
hash tags, are built in app/redis_keys.py (the schema of every Redis key the app uses); what a
ranking is and how a work scores, app/engagement/scoring.py; reading rankings a page at a time and
the bulk reads and writes of whole rankings (reconcile, rebuild), app/engagement/rankings.py.

Redis Cluster. Every per-work key shares the tag ``{w:<id>}``, so each script below touches one
slot. A like touches the work's slot and its eight rankings; those commands go out in a
non-transactional pipeline, which a cluster client splits by node: nothing here needs them to be
atomic together, because ranking updates are increments that commute and the fence below says
when a work's numbers may be measured.

The fence. A like is acknowledged only once its SQL row is committed; its counter and ranking
increments follow. Anything that measures SQL to *set* a work's numbers (repopulating a lost hash,
reconcile, rebuild) must therefore know that no write for that work is between its commit and its
increments, or it would count that like twice (or not at all). Each write registers a token in the
work's fence before touching SQL (``begin_flight``) and removes it after its increments; a
measurer closes the gate (new writes wait, briefly), waits for the tokens to drain, measures SQL,
and writes its numbers in a script that first checks that the fence's ``seq`` did not move, i.e.
that no write began meanwhile. A write whose token has vanished when it ends (Redis lost data, or
the token went stale) does not increment at all: its like is durable in SQL, and the work is
queued for a recount instead. Tokens older than ``FLIGHT_STALE_MS`` (a crashed process) are
ignored, so a dead writer cannot hold a work's counters hostage.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from app import redis_connections, redis_keys
from app.engagement.scoring import Ranking, hot_delta
from app.extensions import redis_client
from app.redis_keys import (
    counts_key,
    fence_key,
    intact_key,
    job_lock_key,
    member,
    pending_views_key,
    repair_key,
    views_dirty_key,
)

log = logging.getLogger(__name__)


COUNT_FIELDS = ("likes", "comments", "views")
# A write holds its fence token for the few milliseconds of one SQL commit; a token this old
# belongs to a process that died between its commit and its increments.
FLIGHT_STALE_MS = 30_000
# A measurer closes a work's gate for at most this long (drain + a few SQL counts + one script).
GATE_TTL_MS = 10_000
# How long a measurer waits for writes already in flight to finish.
DRAIN_WAIT_SECONDS = 2.0
# How long a like waits for a closed gate before answering "busy"; just above GATE_TTL_MS, so a
# gate whose owner died has expired by then.
GATE_WAIT_SECONDS = GATE_TTL_MS / 1000 + 1.0


class CountersBusy(Exception):
    """A work's gate stayed closed longer than a like can wait."""


class JobBusy(Exception):
    """Another rebuild / reconcile / flush holds the job lock."""


def _client() -> redis.Redis:
    return redis_client.client


# --------------------------------------------------------------------------------------------
# Lua. Sent with EVAL (Redis caches the compiled script by its SHA), which needs no SCRIPT LOAD
# round trip per pipeline and survives a server restart. Each script touches one work's slot.

_LUA_HELPERS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function gate_of(fence)
  local g = redis.call('HGET', fence, 'gate')
  if not g then return nil, nil end
  local sep = string.find(g, ':', 1, true)
  return string.sub(g, 1, sep - 1), tonumber(string.sub(g, sep + 1))
end
local function live_tokens(fence, now, stale)
  local live = 0
  local all = redis.call('HGETALL', fence)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 't:' then
      if now - tonumber(all[i + 1]) > stale then
        redis.call('HDEL', fence, all[i])
      else
        live = live + 1
      end
    end
  end
  return live
end
"""

# KEYS: fence. ARGV: token. 1 = registered; 0 = the gate is closed, try again shortly.
_BEGIN_FLIGHT = (
    _LUA_HELPERS
    + """
local now = now_ms()
local owner, expiry = gate_of(KEYS[1])
if owner then
  if expiry > now then return 0 end
  redis.call('HDEL', KEYS[1], 'gate')
end
redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 't:' .. ARGV[1], now)
return 1
"""
)

# KEYS: fence. ARGV: token. Removes the token of a write that changed nothing; a fence left
# holding only its ``seq`` (no gate, no write in flight: nothing can be comparing it) is deleted,
# so likes refused for works that do not exist leave no key behind.
_ABANDON = """
redis.call('HDEL', KEYS[1], 't:' .. ARGV[1])
if redis.call('HLEN', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'seq') == 1 then
  redis.call('DEL', KEYS[1])
end
return 1
"""

# KEYS: counts, fence. ARGV: token, likes delta, comments delta.
# {'ok', likes, comments} | {'missing'} (the counts hash must be repopulated) | {'lost'}.
_APPLY_FLIGHT = """
if redis.call('HEXISTS', KEYS[2], 't:' .. ARGV[1]) == 0 then return {'lost'} end
local have = redis.call('HMGET', KEYS[1], 'likes', 'comments', 'views')
if not have[1] or not have[2] or not have[3] then return {'missing'} end
local likes = redis.call('HINCRBY', KEYS[1], 'likes', ARGV[2])
local comments = redis.call('HINCRBY', KEYS[1], 'comments', ARGV[3])
return {'ok', likes, comments}
"""

# KEYS: fence. ARGV: owner, ttl ms, stale ms. {1, seq, live tokens} | {0, 0, 0} when gated by another.
_GATE = (
    _LUA_HELPERS
    + """
local now = now_ms()
local owner, expiry = gate_of(KEYS[1])
if owner and owner ~= ARGV[1] and expiry > now then return {0, 0, 0} end
redis.call('HSET', KEYS[1], 'gate', ARGV[1] .. ':' .. (now + tonumber(ARGV[2])))
local live = live_tokens(KEYS[1], now, tonumber(ARGV[3]))
return {1, tonumber(redis.call('HGET', KEYS[1], 'seq') or '0'), live}
"""
)

# KEYS: fence. ARGV: stale ms. The number of writes in flight.
_LIVE = (
    _LUA_HELPERS
    + """
return live_tokens(KEYS[1], now_ms(), tonumber(ARGV[1]))
"""
)

# KEYS: counts, fence, pending views. ARGV: owner, seq (-1: measurement not valid), likes,
# comments, views in SQL, '1' to overwrite views. Valid: the measured numbers replace the hash.
# Not valid: they only fill missing fields, never overwrite. The gate is released either way.
# {valid, likes, comments, views before (nil when missing), likes, comments, views after}.
_COMMIT = (
    _LUA_HELPERS
    + """
local before = redis.call('HMGET', KEYS[1], 'likes', 'comments', 'views')
local owner = gate_of(KEYS[2])
local ours = owner == ARGV[1]
local valid = ours and tonumber(redis.call('HGET', KEYS[2], 'seq') or '0') == tonumber(ARGV[2])
local views = tonumber(ARGV[5]) + tonumber(redis.call('GET', KEYS[3]) or '0')
if valid then
  redis.call('HSET', KEYS[1], 'likes', ARGV[3], 'comments', ARGV[4])
  if ARGV[6] == '1' or not before[3] then redis.call('HSET', KEYS[1], 'views', views) end
else
  redis.call('HSETNX', KEYS[1], 'likes', ARGV[3])
  redis.call('HSETNX', KEYS[1], 'comments', ARGV[4])
  redis.call('HSETNX', KEYS[1], 'views', views)
end
if ours then redis.call('HDEL', KEYS[2], 'gate') end
local after = redis.call('HMGET', KEYS[1], 'likes', 'comments', 'views')
return {valid and 1 or 0, before[1], before[2], before[3], after[1], after[2], after[3]}
"""
)

# KEYS: fence. ARGV: owner. Opens the gate if this owner still holds it.
_RELEASE_GATE = (
    _LUA_HELPERS
    + """
local owner = gate_of(KEYS[1])
if owner == ARGV[1] then return redis.call('HDEL', KEYS[1], 'gate') end
return 0
"""
)


_eval = redis_connections.run_script


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


# --------------------------------------------------------------------------------------------
# Reading counts.


@dataclass(frozen=True, slots=True)
class WorkCounts:
    likes: int = 0
    comments: int = 0
    views: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"likes": self.likes, "comments": self.comments, "views": self.views}


def read_counts(work_ids: Sequence[int]) -> dict[int, WorkCounts | None]:
    """The cached counts of each work; None where the hash (or a field of it) is missing."""
    pipe = _client().pipeline(transaction=False)
    for work_id in work_ids:
        pipe.hmget(counts_key(work_id), *COUNT_FIELDS)
    found: dict[int, WorkCounts | None] = {}
    for work_id, values in zip(work_ids, pipe.execute(), strict=True):
        found[work_id] = None if None in values else WorkCounts(*(int(v) for v in values))
    return found


# --------------------------------------------------------------------------------------------
# Writes in flight.


@dataclass(slots=True)
class FlightResult:
    """``status``: ok (counters moved), missing (the hash must be repopulated) or lost."""

    status: str
    likes: int | None = None
    comments: int | None = None
    rankings_missing: bool = False


@dataclass
class Flight:
    """One SQL write that moves a work's counters, registered in the work's fence.

    Set ``likes`` / ``comments`` to the deltas the committed write made, then ``finish()``.
    """

    work_id: int
    token: str
    rankings: tuple[Ranking, ...] = ()
    likes: int = 0
    comments: int = 0
    result: FlightResult | None = None
    # Finished or abandoned: the token is gone, and leaving again does nothing.
    closed: bool = False

    def finish(self) -> FlightResult:
        """Apply the deltas: the counts hash first, then (only if it moved) every ranking."""
        self.closed = True
        client = _client()
        try:
            raw = _eval(
                client,
                _APPLY_FLIGHT,
                [counts_key(self.work_id), fence_key(self.work_id)],
                [self.token, self.likes, self.comments],
            )
        except redis.RedisError:
            self.abandon()
            raise
        status = _text(raw[0])
        result = FlightResult(status)
        pipe = client.pipeline(transaction=False)
        ranking_updates = 0
        if status == "ok":
            result.likes, result.comments = int(raw[1]), int(raw[2])
            if self.likes:
                hot = hot_delta(result.likes - self.likes, result.likes)
                for ranking in self.rankings:
                    delta = self.likes if ranking.metric == "likes" else hot
                    # XX: a work that is not (or no longer) in a ranking is never added by an
                    # increment, which would give it a wrong, small score.
                    pipe.zadd(ranking.key(), {member(self.work_id): delta}, xx=True, incr=True)
                    ranking_updates += 1
        # The token goes last: a measurer waits for it, so it sees the rankings moved too.
        pipe.hdel(fence_key(self.work_id), f"t:{self.token}")
        replies = pipe.execute()
        result.rankings_missing = any(reply is None for reply in replies[:ranking_updates])
        self.result = result
        return result

    def abandon(self) -> None:
        """Leave the fence without moving anything (the SQL write failed or was rolled back)."""
        if self.closed:
            return
        self.closed = True
        try:
            _eval(_client(), _ABANDON, [fence_key(self.work_id)], [self.token])
        except redis.RedisError:
            log.warning("could not remove fence token of work %s; it expires on its own", self.work_id)


def begin_flight(
    work_id: int, rankings: Iterable[Ranking] = (), *, wait: float = GATE_WAIT_SECONDS
) -> Flight:
    """Register a write before its SQL transaction. Raises redis errors when Redis is down (so
    the caller refuses before writing anything) and CountersBusy if the gate stays closed."""
    token = secrets.token_hex(8)
    client = _client()
    deadline = time.monotonic() + wait
    delay = 0.002
    while not _eval(client, _BEGIN_FLIGHT, [fence_key(work_id)], [token]):
        if time.monotonic() >= deadline:
            raise CountersBusy(f"work {work_id} stayed gated for {wait:.1f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return Flight(work_id, token, tuple(rankings))


def begin_flight_with(
    work_id: int, scripts: Sequence[tuple[str, Sequence[str], Sequence[object]]]
) -> tuple[Flight | None, list]:
    """Register a write, sending other scripts (``(lua, keys, args)``, e.g. the like's rate limits)
    in the same round trip, ahead of it: (the flight, or None when the gate was closed, and the
    scripts' replies). A non-transactional pipeline, so a cluster client splits it per node.
    With None, call ``begin_flight`` to wait for the gate (if the replies allow the write at all)."""
    token = secrets.token_hex(8)
    pipe = _client().pipeline(transaction=False)
    for script, keys, args in scripts:
        _eval(pipe, script, keys, args)
    _eval(pipe, _BEGIN_FLIGHT, [fence_key(work_id)], [token])
    replies = pipe.execute()
    return (Flight(work_id, token) if replies[-1] else None), replies[:-1]


# --------------------------------------------------------------------------------------------
# Measuring (recount, reconcile, rebuild).


def close_gates(work_ids: Sequence[int], owner: str) -> dict[int, tuple[int, int]]:
    """Close each work's gate for ``owner``: {work id: (seq, writes in flight)} for the works
    gated; works another measurer holds are left out."""
    pipe = _client().pipeline(transaction=False)
    for work_id in work_ids:
        _eval(pipe, _GATE, [fence_key(work_id)], [owner, GATE_TTL_MS, FLIGHT_STALE_MS])
    gated = {}
    for work_id, (ok, seq, live) in zip(work_ids, pipe.execute(), strict=True):
        if ok:
            gated[work_id] = (int(seq), int(live))
    return gated


def flights_in_progress(work_ids: Sequence[int]) -> dict[int, int]:
    pipe = _client().pipeline(transaction=False)
    for work_id in work_ids:
        _eval(pipe, _LIVE, [fence_key(work_id)], [FLIGHT_STALE_MS])
    return {work_id: int(n) for work_id, n in zip(work_ids, pipe.execute(), strict=True)}


def release_gates(work_ids: Sequence[int], owner: str) -> None:
    if not work_ids:
        return
    pipe = _client().pipeline(transaction=False)
    for work_id in work_ids:
        _eval(pipe, _RELEASE_GATE, [fence_key(work_id)], [owner])
    pipe.execute()


@dataclass(frozen=True, slots=True)
class MeasuredCounts:
    work_id: int
    seq: int  # the fence seq when the gate closed; -1 when the measurement is not valid
    likes: int
    comments: int
    sql_views: int
    force_views: bool = False


@dataclass(frozen=True, slots=True)
class CommitOutcome:
    valid: bool
    before: tuple[int | None, int | None, int | None]
    after: WorkCounts


def commit_counts(owner: str, rows: Sequence[MeasuredCounts]) -> dict[int, CommitOutcome]:
    """Write measured counts and open the gates (see ``_COMMIT``)."""
    pipe = _client().pipeline(transaction=False)
    for row in rows:
        _eval(
            pipe,
            _COMMIT,
            [counts_key(row.work_id), fence_key(row.work_id), pending_views_key(row.work_id)],
            [owner, row.seq, row.likes, row.comments, row.sql_views, "1" if row.force_views else "0"],
        )
    outcomes = {}
    for row, raw in zip(rows, pipe.execute(), strict=True):
        before = tuple(_int_or_none(v) for v in raw[1:4])
        after = WorkCounts(*(int(v) for v in raw[4:7]))
        outcomes[row.work_id] = CommitOutcome(bool(raw[0]), before, after)  # type: ignore[arg-type]
    return outcomes


def delete_keys(keys: Iterable[str]) -> int:
    keys = list(keys)
    if not keys:
        return 0
    pipe = _client().pipeline(transaction=False)
    for key in keys:  # one DEL per key: on a cluster the keys live in different slots
        pipe.delete(key)
    return sum(pipe.execute())


def scan_counted_work_ids() -> set[int]:
    """Ids of every work that has a counts hash or a fence."""
    ids = set()
    for raw in _client().scan_iter(match=redis_keys.work_keys_pattern(), count=1000):
        work_id = redis_keys.counted_work_id(_text(raw))
        if work_id is not None:
            ids.add(work_id)
    return ids


def forget_works(work_ids: Iterable[int]) -> None:
    """Drop the counts and fence of works that no longer exist in SQL."""
    delete_keys(key for work_id in work_ids for key in (counts_key(work_id), fence_key(work_id)))


def forget_all() -> int:
    """Delete every key of this module under the prefix but the job locks: counts, fences, view
    buffers and viewer sets, rankings, the repair queue and the intact mark. Only for a database
    that starts empty (``flask demo load``): whatever is there was counted for another database,
    and would be taken for this one's (work ids start again from 1). Returns how many keys went."""
    client = _client()
    patterns = (redis_keys.work_keys_pattern(), redis_keys.ranking_keys_pattern())
    keys = [_text(key) for pattern in patterns for key in client.scan_iter(match=pattern, count=1000)]
    return delete_keys([*keys, views_dirty_key(), repair_key(), intact_key()])


# --------------------------------------------------------------------------------------------
# Repair queue and job lock.


def mark_for_repair(work_ids: Iterable[int]) -> None:
    ids = list(work_ids)
    if ids:
        _client().sadd(repair_key(), *ids)


def take_for_repair(limit: int) -> list[int]:
    return sorted(int(raw) for raw in _client().spop(repair_key(), limit) or [])


def mark_intact() -> None:
    """Record that every counter and ranking was just made complete from SQL."""
    _client().set(intact_key(), datetime.now(UTC).isoformat())


def lost_data() -> bool:
    """True when Redis restarted empty or was flushed since the last reconcile or rebuild: a
    like recounts its own work at once, but works nobody touches stay missing from rankings
    until the next full reconcile, so the periodic loop runs one right away."""
    return not _client().exists(intact_key())


@contextmanager
def job_lock(name: str = "counters", *, ttl: int = 3600, wait: float = 0.0) -> Iterator[None]:
    """One rebuild / reconcile / flush at a time, across every process and host (redis-py's
    ``Lock``: a token only its holder can release, expiring after ``ttl`` if the holder dies)."""
    lock = _client().lock(job_lock_key(name), timeout=ttl, sleep=0.2)
    if not lock.acquire(blocking=wait > 0, blocking_timeout=wait or None):
        raise JobBusy(name)
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # held past its ttl: another job may own it now
            log.warning("job lock %s expired before the job ended", name)
