"""Job entry points run by the media worker, enqueued by dotted name through `app.queue.enqueue_job`.

Jobs take ids, never objects, and are idempotent: the app enqueues them with a job id built from
what they work on, so enqueueing twice runs once. Every job runs inside the worker's Flask app
context, so it can use the models and the storage backend.

Transcoding (`transcode_asset(asset_id)`: ffprobe validation and one ffmpeg pass building the
rendition ladder, in `media_worker/transcode.py`) comes with the media issue. Until then this
module holds only a health job.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import current_app

log = logging.getLogger(__name__)


def echo_job(value: Any) -> dict[str, Any]:
    """Health job: returns `value` unchanged with where it ran.

    Proves end to end that a worker consumes the media queue and runs jobs inside an app context.
    """
    log.info("echo_job(%r)", value)
    return {"echo": value, "app_env": current_app.config["ENV_NAME"], "pid": os.getpid()}
