"""The media worker as a real process on the real Redis, fed through app.queue.

Each run listens on a queue of its own (RQ's key prefix is fixed at ``rq:``), and every key the
run created carries that queue's token, so the clean-up can find them all.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from rq.job import JobStatus

from app import create_app
from app.queue import enqueue_job, media_queue
from app.redis_connections import display
from tests.app_support import REDIS_URL
from tests.media_worker_process import finished, start_worker, stop, wait_for
from tests.process_support import ROOT

TOKEN = secrets.token_hex(4)
QUEUE = f"media-test-{TOKEN}"


@pytest.fixture(scope="module", autouse=True)
def clean_redis(redis_server):
    yield
    for key in redis_server.scan_iter(match=f"rq:*{TOKEN}*", count=1000):
        redis_server.delete(key)
    for queue_key in redis_server.smembers("rq:queues"):
        if TOKEN.encode() in queue_key:
            redis_server.srem("rq:queues", queue_key)


@pytest.fixture(scope="module")
def queue_app():
    app = create_app("testing", REDIS_URL=REDIS_URL, MEDIA_QUEUE=QUEUE, REDIS_KEY_PREFIX=f"{QUEUE}:")
    with app.app_context():
        yield app


@pytest.fixture(scope="module")
def worker(queue_app, tmp_path_factory):
    process = start_worker(QUEUE, tmp_path_factory.mktemp("worker") / "worker.log")
    yield process
    stop(process)


def test_worker_logs_what_it_listens_on(worker):
    log = worker.log_path.read_text()
    assert f"listening on queue '{QUEUE}'" in log
    assert "APP_ENV=testing" in log


def test_worker_runs_echo_job_inside_the_app_context(worker):
    payload = {"text": "网络倡文明", "n": 1}
    job = enqueue_job("media_worker.jobs.echo_job", payload, job_id=f"echo-{TOKEN}-ctx")

    assert wait_for(finished(job)) == JobStatus.FINISHED
    result = job.return_value()
    assert result["echo"] == payload
    assert result["app_env"] == "testing"
    assert result["pid"] not in (os.getpid(), worker.pid)  # a work horse ran it, not the web side


def test_enqueue_with_job_id_is_idempotent():
    """Without a worker listening: the second enqueue finds the first job waiting."""
    app = create_app("testing", REDIS_URL=REDIS_URL, MEDIA_QUEUE=f"{QUEUE}-idle")
    with app.app_context():
        queue = media_queue()
        try:
            job_id = f"echo-{TOKEN}-idle"
            first = enqueue_job("media_worker.jobs.echo_job", 1, job_id=job_id)
            second = enqueue_job("media_worker.jobs.echo_job", 2, job_id=job_id)

            assert first.id == second.id == job_id
            assert queue.job_ids == [job_id]
            assert second.args == (1,)  # the first call's job, untouched

            enqueue_job("media_worker.jobs.echo_job", 3)  # no id: always a new job
            assert queue.count == 2
        finally:
            queue.delete(delete_jobs=True)


def test_concurrent_enqueues_of_one_job_id_make_one_job():
    app = create_app("testing", REDIS_URL=REDIS_URL, MEDIA_QUEUE=f"{QUEUE}-race")
    job_id = f"echo-{TOKEN}-race"
    barrier = threading.Barrier(8)

    def enqueue(n: int) -> str:
        with app.app_context():
            barrier.wait()
            return enqueue_job("media_worker.jobs.echo_job", n, job_id=job_id).id

    with app.app_context():
        queue = media_queue()
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                ids = list(pool.map(enqueue, range(8)))
            assert ids == [job_id] * 8
            assert queue.job_ids == [job_id]
        finally:
            queue.delete(delete_jobs=True)


def test_a_finished_job_is_not_run_again(worker):
    job_id = f"echo-{TOKEN}-once"
    job = enqueue_job("media_worker.jobs.echo_job", "once", job_id=job_id)
    assert wait_for(finished(job)) == JobStatus.FINISHED

    again = enqueue_job("media_worker.jobs.echo_job", "twice", job_id=job_id)

    assert again.id == job_id
    assert again.get_status(refresh=True) == JobStatus.FINISHED
    assert again.return_value()["echo"] == "once"
    assert len(again.results()) == 1


def test_enqueueing_a_failed_job_again_retries_it(worker):
    job_id = f"missing-{TOKEN}"
    job = enqueue_job("media_worker.jobs.no_such_job", job_id=job_id)
    assert wait_for(finished(job)) == JobStatus.FAILED

    enqueue_job("media_worker.jobs.no_such_job", job_id=job_id)

    wait_for(lambda: len(job.results()) == 2)
    assert job.get_status(refresh=True) == JobStatus.FAILED
    assert media_queue().failed_job_registry.get_job_ids() == [job_id]


def test_worker_stops_cleanly_on_sigterm(tmp_path):
    """A warm shutdown: the worker finishes what it runs, deregisters and exits 0."""
    process = start_worker(f"{QUEUE}-stop", tmp_path / "worker.log")

    assert stop(process) == 0
    assert "stopped" in process.log_path.read_text()


# RQ forks its scheduler process before it installs its own handlers, and its warm shutdown
# signals the scheduler at once: a worker stopped as it starts can signal a scheduler that still
# has the handler it inherited. This forks one that is signalled before anything else, as that
# worker's was; in a process of its own, so the fork copies no test runner's threads.
EARLY_SIGNALLED_SCHEDULER = """
import json, multiprocessing, os, signal, sys
from rq import scheduler as rq_scheduler
from app import create_app
from media_worker.worker import build_worker, stop_on_signals_before_work

app = create_app("testing", **json.loads(sys.argv[1]))
worker = build_worker(app)
stop_on_signals_before_work(worker)
worker.scheduler = rq_scheduler.RQScheduler(worker.queues, connection=worker.connection)
assert worker.scheduler.acquire_locks()

def signalled_at_once(scheduler):
    os.kill(os.getpid(), signal.SIGTERM)
    rq_scheduler.run(scheduler)

worker.scheduler._connection = None  # as RQScheduler.start does: a connection of the child's own
process = multiprocessing.get_context("fork").Process(target=signalled_at_once, args=(worker.scheduler,))
process.start()
process.join(timeout=20)
if process.exitcode is None:
    process.kill()
print(json.dumps({"exitcode": process.exitcode, "worker_stop_requested": worker._stop_requested}))
"""


def test_a_stop_that_reaches_the_scheduler_before_its_own_handlers_stops_it_and_frees_its_lock(
    queue_app, redis_server
):
    from rq.scheduler import RQScheduler

    queue = f"{QUEUE}-early"
    settings = {"REDIS_URL": REDIS_URL, "MEDIA_QUEUE": queue, "REDIS_KEY_PREFIX": f"{queue}:"}
    ran = subprocess.run(
        [sys.executable, "-c", EARLY_SIGNALLED_SCHEDULER, json.dumps(settings)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert ran.returncode == 0, ran.stderr
    outcome = json.loads(ran.stdout.splitlines()[-1])
    assert outcome == {"exitcode": 0, "worker_stop_requested": False}, ran.stderr
    assert not redis_server.exists(RQScheduler.get_locking_key(queue))


# A process manager's SIGTERM can land in a log call. RQ stops an idle worker by raising from the
# signal handler, and logging swallows what a handler raises: this worker is signalled while it
# logs the job it has just dequeued, still idle. In a process of its own, so that the job's fork
# copies no test runner threads; it gives up after 20 s.
SIGNALLED_WHILE_LOGGING = """
import json, logging, os, signal, sys, threading
from app import create_app
from app.queue import enqueue_job
from media_worker.worker import build_worker

settings, job_id = json.loads(sys.argv[1]), sys.argv[2]
app = create_app("testing", **settings)
worker = build_worker(app)
parent = os.getpid()


class SignalledWhileLogging(logging.Handler):
    fired = False

    def emit(self, record):
        try:
            if not self.fired and os.getpid() == parent and job_id in record.getMessage():
                self.fired = True
                os.kill(parent, signal.SIGTERM)
        except Exception:
            self.handleError(record)  # what logging's own handlers do


def give_up():  # a thread, not SIGALRM: RQ times its wait on the queue with SIGALRM
    print(json.dumps({"stopped": False}), flush=True)
    os._exit(0)


with app.app_context():
    job = enqueue_job("media_worker.jobs.echo_job", {"n": 1}, job_id=job_id)
logging.getLogger("rq.worker").addHandler(SignalledWhileLogging())
timer = threading.Timer(20, give_up)
timer.daemon = True
timer.start()
worker.work(with_scheduler=False, logging_level="INFO")
timer.cancel()
print(json.dumps({"stopped": True, "job": job.get_status(refresh=True).value}), flush=True)
"""


def test_a_sigterm_that_lands_in_a_log_call_of_an_idle_worker_stops_it_after_that_job(queue_app):
    queue = f"{QUEUE}-logged"
    settings = {"REDIS_URL": REDIS_URL, "MEDIA_QUEUE": queue, "REDIS_KEY_PREFIX": f"{queue}:"}
    ran = subprocess.run(
        [sys.executable, "-c", SIGNALLED_WHILE_LOGGING, json.dumps(settings), f"echo-{TOKEN}-logged"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert ran.returncode == 0, ran.stderr
    assert "Logging error" in ran.stderr  # the signal did land in the log call
    assert json.loads(ran.stdout.splitlines()[-1]) == {"stopped": True, "job": "finished"}, ran.stderr


def test_a_sigterm_while_the_worker_takes_back_stuck_works_stops_it_once_that_is_done(queue_app, monkeypatch):
    from rq.exceptions import StopRequested

    from media_worker.worker import recover

    done = []

    def rq_warm_shutdown(signum, frame):
        raise StopRequested()  # what RQ's SIGTERM handler does in an idle worker

    def requeue_while_sigterm_arrives():
        os.kill(os.getpid(), signal.SIGTERM)
        done.append("requeued")
        return []

    monkeypatch.setattr("media_worker.worker.requeue_stuck_works", requeue_while_sigterm_arrives)
    previous = signal.signal(signal.SIGTERM, rq_warm_shutdown)
    try:
        with pytest.raises(StopRequested):
            recover(queue_app)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert done == ["requeued"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@cache:6379/1", "redis://:***@cache:6379/1"),
        ("rediss://queue:s3cret@cache:6380/0", "rediss://queue:***@cache:6380/0"),
    ],
)
def test_the_start_line_never_shows_the_redis_password(url, shown):
    assert display(url) == shown
