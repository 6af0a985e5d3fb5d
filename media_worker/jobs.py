"""Job entry points run by the media worker, enqueued by dotted name through `app.queue.enqueue_job`.

Jobs take ids, never objects, and are idempotent: the app enqueues them with a job id built from
what they work on, so enqueueing twice runs once. Every job runs inside the worker's Flask app
context, so it can use the models and the storage backend.

`transcode_asset(asset_id)` turns an uploaded source (app.media.uploads) into the rendition
ladder: ffprobe validation (`media_worker/probe.py`) and one ffmpeg pass
(`media_worker/transcode.py`, storyboard included), outputs stored under `output_prefix`
(`works/<work_id>/v<asset_id>-<digest>/`), asset rows written, the work moved to `pending_review`.

`upload_demo_clip(work_id, spec, then)` is the demo's (``flask demo load``): it makes a film's or
video's source clip with ffmpeg (`media_worker/demo_clips.py`) and uploads it through the same
upload session, parts and completion as a browser, so the transcode above runs as for any upload.

Failures: an unusable upload (InvalidMedia, a timeout) is permanent: the work becomes `failed`
with the Chinese reason on the source asset, and the job returns normally so RQ does not retry.
Anything else (storage down, ffmpeg killed) is raised so RQ retries it with backoff; the last
attempt marks the work failed instead, so that no work waits in `processing` for ever.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import current_app
from rq import get_current_job

from app.extensions import db
from app.media.keys import output_prefix, transcode_job_id
from app.media.limits import max_seconds, transcode_timeout
from app.media.progress import clear_progress, set_progress
from app.media.transcodes import source_asset
from app.media.uploads import UPLOADABLE_STATUSES, complete_upload, create_upload, part_count, put_part
from app.models import AssetRole, AssetStatus, MediaAsset, Work, WorkStatus
from app.observability import shared as shared_metrics
from app.queue import enqueue_after
from app.storage import get_storage
from media_worker.demo_clips import ClipSpec, make_clip
from media_worker.errors import InvalidMedia, TranscodeTimeout
from media_worker.probe import probe
from media_worker.transcode import transcode

log = logging.getLogger(__name__)


def echo_job(value: Any) -> dict[str, Any]:
    """Health job: returns `value` unchanged with where it ran.

    Proves end to end that a worker consumes the media queue and runs jobs inside an app context.
    """
    log.info("echo_job(%r)", value)
    return {"echo": value, "app_env": current_app.config["ENV_NAME"], "pid": os.getpid()}


# The asset row's progress is written at most this often (Redis gets every update).
ROW_PROGRESS_SECONDS = 5.0
# Of the bar: encoding, then storing the renditions (to a bucket: minutes for a long film), so it
# never stands at 100 % while files are still going up. The bar ends at 1.0 once the work is
# committed as ready for review.
ENCODE_SHARE = 0.9
STORED_AT_MOST = 0.99
TEMP_PREFIX = "wmcwm-transcode-"


def transcode_asset(asset_id: int) -> dict[str, Any]:
    """Transcode the source asset `asset_id`; idempotent (a work past processing is left alone)."""
    source = db.session.get(MediaAsset, asset_id)
    if source is None or source.role != AssetRole.SOURCE:
        log.warning("transcode_asset(%s): no such source asset", asset_id)
        return {"skipped": "no_asset"}
    work = source.work
    if work.status != WorkStatus.PROCESSING or source.status == AssetStatus.READY:
        log.info("transcode_asset(%s): work %s is %s, nothing to do", asset_id, work.id, work.status)
        return {"skipped": str(work.status)}

    source.status = AssetStatus.PROCESSING
    source.error = None
    db.session.commit()
    remove_orphaned_temp_dirs()
    started = time.monotonic()
    try:
        # The folder names the process, so that a later job can tell a dead job's leftovers.
        with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-") as tmp:
            outputs = _transcode_into(source, Path(tmp))
    except InvalidMedia as exc:
        shared_metrics.record_transcode_failure(exc.code)
        _fail(source, exc.message_zh, exc)
        return {"failed": exc.code}
    except TranscodeTimeout as exc:
        shared_metrics.record_transcode_failure("timeout")
        _fail(source, "视频处理超时，请压缩或剪短视频后重新上传。", exc)
        return {"failed": exc.code}
    except Exception as exc:
        db.session.rollback()
        job = get_current_job()
        if job is not None and (job.retries_left or 0) > 0:
            shared_metrics.record_transcode_failure("transient")
            log.warning("transcode_asset(%s) failed, RQ will retry: %s", asset_id, exc)
            raise
        shared_metrics.record_transcode_failure("gave_up")
        _fail(source, "视频处理失败，请稍后重新上传；如果多次失败，请联系管理员。", exc)
        raise
    shared_metrics.record_transcode_seconds(time.monotonic() - started)
    clear_progress(work.id)
    return {"work_id": work.id, "outputs": outputs}


def _transcode_into(source: MediaAsset, tmp: Path) -> int:
    work = source.work
    storage = get_storage()
    local = tmp / "source"
    storage.download_to(source.storage_key, local)
    info = probe(local, max_duration=max_seconds(work.kind))

    last_write = [0.0]
    shown = [0.0]

    def report(fraction: float) -> None:
        if fraction < shown[0] + 0.01:  # whole percents: a film's HLS has hundreds of files
            return
        shown[0] = fraction
        set_progress(work.id, fraction)
        now = time.monotonic()
        if now - last_write[0] >= ROW_PROGRESS_SECONDS:
            last_write[0] = now
            source.progress = fraction
            db.session.commit()

    result = transcode(
        local,
        tmp / "out",
        on_progress=lambda fraction: report(round(fraction * ENCODE_SHARE, 3)),
        # A little under the job's own limit, so ffmpeg is stopped by us and reported clearly.
        timeout=max(60, transcode_timeout(work.kind) - 120),
        probe_result=info,
    )
    prefix = output_prefix(work.id, source.id, source.storage_key)
    produced = list(result.files())
    total = sum(path.stat().st_size for _, path, _ in produced) or 1
    stored = 0
    for relative, path, content_type in produced:
        storage.put_file(f"{prefix}/{relative}", path, content_type)
        stored += path.stat().st_size
        report(round(min(ENCODE_SHARE + (1 - ENCODE_SHARE) * stored / total, STORED_AT_MOST), 3))

    def key(path: Path) -> str:
        return f"{prefix}/{path.relative_to(result.out_dir).as_posix()}"

    # A retry after a crash between commit and return must not add a second set of rows.
    for old in [a for a in work.assets if a.role not in (AssetRole.SOURCE, AssetRole.IMAGE)]:
        work.assets.remove(old)
    assets = []
    for position, rendition in enumerate(result.renditions):
        assets.append(
            MediaAsset(
                role=AssetRole(rendition.role),
                position=position,
                storage_key=key(rendition.path_mp4),
                mime="video/mp4",
                bytes=rendition.path_mp4.stat().st_size,
                width=rendition.width,
                height=rendition.height,
                duration=info.duration,
                status=AssetStatus.READY,
                progress=1.0,
            )
        )
    hls_files = [result.hls_master] + [p for r in result.renditions for p in (r.playlist, *r.segments)]
    assets.append(
        MediaAsset(
            role=AssetRole.HLS,
            storage_key=key(result.hls_master),
            mime="application/vnd.apple.mpegurl",
            bytes=sum(p.stat().st_size for p in hls_files),
            width=result.renditions[-1].width,
            height=result.renditions[-1].height,
            duration=info.duration,
            status=AssetStatus.READY,
            progress=1.0,
        )
    )
    assets.append(
        MediaAsset(
            role=AssetRole.POSTER,
            storage_key=key(result.poster),
            mime="image/jpeg",
            bytes=result.poster.stat().st_size,
            width=result.poster_size[0],
            height=result.poster_size[1],
            status=AssetStatus.READY,
            progress=1.0,
        )
    )
    if result.storyboard and result.storyboard_sprite:
        # The index is what players read; the sprite it points into rides on the same row.
        assets.append(
            MediaAsset(
                role=AssetRole.STORYBOARD,
                storage_key=key(result.storyboard),
                thumbnail_key=key(result.storyboard_sprite),
                mime="text/vtt",
                bytes=result.storyboard.stat().st_size + result.storyboard_sprite.stat().st_size,
                duration=info.duration,
                status=AssetStatus.READY,
                progress=1.0,
            )
        )
    work.assets.extend(assets)
    source.width, source.height = info.display_width, info.display_height
    source.duration = info.duration
    source.status = AssetStatus.READY
    source.progress = 1.0
    work.status = WorkStatus.PENDING_REVIEW
    work.reject_reason = None  # a rejected work's new video goes to review afresh, as a story does
    db.session.commit()
    set_progress(work.id, 1.0)
    log.info("work %s transcoded: %s", work.id, ", ".join(a.role.value for a in assets))
    return len(assets)


def _fail(source: MediaAsset, message: str, exc: BaseException) -> None:
    log.warning("transcode of asset %s failed: %s", source.id, exc)
    db.session.rollback()
    source.status = AssetStatus.FAILED
    source.error = message[:500]
    source.work.status = WorkStatus.FAILED
    db.session.commit()
    clear_progress(source.work_id)


def upload_demo_clip(work_id: int, spec: dict[str, Any], then: str | None = None) -> dict[str, Any]:
    """Make the source clip of a demo film or video and upload it as its author would.

    ``spec`` is a :class:`~media_worker.demo_clips.ClipSpec` as a dict. ``then`` names a job to
    run with the work's id once the transcode has finished (the demo moderator's approval).
    A work that already has its upload (the job ran before) is left alone.
    """
    work = db.session.get(Work, work_id)
    if work is None or work.author is None or work.status not in UPLOADABLE_STATUSES:
        log.info("upload_demo_clip(%s): nothing to do (%s)", work_id, work and work.status)
        return {"skipped": str(work.status) if work else "no_work"}
    author = work.author
    with tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-") as tmp:
        clip = make_clip(ClipSpec.from_dict(spec), Path(tmp) / "source.mp4")
        log.info("demo clip of work %s made (%d bytes); uploading it", work.id, clip.stat().st_size)
        session = create_upload(
            work.id, author, filename=f"{work.title}.mp4", size=clip.stat().st_size, content_type="video/mp4"
        )
        parts = []
        with clip.open("rb") as source:
            for number in range(1, part_count(session) + 1):
                etag = put_part(session, number, io.BytesIO(source.read(session.part_size)))
                parts.append({"number": number, "etag": etag})
        work = complete_upload(session, author, parts)
    asset = source_asset(work)
    if then and asset is not None and work.status == WorkStatus.PROCESSING:
        enqueue_after(
            then,
            work.id,
            after=transcode_job_id(asset.id),
            job_id=f"{current_app.config['MEDIA_QUEUE']}-demo-then-{work.id}",
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
        )
    return {"work_id": work.id, "asset_id": asset.id if asset else None}


def remove_orphaned_temp_dirs(root: str | None = None) -> list[str]:
    """Delete temp folders of jobs whose process is gone (a worker killed mid-transcode).

    Folders are named ``wmcwm-transcode-<pid>-…``: one whose pid no longer runs is garbage.
    """
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        pid_text = path.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(str(path))
        log.info("removed the temp folder of a dead job: %s", path)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
