"""The periodic jobs' schedule (app/schedule.py): what it declares, one run, and real processes."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import time
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.exceptions import StopRequested

from app import redis_keys, schedule
from app.engagement.views import record_view
from app.extensions import db, redis_client
from app.models import UploadSession, UploadStatus, Work, WorkKind, WorkStatus, utcnow
from app.schedule import SCHEDULE, Periodic, build_cron, run_job
from tests import schedule_process
from tests.builders_support import make_collective, make_work
from tests.media_worker_process import forget_queue
from tests.schedule_process import always_fails, record_often, record_seldom, runs, wait_for_runs

# A job may run again this share of its interval after its last run, no sooner: its claim
# lasts that long (a second cron's copy, or a late run, may come any time after). Less a little
# for reading the clock before the claim reaches Redis, and Redis' millisecond expiry.
SOONEST = schedule.CLAIM_SHARE - 0.05


@pytest.fixture
def maintenance_queue(app, redis_server):
    """A queue of this test's own: jobs a stopped cron left behind never reach another test."""
    queue = f"maintenance-test-{secrets.token_hex(4)}"
    app.config["MAINTENANCE_QUEUE"] = queue
    yield queue
    forget_queue(redis_server, queue)


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        schedule_process.stop(process)


def periodic(func, every: float, time_limit: int = 30) -> Periodic:
    return Periodic(func.__name__, func, every=every, time_limit=time_limit)


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


# --- the schedule ----------------------------------------------------------------------------


def test_the_schedule_holds_every_periodic_job_once():
    assert [job.name for job in SCHEDULE] == [
        "flush-views",
        "repair-counters",
        "reconcile-counters",
        "detect-likes",
        "requeue-stuck-transcodes",
        "expire-abandoned-uploads",
    ]


class _SignalledWhileLogging(logging.Handler):
    """A log handler during whose emit() the process gets SIGTERM, as a process manager's can
    land at any moment; like logging's own handlers, it hands what emit() raised to
    handleError(), which reports it on stderr and goes on."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.message in record.getMessage():
                os.kill(os.getpid(), signal.SIGTERM)
        except Exception:
            self.handleError(record)


def _fail_after(seconds: int):
    def give_up(_signum, _frame):
        raise AssertionError(f"the cron still ran {seconds} s after SIGTERM")

    return give_up


def test_a_sigterm_that_a_log_call_swallowed_still_stops_the_cron_before_it_enqueues(
    app, maintenance_queue, redis_server
):
    cron = build_cron(app)
    handler = _SignalledWhileLogging("starting")
    rq_log = logging.getLogger("rq.cron")
    previous = {
        signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM)
    }
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, cron.request_stop)  # as `flask schedule cron` does before start()
    signal.signal(signal.SIGALRM, _fail_after(10))
    rq_log.addHandler(handler)
    level = rq_log.level
    rq_log.setLevel(logging.INFO)  # as in the cron process, whatever pytest's root logger passes
    signal.alarm(10)
    try:
        cron.start()  # logs "starting...": the SIGTERM lands in that log call
    finally:
        signal.alarm(0)
        rq_log.removeHandler(handler)
        rq_log.setLevel(level)
        for signum, previous_handler in previous.items():
            signal.signal(signum, previous_handler)
    assert Queue(maintenance_queue, connection=redis_server).count == 0


def test_a_stop_the_idle_maintenance_worker_is_asked_for_is_noted_as_well_as_raised(app, maintenance_queue):
    # Raised from the signal handler it may land in a log call and be swallowed; noted, the work
    # loop still stops after the job at hand (app.queue.StopRequestNoted; the media worker's
    # test sends the signal from inside a log call).
    worker = schedule.build_worker(app)
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        with pytest.raises(StopRequested):
            worker.request_stop(signal.SIGTERM, None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert worker._stop_requested


def test_the_cron_enqueues_each_job_on_the_maintenance_queue_at_its_interval(app, maintenance_queue):
    cron = build_cron(app)
    registered = {job.args[0]: job for job in cron.get_jobs()}
    assert set(registered) == {job.name for job in SCHEDULE}
    for job in SCHEDULE:
        assert registered[job.name].queue_name == maintenance_queue
        assert registered[job.name].interval == job.every
        assert registered[job.name].args == (job.name, job.target, job.every, job.time_limit)


def test_the_list_command_prints_each_job_with_its_interval(runner):
    result = runner.invoke(schedule.schedule_cli, ["list"])
    assert result.exit_code == 0, result.output
    for job in SCHEDULE:
        assert f"every {job.every:g} s" in next(
            line for line in result.output.splitlines() if job.name in line
        )


# --- one run ---------------------------------------------------------------------------------


@pytest.mark.also_on_redis_cluster  # the lock and the claim on a Redis Cluster too
def test_a_job_runs_once_in_its_interval_whoever_enqueues_it(app):
    job = periodic(record_often, every=3600)
    assert run_job(job.name, job.target, job.every, job.time_limit) == "ran"
    assert run_job(job.name, job.target, job.every, job.time_limit) == "done"
    assert len(runs(record_often)) == 1


@pytest.mark.also_on_redis_cluster
def test_a_job_runs_again_once_its_interval_has_passed(app):
    job = periodic(record_often, every=3600)
    run_job(job.name, job.target, job.every, job.time_limit)
    redis_client.client.delete(redis_keys.schedule_claim_key(job.name))  # the claim's time is up
    assert run_job(job.name, job.target, job.every, job.time_limit) == "ran"
    assert len(runs(record_often)) == 2


@pytest.mark.also_on_redis_cluster
def test_a_job_does_not_start_while_its_previous_run_holds_the_lock(app):
    job = periodic(record_often, every=3600)
    held = redis_client.client.lock(redis_keys.schedule_lock_key(job.name), timeout=60)
    assert held.acquire(blocking=False)
    try:
        assert run_job(job.name, job.target, job.every, job.time_limit) == "running"
    finally:
        held.release()
    assert runs(record_often) == []
    # A skipped run claims nothing: the job runs as soon as the lock is free.
    assert run_job(job.name, job.target, job.every, job.time_limit) == "ran"


@pytest.mark.also_on_redis_cluster
def test_a_failing_run_raises_and_frees_its_lock(app):
    job = periodic(always_fails, every=3600)
    with pytest.raises(RuntimeError):
        run_job(job.name, job.target, job.every, job.time_limit)
    assert not redis_client.client.exists(redis_keys.schedule_lock_key(job.name))


# --- real processes --------------------------------------------------------------------------


def test_the_scheduler_runs_each_job_at_its_interval(app, maintenance_queue, processes, tmp_path):
    log = tmp_path / "schedule.log"
    often, seldom = periodic(record_often, every=0.5), periodic(record_seldom, every=1.5)
    processes.append(schedule_process.start("worker", app, log))
    processes.append(schedule_process.start("cron", app, log, [often, seldom]))
    seldom_runs = wait_for_runs(record_seldom, 3, log)
    often_runs = runs(record_often)
    assert len(often_runs) >= 4
    assert min(gaps(often_runs)) >= often.every * SOONEST
    assert min(gaps(seldom_runs)) >= seldom.every * SOONEST


def test_two_schedulers_run_a_job_once_per_interval(app, maintenance_queue, processes, tmp_path):
    log = tmp_path / "schedule.log"
    job = periodic(record_often, every=1)
    for _ in range(2):
        processes.append(schedule_process.start("worker", app, log))
        processes.append(schedule_process.start("cron", app, log, [job]))
    # Both crons now enqueue every job: five more runs, at least, with both of them running.
    times = wait_for_runs(record_often, len(runs(record_often)) + 5, log)
    assert min(gaps(times)) >= job.every * SOONEST, times


def test_a_failing_job_is_logged_and_the_others_keep_running(app, maintenance_queue, processes, tmp_path):
    log = tmp_path / "schedule.log"
    jobs = [periodic(always_fails, every=0.5), periodic(record_often, every=0.5)]
    processes.append(schedule_process.start("worker", app, log))
    processes.append(schedule_process.start("cron", app, log, jobs))
    wait_for_runs(always_fails, 3, log)
    wait_for_runs(record_often, 3, log)
    assert "RuntimeError: this scheduled job always fails" in log.read_text()


def test_the_schedule_flushes_views_and_closes_abandoned_uploads(
    app, open_campaign, maintenance_queue, processes, tmp_path
):
    collective = make_collective("北京地铁")
    work = make_work(collective, open_campaign)
    record_view(work, "u1")
    film = make_work(collective, open_campaign, title="微电影", status=WorkStatus.UPLOADING)
    film.kind = WorkKind.FILM
    past = utcnow() - timedelta(hours=1)
    upload = UploadSession(
        id=secrets.token_urlsafe(24),
        work_id=film.id,
        storage_key=f"works/{film.id}/source/abandoned.mp4",
        storage_upload_id="abandoned",
        filename="abandoned.mp4",
        size=1000,
        content_type="video/mp4",
        part_size=1000,
        status=UploadStatus.OPEN,
        created_at=past - timedelta(hours=24),
        expires_at=past,
    )
    db.session.add(upload)
    db.session.commit()
    ids = work.id, film.id, upload.id
    db.session.remove()

    log = tmp_path / "schedule.log"
    # The real schedule with minutes made seconds.
    fast = [replace(job, every=job.every / 60) for job in SCHEDULE]
    processes.append(schedule_process.start("worker", app, log))
    processes.append(schedule_process.start("cron", app, log, fast))
    deadline = utcnow() + timedelta(seconds=60)
    while True:
        views = db.session.scalar(sa.select(Work.view_count).where(Work.id == ids[0]))
        closed = db.session.get(UploadSession, ids[2]).status
        db.session.rollback()
        if views == 1 and closed == UploadStatus.ABORTED:
            break
        assert utcnow() < deadline, f"views {views}, upload {closed}:\n{log.read_text()}"
        db.session.remove()
        time.sleep(0.2)
    assert db.session.get(Work, ids[1]).status == WorkStatus.DRAFT
    assert "flush-views done" in log.read_text()
