"""Profile: where one like's time goes, in process — round trips counted, then cProfile.

    .venv/bin/python bench/like_profile.py                  # SQLite in a temporary folder
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/like_profile.py

300 accounts with bearer tokens like one published work each through Flask's test client
(``PUT /api/v1/works/<id>/like``, limits on), then take the like back. Printed per call: the SQL
statements sent (COMMIT counted), the Redis round trips (every reply read from a Redis
connection, the limiter's own client included), and the CPU microseconds; then the like under
cProfile, its time split among the parts of the path (token → account, limiter, work read,
fence and counters, insert and commit) and the 25 functions with the most cumulative time. This
is the profile docs/performance.md cites for the like; the throughput under load is
bench/likes.py. The last line printed is one JSON object.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import Database, in_process_app, release  # noqa: E402
from bench.api_calls import ACCOUNTS, populate  # noqa: E402

# The parts of the like's path, by the function (file:function) whose cumulative time is the part's.
PARTS = {
    "token → account": ("app/api/__init__.py", "authenticate_api_request"),
    "Flask-Limiter's own check": ("flask_limiter/extension.py", "_check_request_limit"),
    "like limits + fence (like_gate)": ("app/engagement/services.py", "like_gate"),
    "work read": ("app/works/services.py", "get_visible_work"),
    "like service (insert, commit, counters)": ("app/engagement/services.py", "like_work"),
}


class Tally:
    """SQL statements and Redis replies seen while ``on``."""

    def __init__(self) -> None:
        self.sql = 0
        self.redis = 0
        self.on = False


def instrument(tally: Tally) -> None:
    import redis.connection
    import sqlalchemy as sa

    from app.extensions import db

    @sa.event.listens_for(db.engine, "before_cursor_execute")
    def _statement(*_args, **_kwargs):
        if tally.on:
            tally.sql += 1

    @sa.event.listens_for(db.engine, "commit")
    def _commit(*_args, **_kwargs):
        if tally.on:
            tally.sql += 1

    # Every round trip ends in read_response (a pipeline reads all its replies in one round trip,
    # through one call of _execute_pipeline, so count those instead of their replies).
    original_read = redis.connection.AbstractConnection.read_response
    original_pipeline = redis.client.Pipeline._execute_pipeline
    inside_pipeline = {"depth": 0}

    def read_response(self, *args, **kwargs):
        if tally.on and not inside_pipeline["depth"]:
            tally.redis += 1
        return original_read(self, *args, **kwargs)

    def execute_pipeline(self, *args, **kwargs):
        if tally.on:
            tally.redis += 1
        inside_pipeline["depth"] += 1
        try:
            return original_pipeline(self, *args, **kwargs)
        finally:
            inside_pipeline["depth"] -= 1

    redis.connection.AbstractConnection.read_response = read_response
    redis.client.Pipeline._execute_pipeline = execute_pipeline


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wmcwm-bench-"))
    prefix = f"wmcwm-bench-{secrets.token_hex(4)}:"
    database = Database(workdir)
    from app.extensions import db

    app = in_process_app(
        database,
        workdir,
        prefix,
        LIKE_RATE_LIMIT="1000000 per minute;1000000 per day",
        LIKE_IP_RATE_LIMIT="1000000 per minute",
    )
    client = app.test_client()
    summary: dict[str, object] = {}
    try:
        with app.app_context():
            tokens, works = populate()
            db.session.remove()
            tally = Tally()
            instrument(tally)
        headers = [{"Authorization": f"Bearer {token}"} for token in tokens]

        def run(method: str, work_id: int) -> float:
            path = f"/api/v1/works/{work_id}/like"
            began = time.process_time()
            for h in headers:
                response = client.open(path, method=method, headers=h)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
            return (time.process_time() - began) / len(headers)

        run("PUT", works[0])  # warm-up: imports, compiled statements, pools
        run("DELETE", works[0])
        tally.on = True
        like_cpu = run("PUT", works[1])
        summary["like_sql"], summary["like_redis"] = tally.sql / ACCOUNTS, tally.redis / ACCOUNTS
        tally.sql = tally.redis = 0
        unlike_cpu = run("DELETE", works[1])
        summary["unlike_sql"], summary["unlike_redis"] = tally.sql / ACCOUNTS, tally.redis / ACCOUNTS
        tally.on = False
        summary["like_cpu_us"], summary["unlike_cpu_us"] = round(like_cpu * 1e6), round(unlike_cpu * 1e6)

        profiler = cProfile.Profile()
        profiler.enable()
        run("PUT", works[2])
        profiler.disable()
        stats = pstats.Stats(profiler)
        entries = stats.stats  # type: ignore[attr-defined]
        total = sum(tt for (_cc, _nc, tt, _ct, _callers) in entries.values())
        print(
            f"\nper like: {summary['like_sql']:.1f} SQL statements, {summary['like_redis']:.1f} Redis "
            f"round trips, CPU {summary['like_cpu_us']} µs; unlike: {summary['unlike_sql']:.1f} SQL, "
            f"{summary['unlike_redis']:.1f} Redis, CPU {summary['unlike_cpu_us']} µs"
        )
        print("\nshare of the like's profiled time:")
        for label, (path, function) in PARTS.items():
            cumulative = sum(
                ct for (file, _line, name), (_cc, _nc, _tt, ct, _c) in entries.items()
                if file.endswith(path) and name == function
            )  # fmt: skip
            summary[f"share_{label.split(' ')[0]}"] = round(cumulative / total, 3)
            print(f"  {label:<48} {cumulative / total:6.1%}")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    finally:
        release(app, prefix)
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    summary["db"] = database.kind
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
