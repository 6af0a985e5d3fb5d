"""Every storage key and job id of the media pipeline, built here only.

Keys holding material not yet public carry 128 random bits: with ``S3_PUBLIC_BASE_URL`` (a CDN in
front of the bucket) nothing but the key stands between a guesser and a file under review.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import current_app

# Random bits in every key that holds material not yet public: with S3_PUBLIC_BASE_URL (a CDN
# in front of the bucket) nothing but the key stands between a guesser and a file under review.
KEY_TOKEN_BYTES = 16


def key_token() -> str:
    """128 random bits, URL-safe (and valid as a storage key segment)."""
    return secrets.token_urlsafe(KEY_TOKEN_BYTES)


def source_key(work_id: int, token: str) -> str:
    return f"works/{work_id}/source/{token}"


def caption_key(work_id: int, lang: str) -> str:
    """A new key for a work's captions in one language: every replacement gets its own, so a
    cached old file never hides the new one, and a draft's captions cannot be guessed."""
    return f"works/{work_id}/captions/{key_token()}/{lang}.vtt"


def output_prefix(work_id: int, asset_id: int, source_storage_key: str) -> str:
    """Where one transcode's tree (MP4s, HLS ladder, poster) is stored, as the worker wrote it.

    The folder name carries a digest of the source's key: as unguessable as the source's own
    random token, derived again by whoever deletes the tree, and it does not reveal the
    source's key (published pages link to these files)."""
    digest = hashlib.sha256(source_storage_key.encode()).hexdigest()[:32]
    return f"works/{work_id}/v{asset_id}-{digest}"


def transcode_job_id(asset_id: int) -> str:
    """The RQ job id of an asset's transcode: enqueueing the same id twice runs it once.

    RQ's job keys are global to the Redis server (``rq:job:<id>``); the queue name in the id
    keeps deployments (and test runs) that share a Redis, each with its own queue, from taking
    each other's jobs for their own.
    """
    return f"{current_app.config['MEDIA_QUEUE']}-transcode-{asset_id}"
