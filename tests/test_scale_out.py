"""Scale-out on one machine: two web processes and two media workers on the same services.

Each web process is its own gunicorn (its own port, its own connection pool, its own limiter
and Redis clients) and each media worker its own ``python -m media_worker``-equivalent process;
all four share one SQL database, one Redis and one S3 endpoint, as N hosts would in production
(docs/scaling.md). Clients spread their calls over both web processes: a like on one, the unlike
on the other; an upload opened on one, completed on the other, and completed on both at once.

What must hold: every transcode job ran exactly once (on either worker) and every counter and
ranking in Redis equals SQL without any repair.
"""

from __future__ import annotations

import itertools
import random
import secrets
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.auth.services import issue_token
from app.engagement import counters
from app.engagement.reconcile import reconcile_counters
from app.extensions import db, redis_client
from app.models import AssetRole, Comment, CommentStatus, Like, MediaAsset, Role, Work, WorkStatus
from tests.builders_support import make_work
from tests.media_samples import SampleFactory
from tests.media_worker_process import forget_queue, start_media_worker, stop_media_worker
from tests.s3_server import ACCESS_KEY, SECRET_KEY, s3_endpoint  # noqa: F401
from tests.web_process import WebProcess, served_config

ROOT = Path(__file__).resolve().parent.parent
VOTERS = 40
WORKS = 3
UPLOADS = 4

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(app, s3_endpoint, tmp_path):  # noqa: F811
    """Two web processes and two media workers sharing the app's database, Redis and a bucket."""
    token = secrets.token_hex(4)
    shared = served_config(
        app,
        MEDIA_QUEUE=f"media-scale-{token}",
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_BUCKET=f"scale-{token}",
        S3_ACCESS_KEY_ID=ACCESS_KEY,
        S3_SECRET_ACCESS_KEY=SECRET_KEY,
    )
    app.config.update(shared)
    from app.storage import init_storage

    init_storage(app)
    app.extensions["storage"].ensure_bucket()

    webs: list[WebProcess] = []
    workers: list[subprocess.Popen] = []
    try:
        for n in range(2):
            webs.append(WebProcess(shared, tmp_path / f"web{n}.log"))
        for n in range(2):
            workers.append(start_media_worker(app, tmp_path / f"worker{n}.log", **shared))
        yield webs, [tmp_path / f"worker{n}.log" for n in range(2)]
    finally:
        for web in webs:
            web.stop()
        for worker in workers:
            stop_media_worker(worker)
        client = redis_client.client
        forget_queue(client, shared["MEDIA_QUEUE"])


@pytest.fixture
def world(app, make_collective, make_user, open_campaign):
    collective = make_collective()
    published = [make_work(collective, open_campaign, title=f"作品{n}") for n in range(WORKS)]
    drafts = [
        make_work(collective, open_campaign, title=f"微视频{n}", kind="video", status="draft")
        for n in range(UPLOADS)
    ]
    owner = make_user(Role.COLLECTIVE, collective=collective)
    voters = [make_user(Role.VIEWER) for _ in range(VOTERS)]
    return {
        "published": [w.id for w in published],
        "drafts": [w.id for w in drafts],
        "owner": issue_token(owner),
        "voters": [issue_token(v) for v in voters],
    }


def engage(webs: list[WebProcess], world: dict) -> dict[str, list]:
    """Every voter likes every work, takes back some likes and likes some again, and comments;
    each call goes to a randomly chosen web process, many voters at once."""
    answers: dict[str, list] = {"like": [], "unlike": [], "comment": [], "list": []}
    rng = random.Random(7)
    plans = []
    for n, voter in enumerate(world["voters"]):
        steps = []
        for work_id in world["published"]:
            steps.append(("like", "PUT", f"/api/v1/works/{work_id}/like", None))
            if (n + work_id) % 3 == 0:
                steps.append(("unlike", "DELETE", f"/api/v1/works/{work_id}/like", None))
            if (n + work_id) % 6 == 0:
                steps.append(("like", "PUT", f"/api/v1/works/{work_id}/like", None))
        target = world["published"][n % WORKS]
        steps.append(
            (
                "comment",
                "POST",
                f"/api/v1/works/{target}/comments",
                {"body": f"第{n}条点评，为青年文明号点赞"},
            )
        )
        steps.append(("list", "GET", "/api/v1/works?sort=likes", None))
        plans.append((voter, steps, rng.random()))

    def run(plan):
        voter, steps, seed = plan
        chooser = random.Random(seed)
        for what, method, path, body in steps:
            status, _ = chooser.choice(webs).call(method, path, voter, body)
            answers[what].append(status)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(run, plans))
    return answers


def upload(webs: list[WebProcess], world: dict, samples: SampleFactory) -> list[tuple[int, int]]:
    """Each draft's clip: the upload opened on one web process, the part sent straight to the
    bucket, and the completion sent to both web processes at the same moment."""
    clip = samples.tiny().read_bytes()
    owner = world["owner"]
    completions = []
    for n, work_id in enumerate(world["drafts"]):
        opener = webs[n % 2]
        status, opened = opener.call(
            "POST",
            f"/api/v1/works/{work_id}/uploads",
            owner,
            {"filename": "clip.mp4", "size": len(clip), "content_type": "video/mp4"},
        )
        assert status == 201, opened
        parts = []
        size = opened["part_size"]
        for target in opened["parts"]:
            chunk = clip[(target["number"] - 1) * size : target["number"] * size]
            request = urllib.request.Request(
                target["url"], data=chunk, method="PUT", headers={"Content-Type": "application/octet-stream"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                parts.append({"number": target["number"], "etag": response.headers["ETag"].strip('"')})
        path = f"/api/v1/uploads/{opened['upload_id']}/complete"
        with ThreadPoolExecutor(2) as pool:
            answers = [pool.submit(web.call, "POST", path, owner, {"parts": parts}) for web in webs]
            statuses = [answer.result()[0] for answer in answers]
        completions.append((work_id, statuses))
    return completions


def wait_for_transcodes(work_ids: list[int], logs: list[Path], timeout: float = 120) -> None:
    """Until every work is out of processing and, for those transcoded, a worker has said so:
    a worker logs "transcoded" only after its commit, so SQL can answer before the log does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        query = sa.select(Work.id, Work.status).where(Work.id.in_(work_ids))
        statuses = dict(db.session.execute(query).tuples().all())
        said = "".join(path.read_text() for path in logs)
        if WorkStatus.FAILED in statuses.values() or all(
            status == WorkStatus.PENDING_REVIEW and f"work {work_id} transcoded:" in said
            for work_id, status in statuses.items()
        ):
            return
        time.sleep(0.5)
    raise AssertionError(
        f"transcodes unfinished: {statuses}\n" + "\n".join(p.read_text()[-2000:] for p in logs)
    )


def test_two_web_processes_and_two_workers_lose_nothing_and_count_exactly(app, fleet, world, tmp_path):
    webs, worker_logs = fleet
    (tmp_path / "samples").mkdir()
    samples = SampleFactory(tmp_path / "samples")

    completions = upload(webs, world, samples)
    answers = engage(webs, world)

    # Every call of every kind answered as the contract says, on whichever process took it.
    assert set(answers["like"]) == {200}, answers["like"]
    assert set(answers["unlike"]) == {200}, answers["unlike"]
    assert set(answers["comment"]) == {201}, answers["comment"]
    assert set(answers["list"]) == {200}
    for work_id, statuses in completions:
        # Both completions of one upload answer with the work: the second waits for the first
        # and finds it done (never two sources or two jobs: checked below).
        assert statuses == [202, 202], (work_id, statuses)

    wait_for_transcodes(world["drafts"], worker_logs)

    # Every job ran exactly once, on one worker or the other.
    logs = [path.read_text() for path in worker_logs]
    for work_id in world["drafts"]:
        assert sum(log.count(f"work {work_id} transcoded:") for log in logs) == 1, logs
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(Work.status).where(Work.id.in_(world["drafts"]))).all()
    assert statuses == [WorkStatus.PENDING_REVIEW] * UPLOADS
    posters = db.session.scalars(
        sa.select(MediaAsset.work_id).where(
            MediaAsset.work_id.in_(world["drafts"]), MediaAsset.role == AssetRole.POSTER
        )
    ).all()
    assert sorted(posters) == sorted(world["drafts"])  # one poster each: no job wrote twice
    sources = db.session.scalars(
        sa.select(MediaAsset.work_id).where(
            MediaAsset.work_id.in_(world["drafts"]), MediaAsset.role == AssetRole.SOURCE
        )
    ).all()
    assert sorted(sources) == sorted(world["drafts"])  # the twin completions made one source

    # Every counter in Redis equals SQL, with no repair in between.
    published = world["published"]
    cached = counters.read_counts(published)
    for work_id in published:
        likes = db.session.scalar(sa.select(sa.func.count()).select_from(Like).where(Like.work_id == work_id))
        comments = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Comment)
            .where(Comment.work_id == work_id, Comment.status == CommentStatus.VISIBLE)
        )
        assert (cached[work_id].likes, cached[work_id].comments) == (likes, comments), work_id
    expected_likes = sum(
        1
        for n, work_id in itertools.product(range(VOTERS), published)
        if (n + work_id) % 3 != 0 or (n + work_id) % 6 == 0
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Like)) == expected_likes
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == VOTERS
    # The reconcile compares every counter and every ranking score with SQL: nothing to repair.
    assert reconcile_counters() == []
