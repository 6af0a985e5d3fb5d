"""What a ranking is and how a work scores in it: pure definitions, no Redis call, no SQL.

A ranking is one metric (``likes`` or ``hot``) overall or within one scope (a campaign, an
industry, a province); a published work belongs to eight. Its own module because three parts
share these rules and must agree to the last float: the counters increment the sorted sets on a
like (app/engagement/counters.py), the rankings reader pages them or computes the same order
from SQL (app/engagement/rankings.py), and reconcile / rebuild recompute them from SQL
(app/engagement/reconcile.py). Key names: app/redis_keys.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app

from app import redis_keys

METRICS = ("likes", "hot")
SCOPES = ("all", "campaign", "industry", "province")
_SCOPE_CODES = {"all": "all", "campaign": "c", "industry": "i", "province": "p"}
_SCOPES_BY_CODE = {code: scope for scope, code in _SCOPE_CODES.items()}

# Hot scores are relative: only differences matter, so any fixed epoch works; this one keeps the
# numbers small. Changing HOT_DECAY_SECONDS needs `flask counters rebuild`.
HOT_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# Scores are sums of float increments, so "the same" hot score is equal within this.
HOT_TOLERANCE = 1e-6


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
        return redis_keys.ranking_name(self.metric, _SCOPE_CODES[self.scope], self.value)

    def key(self) -> str:
        return redis_keys.ranking_key(self.name)

    def temp_key(self, nonce: str) -> str:
        return redis_keys.ranking_temp_key(self.name, nonce)


def rankings_for(campaign_id: int, industry: str, province: str) -> tuple[Ranking, ...]:
    """Every ranking a published work of this campaign, industry and province belongs to."""
    scoped = [Ranking.of(), Ranking.of(campaign_id=campaign_id)]
    scoped += [Ranking.of(industry=industry), Ranking.of(province=province)]
    return tuple(Ranking(metric, r.scope, r.value) for metric in METRICS for r in scoped)


def parse_ranking_key(key: str) -> tuple[Ranking | None, bool]:
    """(ranking, is_temp) for a key built by ``Ranking.key``/``temp_key``; (None, False) else."""
    parts = redis_keys.parse_ranking_key(key)
    if parts is None or parts[1] not in _SCOPES_BY_CODE:
        return None, False
    metric, code, value, is_temp = parts
    try:
        return Ranking(metric, _SCOPES_BY_CODE[code], value), is_temp
    except ValueError:
        return None, False


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


def hot_delta(likes_before: int, likes_after: int) -> float:
    return math.log10(max(likes_after, 0) + 1) - math.log10(max(likes_before, 0) + 1)


def same_score(ranking: Ranking, a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if ranking.metric == "hot":
        return abs(a - b) <= HOT_TOLERANCE
    return a == b
