"""Size and length limits of film and video sources, from the configuration."""

from __future__ import annotations

from flask import current_app

from app.models import WorkKind


def max_bytes(kind: WorkKind) -> int:
    config = current_app.config
    return int(config["MAX_FILM_BYTES"] if kind == WorkKind.FILM else config["MAX_VIDEO_BYTES"])


def max_seconds(kind: WorkKind) -> int:
    config = current_app.config
    return int(config["MAX_FILM_SECONDS"] if kind == WorkKind.FILM else config["MAX_VIDEO_SECONDS"])


def transcode_timeout(kind: WorkKind) -> int:
    """Per-job time limit: generous for the longest allowed source, finite for a stuck ffmpeg."""
    return 600 + 4 * max_seconds(kind)


def human_size(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    return f"{n / 1024**2:.0f} MB"
