"""The errors of the media pipeline: a stable ``code`` for programs, a ``message_zh`` for people.

Their own module because the probe, the HLS read-back and the ffmpeg run all raise them, and the
job module (``media_worker.jobs``) tells a bad upload (no retry) from a failed run (retry) by type.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base of the errors this module raises; ``code`` is stable, ``message_zh`` is for people."""

    code = "media_error"

    def __init__(self, code: str, message_zh: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail or message_zh}")
        self.code = code
        self.message_zh = message_zh
        self.detail = detail


class InvalidMedia(MediaError):
    """The upload itself is unusable; retrying cannot help."""


class TranscodeError(MediaError):
    """ffmpeg failed on a file that probed fine (disk full, killed, a codec corner case)."""


class TranscodeTimeout(TranscodeError):
    """ffmpeg ran past the time limit and was killed."""
