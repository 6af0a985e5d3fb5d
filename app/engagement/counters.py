"""Every Redis key of engagement, and every Redis operation on them. Nothing here touches SQL.

Redis is a cache of numbers that SQL can always recompute (likes and visible comments are counted
from their rows, views are ``work.view_count`` plus the buffer below). Needs Redis 6.2 or later
(GETDEL). Keys, with ``P = app.config["REDIS_KEY_PREFIX"]``::

    P{w:<id>}:n                hash   likes, comments, views of one work
    P{w:<id>}:f                hash   the work's fence: seq, gate, t:<token> per write in flight
    P{w:<id>}:pv               string views recorded but not yet flushed to SQL
    P{w:<id>}:seen:<yyyymmdd>  set    viewers already counted that day (expires after two days)
    P{views}:dirty             set    ids of works whose :pv may be non-zero
    P{repair}:works            set    ids of works whose counters must be recounted from SQL
    P{jobs}:lock:<name>        string lock so one rebuild / reconcile / flush runs at a time
    P{jobs}:intact             string set by every reconcile / rebuild; gone = Redis lost data
    P{r:<metric>:<scope>}      zset   ranking; members are zero-padded work ids
                                      metric: likes | hot; scope: all | c:<campaign id> |
                                      i:<industry> | p:<province>
    P{r:<...>}:tmp:<nonce>     zset   a ranking being rebuilt, RENAMEd over the live one

Hash tags (Redis Cluster). Every per-work key is tagged ``{w:<id>}``, so the Lua scripts that
read and write a work's counters, fence, pending views and viewer sets touch one slot. Every
ranking has its own tag, so rankings spread over the cluster and a rebuilt ranking (tagged like
the live one) can replace it with an atomic RENAME. A like touches the work's slot and its eight
rankings; those commands go out in a non-transactional pipeline, which a cluster client splits by
node: nothing here needs them to be atomic together, because ranking updates are increments that
commute and the fence below says when a work's numbers may be measured.

Members are ``%012d`` work ids so that, among equal scores, Redis' reverse lexicographic order is
newest work first, the same order the SQL fallback uses.

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

import base64
import binascii
import json
import logging
import math
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from flask import current_app

from app.extensions import redis_client

log = logging.getLogger(__name__)

COUNT_FIELDS = ("likes", "comments", "views")
METRICS = ("likes", "hot")
SCOPES = ("all", "campaign", "industry", "province")
_SCOPE_CODES = {"all": "all", "campaign": "c", "industry": "i", "province": "p"}
_SCOPES_BY_CODE = {code: scope for scope, code in _SCOPE_CODES.items()}

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
# Viewer sets live two days: long enough to cover the day they count, whatever the time zone.
SEEN_TTL_SECONDS = 2 * 24 * 3600

# Hot scores are relative: only differences matter, so any fixed epoch works; this one keeps the
# numbers small. Changing HOT_DECAY_SECONDS needs `flask counters rebuild`.
HOT_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# Scores are sums of float increments, so "the same" hot score is equal within this.
HOT_TOLERANCE = 1e-6

_SCOPE_VALUE_SPECIALS = set("%{}[]*?\\: \t\r\n")


class CountersBusy(Exception):
    """A work's gate stayed closed longer than a like can wait."""


class JobBusy(Exception):
    """Another rebuild / reconcile / flush holds the job lock."""


# --------------------------------------------------------------------------------------------
# Keys.


def _client() -> redis.Redis:
    return redis_client.client


def _prefix() -> str:
    return current_app.config["REDIS_KEY_PREFIX"]


def _work_tag(work_id: int) -> str:
    return f"{_prefix()}{{w:{int(work_id)}}}"


def counts_key(work_id: int) -> str:
    return f"{_work_tag(work_id)}:n"


def fence_key(work_id: int) -> str:
    return f"{_work_tag(work_id)}:f"


def pending_views_key(work_id: int) -> str:
    return f"{_work_tag(work_id)}:pv"


def seen_key(work_id: int, day: str) -> str:
    return f"{_work_tag(work_id)}:seen:{day}"


def views_dirty_key() -> str:
    return f"{_prefix()}{{views}}:dirty"


def repair_key() -> str:
    return f"{_prefix()}{{repair}}:works"


def job_lock_key(name: str) -> str:
    return f"{_prefix()}{{jobs}}:lock:{name}"


def intact_key() -> str:
    return f"{_prefix()}{{jobs}}:intact"


def member(work_id: int) -> str:
    return f"{int(work_id):012d}"


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _encode_scope_value(value: str) -> str:
    # Industry and province names are Chinese and stay readable; only characters that would
    # break a hash tag, a glob pattern or the key's own separators are escaped.
    return "".join(f"%{ord(c):02X}" if c in _SCOPE_VALUE_SPECIALS else c for c in value)


def _decode_scope_value(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "%" and _is_hex(text[i + 1 : i + 3]):
            out.append(chr(int(text[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(c in "0123456789ABCDEFabcdef" for c in text)


@dataclass(frozen=True, slots=True)
class Ranking:
    """One sorted set of published works: by ``likes`` or ``hot``, overall or within a scope."""

    metric: str = "likes"
    scope: str = "all"
    value: str = ""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown ranking metric {self.metric!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"unknown ranking scope {self.scope!r}")
        if (self.scope == "all") != (self.value == ""):
            raise ValueError("a scoped ranking needs a value, the overall one none")

    @classmethod
    def of(
        cls,
        metric: str = "likes",
        *,
        campaign_id: int | None = None,
        industry: str | None = None,
        province: str | None = None,
    ) -> Ranking:
        """The ranking for at most one scope: ``Ranking.of("hot", province="北京")``."""
        given = [
            (scope, value)
            for scope, value in (("campaign", campaign_id), ("industry", industry), ("province", province))
            if value not in (None, "")
        ]
        if len(given) > 1:
            raise ValueError("a ranking has at most one scope")
        if not given:
            return cls(metric)
        scope, value = given[0]
        return cls(metric, scope, str(int(value)) if scope == "campaign" else str(value))

    @property
    def name(self) -> str:
        if self.scope == "all":
            return f"{self.metric}:all"
        return f"{self.metric}:{_SCOPE_CODES[self.scope]}:{_encode_scope_value(self.value)}"

    def key(self) -> str:
        return f"{_prefix()}{{r:{self.name}}}"

    def temp_key(self, nonce: str) -> str:
        return f"{self.key()}:tmp:{nonce}"


def rankings_for(campaign_id: int, industry: str, province: str) -> tuple[Ranking, ...]:
    """Every ranking a published work of this campaign, industry and province belongs to."""
    scoped = [Ranking.of(), Ranking.of(campaign_id=campaign_id)]
    scoped += [Ranking.of(industry=industry), Ranking.of(province=province)]
    return tuple(Ranking(metric, r.scope, r.value) for metric in METRICS for r in scoped)


def parse_ranking_key(key: str) -> tuple[Ranking | None, bool]:
    """(ranking, is_temp) for a key built by ``Ranking.key``/``temp_key``; (None, False) else."""
    head = f"{_prefix()}{{r:"
    if not key.startswith(head) or "}" not in key:
        return None, False
    name, _, rest = key[len(head) :].partition("}")
    is_temp = rest.startswith(":tmp:")
    if rest and not is_temp:
        return None, False
    parts = name.split(":", 2)
    try:
        if len(parts) == 2 and parts[1] == "all":
            return Ranking(parts[0]), is_temp
        if len(parts) == 3 and parts[1] in _SCOPES_BY_CODE and parts[1] != "all":
            return Ranking(parts[0], _SCOPES_BY_CODE[parts[1]], _decode_scope_value(parts[2])), is_temp
    except ValueError:
        pass
    return None, False


# --------------------------------------------------------------------------------------------
# Scores.


def _hot_decay_seconds() -> float:
    return float(current_app.config["HOT_DECAY_SECONDS"])


def hot_score(likes: int, published_at: datetime | None) -> float:
    """log10(likes + 1) + (published_at - epoch) / HOT_DECAY_SECONDS.

    A work published HOT_DECAY_SECONDS (12.5 hours by default) later needs ten times fewer likes
    to rank level: newer works surface, and an old work stays on top only while it keeps being
    liked. The score depends on nothing but the like count and the publication time, so SQL can
    recompute it exactly, and a like moves it by log10(n + 1) - log10(n), which is why concurrent
    increments telescope to the exact value in any order.
    """
    published_at = published_at or HOT_EPOCH
    if published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    return math.log10(max(likes, 0) + 1) + (published_at - HOT_EPOCH).total_seconds() / _hot_decay_seconds()


def _hot_delta(likes_before: int, likes_after: int) -> float:
    return math.log10(max(likes_after, 0) + 1) - math.log10(max(likes_before, 0) + 1)


def same_score(ranking: Ranking, a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if ranking.metric == "hot":
        return abs(a - b) <= HOT_TOLERANCE
    return a == b


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

# KEYS: viewers of the day, counts, pending views. ARGV: viewer, ttl seconds.
# 0 = this viewer was already counted today; else the pending count after this view.
_RECORD_VIEW = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local pending = redis.call('INCR', KEYS[3])
if redis.call('HEXISTS', KEYS[2], 'views') == 1 then redis.call('HINCRBY', KEYS[2], 'views', 1) end
return pending
"""


def _eval(target, script: str, keys: Sequence[str], args: Sequence[object] = ()):
    return target.eval(script, len(keys), *keys, *args)


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

    def finish(self) -> FlightResult:
        """Apply the deltas: the counts hash first, then (only if it moved) every ranking."""
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
                hot = _hot_delta(result.likes - self.likes, result.likes)
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
        try:
            _client().hdel(fence_key(self.work_id), f"t:{self.token}")
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


def rank_scores(entries: Sequence[tuple[Ranking, int]]) -> list[float | None]:
    pipe = _client().pipeline(transaction=False)
    for ranking, work_id in entries:
        pipe.zscore(ranking.key(), member(work_id))
    return pipe.execute()


def set_rank_scores(entries: Sequence[tuple[Ranking, int, float | None]]) -> None:
    """Set (or, for None, remove) each work's score in each ranking."""
    if not entries:
        return
    pipe = _client().pipeline(transaction=False)
    for ranking, work_id, score in entries:
        if score is None:
            pipe.zrem(ranking.key(), member(work_id))
        else:
            pipe.zadd(ranking.key(), {member(work_id): score})
    pipe.execute()


def remove_from_rankings(work_id: int, rankings: Iterable[Ranking]) -> None:
    set_rank_scores([(ranking, work_id, None) for ranking in rankings])


def scan_ranking_keys() -> list[str]:
    pattern = _glob_escape(_prefix()) + "{r:*"
    return sorted(_text(key) for key in _client().scan_iter(match=pattern, count=1000))


def ranking_entries(key: str, chunk: int = 5000) -> Iterator[tuple[int, float]]:
    client = _client()
    start = 0
    while True:
        page = client.zrange(key, start, start + chunk - 1, withscores=True)
        for raw_member, score in page:
            yield int(raw_member), float(score)
        if len(page) < chunk:
            return
        start += chunk


def replace_ranking(ranking: Ranking, scores: dict[int, float], nonce: str, chunk: int = 2000) -> None:
    """Build the ranking under a temporary key (same slot) and RENAME it over the live one, so
    readers see the old ranking or the new one, never a half-built one."""
    client = _client()
    if not scores:
        client.delete(ranking.key())
        return
    temp = ranking.temp_key(nonce)
    client.delete(temp)
    items = [(member(work_id), score) for work_id, score in scores.items()]
    for start in range(0, len(items), chunk):
        client.zadd(temp, dict(items[start : start + chunk]))
    client.rename(temp, ranking.key())


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
    pattern = _glob_escape(_prefix()) + "{w:*"
    head = f"{_prefix()}{{w:"
    ids = set()
    for raw in _client().scan_iter(match=pattern, count=1000):
        key = _text(raw)
        tag, _, rest = key[len(head) :].partition("}")
        if rest in (":n", ":f") and tag.isdigit():
            ids.add(int(tag))
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
    prefix = _glob_escape(_prefix())
    keys = [
        _text(key) for tag in ("{w:*", "{r:*") for key in client.scan_iter(match=prefix + tag, count=1000)
    ]
    return delete_keys([*keys, views_dirty_key(), repair_key(), intact_key()])


# --------------------------------------------------------------------------------------------
# Reading rankings.


@dataclass(frozen=True, slots=True)
class RankCursor:
    """Where a page ended: the last item's score and work id, and how many items came before."""

    score: float
    work_id: int
    offset: int

    def encode(self) -> str:
        raw = json.dumps({"s": self.score, "w": self.work_id, "o": self.offset}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> RankCursor:
        """Raises ValueError for anything that is not a cursor this module made."""
        try:
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            return cls(float(data["s"]), int(data["w"]), int(data["o"]))
        # OverflowError: an "Infinity" where an integer belongs (json reads it as a float).
        except (
            binascii.Error,
            UnicodeDecodeError,
            json.JSONDecodeError,
            KeyError,
            TypeError,
            OverflowError,
        ) as exc:
            raise ValueError("not a ranking cursor") from exc


def read_ranking(
    ranking: Ranking, *, after: RankCursor | None = None, offset: int = 0, limit: int = 20
) -> list[tuple[int, float]] | None:
    """Up to ``limit`` (work id, score), best first, after the cursor (or from ``offset``).

    None when the ranking key does not exist: Redis lost it, or no published work is in it;
    the caller answers from SQL either way.
    """
    client = _client()
    key = ranking.key()
    if after is None:
        pipe = client.pipeline(transaction=False)
        pipe.exists(key)
        pipe.zrevrange(key, offset, offset + limit - 1, withscores=True)
        exists, page = pipe.execute()
        return _items(page) if exists else None
    pipe = client.pipeline(transaction=False)
    pipe.exists(key)
    pipe.zscore(key, member(after.work_id))
    pipe.zrevrank(key, member(after.work_id))
    exists, score, rank = pipe.execute()
    if not exists:
        return None
    if score is not None and score == after.score:
        # The usual case: the last item has not moved, continue right below it.
        return _items(client.zrevrange(key, rank + 1, rank + limit, withscores=True))
    # The last item's score changed since: continue below where (score, id) would sort.
    start = client.zcount(key, f"({after.score!r}", "+inf")
    items: list[tuple[int, float]] = []
    while len(items) < limit:
        page = _items(client.zrevrange(key, start, start + 4 * limit - 1, withscores=True))
        items += [(w, s) for w, s in page if s < after.score or w < after.work_id]
        if len(page) < 4 * limit:
            break
        start += 4 * limit
    return items[:limit]


def _items(page) -> list[tuple[int, float]]:
    return [(int(raw_member), float(score)) for raw_member, score in page]


# --------------------------------------------------------------------------------------------
# Views.


def add_view(work_id: int, day: str, viewer: str) -> bool:
    """Count a view unless this viewer was counted for this work on ``day``."""
    client = _client()
    pending = _eval(
        client,
        _RECORD_VIEW,
        [seen_key(work_id, day), counts_key(work_id), pending_views_key(work_id)],
        [viewer, SEEN_TTL_SECONDS],
    )
    if pending == 1:
        # The first pending view since the last flush: tell the flusher about this work. (Later
        # ones find it listed; a flush that races this SADD leaves it listed for the next one.)
        client.sadd(views_dirty_key(), work_id)
    return bool(pending)


def take_pending_views(limit: int) -> dict[int, int]:
    """Pop up to ``limit`` works with pending views and take their counts (GETDEL)."""
    client = _client()
    ids = [int(raw) for raw in client.spop(views_dirty_key(), limit) or []]
    if not ids:
        return {}
    pipe = client.pipeline(transaction=False)
    for work_id in ids:
        pipe.getdel(pending_views_key(work_id))
    return {work_id: int(n or 0) for work_id, n in zip(ids, pipe.execute(), strict=True)}


def restore_pending_views(pending: dict[int, int]) -> None:
    """Put taken views back after the SQL write failed."""
    client = _client()
    pipe = client.pipeline(transaction=False)
    for work_id, n in pending.items():
        if n:
            pipe.incrby(pending_views_key(work_id), n)
    if pending:
        pipe.sadd(views_dirty_key(), *pending)
    pipe.execute()


def pending_views(work_id: int) -> int:
    return int(_client().get(pending_views_key(work_id)) or 0)


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
