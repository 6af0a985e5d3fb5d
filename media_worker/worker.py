"""The RQ worker process: one Flask app, one Redis connection, the media queue.

Run it with `python -m media_worker` (APP_ENV defaults to production, like wsgi.py; `make run`
sets development). Start as many as the queue needs, on as many hosts as share the Redis.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import Flask
from rq import Queue, Worker
from rq.job import Job

from app import create_app
from app.extensions import db
from app.media.transcodes import requeue_stuck_works
from app.observability.context import bound, sane_request_id
from app.observability.logs import install_handler
from app.queue import REQUEST_ID_META, StopRequestNoted
from app.redis_connections import display, queue_url
from media_worker.jobs import remove_orphaned_temp_dirs

log = logging.getLogger(__name__)


class MediaWorker(StopRequestNoted, Worker):
    """An RQ worker that runs every job inside the Flask app context.

    RQ forks a work horse per job; the horse opens its own database connections rather than
    reusing any the parent process might hold.
    """

    def __init__(self, *args, app: Flask, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self._parent_pid = os.getpid()

    def perform_job(self, job: Job, queue: Queue) -> bool:
        # The job's log lines carry the id of the request that enqueued it, and the job's own.
        request_id = sane_request_id(job.meta.get(REQUEST_ID_META))
        with self.app.app_context(), bound(request_id=request_id, job_id=job.id):
            log.info("job %s (%s) started", job.id, job.func_name)
            if os.getpid() != self._parent_pid:
                # Sockets inherited through fork() belong to the parent: never share them.
                db.engine.dispose(close=False)
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        # A job whose worker died (SIGKILL, OOM, a lost host) is taken back by whichever worker
        # is alive, not only by the next one to start: a process manager restarts a dead worker
        # within seconds, before its job's heartbeat is stale, so its start-up check finds nothing.
        recover(self.app)


def recover(app: Flask) -> None:
    """At start-up (and between jobs): clean up after jobs whose worker died, and enqueue works
    stuck in processing."""
    with _stop_signals_held():
        remove_orphaned_temp_dirs()
        with app.app_context():
            try:
                requeue_stuck_works()
            except Exception:  # never keep a worker from starting: the next start tries again
                log.exception("could not requeue stuck works")
            finally:
                db.session.remove()


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT wait until the block is done, then arrive.

    RQ's handler stops an idle worker by raising StopRequested from wherever the worker is. In
    here that would be inside a query or a log call, where ``except Exception`` (or logging's own
    error handling) swallows it, and the worker went back to waiting on its queue for good.
    Held, the signal lands as the block ends and stops the worker from there.

    Held by a Python handler that notes it, not by blocking it: a blocked signal is blocked in
    one thread only, and a process-directed signal goes to any thread that does not block it
    (a library's, a test runner's), after which the interpreter runs RQ's handler in the main
    thread all the same. A Python handler runs in the main thread whichever thread took it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    arrived: list[int] = []

    def note(signum: int, _frame) -> None:
        arrived.append(signum)

    # A handler installed outside Python reads as None and could not be put back: left alone.
    held = [signum for signum in (signal.SIGTERM, signal.SIGINT) if signal.getsignal(signum) is not None]
    previous = {signum: signal.signal(signum, note) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)


def build_worker(app: Flask) -> MediaWorker:
    # A connection of its own, to the queue's Redis: the app's client has short socket timeouts
    # meant for requests, while the worker blocks on the queue (RQ sets a socket timeout that
    # fits its dequeue wait).
    connection = redis.Redis.from_url(queue_url(app.config))
    queue = Queue(app.config["MEDIA_QUEUE"], connection=connection)
    # How often a busy worker reports that its job is alive (app.media.transcodes takes a job
    # whose reports stopped for MEDIA_STALE_JOB_SECONDS for dead).
    interval = int(app.config["MEDIA_JOB_MONITORING_INTERVAL"])
    # Maintenance (which takes back dead workers' jobs) runs between jobs and when an idle wait
    # for the queue ends, so that wait (worker_ttl - 15 s in RQ) is kept to the stale limit.
    stale = int(app.config["MEDIA_STALE_JOB_SECONDS"])
    return MediaWorker(
        [queue],
        connection=connection,
        app=app,
        job_monitoring_interval=interval,
        maintenance_interval=stale,
        worker_ttl=stale + 15,
    )


def stop_on_signals_before_work(worker: MediaWorker) -> None:
    """SIGTERM and SIGINT stop a worker that is still starting, cleanly.

    RQ installs its warm-shutdown handlers only once work() has forked the scheduler process, so
    until then a process manager's SIGTERM needs a handler of ours. The scheduler process starts
    with this handler too, and RQ's own stop sends it SIGTERM at once: one that lands before the
    scheduler installs its own handlers must stop the scheduler, or the worker waits on it for
    good (a worker stopped as it started hung until SIGKILL).
    """
    pid = os.getpid()

    def request_stop(_signum: int, _frame) -> None:
        if os.getpid() == pid:
            worker._stop_requested = True
        elif worker.scheduler is not None:  # the forked scheduler: this object is the one it runs
            worker.scheduler.request_stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m media_worker", description="媒体处理进程 / media worker")
    parser.add_argument("--burst", action="store_true", help="process the jobs waiting, then exit")
    options = parser.parse_args(argv)

    app = create_app(os.environ.get("APP_ENV", "production"))
    log_level = app.config["LOG_LEVEL"]
    # Also under APP_ENV=testing, which create_app leaves to pytest: this is a process of its own.
    install_handler(app.config["LOG_FORMAT"], log_level)
    worker = build_worker(app)
    stop_on_signals_before_work(worker)
    recover(app)
    log.info(
        "media worker %s (pid %d, APP_ENV=%s) listening on queue %r at %s",
        worker.name,
        os.getpid(),
        app.config["ENV_NAME"],
        app.config["MEDIA_QUEUE"],
        display(queue_url(app.config)),
    )
    try:
        worker.connection.ping()
    except redis.RedisError as exc:
        log.error("Redis does not answer at %s: %s", display(queue_url(app.config)), exc)
        return 1
    # The scheduler puts delayed retries (RQ's Retry intervals) back on the queue.
    worker.work(burst=options.burst, logging_level=log_level, with_scheduler=True)
    log.info("media worker %s stopped", worker.name)
    return 0
