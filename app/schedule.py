"""The periodic jobs, declared once, and the two processes that run them.

Every job the platform runs on a clock is in :data:`SCHEDULE`, with how often it runs and how
long one run may take. RQ's cron scheduler (``rq.cron``, shipped by the pinned RQ; the reasons
are in docs/decisions.md) runs them:

* ``flask schedule cron`` puts each job on the maintenance queue (MAINTENANCE_QUEUE) when it is
  due; it runs nothing itself, so it stays small and never stalls.
* ``flask schedule worker`` runs them, one at a time, inside the app (an RQ worker that does
  not fork: these are short jobs on the app's own connections).

Each run goes through :func:`run_job`, which makes a job run once per interval whatever runs
it: a redis-py ``Lock`` keeps a job from overlapping itself (a run longer than its interval,
or two workers), and a claim that lasts most of the interval keeps a second cron process (a
standby, another host) from running it again in the same interval. A run that fails is logged
with its traceback by the worker, kept in RQ's failed registry for a day, and the job runs
again at its next interval; the other jobs are not held up.

This module is on the top layer: it imports the capabilities whose jobs it runs, and they
never import it.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import click
import redis
from flask import Flask, current_app
from flask.cli import AppGroup
from rq import Queue, SimpleWorker
from rq.cron import CronJob, CronScheduler
from rq.exceptions import StopRequested
from rq.job import Job
from rq.utils import import_attribute

from app import redis_connections
from app.engagement.counters import JobBusy
from app.engagement.reconcile import reconcile_counters, repair_counters
from app.engagement.views import flush_views
from app.extensions import db, redis_client
from app.media.transcodes import requeue_stuck_works
from app.media.uploads import expire_abandoned_uploads
from app.moderation.integrity import detect
from app.queue import StopRequestNoted
from app.redis_keys import schedule_claim_key, schedule_lock_key

log = logging.getLogger(__name__)

# A claim lasts this share of its job's interval: a cron process whose clock runs a little
# ahead of another's still finds the claim of that interval gone when its own turn comes.
CLAIM_SHARE = 0.9
REDIS_RETRY_SECONDS = 5
# RQ's job option carrying a run's time limit to the worker (RQ's cron passes no job_timeout).
TIME_LIMIT_META = "time_limit"


@dataclass(frozen=True)
class Periodic:
    name: str
    func: Callable[[], object]
    every: float  # seconds between runs
    time_limit: int  # seconds one run may take: the worker stops it, and its lock expires

    @property
    def target(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


def flush_views_now() -> int:
    return flush_views(lock_wait=0)


def reconcile_counters_now() -> int:
    return len(reconcile_counters(lock_wait=0))


# The bounded loss of views is one flush interval (app/engagement/views.py); the detector's
# passes keep their own cadence (1 min, 5 min, 1 h) in app/moderation/integrity.py and claim
# themselves in SQL; stuck transcodes are looked for as often as a dead worker's job goes stale
# (the same rule the media worker runs at start, app/media/transcodes.py); an upload session
# abandoned for UPLOAD_ABANDON_SECONDS loses its parts within the hour after (and an orphaned
# multipart upload within that setting and an hour of being found), docs/storage.md.
SCHEDULE: tuple[Periodic, ...] = (
    Periodic("flush-views", flush_views_now, every=60, time_limit=600),
    Periodic("repair-counters", repair_counters, every=60, time_limit=3600),
    Periodic("reconcile-counters", reconcile_counters_now, every=600, time_limit=3600),
    Periodic("detect-likes", detect, every=60, time_limit=900),
    Periodic("requeue-stuck-transcodes", requeue_stuck_works, every=120, time_limit=600),
    Periodic("expire-abandoned-uploads", expire_abandoned_uploads, every=3600, time_limit=900),
)


# --------------------------------------------------------------------------------------------
# One run.


def run_job(name: str, target: str, every: float, time_limit: int) -> str:
    """One scheduled run of `target` (a dotted path), unless it is running or already ran in
    this interval. Returns what happened; raises what the job raised."""
    job = import_attribute(target)  # first, so that the claim's time is the run's start
    client = redis_client.client
    lock = client.lock(schedule_lock_key(name), timeout=time_limit)
    if not lock.acquire(blocking=False):
        log.info("scheduled job %s skipped: its previous run is still going", name)
        return "running"
    try:
        claim_ms = max(1, int(every * CLAIM_SHARE * 1000))
        # The claim holds when it was taken, for whoever wants to know when the job last ran.
        if not client.set(schedule_claim_key(name), repr(time.time()), nx=True, px=claim_ms):
            log.debug("scheduled job %s skipped: it ran in this interval", name)
            return "done"
        started = time.monotonic()
        try:
            job()
        except JobBusy:
            # A by-hand rebuild or another counters job holds the counters' lock: next time.
            log.info("scheduled job %s skipped: another counters job holds the lock", name)
            return "busy"
        except Exception:
            db.session.rollback()
            raise
        log.info("scheduled job %s done in %.2f s", name, time.monotonic() - started)
        return "ran"
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("scheduled job %s ran past its time limit (%d s)", name, time_limit)


# --------------------------------------------------------------------------------------------
# The processes.


def _connection(app: Flask) -> redis.Redis:
    # Connections of their own, to the queue's Redis: the app's client has short socket
    # timeouts meant for requests, while RQ blocks on the queue.
    return redis.Redis.from_url(redis_connections.queue_url(app.config))


class Cron(CronScheduler):
    """RQ's cron scheduler, whose stop a log call cannot lose.

    RQ stops it by raising StopRequested from the signal handler, wherever the process is. Raised
    inside a log call (the start-up logs several lines), logging's error handling swallows it and
    the cron ran on until SIGKILL. The request is also noted, and the loop's own steps raise it
    again from where nothing catches it."""

    stop_requested = False

    def request_stop(self, _signum: int | None = None, _frame: object = None) -> None:
        self.stop_requested = True
        raise StopRequested()

    _request_stop = request_stop  # the name RQ installs as its handler

    def enqueue_jobs(self) -> list[CronJob]:
        self._stop_if_requested()
        return super().enqueue_jobs()

    def calculate_sleep_interval(self) -> float:
        self._stop_if_requested()
        return super().calculate_sleep_interval()

    def _stop_if_requested(self) -> None:
        if self.stop_requested:
            raise StopRequested()


def build_cron(app: Flask, schedule: Iterable[Periodic] = SCHEDULE) -> Cron:
    """The cron process's scheduler: each job enqueued on the maintenance queue when due."""
    cron = Cron(connection=_connection(app), logging_level=app.config["LOG_LEVEL"])
    register_schedule(cron, app, schedule)
    return cron


def register_schedule(cron: Cron, app: Flask, schedule: Iterable[Periodic] = SCHEDULE) -> None:
    queue = app.config["MAINTENANCE_QUEUE"]
    for job in schedule:
        cron.register(
            run_job,
            queue,
            args=(job.name, job.target, job.every, job.time_limit),
            interval=job.every,
            # A run not started within its interval is dropped (the next one is on its way),
            # so jobs never pile up while no worker runs.
            ttl=max(1, int(job.every)),
            result_ttl=0,
            failure_ttl=24 * 3600,
            meta={TIME_LIMIT_META: job.time_limit},
        )


class MaintenanceWorker(StopRequestNoted, SimpleWorker):
    """Runs the scheduled jobs inside the app, in this process (no fork per job)."""

    def __init__(self, *args, app: Flask, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app

    def request_force_stop(self, signum, frame) -> None:
        # A second signal (`make run` stopping signals the whole process group, then each child)
        # must not cut a job in half: a flush stopped between taking views from Redis and
        # committing them loses that batch. The job's time limit bounds the wait; SIGKILL
        # remains for the impatient.
        self.log.info("Worker %s: stopping once the current job ends", self.name)

    def perform_job(self, job: Job, queue: Queue) -> bool:
        job.timeout = job.meta.get(TIME_LIMIT_META, job.timeout)
        with self.app.app_context():
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()  # a worker lives for days: no session outlives a job


def build_worker(app: Flask) -> MaintenanceWorker:
    connection = _connection(app)
    queue = Queue(app.config["MAINTENANCE_QUEUE"], connection=connection)
    return MaintenanceWorker([queue], connection=connection, app=app)


# --------------------------------------------------------------------------------------------
# Commands: `flask schedule cron | worker | list`.

schedule_cli = AppGroup("schedule", help="定时任务 / the periodic jobs (app/schedule.py)")


@schedule_cli.command("list")
def list_jobs() -> None:
    """Print the schedule."""
    for job in SCHEDULE:
        click.echo(f"{job.name:<28} every {job.every:g} s  (at most {job.time_limit} s)  {job.target}")


@schedule_cli.command("cron")
def cron_command() -> None:
    """Enqueue each periodic job when it is due, until stopped (Ctrl-C or SIGTERM)."""
    app = current_app._get_current_object()
    cron = build_cron(app, schedule=())  # the jobs are registered below, once it can be stopped
    # Until RQ installs the cron's handler as its own, a signal still ends the process cleanly.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, cron.request_stop)
    try:
        register_schedule(cron, app)
        queue = app.config["MAINTENANCE_QUEUE"]
        click.echo(f"定时任务已启动 / the scheduler started: {len(SCHEDULE)} jobs on queue {queue!r}")
        while True:
            try:
                cron.start()  # returns on SIGTERM or SIGINT
                break
            except redis.ConnectionError as exc:
                # Redis restarting must not end the schedule: the jobs resume with it.
                log.warning("the scheduler lost Redis (%s); trying again in %d s", exc, REDIS_RETRY_SECONDS)
                time.sleep(REDIS_RETRY_SECONDS)
    except StopRequested:
        pass
    click.echo("定时任务已停止 / the scheduler stopped")


@schedule_cli.command("worker")
@click.option("--burst", is_flag=True, help="run the jobs waiting, then exit")
def worker_command(burst: bool) -> None:
    """Run the periodic jobs the cron enqueues, until stopped (Ctrl-C or SIGTERM)."""
    app = current_app._get_current_object()
    worker = build_worker(app)
    # RQ installs its warm-shutdown handlers once work() starts; a signal before that ends the
    # worker as cleanly. A job running when the signal comes finishes first.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: setattr(worker, "_stop_requested", True))
    queue = app.config["MAINTENANCE_QUEUE"]
    click.echo(f"定时任务执行进程已启动 / the scheduled jobs' worker started on queue {queue!r}")
    worker.work(burst=burst, logging_level=app.config["LOG_LEVEL"])
    click.echo("定时任务执行进程已停止 / the scheduled jobs' worker stopped")
