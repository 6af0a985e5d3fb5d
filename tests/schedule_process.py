"""Real scheduler processes (`flask schedule cron` and `worker`'s insides) on a test app's settings,
and jobs for them that write down when they ran.

The test apps are configured in code, so, as tests/media_worker_process.py does for the media
worker, this starts the same cron and worker (app.schedule.build_cron / build_worker) with the
test app's settings passed over, and the cron with the schedule a test gives it (short
intervals: seconds, not minutes).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from flask import current_app

from app.extensions import redis_client
from app.redis_keys import schedule_claim_key
from app.schedule import Periodic
from tests.process_support import start_python, stop_process

SHARED = (
    "SQLALCHEMY_DATABASE_URI",
    "MEDIA_ROOT",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
    "MEDIA_QUEUE",
    "MAINTENANCE_QUEUE",
)
SCRIPT = """
import json, logging, sys
from rq.utils import import_attribute
from app import create_app
from app.schedule import Periodic, build_cron, build_worker
logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s %(message)s")
role, config, jobs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
app = create_app("testing", **config)
if role == "cron":
    cron = build_cron(app, [Periodic(name, import_attribute(target), every, limit)
                            for name, target, every, limit in jobs])
    print("scheduler started", flush=True)
    cron.start()
else:
    worker = build_worker(app)
    print("scheduler started", flush=True)
    worker.work()
"""


def start(role: str, app, log_path: Path, schedule: Iterable[Periodic] = ()) -> subprocess.Popen:
    """A cron (role "cron") or a worker ("worker") process, once it is about to start its loop."""
    config = {key: app.config[key] for key in SHARED}
    jobs = [[job.name, job.target, job.every, job.time_limit] for job in schedule]
    return start_python(
        SCRIPT, [role, json.dumps(config), json.dumps(jobs)], log_path, ready="scheduler started"
    )


def stop(process: subprocess.Popen) -> None:
    stop_process(process)


# --------------------------------------------------------------------------------------------
# Jobs that write down their runs (run by the worker process, inside its app).


def _runs_key(name: str) -> str:
    return f"{current_app.config['REDIS_KEY_PREFIX']}schedule-test:{name}"


def _write_down(name: str) -> None:
    # The time the run claimed its interval (app.schedule.run_job), not the time this line
    # runs: a run paused between the two must not look like two runs closer than they were.
    claimed = redis_client.client.get(schedule_claim_key(name))
    redis_client.client.rpush(_runs_key(name), claimed)


def record_often() -> None:
    _write_down("record_often")


def record_seldom() -> None:
    _write_down("record_seldom")


def always_fails() -> None:
    _write_down("always_fails")
    raise RuntimeError("this scheduled job always fails")


def runs(func) -> list[float]:
    """When `func` ran (wall-clock seconds), oldest first."""
    return [float(raw) for raw in redis_client.client.lrange(_runs_key(func.__name__), 0, -1)]


def wait_for_runs(func, count: int, log_path: Path, timeout: float = 60) -> list[float]:
    deadline = time.monotonic() + timeout
    while len(found := runs(func)) < count:
        assert time.monotonic() < deadline, f"{func.__name__} ran {len(found)} times:\n{log_path.read_text()}"
        time.sleep(0.1)
    return found
