"""Benchmark: a simulated campaign hour against gunicorn on loopback: browsing, likes, comments and
uploads in the proportions of a voting-window peak, side by side with a bare endpoint.

    .venv/bin/python bench/campaign.py                  # SQLite in a temporary folder
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/campaign.py

The world: 200 published works from 20 collectives in 10 provinces and 10 industries, 2,000
viewer accounts with bearer tokens, 20 collective accounts with 400 video drafts waiting for their
films, one campaign in its voting window. gunicorn serves the production app (`wsgi:app`) with
production settings and its own Redis key prefix; per-IP limits are raised because one loopback
address stands in for thousands of phones, per-account limits stay as configured.

The hour, compressed: ``--clients`` threads (default 64), each with a keep-alive connection, pick
calls at random by the weights in MIX for ``--seconds`` (default 60) with no think time, so the
figure is the most this machine serves, not a pace we set. Popularity is skewed as in a real
campaign: one work (a province mobilised) takes a fifth of the likes and views, and the rest
follow a Zipf curve. An upload is three calls (open a session, PUT the clip as one part, complete)
of a 2 s generated clip; the transcode jobs it enqueues are left in the queue (media workers run
on other hosts and are measured by bench/transcode.py) and deleted afterwards.

In the same run, the same clients call `/healthz` for ``--bare-seconds``: the framework's floor
on this machine. It prints each call's rate, p50 and p99, and errors. An error is any answer
other than the one the contract gives (a 5xx, a 429, a refused connection…). Then it checks that
every work's like and comment counters in Redis equal SQL. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402

VIEWERS = 2000
COLLECTIVES = 20
WORKS = 200
DRAFTS = 400
CLIENTS = 64
PROVINCES = ["北京", "上海", "广东", "浙江", "江苏", "四川", "湖北", "山东", "河南", "陕西"]
INDUSTRIES = ["交通运输", "金融", "医疗卫生", "教育", "电力", "通信", "公安", "税务", "邮政", "水利"]

# Calls per 1,000 in a voting-window peak hour: most people read (list, open a work, scroll its
# comments); a good share like; few comment; collectives still upload late films now and then.
MIX = {
    "home page": 200,
    "work page": 240,
    "works API": 100,
    "wall page": 50,
    "search page": 40,
    "comments API": 80,
    "like": 220,
    "unlike": 10,
    "comment": 58,
    "upload": 2,
}
EXPECTED = {
    "upload: open": 201,
    "upload: part": 200,
    "upload: complete": 202,
    "comment": 201,
}


def populate() -> dict:
    """The campaign's world, written straight through the models; runs in the bench's app context."""
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from app.engagement.services import work_published
    from app.extensions import db
    from app.models import (
        Collective,
        Level,
        Role,
        User,
        Work,
        WorkKind,
        WorkStatus,
        utcnow,
    )
    from tests.builders_support import make_campaign

    db.create_all()
    now = utcnow()
    campaign = make_campaign(
        title="2026年“网络倡文明”主题活动", submission_days=(-30, 10), voting_days=(-10, 20)
    )
    collectives = [
        Collective(
            name=f"{PROVINCES[n % 10]}{INDUSTRIES[n % 10]}青年文明号{n}",
            industry=INDUSTRIES[n % 10],
            province=PROVINCES[(n * 3) % 10],
            level=Level.PROVINCIAL,
        )
        for n in range(COLLECTIVES)
    ]
    db.session.add_all(collectives)
    db.session.commit()

    password_hash = generate_password_hash(support.PASSWORD)
    people = [
        {"email": f"viewer{n}@example.com", "display_name": f"青年{n}", "role": Role.VIEWER,
         "collective_id": None}
        for n in range(VIEWERS)
    ] + [
        {"email": f"collective{n}@example.com", "display_name": f"集体{n}", "role": Role.COLLECTIVE,
         "collective_id": collectives[n].id}
        for n in range(COLLECTIVES)
    ]  # fmt: skip
    db.session.execute(
        sa.insert(User),
        [
            {
                **p,
                "password_hash": password_hash,
                "banned": False,
                "created_at": now,
                "email_verified_at": now,
            }
            for p in people
        ],
    )
    users = db.session.execute(sa.select(User.id, User.role, User.collective_id).order_by(User.id)).all()
    tokens = support.add_tokens([user.id for user in users])

    def work(n: int, status: WorkStatus, kind: WorkKind) -> Work:
        title = f"青年文明号的一天（{n}）" if status == WorkStatus.PUBLISHED else f"待上传的微电影（{n}）"
        return Work(
            collective_id=collectives[n % COLLECTIVES].id,
            campaign_id=campaign.id,
            kind=kind,
            title=title,
            summary=f"{title}：窗口服务、文明出行与诚信经营的故事。",
            body="我们的班组坚持文明服务。" if kind == WorkKind.STORY else None,
            body_html="<p>我们的班组坚持文明服务。</p>" if kind == WorkKind.STORY else None,
            status=status,
            published_at=now - timedelta(minutes=n) if status == WorkStatus.PUBLISHED else None,
        )

    published = [work(n, WorkStatus.PUBLISHED, WorkKind.STORY) for n in range(WORKS)]
    drafts = [work(n, WorkStatus.DRAFT, WorkKind.VIDEO) for n in range(DRAFTS)]
    db.session.add_all(published + drafts)
    db.session.commit()
    for item in published:
        work_published(item)  # ranked, counters populated: what publication does

    by_collective: dict[int, list[int]] = defaultdict(list)
    for draft in drafts:
        by_collective[draft.collective_id].append(draft.id)
    owners = {user.collective_id: tokens[user.id] for user in users if user.role == Role.COLLECTIVE}
    return {
        "works": [w.id for w in published],
        "viewers": [tokens[u.id] for u in users if u.role == Role.VIEWER],
        # (owner's token, draft id) in the order uploads take them.
        "drafts": [(owners[cid], wid) for cid, ids in by_collective.items() for wid in ids],
    }


def make_clip(path: Path) -> bytes:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=2",
         "-f", "lavfi", "-i", "sine=f=440:d=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         str(path)],
        check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return path.read_bytes()


class Popularity:
    """Which work a person opens or likes: one mobilised work takes a fifth, the rest Zipf."""

    def __init__(self, works: list[int], seed: int) -> None:
        self.works = works
        self.weights = [1 / (rank + 1) for rank in range(len(works))]
        self.rng = random.Random(seed)

    def pick(self) -> int:
        if self.rng.random() < 0.2:
            return self.works[0]
        return self.rng.choices(self.works, self.weights)[0]


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def add(self, name: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.latencies[name].append(seconds)
            if status != EXPECTED.get(name, 200):
                self.errors[f"{name} → {status}"] += 1

    def total(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else 0.0


class Client:
    """One person's phone: a keep-alive connection, reopened after any failure."""

    def __init__(self, port: int, recorder: Recorder) -> None:
        self.port = port
        self.recorder = recorder
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, name: str, method: str, path: str, token: str | None = None, body=None, raw=None):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            raw = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            headers["Content-Type"] = "application/octet-stream"
        began = time.perf_counter()
        try:
            self.conn.request(method, path, body=raw, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            status: int | str = response.status
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            status, data = type(exc).__name__, b""
        self.recorder.add(name, time.perf_counter() - began, status)
        return status, data


class Campaign:
    """The shared state of the simulated hour: who likes what, which drafts are still empty."""

    def __init__(self, world: dict, clip: bytes) -> None:
        self.world = world
        self.clip = clip
        self.drafts = list(world["drafts"])
        self.lock = threading.Lock()

    def next_draft(self):
        with self.lock:
            return self.drafts.pop(0) if self.drafts else None

    def act(self, client: Client, rng: random.Random, popular: Popularity) -> None:
        action = rng.choices(list(MIX), list(MIX.values()))[0]
        viewer = rng.choice(self.world["viewers"])
        work = popular.pick()
        if action == "home page":
            client.call(
                action,
                "GET",
                rng.choice(["/", "/?sort=hot", "/?province=" + urllib.parse.quote(rng.choice(PROVINCES))]),
            )
        elif action == "work page":
            client.call(action, "GET", f"/works/{work}")
        elif action == "works API":
            client.call(action, "GET", f"/api/v1/works?sort={rng.choice(['hot', 'new', 'likes'])}")
        elif action == "wall page":
            client.call(action, "GET", "/wall")
        elif action == "search page":
            client.call(action, "GET", "/search?q=" + urllib.parse.quote(rng.choice(["文明", "青年文明号"])))
        elif action == "comments API":
            client.call(action, "GET", f"/api/v1/works/{work}/comments")
        elif action in ("like", "unlike"):
            client.call(action, "PUT" if action == "like" else "DELETE", f"/api/v1/works/{work}/like", viewer)
        elif action == "comment":
            body = {"body": rng.choice(["为青年文明号点赞！", "服务真贴心，向你们学习。", "很感人的故事"])}
            client.call(action, "POST", f"/api/v1/works/{work}/comments", viewer, body)
        elif action == "upload":
            self.upload(client)

    def upload(self, client: Client) -> None:
        draft = self.next_draft()
        if draft is None:
            return
        token, work_id = draft
        meta = {"filename": "微电影.mp4", "size": len(self.clip), "content_type": "video/mp4"}
        status, data = client.call("upload: open", "POST", f"/api/v1/works/{work_id}/uploads", token, meta)
        if status != 201:
            return
        opened = json.loads(data)
        size = opened["part_size"]
        parts = []
        for target in opened["parts"]:
            chunk = self.clip[(target["number"] - 1) * size : target["number"] * size]
            url = (
                target["url"].split("://", 1)[-1].partition("/")[2]
                if "://" in target["url"]
                else target["url"]
            )
            url = url if url.startswith("/") else "/" + url
            status, data = client.call("upload: part", "PUT", url, token, raw=chunk)
            if status != 200:
                return
            parts.append({"number": target["number"], "etag": json.loads(data)["etag"]})
        path = f"/api/v1/uploads/{opened['upload_id']}/complete"
        client.call("upload: complete", "POST", path, token, {"parts": parts})


def row(name: str, values: list[float], total: int | None, seconds: float) -> str:
    share = f"{len(values) / total:>6.1%}" if total else " " * 6
    return (
        f"  {name:<20} {len(values):>7} {share} {len(values) / seconds:>8.1f} "
        f"{percentile(values, 50):>8.1f} {percentile(values, 99):>8.1f}"
    )


def run_for(seconds: float, clients: int, make_step) -> float:
    """``clients`` threads repeat their step until the time is up; the measured seconds."""
    stop_at = threading.Event()
    errors: list[str] = []
    start_line = threading.Barrier(clients + 1)

    def loop(index: int) -> None:
        step = make_step(index)
        start_line.wait()
        while not stop_at.is_set():
            try:
                step()
            except Exception as exc:  # counted, so that a broken step cannot pass as a quiet one
                errors.append(repr(exc))

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop_at.set()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} client steps raised, e.g. {errors[0]}")
    return time.perf_counter() - began


def counters_exact(works: list[int]) -> bool:
    import sqlalchemy as sa

    from app.engagement import counters
    from app.extensions import db
    from app.models import Comment, CommentStatus, Like

    likes = dict(
        db.session.execute(
            sa.select(Like.work_id, sa.func.count()).where(Like.work_id.in_(works)).group_by(Like.work_id)
        ).all()
    )
    comments = dict(
        db.session.execute(
            sa.select(Comment.work_id, sa.func.count())
            .where(Comment.work_id.in_(works), Comment.status == CommentStatus.VISIBLE)
            .group_by(Comment.work_id)
        ).all()
    )
    cached = counters.read_counts(works)
    return all(
        cached[w] is not None
        and (cached[w].likes, cached[w].comments) == (likes.get(w, 0), comments.get(w, 0))
        for w in works
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 60)))
    parser.add_argument("--bare-seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1)))
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 8)))
    # sync: one request per process at a time, for comparing against threads (docs/decisions.md).
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default="gthread")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="wmcwm-campaign-"))
    token = secrets.token_hex(4)
    prefix = f"wmcwm-campaign-{token}:"
    queue = f"media-campaign-{token}"
    database = support.Database(workdir)
    env = support.server_env(
        database,
        workdir,
        prefix,
        MEDIA_QUEUE=queue,
        # One loopback address stands in for thousands of phones; per-account limits stay as set.
        LIKE_IP_RATE_LIMIT="1000000 per minute",
        COMMENT_IP_RATE_LIMIT="1000000 per minute",
        SEARCH_IP_RATE_LIMIT="1000000 per minute",
    )
    os.environ.update(env)
    from app import create_app
    from app.extensions import db

    app = create_app()
    server = None
    try:
        with app.app_context():
            print(
                f"==> {database.kind}: {WORKS} works, {VIEWERS} viewers, {args.clients} clients for "
                f"{args.seconds:.0f} s, gunicorn {args.workers}×{args.threads} ({args.worker_class}) "
                f"on {os.cpu_count()} CPU(s)",
                flush=True,
            )
            world = populate()
            clip = make_clip(workdir / "clip.mp4")
            db.session.remove()
            port = support.free_port()
            server = support.start_server(
                env, port, args.workers, args.threads, app="wsgi:app", worker_class=args.worker_class
            )

            def bare_step(index: int):
                client = Client(port, bare)
                return lambda: client.call("bare /healthz", "GET", "/healthz")

            def campaign_step(index: int):
                client = Client(port, recorder)
                rng = random.Random(index)
                popular = Popularity(world["works"], seed=1000 + index)
                return lambda: hour.act(client, rng, popular)

            hour = Campaign(world, clip)
            warm = Recorder()
            bare = warm  # the warm-up's calls are thrown away
            run_for(3, args.clients, bare_step)
            bare = Recorder()
            bare_seconds = run_for(args.bare_seconds, args.clients, bare_step)
            recorder = Recorder()
            seconds = run_for(args.seconds, args.clients, campaign_step)
            support.stop_server(server)
            server = None

            exact = counters_exact(world["works"])
            total = recorder.total()
            rps = total / seconds
            bare_rps = bare.total() / bare_seconds
            every = [x for values in recorder.latencies.values() for x in values]
            errors = sum(recorder.errors.values()) + sum(bare.errors.values())
            print(f"\n{total} calls in {seconds:.1f} s: {rps:.0f} calls/s "
                  f"(an hour at this pace: {rps * 3600:,.0f} calls)")  # fmt: skip
            print(f"  {'call':<20} {'calls':>7} {'share':>6} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for name in sorted(recorder.latencies, key=lambda n: -len(recorder.latencies[n])):
                print(row(name, recorder.latencies[name], total, seconds))
            print(row("all", every, total, seconds))
            print(
                row("bare /healthz", bare.latencies["bare /healthz"], None, bare_seconds) + "  (same clients)"
            )
            print(f"  campaign mix / bare endpoint = {rps / bare_rps:.2f}")
            print(f"  errors: {dict(recorder.errors) or 0}, bare endpoint: {dict(bare.errors) or 0}")
            print(f"  counters exact (Redis likes and comments = SQL, every work): {exact}")
            summary = {
                "rps": round(rps),
                "errors": errors,
                "p50_ms": round(percentile(every, 50), 1),
                "p99_ms": round(percentile(every, 99), 1),
                "vs_bare": round(rps / bare_rps, 2),
                "bare_rps": round(bare_rps),
                "calls": total,
                "likes_per_s": round(len(recorder.latencies["like"]) / seconds, 1),
                "uploads": len(recorder.latencies["upload: complete"]),
                "exact": exact,
                "db": database.kind,
                "per_call": {
                    name: {"p50_ms": round(percentile(v, 50), 1), "p99_ms": round(percentile(v, 99), 1)}
                    for name, v in sorted(recorder.latencies.items())
                },
            }
    finally:
        if server is not None:
            support.stop_server(server)
        support.release(app, prefix, queue)
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
