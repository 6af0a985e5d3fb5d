"""Benchmark: the featured wall and the work lists with 1,000 and with 100,000 published works.

    .venv/bin/python bench/wall.py                   # SQLite files in a temporary folder
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/wall.py

Two scratch databases side by side: a small one (1,000 published works, 10,000 likes) and a large
one (100,000 works, 1,000,000 likes: 1 to 19 per work), each with 12 featured works, 20,000
accounts and its counters and rankings built in Redis by the real `flask counters rebuild`
(each with its own key prefix, deleted afterwards). The app runs with production settings
in this process (Flask's test client: the server's own cost, no network in the way).

Rounds interleave the two sizes so that whatever else the machine does weighs on both alike;
each round times every page and call on each size. Reported per call: the median response time
on each size and the ratio large / small. A call whose cost does not grow with the number of
works has a ratio near 1 (target ≤ 1.3). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import Database, add_viewers, release  # noqa: E402

ACCOUNTS = 20_000
FEATURED = 12
CHUNK = 10_000
PROVINCES = ["北京", "上海", "广东", "浙江", "江苏", "四川", "湖北", "陕西"]
INDUSTRIES = ["交通运输", "金融", "医疗卫生", "教育", "电力", "邮政"]

# name -> path; the wall's page and call, and the lists a visitor opens.
CALLS = {
    "wall_page": "/wall",
    "wall_api": "/api/v1/wall",
    "list_hot": "/api/v1/works?sort=hot",
    "list_likes_province": "/api/v1/works?sort=likes&province=广东",
    "list_new": "/api/v1/works?sort=new",
    "home": "/?sort=hot",
}


def populate(works: int) -> None:
    """Accounts, collectives, one open campaign, ``works`` published works with 1–19 likes each
    (10 on average), and FEATURED of them on the wall; inside the app's context."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Collective, FeaturedSlot, Level, Like, Work, utcnow
    from tests.builders_support import make_campaign

    db.create_all()
    now = utcnow()
    campaign = make_campaign(
        title="2026年“网络倡文明”主题活动", submission_days=(-60, 30), voting_days=(-60, 60)
    )
    collectives = [
        Collective(name=f"{p}{i}{n}号青年文明号", industry=i, province=p, level=Level.PROVINCIAL)
        for n, (p, i) in enumerate((p, i) for p in PROVINCES for i in INDUSTRIES)
    ]
    db.session.add_all(collectives)
    db.session.commit()
    first_user = add_viewers(ACCOUNTS, email="fan{n}@example.com", name="青年{n}")[0]
    for start in range(0, works, CHUNK):
        db.session.execute(
            sa.insert(Work),
            [
                {"collective_id": collectives[n % len(collectives)].id, "campaign_id": campaign.id,
                 "kind": ("film", "video", "story")[n % 3], "title": f"作品{n}", "summary": f"作品{n}的简介",
                 "body": "", "body_html": "", "status": "published", "recommended": False,
                 "published_at": now - timedelta(minutes=n), "view_count": n % 500,
                 "created_at": now, "updated_at": now}
                for n in range(start, min(works, start + CHUNK))
            ],
        )  # fmt: skip
    db.session.commit()
    work_ids = list(db.session.scalars(sa.select(Work.id).order_by(Work.id)))
    rows: list[dict] = []
    for work_id in work_ids:
        # 1 to 19 distinct accounts per work (10 on average), spread over everyone.
        rows.extend(
            {"user_id": first_user + (work_id * 7919 + k) % ACCOUNTS, "work_id": work_id, "created_at": now}
            for k in range(1 + work_id % 19)
        )
        if len(rows) >= CHUNK:
            db.session.execute(sa.insert(Like), rows)
            rows = []
    if rows:
        db.session.execute(sa.insert(Like), rows)
    db.session.add_all(
        FeaturedSlot(work_id=work_id, position=n) for n, work_id in enumerate(work_ids[:FEATURED])
    )
    db.session.commit()
    # What autovacuum does after a bulk load on a live database: fresh statistics for the planner.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))


def build(label: str, works: int, database: Database, workdir: Path):
    """A production app on its own database and Redis prefix, populated and rebuilt."""
    from app import create_app
    from app.engagement.reconcile import rebuild_counters
    from app.extensions import db

    prefix = f"wmcwm-bench-wall-{secrets.token_hex(4)}:"
    app = create_app(
        "production",
        SQLALCHEMY_DATABASE_URI=database.url,
        PUBLIC_BASE_URL="http://localhost",  # what the test client asks for
        REDIS_KEY_PREFIX=prefix,
        RATELIMIT_KEY_PREFIX=prefix + "limiter",
        MEDIA_ROOT=str(workdir / label),
    )
    began = time.perf_counter()
    with app.app_context():
        populate(works)
        built = time.perf_counter()
        rebuild_counters()
        db.session.remove()
    print(
        f"  {label}: {works:,} works in SQL in {built - began:.0f} s, "
        f"counters and rankings rebuilt in {time.perf_counter() - built:.0f} s",
        flush=True,
    )
    return app, prefix


def time_call(app, path: str, repeat: int) -> list[float]:
    client = app.test_client()
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - began)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.get_data()[:200]!r}"
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20, help="requests per call per round")
    args = parser.parse_args()

    os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))
    workdir = Path(tempfile.mkdtemp(prefix="wmcwm-bench-wall-"))
    (workdir / "small").mkdir()
    (workdir / "large").mkdir()
    databases = {"small": Database(workdir / "small"), "large": Database(workdir / "large")}
    apps: dict[str, tuple] = {}
    try:
        print(f"==> {databases['small'].kind}: building both data sets …", flush=True)
        apps["small"] = build("small", args.small, databases["small"], workdir)
        apps["large"] = build("large", args.large, databases["large"], workdir)
        timings: dict[str, dict[str, list[float]]] = {size: {name: [] for name in CALLS} for size in apps}
        for app, _prefix in apps.values():  # warm up: connections, templates, caches
            for path in CALLS.values():
                time_call(app, path, 10)
        for n in range(args.rounds):
            order = ["small", "large"] if n % 2 == 0 else ["large", "small"]
            for name, path in CALLS.items():
                for size in order:
                    timings[size][name].extend(time_call(apps[size][0], path, args.repeat))
            print(f"round {n + 1} of {args.rounds} done", flush=True)
    finally:
        for app, prefix in apps.values():
            release(app, prefix)
        for database in databases.values():
            database.drop()
        shutil.rmtree(workdir, ignore_errors=True)

    medians = {
        size: {name: statistics.median(t) * 1000 for name, t in calls.items()}
        for size, calls in timings.items()
    }
    print(f"\nmedian response time, {args.small:,} vs {args.large:,} published works:")
    ratios = {}
    for name, path in CALLS.items():
        small, large = medians["small"][name], medians["large"][name]
        ratios[name] = large / small
        print(f"  {path:<42} {small:7.2f} ms  {large:7.2f} ms   ratio {ratios[name]:.2f}")
    summary = {
        "wall_ratio": round(max(ratios["wall_page"], ratios["wall_api"]), 2),
        "list_ratio": round(max(ratios[n] for n in CALLS if n.startswith("list") or n == "home"), 2),
        "db": databases["small"].kind,
        "works": [args.small, args.large],
        "ms_small": {k: round(v, 2) for k, v in medians["small"].items()},
        "ms_large": {k: round(v, 2) for k, v in medians["large"].items()},
        "ratios": {k: round(v, 2) for k, v in ratios.items()},
    }
    print("  (target: every ratio ≤ 1.3)")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
