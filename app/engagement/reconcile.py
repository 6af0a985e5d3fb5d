"""Recount, reconcile and rebuild: making Redis agree with SQL again, exactly.

``recount_works`` is the one way numbers measured in SQL are written to Redis. For each work it
closes the gate, waits for writes in flight, counts in SQL, sets rankings and counters, and
commits only if no write began meanwhile (see the fence in ``counters``). A measurement that
cannot be made valid (a write stayed in flight, or Redis lost the fence) only fills what is
missing and queues the work for the next repair: it never overwrites a good number with a
doubtful one.

``reconcile_counters`` (scheduled in app.schedule) recounts every published work and removes
works that no longer belong in a ranking. ``rebuild_counters`` (after a Redis loss, or on
demand) rebuilds every ranking from SQL under temporary keys swapped in with RENAME, then
recounts every work, which also settles the likes that landed while the rankings were being built.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis

from app.engagement import counters, measure, rankings, scoring
from app.engagement.counters import MeasuredCounts, WorkCounts
from app.engagement.scoring import Ranking
from app.observability import shared as shared_metrics

log = logging.getLogger(__name__)

RECOUNT_CHUNK = 100
JOB_LOCK_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Drift:
    """One number Redis had wrong, and what SQL says it is (it has been repaired)."""

    work_id: int
    counter: str  # likes | comments | views | rank:<ranking name>
    redis: float | None  # None: missing from Redis
    sql: float | None  # None: must not be in that ranking

    def __str__(self) -> str:
        return f"work {self.work_id} {self.counter}: redis={self.redis} sql={self.sql}"


@dataclass(slots=True)
class Recount:
    counts: dict[int, WorkCounts] = field(default_factory=dict)
    drifts: list[Drift] = field(default_factory=list)
    # Works whose measurement could not be made valid; they are queued for repair.
    unsettled: set[int] = field(default_factory=set)


def recount_works(work_ids: Iterable[int], *, force_views: bool = False, wait: bool = True) -> Recount:
    """Measure the works in SQL and write their counters and ranking scores to Redis.

    ``force_views`` also overwrites the views counter with SQL + pending buffer (only safe while
    no flush runs, i.e. under the job lock); otherwise views are only filled when missing.
    ``wait=False`` does not wait for a gate another measurer holds: such works are being
    recounted right now; they get SQL counts in the result and are queued for repair.
    Only single-work callers that need the exact number (a like) should wait: a measurer that
    waits must hold no other gate.
    """
    result = Recount()
    ids = sorted({int(i) for i in work_ids})
    for start in range(0, len(ids), RECOUNT_CHUNK):
        _recount_chunk(ids[start : start + RECOUNT_CHUNK], result, force_views=force_views, wait=wait)
    return result


def _close_gates(ids: list[int], owner: str, wait: bool) -> dict[int, int]:
    gated: dict[int, int] = {}
    live: dict[int, int] = {}
    deadline = time.monotonic() + (counters.GATE_WAIT_SECONDS if wait else 0)
    todo = ids
    while True:
        for work_id, (seq, flights) in counters.close_gates(todo, owner).items():
            gated[work_id], live[work_id] = seq, flights
        todo = [i for i in todo if i not in gated]
        if not todo or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    # Wait for writes already in flight; whatever is still in flight at the deadline makes its
    # work's measurement invalid (seq -1).
    busy = [i for i, n in live.items() if n]
    deadline = time.monotonic() + counters.DRAIN_WAIT_SECONDS
    delay = 0.001
    while busy and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
        busy = [i for i, n in counters.flights_in_progress(busy).items() if n]
    for work_id in busy:
        gated[work_id] = -1
    return gated


def _recount_chunk(ids: list[int], result: Recount, *, force_views: bool, wait: bool) -> None:
    owner = secrets.token_hex(8)
    gated = _close_gates(ids, owner, wait)
    try:
        facts = measure.work_facts(gated)
        likes = measure.like_counts(facts)
        comments = measure.visible_comment_counts(facts)
        valid = [i for i, seq in gated.items() if seq >= 0 and i in facts]
        result.drifts += _set_rankings(valid, facts, likes)
        rows = [
            MeasuredCounts(
                work_id=i,
                seq=gated[i],
                likes=likes.get(i, 0),
                comments=comments.get(i, 0),
                sql_views=facts[i].view_count,
                force_views=force_views,
            )
            for i in gated
            if i in facts
        ]
        outcomes = counters.commit_counts(owner, rows)
    except Exception:
        # The measurement is abandoned (SQL or Redis failed): let writers in again right away.
        _release_quietly(list(gated), owner)
        raise
    counters.release_gates([i for i in gated if i not in facts], owner)
    for row in rows:
        outcome = outcomes[row.work_id]
        result.counts[row.work_id] = outcome.after
        if not outcome.valid:
            result.unsettled.add(row.work_id)
            continue
        measured = (row.likes, row.comments, outcome.after.views)
        for name, before, now in zip(counters.COUNT_FIELDS, outcome.before, measured, strict=True):
            if before != now:
                result.drifts.append(Drift(row.work_id, name, before, now))
    for work_id in ids:
        if work_id not in gated or work_id not in facts:
            result.counts.setdefault(work_id, WorkCounts())
    busy = [i for i in ids if i not in gated]
    if busy:
        # Another measurer is writing these right now: answer from SQL, and queue them, since
        # that measurer may have counted before a change the caller just made.
        result.counts.update(measure.sql_counts(busy))
        result.unsettled.update(busy)
    counters.mark_for_repair(i for i in ids if i in result.unsettled)


def _release_quietly(ids: list[int], owner: str) -> None:
    try:
        counters.release_gates(ids, owner)
    except redis.RedisError:
        log.warning("could not open the gates of %d works; they expire on their own", len(ids))


def _set_rankings(
    valid: list[int], facts: dict[int, measure.WorkFacts], likes: dict[int, int]
) -> list[Drift]:
    """While the works are gated: give each published work its exact score in each of its
    rankings, and take unpublished ones out of theirs."""
    expected: list[tuple[Ranking, int, float | None]] = []
    for work_id in valid:
        fact = facts[work_id]
        n = likes.get(work_id, 0)
        for ranking in fact.rankings:
            if not fact.published:
                score = None
            elif ranking.metric == "likes":
                score = float(n)
            else:
                score = scoring.hot_score(n, fact.published_at)
            expected.append((ranking, work_id, score))
    found = rankings.rank_scores([(ranking, work_id) for ranking, work_id, _ in expected])
    fixes, drifts = [], []
    for (ranking, work_id, score), current in zip(expected, found, strict=True):
        if not scoring.same_score(ranking, current, score):
            fixes.append((ranking, work_id, score))
            drifts.append(Drift(work_id, f"rank:{ranking.name}", current, score))
    rankings.set_rank_scores(fixes)
    return drifts


def repair_dirty(limit: int = 1000) -> list[Drift]:
    """Recount the works the live paths queued (lost flights, unsettled measurements)."""
    ids = counters.take_for_repair(limit)
    if not ids:
        return []
    return recount_works(ids, wait=False).drifts


def _remove_stale_ranking_members() -> list[Drift]:
    """Take out of each ranking the works that do not belong there (unpublished, deleted, or
    moved to another campaign / industry / province), and leftovers of a crashed rebuild."""
    # Redis is read before SQL: a work added by `work_published` after its status committed
    # is then always seen as published, so it is never removed by mistake.
    members: dict[Ranking, list[int]] = {}
    leftovers = []
    for key in rankings.scan_ranking_keys():
        ranking, is_temp = scoring.parse_ranking_key(key)
        if ranking is None or is_temp:
            leftovers.append(key)
            continue
        members[ranking] = [work_id for work_id, _ in rankings.ranking_entries(key)]
    counters.delete_keys(leftovers)
    facts = measure.work_facts({work_id for ids in members.values() for work_id in ids})
    stale, drifts = [], []
    for ranking, ids in members.items():
        for work_id in ids:
            fact = facts.get(work_id)
            if fact is None or not fact.published or ranking not in fact.rankings:
                stale.append((ranking, work_id, None))
                drifts.append(Drift(work_id, f"rank:{ranking.name}", None, None))
    rankings.set_rank_scores(stale)
    return drifts


def reconcile_counters(*, batch_size: int = 500, lock_wait: float | None = None) -> list[Drift]:
    """Compare every published work's counters and ranking scores with SQL and repair drift.

    Returns what was repaired. Raises ``counters.JobBusy`` if another job holds the lock.
    """
    with counters.job_lock(wait=JOB_LOCK_WAIT_SECONDS if lock_wait is None else lock_wait):
        drifts = _remove_stale_ranking_members()
        for ids in measure.work_id_batches(published_only=True, batch_size=batch_size):
            # wait=False: a work gated by another measurer is being recounted right now; and
            # never waiting while holding gates is what keeps two measurers from deadlocking.
            drifts += recount_works(ids, force_views=True, wait=False).drifts
        drifts += repair_dirty()
        counters.mark_intact()
    shared_metrics.record_reconcile(drift.counter.split(":", 1)[0] for drift in drifts)
    for drift in drifts:
        log.info("counter drift repaired: %s", drift)
    return drifts


@dataclass(frozen=True, slots=True)
class RebuildReport:
    works: int
    rankings: int
    ranked_entries: int
    forgotten_works: int
    unsettled: int


def rebuild_counters(*, batch_size: int = 500, lock_wait: float | None = None) -> RebuildReport:
    """Recompute every counter and every ranking from SQL."""
    with counters.job_lock(wait=JOB_LOCK_WAIT_SECONDS if lock_wait is None else lock_wait):
        expected: dict[Ranking, dict[int, float]] = {}
        for ids in measure.work_id_batches(published_only=True, batch_size=batch_size):
            facts = measure.work_facts(ids)
            likes = measure.like_counts(ids)
            for work_id, fact in facts.items():
                n = likes.get(work_id, 0)
                hot = scoring.hot_score(n, fact.published_at)
                for ranking in fact.rankings:
                    expected.setdefault(ranking, {})[work_id] = float(n) if ranking.metric == "likes" else hot
        nonce = secrets.token_hex(4)
        for ranking, scores in expected.items():
            rankings.replace_ranking(ranking, scores, nonce)
        stale_keys = []
        for key in rankings.scan_ranking_keys():
            ranking, _ = scoring.parse_ranking_key(key)
            if ranking is None or ranking not in expected or key != ranking.key():
                stale_keys.append(key)
        counters.delete_keys(stale_keys)

        # Every work's counters, measured gated: this also settles, for each work, the likes
        # that landed in the old ranking keys between the SQL reads above and the RENAMEs.
        works = 0
        unsettled: set[int] = set()
        existing: set[int] = set()
        for ids in measure.work_id_batches(published_only=False, batch_size=batch_size):
            recount = recount_works(ids, force_views=True, wait=False)
            works += len(ids)
            existing.update(ids)
            unsettled |= recount.unsettled
        gone = counters.scan_counted_work_ids() - existing
        counters.forget_works(gone)
        counters.mark_intact()
    return RebuildReport(
        works=works,
        rankings=len(expected),
        ranked_entries=sum(len(scores) for scores in expected.values()),
        forgotten_works=len(gone),
        unsettled=len(unsettled),
    )


def repair_counters() -> list[Drift]:
    """The scheduled repair (app.schedule, every minute): recount the works the live paths
    queued, or reconcile everything when Redis lost its data (restarted empty, flushed; this
    includes the first start), since works nobody touches would stay missing from rankings
    until the next full reconcile. Raises ``counters.JobBusy`` like the reconcile."""
    if _lost_data():
        return reconcile_counters(lock_wait=0)
    return repair_dirty()


def _lost_data() -> bool:
    try:
        return counters.lost_data()
    except redis.RedisError:
        return False
