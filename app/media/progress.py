"""Transcoding progress of a work, published by the media worker and read by the status call.

One Redis key per work (``progress_key``, named in app/redis_keys.py with every other key) holding a
fraction 0..1 as text. It is a live display value with a TTL; the worker also writes the
progress to the source asset's row now and then, which is what is read when Redis is down.
"""

from __future__ import annotations

import logging

import redis

from app.extensions import redis_client
from app.redis_keys import progress_key

log = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 3600


def set_progress(work_id: int, fraction: float) -> None:
    """Publish `fraction` (clamped to 0..1) for the work; a Redis failure only loses the update."""
    value = min(max(float(fraction), 0.0), 1.0)
    try:
        redis_client.client.set(progress_key(work_id), f"{value:.3f}", ex=PROGRESS_TTL)
    except redis.RedisError:
        log.warning("could not publish progress of work %s", work_id, exc_info=True)


def get_progress(work_id: int) -> float | None:
    """The last published fraction, or None when nothing was published or Redis is down."""
    try:
        raw = redis_client.client.get(progress_key(work_id))
    except redis.RedisError:
        log.warning("could not read progress of work %s", work_id, exc_info=True)
        return None
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def clear_progress(work_id: int) -> None:
    try:
        redis_client.client.delete(progress_key(work_id))
    except redis.RedisError:
        log.warning("could not clear progress of work %s", work_id, exc_info=True)
