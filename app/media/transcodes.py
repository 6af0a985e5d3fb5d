"""The transcode jobs: enqueued once per source asset, watched, taken back when their worker died,
and the processing status a work's collective and moderators see.

:func:`requeue_stuck_works` re-enqueues works left in ``processing`` whose job is gone or failed
(a worker killed mid-job, Redis flushed, an enqueue that failed after the commit). It is the
one home of that rule: the media worker calls it at start and between jobs
(media_worker/worker.py), the schedule every two minutes (app/schedule.py), and
`flask media requeue-stuck` by hand; each requeue is counted in the metrics.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from app.errors import NotFound
from app.extensions import db
from app.media.keys import transcode_job_id
from app.media.limits import transcode_timeout
from app.media.progress import get_progress
from app.models import AssetRole, MediaAsset, Work, WorkKind, WorkStatus, utcnow
from app.observability.shared import record_cleanup
from app.policy import can_see_processing, signed_in
from app.queue import enqueue_job, media_queue
from app.works.services import get_work

log = logging.getLogger(__name__)

TRANSCODE_JOB = "media_worker.jobs.transcode_asset"
# RQ states in which a job will still run: anything else (failed, stopped, gone) is stuck.
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def enqueue_transcode(asset_id: int, kind: WorkKind) -> Job:
    """One transcode job per source asset: enqueueing again returns the same job."""
    intervals = list(current_app.config["MEDIA_RETRY_INTERVALS"])
    return enqueue_job(
        TRANSCODE_JOB,
        asset_id,
        job_id=transcode_job_id(asset_id),
        job_timeout=transcode_timeout(kind),
        # Transient failures are retried after MEDIA_RETRY_INTERVALS; the worker runs RQ's
        # scheduler, which puts the delayed retries back on the queue.
        retry=Retry(max=len(intervals), interval=intervals),
        result_ttl=24 * 3600,
        failure_ttl=7 * 24 * 3600,
    )


def source_asset(work: Work) -> MediaAsset | None:
    sources = [asset for asset in work.assets if asset.role == AssetRole.SOURCE]
    return sources[-1] if sources else None


def _heartbeat_is_stale(job: Job) -> bool:
    """True when the worker running `job` has not reported for MEDIA_STALE_JOB_SECONDS."""
    limit = float(current_app.config["MEDIA_STALE_JOB_SECONDS"])
    beat = job.last_heartbeat or job.started_at
    return beat is not None and (utcnow() - beat.replace(tzinfo=UTC)).total_seconds() > limit


def requeue_stuck_works() -> list[int]:
    """Enqueue again the transcodes of works in ``processing`` whose job will not run.

    Returns the asset ids enqueued. Cheap enough to run at every worker start and periodically.
    """
    queue = media_queue()
    requeued: list[int] = []
    works = db.session.scalars(sa.select(Work).where(Work.status == WorkStatus.PROCESSING))
    for work in works:
        asset = source_asset(work)
        if asset is None:
            continue
        try:
            job = Job.fetch(transcode_job_id(asset.id), connection=queue.connection)
            status = job.get_status(refresh=False)
        except NoSuchJobError:
            status = None
        if status == JobStatus.STARTED and _heartbeat_is_stale(job):
            # Its worker died (SIGKILL, OOM, a lost host) without a word: RQ would notice only
            # when the started-registry entry expires; take the job back now.
            queue.started_job_registry.remove_executions(job)
            job.delete()
            status = JobStatus.STOPPED
        elif status in _ALIVE:
            continue
        if status == JobStatus.FINISHED:
            # It ran and returned without moving the work on (it should not happen): run it again.
            job.delete()
        enqueue_transcode(asset.id, work.kind)
        requeued.append(asset.id)
        log.warning("requeued the transcode of asset %s (work %s, job was %s)", asset.id, work.id, status)
    record_cleanup("works_requeued", len(requeued))
    return requeued


# --------------------------------------------------------------------------------------------
# Status.


def work_status(work_id: int, viewer: Any) -> dict[str, Any]:
    """``{status, progress, error}`` of a work's media processing (404 for anyone else)."""
    work = get_work(work_id)
    if not signed_in(viewer) or not can_see_processing(viewer, work):
        raise NotFound(_("您要找的作品不存在或已被删除。"))
    asset = source_asset(work)
    progress: float = 0.0
    if work.status == WorkStatus.PROCESSING:
        live = get_progress(work.id)
        progress = live if live is not None else (asset.progress if asset else 0.0)
    elif work.status in (
        WorkStatus.PENDING_REVIEW,
        WorkStatus.PUBLISHED,
        WorkStatus.REJECTED,
        WorkStatus.WITHDRAWN,
    ):
        progress = 1.0 if asset is not None else 0.0
    error = asset.error if asset is not None and work.status == WorkStatus.FAILED else None
    return {"status": str(work.status), "progress": round(progress, 3), "error": error}
