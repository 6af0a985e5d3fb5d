"""The ranking sorted sets outside the like path: read a page at a time, read and written whole.

The counters (``app.engagement.counters``) move the rankings on each like; this pages them for
readers (``top_works`` and its cursor) and gives reconcile and rebuild their bulk reads and writes
(scores of many works, every member, a ranking rebuilt aside and RENAMEd over the live one). Its
own module because paging a ranking that moves while it is read is a job of its own, and none of
it takes part in the counters' fence.
A cursor is (score, work id, position): the page after it continues right below the last work
shown, or - when that work's score moved since - below where (score, id) would now sort, so a
work is neither repeated nor skipped because of its own move. A work's score is the same in every
ranking of a metric, so a cursor stays valid across the rankings of one metric. When Redis is away
or the ranking is missing there, the same order is computed from SQL and paged the same way.
Cursors travel through the one cursor codec (app/paging.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass

import redis

from app.engagement import measure
from app.engagement.scoring import Ranking, hot_score
from app.extensions import redis_client
from app.paging import decode_cursor, encode_cursor, invalid_cursor
from app.redis_keys import member, ranking_keys_pattern

log = logging.getLogger(__name__)

MAX_PAGE = 100
# A post-filtered ranking page examines at most this many ranked works, in batches up to
# SCAN_BATCH_MAX, so a filter that matches few works cannot make one request scan a whole ranking.
SCAN_LIMIT = 1000
SCAN_BATCH_MAX = 200


@dataclass(frozen=True, slots=True)
class RankCursor:
    """Where a page ended: the last item's score and work id, and how many items came before."""

    score: float
    work_id: int
    offset: int

    def encode(self) -> str:
        return encode_cursor({"s": self.score, "w": self.work_id, "o": self.offset})

    @classmethod
    def decode(cls, text: str) -> RankCursor:
        """Raises ServiceError ``invalid_cursor`` for anything that is not a ranking cursor."""
        values = decode_cursor(text) or {}
        score, work_id, offset = values.get("s"), values.get("w"), values.get("o")
        if not isinstance(score, int | float) or isinstance(score, bool) or score != score:
            raise invalid_cursor()
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (work_id, offset)):
            raise invalid_cursor()
        return cls(float(score), work_id, offset)


def read_ranking(
    ranking: Ranking, *, after: RankCursor | None = None, offset: int = 0, limit: int = 20
) -> list[tuple[int, float]] | None:
    """Up to ``limit`` (work id, score), best first, after the cursor (or from ``offset``).

    None when the ranking key does not exist: Redis lost it, or no published work is in it;
    the caller answers from SQL either way.
    """
    client = redis_client.client
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


@dataclass(frozen=True, slots=True)
class RankedWork:
    work_id: int
    score: float


@dataclass(frozen=True, slots=True)
class RankingPage:
    items: list[RankedWork]
    next_cursor: str | None
    from_sql: bool = False

    @property
    def work_ids(self) -> list[int]:
        return [item.work_id for item in self.items]


def top_works(
    ranking: Ranking,
    *,
    cursor: str | None = None,
    offset: int = 0,
    limit: int = 20,
    keep: Callable[[list[int]], Container[int]] | None = None,
    scan_limit: int = SCAN_LIMIT,
) -> RankingPage:
    """A page of a ranking, best first; ``next_cursor`` continues it (None on the last page).

    Reads the Redis sorted set; when Redis is away or the ranking is missing there, the same
    order is computed from SQL (``from_sql``).

    ``keep`` post-filters: it gets the ids of each batch of ranked works (best first) and
    returns those to list, e.g. the ones matching a filter the ranking has no set for. At most
    ``scan_limit`` ranked works are examined per page, so a filtered page may hold fewer than
    ``limit`` items and still have a ``next_cursor``, which then continues after the last work
    examined. A cursor is (score, work id): a work's score is the same in every ranking of a
    metric, so a cursor stays valid across the rankings of one metric.
    """
    limit = max(1, min(int(limit), MAX_PAGE))
    after = None
    if cursor:
        after = RankCursor.decode(cursor)
    position = after.offset if after else max(int(offset), 0)
    reader = _RankingReader(ranking)
    items: list[RankedWork] = []
    item_cursors: list[RankCursor] = []
    scanned = 0
    batch = limit + 1
    exhausted = False
    while len(items) <= limit:
        found = reader.read(after, position, batch)
        kept = None if keep is None else keep([work_id for work_id, _score in found])
        for work_id, score in found:
            position += 1
            scanned += 1
            after = RankCursor(score, work_id, position)
            if kept is None or work_id in kept:
                items.append(RankedWork(work_id, score))
                item_cursors.append(after)
                if len(items) > limit:
                    break
        if len(found) < batch:
            exhausted = True
            break
        if scanned >= scan_limit:
            break
        batch = min(batch * 2, SCAN_BATCH_MAX)
    next_cursor = None
    if len(items) > limit:
        next_cursor = item_cursors[limit - 1].encode()
    elif not exhausted and after is not None:
        next_cursor = after.encode()
    return RankingPage(items[:limit], next_cursor, reader.from_sql)


class _RankingReader:
    """Batches of one ranking from Redis; from SQL (computed once) when Redis cannot answer."""

    def __init__(self, ranking: Ranking) -> None:
        self.ranking = ranking
        self.from_sql = False
        self._scored: list[tuple[int, float]] | None = None

    def read(self, after: RankCursor | None, offset: int, limit: int) -> list[tuple[int, float]]:
        if not self.from_sql:
            try:
                found = read_ranking(self.ranking, after=after, offset=offset, limit=limit)
            except redis.RedisError:
                log.info("ranking %s from SQL, Redis is away", self.ranking.name)
                found = None
            if found is not None:
                return found
            self.from_sql = True
        if self._scored is None:
            self._scored = _scored_from_sql(self.ranking)
        return _slice_after(self._scored, after, offset, limit)


def _scored_from_sql(ranking: Ranking) -> list[tuple[int, float]]:
    scored = [
        (work_id, float(n) if ranking.metric == "likes" else hot_score(n, published_at))
        for work_id, n, published_at in measure.published_in_scope(ranking)
    ]
    # Best first; among equals the newest work first, as in Redis.
    scored.sort(key=lambda item: (-item[1], -item[0]))
    return scored


def _slice_after(
    scored: list[tuple[int, float]], after: RankCursor | None, offset: int, limit: int
) -> list[tuple[int, float]]:
    if after is None:
        return scored[offset : offset + limit]
    # Strictly after the cursor in that order.
    rest = [
        (work_id, score) for work_id, score in scored if (-score, -work_id) > (-after.score, -after.work_id)
    ]
    return rest[:limit]


# --------------------------------------------------------------------------------------------
# Bulk reads and writes of whole rankings (reconcile, rebuild, unpublishing).


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def rank_scores(entries: Sequence[tuple[Ranking, int]]) -> list[float | None]:
    pipe = redis_client.client.pipeline(transaction=False)
    for ranking, work_id in entries:
        pipe.zscore(ranking.key(), member(work_id))
    return pipe.execute()


def set_rank_scores(entries: Sequence[tuple[Ranking, int, float | None]]) -> None:
    """Set (or, for None, remove) each work's score in each ranking."""
    if not entries:
        return
    pipe = redis_client.client.pipeline(transaction=False)
    for ranking, work_id, score in entries:
        if score is None:
            pipe.zrem(ranking.key(), member(work_id))
        else:
            pipe.zadd(ranking.key(), {member(work_id): score})
    pipe.execute()


def remove_from_rankings(work_id: int, rankings: Iterable[Ranking]) -> None:
    set_rank_scores([(ranking, work_id, None) for ranking in rankings])


def scan_ranking_keys() -> list[str]:
    pattern = ranking_keys_pattern()
    return sorted(_text(key) for key in redis_client.client.scan_iter(match=pattern, count=1000))


def ranking_entries(key: str, chunk: int = 5000) -> Iterator[tuple[int, float]]:
    client = redis_client.client
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
    client = redis_client.client
    if not scores:
        client.delete(ranking.key())
        return
    temp = ranking.temp_key(nonce)
    client.delete(temp)
    items = [(member(work_id), score) for work_id, score in scores.items()]
    for start in range(0, len(items), chunk):
        client.zadd(temp, dict(items[start : start + chunk]))
    client.rename(temp, ranking.key())
