"""`flask media …`: maintenance of the media pipeline."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.media.transcodes import requeue_stuck_works

media_cli = AppGroup("media", help="媒体处理 / media pipeline maintenance.")


@media_cli.command("requeue-stuck")
def requeue_stuck() -> None:
    """Enqueue again the transcodes of works stuck in processing (their job failed or is gone)."""
    requeued = requeue_stuck_works()
    click.echo(f"requeued {len(requeued)} transcode job(s): {requeued}")
