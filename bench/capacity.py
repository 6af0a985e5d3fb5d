"""Measure: what one work, one like, one comment, one view and one cached page cost in Redis and
PostgreSQL, the unit figures of docs/capacity.md.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/capacity.py

The campaign bench's world (bench/campaign.py: 200 published works of 20 collectives in 10
provinces and 10 industries, 2,000 viewers), then, through the app's own services: ``--likes``
likes (each viewer likes works at random), ``--comments`` comments, ``--views`` views of distinct
viewers, and every work page, the home page and the wall rendered into the page cache. It reads:

- Redis (``MEMORY USAGE`` of each key, by kind): a work's counters, its ranking entries, a
  viewer's entry in a day's seen set, a cached work page and list;
- PostgreSQL: bytes per like and per comment row with their indexes (``pg_total_relation_size``
  ÷ rows), and WAL bytes per like and per comment written through the app (``pg_current_wal_lsn``
  before and after), from which docs/capacity.md derives write IOPS.

The last line printed is one JSON object. Needs PostgreSQL for the PostgreSQL figures; on SQLite
it prints the Redis ones only.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402
from bench.campaign import populate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--likes", type=int, default=4000)
    parser.add_argument("--comments", type=int, default=1000)
    parser.add_argument("--views", type=int, default=4000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="wmcwm-capacity-"))
    prefix = f"wmcwm-capacity-{secrets.token_hex(4)}:"
    database = support.Database(workdir)
    app = support.in_process_app(database, workdir, prefix, PAGE_CACHE_ENABLED=True)
    try:
        with app.app_context():
            result = measure(app, database, args)
    finally:
        support.release(app, prefix)
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))


def measure(app, database, args) -> dict:
    import sqlalchemy as sa

    from app import redis_keys
    from app.engagement import comments as comment_service
    from app.engagement import services, views
    from app.extensions import db, redis_client
    from app.models import User, Work

    world = populate()
    works = world["works"]
    viewers = [user_id for (user_id,) in db.session.execute(sa.select(User.id).where(User.role == "viewer"))]
    rng = random.Random(7)
    postgres = database.kind == "postgresql"

    def wal() -> int:
        return _lsn(db.session.scalar(sa.text("SELECT pg_current_wal_lsn()::text"))) if postgres else 0

    # Likes through the service, as the like endpoint makes them (SQL row, counters, rankings).
    pairs = set()
    while len(pairs) < args.likes:
        pairs.add((rng.choice(viewers), rng.choice(works)))
    users = {u.id: u for u in db.session.scalars(sa.select(User))}
    targets = {w.id: w for w in db.session.scalars(sa.select(Work).where(Work.id.in_(works)))}
    before = wal()
    for user_id, work_id in pairs:
        services.like_work(users[user_id], targets[work_id], "10.0.0.1")
    wal_per_like = (wal() - before) / len(pairs)

    before = wal()
    for n in range(args.comments):
        body = f"第{n}条评论：为青年文明号点赞，服务真好。"
        comment_service.post_comment(users[rng.choice(viewers)], targets[rng.choice(works)], body)
    wal_per_comment = (wal() - before) / args.comments

    day = "20261206"
    for n in range(args.views):
        views.add_view(rng.choice(works), day, f"v:{secrets.token_hex(8)}:{n}")

    client = app.test_client()
    for work_id in works:
        assert client.get(f"/works/{work_id}").status_code == 200
    for path in ("/", "/wall", "/api/v1/works"):
        assert client.get(path).status_code == 200

    redis = redis_client.client
    sizes: dict[str, list[int]] = defaultdict(list)
    for raw in redis.scan_iter(match=f"{redis_keys.prefix()}*", count=1000):
        key = raw.decode()
        kind = _kind(key)
        if kind:
            sizes[kind].append(int(redis.memory_usage(key, samples=0) or 0))
    ranking_keys = list(redis.scan_iter(match=redis_keys.ranking_keys_pattern()))
    ranking_entries = sum(int(redis.zcard(key)) for key in ranking_keys)
    rankings_bytes = sum(sizes["ranking"])
    seen_bytes = sum(sizes["seen"])
    cached_work_pages = [
        int(redis.memory_usage(redis_keys.page_cache_key(f"w:{work_id}"), samples=0) or 0)
        for work_id in works
    ]
    found = {
        "db": database.kind,
        "works": len(works),
        "likes": len(pairs),
        "comments": args.comments,
        "views": args.views,
        "redis_bytes_per_work_counters": _mean(sizes["counts"]),
        "redis_ranking_entries": ranking_entries,
        "redis_bytes_per_ranking_entry": round(rankings_bytes / max(ranking_entries, 1), 1),
        "redis_rankings_per_work": round(ranking_entries / len(works), 1),
        "redis_bytes_per_viewer_day": round(seen_bytes / args.views, 1),
        "redis_bytes_per_cached_work_page": _mean(cached_work_pages),
        "redis_bytes_per_cached_list_group": _mean(sizes["page_cache_list"]),
    }
    if postgres:
        found.update(
            {
                "sql_bytes_per_like": _bytes_per_row(db, "like"),
                "sql_bytes_per_comment": _bytes_per_row(db, "comment"),
                "wal_bytes_per_like": round(wal_per_like),
                "wal_bytes_per_comment": round(wal_per_comment),
            }
        )
    return found


def _kind(key: str) -> str | None:
    if ":seen:" in key:
        return "seen"
    if key.endswith(":n") and "{w:" in key:
        return "counts"
    if "{r:" in key and ":tmp:" not in key:
        return "ranking"
    if "{pc:" in key and key.endswith(":b") and "{pc:w:" not in key:
        return "page_cache_list"
    return None


def _bytes_per_row(db, table: str) -> float:
    import sqlalchemy as sa

    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text(f'VACUUM ANALYZE "{table}"'))
    size, rows = db.session.execute(
        sa.text(f'SELECT pg_total_relation_size(\'"{table}"\'), (SELECT count(*) FROM "{table}")')
    ).one()
    return round(size / max(rows, 1), 1)


def _mean(values: list[int]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0


def _lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


if __name__ == "__main__":
    main()
