"""`flask media …` and `flask storage …`: maintenance of the media pipeline and its store."""

from __future__ import annotations

from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup

from app.media.transcodes import requeue_stuck_works
from app.storage import BucketNotAllowed, StorageError, get_storage

media_cli = AppGroup("media", help="媒体处理 / media pipeline maintenance.")
storage_cli = AppGroup("storage", help="对象存储 / the media store (bucket, CORS).")


@media_cli.command("requeue-stuck")
def requeue_stuck() -> None:
    """Enqueue again the transcodes of works stuck in processing (their job failed or is gone)."""
    requeued = requeue_stuck_works()
    click.echo(f"requeued {len(requeued)} transcode job(s): {requeued}")


def _origin(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def upload_origins(extra: tuple[str, ...] = ()) -> list[str]:
    """The browser origins that upload: the public site's, S3_CORS_ORIGINS, and `extra`."""
    config = current_app.config
    candidates = [config.get("PUBLIC_BASE_URL") or "", *config.get("S3_CORS_ORIGINS", []), *extra]
    origins, bad = [], []
    for candidate in filter(None, candidates):
        origin = _origin(candidate)
        (origins if origin else bad).append(origin or candidate)
    if bad:
        raise click.UsageError(f"not an http(s) origin: {', '.join(bad)}")
    return list(dict.fromkeys(origins))


@storage_cli.command("init")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="a browser origin that uploads (besides PUBLIC_BASE_URL and S3_CORS_ORIGINS); repeatable",
)
def init_storage_command(origins: tuple[str, ...]) -> None:
    """Create the bucket if allowed (S3_CREATE_BUCKET) and set the CORS rules browser uploads
    need. Safe to run again: it changes only what differs."""
    storage = get_storage()
    wanted = upload_origins(origins)
    if storage.direct_upload and not wanted:
        raise click.UsageError(
            "no browser origin to allow: set PUBLIC_BASE_URL (or S3_CORS_ORIGINS), or pass --origin"
        )
    try:
        done = storage.prepare(origins=wanted, create=bool(current_app.config.get("S3_CREATE_BUCKET", True)))
    except BucketNotAllowed as exc:
        click.echo(f"存储桶未就绪 / the bucket is not ready: {exc}", err=True)
        click.echo(
            "请让存储管理员创建存储桶并设置 CORS（允许网站来源 PUT，暴露 ETag），见 docs/storage.md "
            "/ ask whoever owns the store to create the bucket and set its CORS as docs/storage.md says.",
            err=True,
        )
        raise SystemExit(1) from exc
    except StorageError as exc:
        click.echo(f"存储不可用 / the store failed: {exc}", err=True)
        raise SystemExit(1) from exc
    for line in done:
        click.echo(line)
