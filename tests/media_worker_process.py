"""A real media worker process on a test app's own database, media folder, Redis prefix and queue.

``python -m media_worker`` reads its settings from the environment; the test apps are configured
in code (a temp SQLite file or a scratch PostgreSQL database), so this starts the same worker
(build_worker + recover + work with the scheduler) with the test app's settings passed over.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rq.job import JobStatus

from tests.app_support import REDIS_URL
from tests.process_support import ROOT, start_python, stop_process

SHARED = ("SQLALCHEMY_DATABASE_URI", "MEDIA_ROOT", "REDIS_URL", "REDIS_KEY_PREFIX", "MEDIA_QUEUE")
SCRIPT = """
import json, logging, sys
from app import create_app
from media_worker.worker import build_worker, recover
logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s %(message)s")
app = create_app("testing", **json.loads(sys.argv[1]))
worker = build_worker(app)
recover(app)
print("listening on queue", app.config["MEDIA_QUEUE"], flush=True)
worker.work(with_scheduler=True)
"""


def start_media_worker(app, log_path: Path, **config) -> subprocess.Popen:
    overrides = {key: app.config[key] for key in SHARED} | config
    return start_python(SCRIPT, [json.dumps(overrides)], log_path, ready="listening on queue")


def stop_media_worker(process: subprocess.Popen) -> None:
    stop_process(process)


def forget_queue(client, queue: str) -> None:
    """Delete a test queue's RQ keys (its jobs, registries and the queue itself) from `client`'s
    Redis, which other test runs share: RQ's keys are global to the server."""
    for key in client.scan_iter(match=f"rq:*{queue}*", count=1000):
        client.delete(key)
    client.srem("rq:queues", f"rq:queue:{queue}")


def children(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# `python -m media_worker` itself, as deployed: settings from the environment.


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"gave up after {timeout} s waiting for {predicate}")


def start_worker(queue: str, log_path: Path) -> subprocess.Popen:
    """`python -m media_worker` on `queue`, its output in `log_path`, once it says it listens."""
    env = dict(
        os.environ,
        APP_ENV="testing",
        MEDIA_QUEUE=queue,
        REDIS_URL=REDIS_URL,
        INSTANCE_PATH=str(log_path.parent),
        PYTHONUNBUFFERED="1",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "media_worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    process.log_path = log_path
    wait_for(lambda: "listening on queue" in log_path.read_text() or process.poll() is not None)
    assert process.poll() is None, log_path.read_text()
    return process


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError("the worker ignored SIGTERM for 20 s") from None
    return process.returncode


def finished(job):
    def check():
        status = job.get_status(refresh=True)
        return status if status in (JobStatus.FINISHED, JobStatus.FAILED) else None

    return check
