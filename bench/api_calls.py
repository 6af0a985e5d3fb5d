"""Benchmark: the API's hot calls in process — the like and the work list — through Flask's test
client, so the figure is the web tier's own cost per call (routing, token auth, request parsing,
services, SQL, Redis, JSON) without HTTP, gunicorn or client threads in the way.

    .venv/bin/python bench/api_calls.py                  # SQLite in a temporary folder
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/api_calls.py
    .venv/bin/python bench/api_calls.py --profile        # and where the time of each call goes

It weighs the API's request and response schema layer (docs/decisions.md, "The API declared
once"): run it on two commits and compare the per-call figures, and with ``--profile`` read the
share of each call spent in marshmallow, webargs and flask-smorest, measured in the same run.

Each round times, one after the other in a rotating order:

- ``like``: PUT /api/v1/works/<id>/like, one call per account (bearer token), then ``unlike``:
  DELETE of each of those likes (both durable in SQL, counted in Redis);
- ``list``: GET /api/v1/works (the default page, newest first) as a stranger, and ``list_signed_in``
  with a bearer token (the caller's likes are looked up for the page);
- ``list_hot``: GET /api/v1/works?sort=hot (the ranking read from Redis).

The per-call figure of a variant is the median over rounds of its mean per call in a round.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import Database, add_tokens, add_viewers, in_process_app, release  # noqa: E402

ACCOUNTS = 300
WORKS = 60
LIST_CALLS = 200
# Modules whose time counts as the schema layer's in --profile.
SCHEMA_LAYER = ("marshmallow", "webargs", "flask_smorest", "apispec", "app/api/schemas", "app/api/parsing")


def populate() -> tuple[list[str], list[int]]:
    """ACCOUNTS viewers with a bearer token each, and WORKS published stories in an open campaign."""

    from app.engagement.services import work_published
    from app.extensions import db
    from app.models import Collective, Level, Work, WorkKind, WorkStatus, utcnow
    from tests.builders_support import make_campaign

    db.create_all()
    campaign = make_campaign(title="压测活动", submission_days=(-10, 10), voting_days=(-10, 10))
    collective = Collective(
        name="压测青年文明号", industry="交通运输", province="北京", level=Level.PROVINCIAL
    )
    db.session.add(collective)
    db.session.commit()
    user_ids = add_viewers(ACCOUNTS, email="bench{n}@example.com", name="压测{n}")
    tokens = list(add_tokens(user_ids).values())
    works = []
    for n in range(WORKS):
        work = Work(
            collective_id=collective.id,
            campaign_id=campaign.id,
            kind=WorkKind.STORY,
            title=f"压测作品{n}",
            summary="一段简介" * 10,
            status=WorkStatus.PUBLISHED,
            published_at=utcnow(),
        )
        db.session.add(work)
        db.session.commit()
        work_published(work)
        works.append(work.id)
    return tokens, works


def timed(calls: Callable[[], int]) -> tuple[float, float]:
    """Wall and CPU seconds per call of `calls` (which makes its calls and says how many).

    CPU time is this process's own: the web tier's Python (and the schema layer in it), without
    the waits for SQLite's fsync or the database and Redis servers, which make the wall time of
    a shared machine noisy."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = calls()
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 7)))
    parser.add_argument("--profile", action="store_true", help="profile one more round with cProfile")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="wmcwm-bench-"))
    prefix = f"wmcwm-bench-{secrets.token_hex(4)}:"
    database = Database(workdir)
    from app.extensions import db

    app = in_process_app(
        database,
        workdir,
        prefix,
        # Limits stay on, raised past what the bench sends: their cost is part of the call.
        LIKE_RATE_LIMIT="1000000 per minute",
        LIKE_IP_RATE_LIMIT="1000000 per minute",
        SEARCH_IP_RATE_LIMIT="1000000 per minute",
    )
    client = app.test_client()
    try:
        with app.app_context():
            tokens, works = populate()
            db.session.remove()
        headers = [{"Authorization": f"Bearer {token}"} for token in tokens]

        def expect(response, status: int = 200) -> None:
            assert response.status_code == status, response.get_data(as_text=True)[:300]

        round_work = iter(works)

        def like_and_unlike() -> dict[str, tuple[float, float]]:
            path = f"/api/v1/works/{next(round_work)}/like"

            def like() -> int:
                for h in headers:
                    expect(client.put(path, headers=h))
                return len(headers)

            def unlike() -> int:
                for h in headers:
                    expect(client.delete(path, headers=h))
                return len(headers)

            return {"like": timed(like), "unlike": timed(unlike)}

        def lists(path: str, h: dict | None = None) -> Callable[[], int]:
            def run() -> int:
                for _ in range(LIST_CALLS):
                    expect(client.get(path, headers=h or {}))
                return LIST_CALLS

            return run

        variants: dict[str, Callable[[], dict[str, tuple[float, float]]]] = {
            "like": like_and_unlike,
            "list": lambda: {"list": timed(lists("/api/v1/works"))},
            "list_signed_in": lambda: {"list_signed_in": timed(lists("/api/v1/works", headers[0]))},
            "list_hot": lambda: {"list_hot": timed(lists("/api/v1/works?sort=hot"))},
        }
        for run in variants.values():  # warm-up: imports, compiled statements, connection pool
            run()
        runs: dict[str, list[tuple[float, float]]] = {}
        print(f"==> {database.kind}: {ACCOUNTS} accounts, {WORKS} works, {args.rounds} round(s)", flush=True)
        for n in range(args.rounds):
            order = list(variants)[n % len(variants) :] + list(variants)[: n % len(variants)]
            for name in order:
                for key, seconds in variants[name]().items():
                    runs.setdefault(key, []).append(seconds)
            print(
                f"round {n + 1}: "
                + ", ".join(
                    f"{k} {v[-1][0] * 1e6:.0f} µs (CPU {v[-1][1] * 1e6:.0f})" for k, v in runs.items()
                ),
                flush=True,
            )
        summary: dict[str, object] = {"db": database.kind}
        print(f"\nper call, median of {args.rounds} rounds:      wall        CPU")
        for key, values in runs.items():
            wall = statistics.median(v[0] for v in values)
            cpu = statistics.median(v[1] for v in values)
            summary[f"{key}_us"] = round(wall * 1e6)
            summary[f"{key}_cpu_us"] = round(cpu * 1e6)
            print(f"  {key:<30} {wall * 1e6:8.0f} µs {cpu * 1e6:8.0f} µs")
        if args.profile:
            summary.update(profile(variants))
    finally:
        release(app, prefix)
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary))


def profile(variants: dict[str, Callable[[], dict[str, tuple[float, float]]]]) -> dict[str, float]:
    """One more round of each variant under cProfile: the share of its time spent in the code of
    the schema layer's modules (SCHEMA_LAYER) itself, not in what that code calls elsewhere (the
    views under flask-smorest's wrappers are not the layer's cost)."""
    shares = {}
    print("\nshare of each call's time in the schema layer's own code (cProfile):")
    for name, run in variants.items():
        profiler = cProfile.Profile()
        profiler.enable()
        run()
        profiler.disable()
        stats = pstats.Stats(profiler)
        total = stats.total_tt
        layer = sum(
            own
            for (filename, _line, _func), (_cc, _nc, own, _cumulative, _callers) in stats.stats.items()
            if any(part in filename for part in SCHEMA_LAYER)
        )
        shares[f"{name}_schema_share"] = round(layer / total, 4) if total else 0.0
        print(f"  {name:<16} {layer / total:7.2%} of {total:.2f} s")
    return shares


if __name__ == "__main__":
    main()
