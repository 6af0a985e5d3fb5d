"""Fault drills (issue 7): each breaks one real part while requests or jobs run, and asserts that
nothing acknowledged is lost and that the app comes back by itself. docs/fault-drills.md says
what each one proves.

The parts that break are private to the drill (a redis-server, a PostgreSQL cluster, a proxy in
front of moto, a tmpfs), so restarting them never disturbs the shared services other tests use.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from rq.job import Job

from app import create_app, redis_keys
from app.auth.services import issue_token
from app.engagement import counters
from app.engagement.reconcile import reconcile_counters
from app.extensions import db, limiter, redis_client
from app.media.keys import transcode_job_id
from app.models import (
    AssetRole,
    Comment,
    CommentStatus,
    Like,
    MediaAsset,
    Role,
    User,
    WorkStatus,
)
from app.storage import LocalStorage, init_storage
from config import Config
from media_worker.jobs import TEMP_PREFIX
from tests.builders_support import make_campaign, make_collective, make_work
from tests.fault_support import (
    PostgresCluster,
    RedisServer,
    TcpProxy,
    Uploader,
    grow_filesystem,
    small_filesystem,
    wait_until,
)
from tests.media_samples import make_clip
from tests.media_worker_process import children, forget_queue, start_media_worker, stop_media_worker
from tests.s3_server import ACCESS_KEY, SECRET_KEY, make_s3_storage, start_moto_server, stop_moto_server
from tests.uploads_support import fresh
from tests.web_process import WebProcess, http_call

# They break and restart services and run against the clock of their retries: alone, after the rest.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

VOTERS = 24
WORKS = 3


@dataclass(frozen=True)
class Answer:
    """One request of the stream and what the server said."""

    phase: str  # before | outage | after
    voter: int
    action: str  # like | unlike | comment
    work_id: int
    status: int
    body: dict | None
    sent_at: float


def served_config(app) -> dict:
    """The settings a served copy of the test app needs to share its database and Redis."""
    keys = ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "REDIS_KEY_PREFIX", "RATELIMIT_STORAGE_URI")
    keys += ("RATELIMIT_KEY_PREFIX", "MEDIA_ROOT", "MEDIA_QUEUE", "SQLALCHEMY_ENGINE_OPTIONS")
    return {key: app.config[key] for key in keys}


def engagement_world(make_collective, make_user, campaign) -> dict:
    collective = make_collective()
    works = [make_work(collective, campaign, title=f"作品{n}") for n in range(WORKS)]
    voters = [make_user(Role.VIEWER) for _ in range(VOTERS)]
    return {
        "works": [w.id for w in works],
        "users": [v.id for v in voters],
        "tokens": [issue_token(v) for v in voters],
    }


class Stream:
    """Likes, unlikes and comments from many accounts at once, until told to stop.

    Each account is driven by one thread at a time, so the order of its acknowledged requests is
    known: the last acknowledged like or unlike of a pair is what SQL must hold.
    """

    def __init__(self, port: int, world: dict, threads: int = 6, registrations: bool = False) -> None:
        self.port = port
        self.world = world
        self.registrations = registrations
        self.phase = "before"
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads)
        self._futures = [self._pool.submit(self._run, n, threads) for n in range(threads)]

    def _run(self, lane: int, lanes: int) -> None:
        voters = list(range(lane, VOTERS, lanes))
        comments = defaultdict(int)
        step = 0
        while not self._stop.is_set():
            voter = voters[step % len(voters)]
            work_id = self.world["works"][(step // len(voters)) % WORKS]
            liked = self.liked_by(voter, work_id)
            if self.registrations and step % 7 == 6:
                action, method, path = "register", "POST", "/api/v1/auth/register"
                email = f"drill-{lane}-{step}@example.com"
                body = {"email": email, "password": "Civility-2026!", "display_name": f"新用户{lane}{step}"}
            elif step % 5 == 4 and comments[voter] < 4:  # under the per-account comment limit
                action, method, path = "comment", "POST", f"/api/v1/works/{work_id}/comments"
                body = {"body": f"第{voter}号点评：为青年文明号点赞 {step}"}
            else:
                action = "unlike" if liked else "like"
                method, path, body = ("DELETE" if liked else "PUT"), f"/api/v1/works/{work_id}/like", None
            phase, sent_at = self.phase, time.monotonic()
            status, answer, raw = http_call(self.port, method, path, self.world["tokens"][voter], body)
            if action == "comment" and status == 201:
                comments[voter] += 1
            with self._lock:
                self.answers.append(
                    Answer(phase, voter, action, work_id, status, answer or {"raw": raw}, sent_at)
                )
            step += 1
            time.sleep(0.01)

    def liked_by(self, voter: int, work_id: int) -> bool:
        """What the acknowledged answers say: the last acknowledged like or unlike of the pair."""
        with self._lock:
            for answer in reversed(self.answers):
                if (answer.voter, answer.work_id) == (voter, work_id) and answer.action in ("like", "unlike"):
                    if answer.status == 200:
                        return answer.action == "like"
        return False

    def count(self, phase: str, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.phase == phase and status in (None, a.status))

    def count_since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.sent_at > moment)

    def stop(self) -> list[Answer]:
        self._stop.set()
        for future in self._futures:
            future.result()
        self._pool.shutdown()
        return self.answers


def sql_counts(work_id: int) -> tuple[int, int]:
    likes = db.session.scalar(sa.select(sa.func.count()).select_from(Like).where(Like.work_id == work_id))
    comments = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Comment)
        .where(Comment.work_id == work_id, Comment.status == CommentStatus.VISIBLE)
    )
    return likes, comments


def assert_acknowledged_writes_are_in_sql(answers: list[Answer], world: dict, *, exact: bool) -> None:
    """Every acknowledged like, unlike and comment is in SQL; with `exact`, nothing else is."""
    db.session.expire_all()
    last: dict[tuple[int, int], Answer] = {}
    for answer in answers:
        if answer.action in ("like", "unlike") and answer.status == 200:
            last[(answer.voter, answer.work_id)] = answer
    users = world["users"]
    liked = {(users[v], w) for (v, w), a in last.items() if a.action == "like"}
    unliked = {(users[v], w) for (v, w), a in last.items() if a.action == "unlike"}
    in_sql = set(db.session.execute(sa.select(Like.user_id, Like.work_id)).tuples())
    assert liked <= in_sql, f"acknowledged likes missing from SQL: {liked - in_sql}"
    if exact:
        assert not unliked & in_sql, f"acknowledged unlikes undone: {unliked & in_sql}"
        assert in_sql == liked, f"likes nobody was told about: {in_sql - liked}"

    registered = {a.body["user"]["email"] for a in answers if a.action == "register" and a.status == 201}
    accounts = set(db.session.scalars(sa.select(User.email).where(User.email.in_(registered))))
    assert accounts == registered, f"acknowledged registrations missing: {registered - accounts}"

    acked_comments = {
        a.body["comment"]["id"]: a.body["comment"]["body"]
        for a in answers
        if a.action == "comment" and a.status == 201
    }
    stored = {row.id: row.body for row in db.session.execute(sa.select(Comment.id, Comment.body))}
    assert {i: stored.get(i) for i in acked_comments} == acked_comments, "an acknowledged comment is missing"
    if exact:
        assert len(stored) == len(acked_comments), "a refused comment was written anyway"


def assert_counters_equal_sql(work_ids: list[int]) -> None:
    db.session.expire_all()
    cached = counters.read_counts(work_ids)
    ranking = counters.Ranking.of()
    for work_id in work_ids:
        likes, comments = sql_counts(work_id)
        assert cached[work_id] is not None, f"work {work_id} has no counters in Redis"
        assert (cached[work_id].likes, cached[work_id].comments) == (likes, comments), work_id
        score = redis_client.client.zscore(ranking.key(), redis_keys.member(work_id))
        assert score == likes, f"work {work_id}: ranked with {score} likes, SQL counts {likes}"
    assert reconcile_counters() == [], "reconcile still found drift after the rebuild"


def assert_clear_503(answers: list[Answer], web: WebProcess) -> None:
    for answer in answers:
        assert answer.status in (200, 201, 503), (
            f"{answer.action} answered {answer.status}: {answer.body}\n{web.log_path.read_text()[-6000:]}"
        )
        if answer.status == 503:
            error = answer.body["error"]
            assert error["code"] and error["message"], answer.body


# --------------------------------------------------------------------------------------------
# 1. Redis restarted during requests


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path / "redis.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_drill(app, private_redis, make_collective, make_user, open_campaign, tmp_path):
    """The app (and one gunicorn serving it) on the private Redis; the world it votes in."""
    app.config.update(
        REDIS_URL=private_redis.url,
        RATELIMIT_STORAGE_URI=private_redis.url,
        MEDIA_QUEUE=f"media-drill-{secrets.token_hex(4)}",
    )
    redis_client.init_app(app)
    world = engagement_world(make_collective, make_user, open_campaign)
    web = WebProcess(served_config(app), tmp_path / "web.log")
    try:
        yield web, world
    finally:
        web.stop()


def test_redis_restarted_during_likes_and_comments_loses_nothing_and_recovers_by_itself(
    app, redis_drill, private_redis, runner
):
    web, world = redis_drill
    stream = Stream(web.port, world)
    try:
        wait_until(lambda: stream.count("before", 200) >= 30, 20, "the stream did not get going")

        private_redis.kill()  # Redis gone, its contents with it (no persistence, as a cache)
        stream.phase = "outage"
        wait_until(lambda: stream.count("outage", 503) >= 10, 15, "no request met the outage")
        # Pages are counted from SQL while Redis is down.
        for path in ("/", f"/works/{world['works'][0]}", f"/api/v1/works/{world['works'][0]}"):
            for token in (None, world["tokens"][0]):  # anonymous, and signed in
                status, _, raw = http_call(web.port, "GET", path, token)
                assert status == 200, (path, raw[:500])

        private_redis.start()  # the same port, empty
        restarted = time.monotonic()
        stream.phase = "after"
        wait_until(lambda: stream.count("after", 200), 5, "the app did not recover by itself")
        recovered = time.monotonic()
        wait_until(lambda: stream.count_since(recovered) >= 40, 20, "the stream stalled after the restart")
    finally:
        answers = stream.stop()

    assert_clear_503(answers, web)
    outage = [a for a in answers if a.phase == "outage"]
    assert {a.status for a in outage if a.action != "comment"} <= {200, 503}
    assert all(a.body["error"]["code"] == "counters_unavailable" for a in outage if a.status == 503)
    # Recovered by itself: once one request is acknowledged again, every later one is.
    late = [a for a in answers if a.sent_at > recovered]
    assert {a.status for a in late} <= {200, 201}, [(a.action, a.status) for a in late if a.status >= 300]
    assert recovered - restarted < 5
    # Nothing acknowledged is lost; nothing refused was written.
    assert_acknowledged_writes_are_in_sql(answers, world, exact=True)

    result = runner.invoke(args=["counters", "rebuild"])
    assert result.exit_code == 0, result.output
    assert_counters_equal_sql(world["works"])


# --------------------------------------------------------------------------------------------
# 2. PostgreSQL restarted during requests


@pytest.fixture
def private_postgres():
    cluster = PostgresCluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def postgres_drill(private_postgres, redis_server, tmp_path):
    """An app on the private cluster, with production's engine options (pool_pre_ping), served
    by one gunicorn; the world it votes in. The shared PostgreSQL is never involved."""
    prefix = f"wmcwm-drill-{secrets.token_hex(4)}:"
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=private_postgres.url,
        SQLALCHEMY_ENGINE_OPTIONS=Config.SQLALCHEMY_ENGINE_OPTIONS,
        MEDIA_ROOT=str(tmp_path / "media"),
        REDIS_KEY_PREFIX=prefix,
        RATELIMIT_KEY_PREFIX=prefix + "limiter",
        MEDIA_QUEUE=f"media-drill-{secrets.token_hex(4)}",
    )
    limiter._key_prefix = app.config["RATELIMIT_KEY_PREFIX"]
    web = None
    with app.app_context():
        try:
            db.create_all()  # as tests/conftest.py makes PostgreSQL schemas
            world = postgres_world()
            web = WebProcess(served_config(app), tmp_path / "web.log")
            yield app, web, world
        finally:
            if web is not None:
                web.stop()
            db.session.remove()
            db.engine.dispose()
            for key in redis_server.scan_iter(match=f"{prefix}*", count=1000):
                redis_server.delete(key)


def postgres_world() -> dict:
    campaign = make_campaign(title="2026年“网络倡文明”主题活动")
    collective = make_collective("北京地铁青年文明号", "交通运输", "北京")
    works = [make_work(collective, campaign, title=f"作品{n}") for n in range(WORKS)]
    voters = [
        User(email=f"voter{n}@example.com", display_name=f"用户{n}", role=Role.VIEWER) for n in range(VOTERS)
    ]
    for voter in voters:
        voter.password_hash = "not-a-usable-hash"  # they vote with API tokens
    db.session.add_all(voters)
    db.session.commit()
    return {
        "works": [w.id for w in works],
        "users": [v.id for v in voters],
        "tokens": [issue_token(v) for v in voters],
    }


def test_postgresql_restarted_during_requests_answers_503_then_recovers_and_loses_nothing(
    postgres_drill, private_postgres
):
    app, web, world = postgres_drill
    stream = Stream(web.port, world, registrations=True)
    try:
        wait_until(lambda: stream.count("before", 200) >= 30, 20, "the stream did not get going")
        stream.phase = "outage"
        private_postgres.stop("fast")  # every session cut, its transaction rolled back
        wait_until(lambda: stream.count("outage", 503) >= 5, 15, "no request met the outage")
        # A person gets the site's own page saying so, not a server error.
        for token in (None, world["tokens"][0]):  # anonymous, and an account to look up
            status, _, page = http_call(web.port, "GET", f"/works/{world['works'][0]}", token)
            assert status == 503 and "服务暂时不可用" in page, (status, page[:500])
        private_postgres.start()
        restarted = time.monotonic()
        stream.phase = "after"
        wait_until(lambda: stream.count("after", 200), 10, "the app did not reconnect by itself")
        recovered = time.monotonic()
        wait_until(lambda: stream.count_since(recovered) >= 40, 20, "the stream stalled after the restart")
    finally:
        answers = stream.stop()

    assert_clear_503(answers, web)
    refused = [a for a in answers if a.status == 503]
    assert {a.body["error"]["code"] for a in refused} == {"unavailable"}
    assert {a.body["error"]["message"] for a in refused} == {"服务暂时不可用，请稍后再试。"}
    # The pool reconnected without restarting the app: every later request is acknowledged.
    late = [a for a in answers if a.sent_at > recovered]
    assert {a.status for a in late} <= {200, 201}, [
        (a.action, a.status, a.body) for a in late if a.status >= 300
    ]
    assert recovered - restarted < 5
    # A commit cut off mid-answer may have landed: SQL holds at least what was acknowledged.
    assert_acknowledged_writes_are_in_sql(answers, world, exact=False)
    assert any(a.action == "register" and a.status == 201 for a in answers)

    reconcile_counters()
    assert_counters_equal_sql(world["works"])


# --------------------------------------------------------------------------------------------
# 5. The disk full during an upload

PART = 1024 * 1024


@pytest.fixture
def full_disk_app(app, redis_server):
    """LocalStorage on a 4 MiB tmpfs, parts of 1 MiB, and a queue of the test's own."""
    queue = f"media-drill-{secrets.token_hex(4)}"
    with small_filesystem("4m") as root:
        app.config.update(UPLOAD_PART_SIZE=PART, MEDIA_QUEUE=queue, MEDIA_ROOT=str(root))
        app.extensions["storage"] = LocalStorage(root, min_part_size=PART)
        try:
            yield app, root
        finally:
            forget_queue(redis_server, queue)


def test_a_full_disk_refuses_the_part_clearly_and_the_upload_resumes_byte_identical(
    full_disk_app, make_collective, make_user, open_campaign, tmp_path
):
    app, root = full_disk_app
    collective = make_collective()
    owner = make_user(Role.COLLECTIVE, collective=collective)
    work = make_work(collective, open_campaign, kind="video", status="draft")
    # A real video larger than the disk: lossless, so a few seconds make six parts.
    clip = make_clip(tmp_path / "clip.mp4", width=1280, height=720, seconds=3, extra_output=["-crf", "0"])
    data = clip.read_bytes()
    assert 4 * PART < len(data) <= 8 * PART

    uploader = Uploader(app, issue_token(owner))
    opened = uploader.open(work.id, data)
    assert opened.status_code == 201, opened.json
    upload_id, targets = opened.json["upload_id"], opened.json["parts"]

    def send(number: int):
        return uploader.put(targets[number - 1], data[(number - 1) * PART : number * PART])

    acknowledged: dict[int, str] = {}
    for target in targets:
        status, answer = send(target["number"])
        if status != 200:
            break
        acknowledged[target["number"]] = answer["etag"]
    full = target["number"]

    # The part that met the full disk: a clear refusal in the one error shape, never a 500.
    assert status == 507, answer
    assert answer["error"]["code"] == "storage_full"
    assert answer["error"]["message"].startswith("存储空间不足")
    assert acknowledged, "the disk was full before the first part"
    # Nothing half-written counts as received; the parts before it are intact.
    received = {part["number"]: part["etag"] for part in uploader.state(upload_id)["received"]}
    assert received == acknowledged
    for number, etag in acknowledged.items():
        assert etag == hashlib.md5(data[(number - 1) * PART : number * PART]).hexdigest()
    assert not list(root.rglob(".incoming-*")), "a partial part file was left on the disk"
    # The rest of the site keeps working.
    assert uploader.client.get("/").status_code == 200
    assert uploader.client.get("/api/v1/works", headers=uploader.headers).status_code == 200

    grow_filesystem(root, "64m")  # an operator frees space
    for number in range(full, len(targets) + 1):
        status, answer = send(number)
        assert status == 200, answer
        acknowledged[number] = answer["etag"]
    parts = [{"number": n, "etag": etag} for n, etag in sorted(acknowledged.items())]
    completed = uploader.complete(upload_id, parts)
    assert completed.status_code == 202, completed.json

    db.session.expire_all()
    source = db.session.scalar(
        sa.select(MediaAsset).where(MediaAsset.work_id == work.id, MediaAsset.role == AssetRole.SOURCE)
    )
    assert (root / source.storage_key).read_bytes() == data
    assert not list(root.rglob(".incoming-*")) and not list(root.rglob(".part-*"))


# --------------------------------------------------------------------------------------------
# 3. The S3 endpoint down during a transcode


@pytest.fixture
def s3_behind_proxy(tmp_path):
    """A private moto server and the proxy every client reaches it through."""
    moto, moto_url = start_moto_server(tmp_path / "moto.log")
    proxy = TcpProxy(moto_url)
    try:
        yield proxy, moto_url
    finally:
        proxy.close()
        stop_moto_server(moto)


@pytest.fixture
def s3_drill_app(app, s3_behind_proxy, redis_server):
    proxy, _ = s3_behind_proxy
    queue = f"media-drill-{secrets.token_hex(4)}"
    s3 = {
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": proxy.url,
        "S3_BUCKET": f"drill-{secrets.token_hex(4)}",
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    # A first retry after 5 s instead of 10: long enough to tell backoff from an immediate retry.
    app.config.update(MEDIA_QUEUE=queue, MEDIA_RETRY_INTERVALS=[5, 30, 60], **s3)
    init_storage(app)
    app.extensions["storage"].ensure_bucket()
    try:
        yield app, s3
    finally:
        forget_queue(redis_server, queue)


# The object storage endpoint's fault: the SQL it touches is the same on both databases, and
# the worker-takeover drill below runs the transcode's SQL on both.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_s3_endpoint_down_while_outputs_upload_is_retried_with_backoff_then_succeeds(
    s3_drill_app, s3_behind_proxy, make_collective, make_user, open_campaign, tmp_path, monkeypatch
):
    app, s3 = s3_drill_app
    proxy, moto_url = s3_behind_proxy
    collective = make_collective()
    owner = make_user(Role.COLLECTIVE, collective=collective)
    work = make_work(collective, open_campaign, kind="video", status="draft")
    clip = make_clip(tmp_path / "clip.mp4", width=320, height=180, seconds=2)
    completed = Uploader(app, issue_token(owner)).upload(work.id, clip.read_bytes())
    assert completed.status_code == 202, completed.json
    source = db.session.scalar(
        sa.select(MediaAsset).where(MediaAsset.work_id == work.id, MediaAsset.role == AssetRole.SOURCE)
    )
    # Down in the middle of storing the outputs: two files are in the bucket, the third never arrives.
    # (Outputs go under works/<id>/v<asset id>…/; the source went up before, under works/<id>/source/.)
    proxy.cut_on(f"PUT /{s3['S3_BUCKET']}/works/{work.id}/v".encode(), occurrence=3)

    temp = tmp_path / "worker-tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the worker's temp folders, to check none is left
    log = tmp_path / "worker.log"
    worker = start_media_worker(app, log, **s3)
    try:
        wait_until(proxy.cut_event.is_set, 30, lambda: f"the outputs never went up:\n{log.read_text()}")
        down_at = time.monotonic()
        # boto3 retries on its own first; when those attempts are spent the job fails and RQ
        # schedules it again with backoff (the endpoint is still down then).
        wait_until(lambda: "RQ will retry" in log.read_text(), 20, lambda: log.read_text())
        failed_at = time.monotonic()
        time.sleep(max(1.0, down_at + 3 - failed_at))  # down for a few seconds in all
        proxy.restore()
        wait_until(lambda: fresh(work.id).status != WorkStatus.PROCESSING, 60, lambda: log.read_text())
        done_at = time.monotonic()
    finally:
        stop_media_worker(worker)

    text = log.read_text()
    assert fresh(work.id).status == WorkStatus.PENDING_REVIEW, text
    assert text.count("RQ will retry") == 1 and text.count(f"work {work.id} transcoded:") == 1, text
    job = Job.fetch(transcode_job_id(source.id), connection=redis_client.client)
    assert job.retries_left == 2  # one retry spent
    # It waited for its backoff (5 s), not retried at once. RQ files a retry under its time cut to
    # the whole second (ScheduledJobRegistry.schedule), so it may run up to 1 s early.
    assert done_at - failed_at >= 5 - 1

    # Every rendition is in the bucket, once: one row per role, every row's file present.
    assets = db.session.scalars(sa.select(MediaAsset).where(MediaAsset.work_id == work.id)).all()
    roles = sorted(a.role.value for a in assets)
    assert roles == ["hls", "mp4_360", "poster", "source", "storyboard"], roles
    bucket = make_s3_storage(moto_url, s3["S3_BUCKET"])  # straight to moto, past the proxy
    for asset in assets:
        assert bucket.exists(asset.storage_key), asset.storage_key
        if asset.role.value == "storyboard":  # the index and the sprite it points into
            assert bucket.exists(asset.thumbnail_key), asset.thumbnail_key
    listed = bucket.client.list_objects_v2(Bucket=s3["S3_BUCKET"], Prefix=f"works/{work.id}/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert len(keys) == len(set(keys))
    prefixes = {key.split("/")[2] for key in keys}
    trees = {a.storage_key.split("/")[2] for a in assets if a.role != AssetRole.SOURCE}
    assert len(trees) == 1 and prefixes == {"source"} | trees, keys  # one output tree, the retry's own
    assert not bucket.client.list_multipart_uploads(Bucket=s3["S3_BUCKET"]).get("Uploads")
    assert not list(temp.iterdir()), "the worker left temp files behind"


# --------------------------------------------------------------------------------------------
# 4. The worker killed
#
# tests/test_media_recovery.py kills the only worker mid-transcode and lets the next one to start
# take the job back. Here two workers run; the one transcoding is killed and the other, which
# keeps running, takes the job over by itself.


def _temp_folder_pids(temp) -> list[int]:
    return [int(p.name[len(TEMP_PREFIX) :].split("-", 1)[0]) for p in temp.glob(f"{TEMP_PREFIX}*")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def two_workers_app(app, redis_server, tmp_path, monkeypatch):
    queue = f"media-drill-{secrets.token_hex(4)}"
    # Heartbeats every second, stale after four: the drill need not wait two minutes.
    app.config.update(MEDIA_QUEUE=queue, MEDIA_STALE_JOB_SECONDS=4, MEDIA_JOB_MONITORING_INTERVAL=1)
    temp = tmp_path / "worker-tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the workers' temp folders, to check none is left
    try:
        yield app, temp
    finally:
        forget_queue(redis_server, queue)


def test_a_worker_killed_mid_transcode_is_taken_over_by_the_other_running_worker(
    two_workers_app, make_collective, make_user, open_campaign, tmp_path
):
    app, temp = two_workers_app
    collective = make_collective()
    owner = make_user(Role.COLLECTIVE, collective=collective)
    work = make_work(collective, open_campaign, kind="video", status="draft")
    # Long enough that the transcode is still running when its worker is killed.
    clip = make_clip(tmp_path / "long.mp4", width=1280, height=720, seconds=6)

    logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
    settings = {key: app.config[key] for key in ("MEDIA_STALE_JOB_SECONDS", "MEDIA_JOB_MONITORING_INTERVAL")}
    # Both listening before the job exists: started one after the other with the job waiting,
    # the first could finish it before the second had even booted.
    workers = [start_media_worker(app, log, **settings) for log in logs]
    try:
        completed = Uploader(app, issue_token(owner)).upload(work.id, clip.read_bytes())
        assert completed.status_code == 202, completed.json
        # The job's work horse makes its temp folder, named after its pid, as it begins; the
        # victim is the worker that forked it (the other may have children too: RQ's scheduler).
        horse = wait_until(
            lambda: next((pid for pid in _temp_folder_pids(temp) if _alive(pid)), None),
            60,
            lambda: "no transcode started:\n" + "\n".join(log.read_text() for log in logs),
        )
        busy = [w for w in workers if horse in children(w.pid)]
        assert len(busy) == 1, f"the work horse {horse} is no worker's child"
        victim = busy[0]
        horses = children(victim.pid)
        os.kill(victim.pid, signal.SIGKILL)
        for pid in horses:
            os.kill(pid, signal.SIGKILL)
        victim.wait()
        dead_dirs = [p for pid in horses for p in temp.glob(f"{TEMP_PREFIX}{pid}-*")]
        assert dead_dirs, "the killed job left no temp folder: was it killed before it began?"
        assert fresh(work.id).status == WorkStatus.PROCESSING

        # No restart and no operator: the surviving worker notices the silent job and runs it.
        wait_until(
            lambda: fresh(work.id).status != WorkStatus.PROCESSING,
            60,
            lambda: "\n".join(log.read_text() for log in logs),
        )
    finally:
        for worker in workers:
            stop_media_worker(worker)

    texts = [log.read_text() for log in logs]
    assert fresh(work.id).status == WorkStatus.PENDING_REVIEW, texts
    survivor = texts[1 - workers.index(victim)]
    assert survivor.count(f"work {work.id} transcoded:") == 1, texts
    assert sum(text.count(f"work {work.id} transcoded:") for text in texts) == 1
    roles = sorted(
        a.role.value for a in db.session.scalars(sa.select(MediaAsset).where(MediaAsset.work_id == work.id))
    )
    assert roles == ["hls", "mp4_360", "mp4_720", "poster", "source", "storyboard"]  # one set: nothing twice
    assert not list(temp.iterdir()), "temp folders were left behind"


# The worker's own disk: nothing of it is in SQL, so one database is enough.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_worker_temp_folder_full_during_a_transcode_is_retried_once_space_is_freed(
    app, redis_server, make_collective, make_user, open_campaign, tmp_path, monkeypatch
):
    queue = f"media-drill-{secrets.token_hex(4)}"
    app.config.update(MEDIA_QUEUE=queue, MEDIA_RETRY_INTERVALS=[3, 30, 60])
    collective = make_collective()
    owner = make_user(Role.COLLECTIVE, collective=collective)
    work = make_work(collective, open_campaign, kind="video", status="draft")
    clip = make_clip(tmp_path / "clip.mp4", width=640, height=360, seconds=4)
    completed = Uploader(app, issue_token(owner)).upload(work.id, clip.read_bytes())
    assert completed.status_code == 202, completed.json

    log = tmp_path / "worker.log"
    # Room for the downloaded source, not for the renditions as well.
    with small_filesystem(f"{clip.stat().st_size // 1024 + 400}k") as temp:
        monkeypatch.setenv("TMPDIR", str(temp))
        worker = start_media_worker(app, log)
        try:
            wait_until(
                lambda: "RQ will retry" in log.read_text() or fresh(work.id).status != WorkStatus.PROCESSING,
                60,
                lambda: log.read_text(),
            )
            assert fresh(work.id).status == WorkStatus.PROCESSING, "a full disk is not the upload's fault"
            grow_filesystem(temp, "64m")  # an operator frees space
            wait_until(lambda: fresh(work.id).status != WorkStatus.PROCESSING, 60, lambda: log.read_text())
        finally:
            stop_media_worker(worker)
            forget_queue(redis_server, queue)
        leftovers = list(temp.iterdir())

    text = log.read_text()
    assert fresh(work.id).status == WorkStatus.PENDING_REVIEW, text
    assert text.count("RQ will retry") == 1 and text.count(f"work {work.id} transcoded:") == 1, text
    assert not leftovers, leftovers
