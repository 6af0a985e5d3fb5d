"""Benchmark: the shared page cache in process — what a public page or API read costs the web
tier rendered (the cache off: a shared body rendered per request, as every request was before
issue 14) against served from Redis (a hit), through Flask's test client, side by side.

    .venv/bin/python bench/page_cache.py                 # SQLite in a temporary folder
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/page_cache.py

30 published works in 6 collectives. Each round times every path rendered and then cached,
``CALLS`` calls each; the figure is the median over rounds of CPU ms per call. ``state`` is the
state call a signed-in page makes (``GET /api/v1/me/state`` with the page's 30 works), never
cached. The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from app import create_app  # noqa: E402
from app.engagement import services  # noqa: E402
from app.extensions import db  # noqa: E402
from bench._support import Database  # noqa: E402
from tests.builders_support import make_campaign, make_collective, make_user, make_work  # noqa: E402
from tests.sign_in_support import sign_in  # noqa: E402

CALLS = 200
ROUNDS = 3


def main() -> None:
    folder = tempfile.mkdtemp(prefix="bench-page-cache-")
    prefix = f"bench-pc-{secrets.token_hex(3)}:"
    database = Database(Path(folder))
    url = database.url
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, REDIS_KEY_PREFIX=prefix, MEDIA_ROOT=folder)
    try:
        with app.app_context():
            db.create_all()
            campaign = make_campaign()
            works = []
            for c in range(6):
                group = make_collective(f"集体{c}")
                for n in range(5):
                    work = make_work(group, campaign, title=f"作品{c}-{n}", body_html="<p>正文。</p>" * 20)
                    services.work_published(work)
                    works.append(work.id)
            viewer = make_user(1)
            signed_in = app.test_client()
            sign_in(signed_in, viewer)
        paths = {
            "work_page": f"/works/{works[0]}",
            "home": "/",
            "wall": "/wall",
            "api_work": f"/api/v1/works/{works[0]}",
            "api_list": "/api/v1/works",
        }
        anonymous = app.test_client()
        state_path = "/api/v1/me/state?works=" + ",".join(map(str, works))
        samples: dict[str, list[float]] = {}
        for _ in range(ROUNDS):
            for name, path in paths.items():
                for enabled in (False, True):
                    app.config["PAGE_CACHE_ENABLED"] = enabled
                    anonymous.get(path)
                    samples.setdefault(f"{name}_{'cached' if enabled else 'rendered'}", []).append(
                        _per_call(anonymous, path)
                    )
            samples.setdefault("state", []).append(_per_call(signed_in, state_path))
        result = {name: round(statistics.median(values), 3) for name, values in samples.items()}
        for name in paths:
            result[f"{name}_ratio"] = round(result[f"{name}_rendered"] / result[f"{name}_cached"], 1)
        result["database"] = "postgresql" if url.startswith("postgresql") else "sqlite"
        for name in paths:
            print(
                f"{name:10s} rendered {result[name + '_rendered']:6.2f} ms  "
                f"cached {result[name + '_cached']:5.2f} ms  ×{result[name + '_ratio']}"
            )
        print(f"{'state':10s} {result['state']:6.2f} ms (signed in, 30 works)")
        print(json.dumps(result))
    finally:
        client = redis.Redis.from_url(app.config["REDIS_URL"])
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        with app.app_context():
            db.engine.dispose()
        database.drop()
        shutil.rmtree(folder, ignore_errors=True)


def _per_call(client, path: str) -> float:
    start = time.process_time()
    for _ in range(CALLS):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
    return (time.process_time() - start) / CALLS * 1000


if __name__ == "__main__":
    main()
