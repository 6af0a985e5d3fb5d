"""The media queue (RQ on the app's Redis): the app enqueues jobs by dotted name.

`enqueue_job("media_worker.jobs.transcode_asset", asset_id, job_id=transcode_job_id(asset_id))`
(app.media.keys; the id carries the queue name, since RQ's job keys are global to a Redis)
names the job function as a string, so the web app never imports the worker's ffmpeg code.
RQ's own keys start with its fixed prefix ``rq:``; deployments or test runs that share one Redis
keep apart by using different queue names (MEDIA_QUEUE).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import current_app
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Dependency, Job, JobStatus

from app.extensions import queue_redis
from app.observability.context import current_request_id

log = logging.getLogger(__name__)

# A job with a known id in one of these states is run again when enqueued again (a retry);
# in any other state (queued, started, deferred, scheduled, finished, canceled) it is left alone.
_RETRIABLE = {JobStatus.FAILED, JobStatus.STOPPED}
# The job meta field holding the id of the request that enqueued the job.
REQUEST_ID_META = "request_id"


class StopRequestNoted:
    """For our RQ workers (the media worker, the scheduled jobs' worker): a SIGTERM that lands in
    a log call still stops the worker.

    RQ stops an idle worker by raising StopRequested from the signal handler. Raised inside a log
    call (the line naming a job just dequeued, logged while still idle), logging's error handling
    swallows it, and the worker ran on until SIGKILL. Noted as well, the work loop stops once that
    job is done, as it does for a stop that comes during a job."""

    _stop_requested: bool

    def request_stop(self, signum: int, frame: Any) -> None:
        self._stop_requested = True
        super().request_stop(signum, frame)  # type: ignore[misc]


def media_queue() -> Queue:
    """The queue the media workers listen on, on the queue's Redis (QUEUE_REDIS_URL)."""
    return Queue(current_app.config["MEDIA_QUEUE"], connection=queue_redis.client)


def enqueue_job(func_name: str, *args: Any, job_id: str | None = None, **options: Any) -> Job:
    """Put `func_name(*args)` on the media queue and return its job.

    `func_name` is a dotted path such as ``"media_worker.jobs.echo_job"``. `options` are RQ's
    enqueue options (``job_timeout``, ``result_ttl``, ``retry``, ``meta``…).

    With a `job_id` the call is idempotent: while Redis knows a job with that id, enqueueing
    again returns that job instead of adding a second one, even when two processes race (the
    check and the enqueue are one WATCH/MULTI transaction). A job that failed or was stopped is
    requeued, so enqueueing again is also how a failed job is retried.

    Enqueued during a request, the job's ``meta["request_id"]`` holds the request's id, so the
    worker's log lines for the job carry it (docs/observability.md).
    """
    queue = media_queue()
    options = _with_request_id(options)
    if job_id is None:
        return queue.enqueue_call(func_name, args=args, **_rq_options(options))

    connection = queue.connection
    with connection.pipeline() as pipe:
        try:
            pipe.watch(Job.key_for(job_id))
            existing = _fetch(job_id, connection)
            if existing is not None:
                pipe.unwatch()
                return _retry_if_failed(existing)
            pipe.multi()
            job = queue.enqueue_call(
                func_name, args=args, job_id=job_id, pipeline=pipe, **_rq_options(options)
            )
            pipe.execute()
            log.info("enqueued %s as job %s on queue %s", func_name, job_id, queue.name)
            return job
        except redis.WatchError:
            # Another process enqueued the same id between our check and our write: theirs wins.
            existing = _fetch(job_id, connection)
            if existing is None:  # pragma: no cover - it was created and already expired
                raise
            return existing


def enqueue_after(func_name: str, *args: Any, after: str, job_id: str, **options: Any) -> Job:
    """Put `func_name(*args)` on the media queue to run once the job `after` has finished, ahead
    of whatever is waiting then (RQ keeps it deferred until that moment; if `after` fails for
    good, it never runs). Enqueueing again under the same `job_id` replaces nothing."""
    queue = media_queue()
    existing = _fetch(job_id, queue.connection)
    if existing is not None:
        return existing
    dependency = Dependency(jobs=[after], enqueue_at_front=True)
    return queue.enqueue_call(
        func_name, args=args, job_id=job_id, depends_on=dependency, **_rq_options(_with_request_id(options))
    )


def forget_jobs() -> int:
    """Delete the media queue's jobs: those waiting, and the records RQ keeps of jobs run,
    failed, deferred or scheduled. Only for a database that starts empty (``flask demo load``):
    job ids are built from row ids (``transcode-<asset id>``), which a new database hands out
    again, and an old job's record under the same id would make the new one never run.
    Returns how many keys went."""
    queue = media_queue()
    connection = queue.connection
    registries = (
        queue.finished_job_registry,
        queue.failed_job_registry,
        queue.deferred_job_registry,
        queue.scheduled_job_registry,
        queue.canceled_job_registry,
    )
    removed = int(queue.empty() or 0)  # the waiting jobs, and their records
    keys = [registry.key for registry in registries]
    # Every job id this app builds starts with the queue's name (see transcode_job_id).
    for pattern in (f"rq:job:{queue.name}-*", f"rq:results:{queue.name}-*"):
        keys += list(connection.scan_iter(match=pattern, count=1000))
    return removed + sum(connection.delete(key) for key in keys)


def _with_request_id(options: dict[str, Any]) -> dict[str, Any]:
    # The job's log lines carry the id of the request that enqueued it (media_worker.worker).
    request_id = current_request_id()
    if request_id is None:
        return options
    meta = dict(options.get("meta") or {})
    meta.setdefault(REQUEST_ID_META, request_id)
    return {**options, "meta": meta}


def _rq_options(options: dict[str, Any]) -> dict[str, Any]:
    # enqueue_call() spells the job timeout `timeout`; enqueue() spells it `job_timeout`.
    if "job_timeout" in options:
        options = dict(options)
        options["timeout"] = options.pop("job_timeout")
    return options


def _fetch(job_id: str, connection: redis.Redis) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None


def _retry_if_failed(job: Job) -> Job:
    status = job.get_status(refresh=False)
    if status not in _RETRIABLE:
        return job
    try:
        job = job.requeue()
        log.info("requeued job %s (it was %s)", job.id, status.value)
    except InvalidJobOperation:
        # Another process requeued it first; the job is queued again either way.
        job.refresh()
    return job
