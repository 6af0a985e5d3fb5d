"""Per-account and per-IP rate limits (Flask-Limiter on Redis), with limits read from config.

Every action a bot would hammer gets the same pair: a fine-grained limit per account, and a
generous one per IP, because hundreds of colleagues behind one office NAT are exactly whom a
collective mobilises. Limit strings are read from config on each request, so deployments and tests
change them without touching code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import redis
from flask import current_app
from limits import parse_many

from app import redis_connections
from app.clients import client_ip
from app.extensions import account_or_ip_key, limiter, redis_client
from app.redis_keys import rate_window_key

log = logging.getLogger(__name__)


def account_and_ip_limits(
    name: str,
    *,
    account_setting: str,
    ip_setting: str,
    message: Callable[[], str] | None = None,
    methods: Iterable[str] | None = None,
) -> Callable[[Callable], Callable]:
    """A decorator applying both limits; every view it decorates shares the same budgets."""
    common = {"methods": list(methods) if methods else None, "error_message": message}
    per_account = limiter.shared_limit(
        lambda: current_app.config[account_setting],
        scope=f"{name}-account",
        key_func=account_or_ip_key,
        **common,
    )
    per_ip = limiter.shared_limit(
        lambda: current_app.config[ip_setting], scope=f"{name}-ip", key_func=client_ip, **common
    )

    def decorate(view: Callable) -> Callable:
        return per_ip(per_account(view))

    return decorate


# --------------------------------------------------------------------------------------------
# Limits checked inside another operation's Redis round trip (the like: app/engagement/services.py).
#
# Flask-Limiter checks each limit in a round trip of its own, before the view runs: three for a
# like (two windows per account, one per IP) on top of the fence's. These windows are the same
# limit strings and the same fixed-window rule (a window opens at its first hit; every hit counts,
# refused ones too; all limits are hit), written as one script per caller that the like sends in
# the pipeline that also opens its fence: one round trip for all of it. They live on REDIS_URL,
# the counters' Redis, so that they can share that pipeline.

# KEYS: one per window. ARGV: amount, seconds for each key in turn. 0 = within every limit, else
# the seconds until the latest breached window resets.
HIT_WINDOWS = """
local wait = 0
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if n == 1 or ttl < 0 then
    redis.call('EXPIRE', key, ARGV[2 * i])
    ttl = tonumber(ARGV[2 * i])
  end
  if n > tonumber(ARGV[2 * i - 1]) and math.max(ttl, 1) > wait then wait = math.max(ttl, 1) end
end
return wait
"""


@lru_cache(maxsize=64)
def _windows(spec: str) -> tuple[tuple[int, int], ...]:
    """(amount, seconds) of each limit in a Flask-Limiter limit string ("60 per minute;1000 per day")."""
    return tuple((item.amount, item.get_expiry()) for item in parse_many(spec))


@dataclass(frozen=True, slots=True)
class WindowHit:
    """One caller's windows in one scope: the script's keys and arguments."""

    keys: tuple[str, ...]
    args: tuple[int, ...]


def window_hits(scope: str, who: str, setting: str) -> WindowHit:
    windows = _windows(current_app.config[setting])
    keys = tuple(rate_window_key(scope, who, amount, seconds) for amount, seconds in windows)
    return WindowHit(keys, tuple(value for window in windows for value in window))


def account_and_ip_hits(name: str, *, account_setting: str, ip_setting: str) -> tuple[WindowHit, WindowHit]:
    """The windows ``account_and_ip_limits`` would check, for the current request."""
    return (
        window_hits(f"{name}-account", account_or_ip_key(), account_setting),
        window_hits(f"{name}-ip", client_ip(), ip_setting),
    )


def within(scope: str, who: str, setting: str) -> bool:
    """Count one hit of ``who`` against the limit string in ``setting`` and say whether it is
    within every window: one round trip, the windows' rule as above. With Redis down it says
    yes: a limit must not take the site down with it (as RATELIMIT_SWALLOW_ERRORS)."""
    hit = window_hits(scope, who, setting)
    try:
        return not redis_connections.run_script(redis_client.client, HIT_WINDOWS, hit.keys, hit.args)
    except redis.RedisError as exc:
        log.warning("rate limit %s not checked, Redis unavailable: %s", scope, exc)
        return True
