"""`flask demo load`: a campaign in full swing, written through the real services, that the
counters, the dashboard, the review queues, the wall and the vote-integrity detector agree on.

Loading the demo hashes some fifty passwords, so most tests here read one demo loaded once per
database (``demo``); the worker's part (clips, uploads, transcodes, publication) is walked in a
browser by tests/e2e/test_first_run.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from rq.exceptions import NoSuchJobError
from rq.job import Job

from app import redis_keys
from app.catalog.campaigns import create_campaign
from app.clock import clock_at, utcnow
from app.demo import content
from app.demo.videos import CLIP_JOB, clip_job_id
from app.engagement import counters, rankings
from app.engagement.reconcile import reconcile_counters
from app.engagement.scoring import Ranking
from app.engagement.services import counts_for
from app.extensions import db, redis_client
from app.models import (
    Comment,
    CommentStatus,
    Like,
    ModerationEvent,
    Role,
    User,
    ViewDay,
    Work,
    WorkKind,
    WorkStatus,
)
from app.moderation import dashboard
from app.moderation import flags as vote_flags
from app.moderation import services as moderation
from app.notifications import services as notifications
from app.queue import enqueue_job, forget_jobs, media_queue
from app.search.services import search_works
from app.wall import services as wall
from media_worker.demo_clips import ClipSpec, make_clip
from tests.app_support import DATABASES, RUN_PREFIX, flush_prefix, make_test_app, scratch_postgres_database
from tests.media_worker_process import forget_queue

ZONE = ZoneInfo("Asia/Shanghai")

# Every test here reads one loaded demo (about 20 s of CPU to load, per database): on one xdist
# worker they load it once per database, spread over four they loaded it up to eight times.
pytestmark = pytest.mark.xdist_group("demo")


@dataclass
class Demo:
    app: Flask
    output: str

    def user(self, email: str) -> User:
        return db.session.scalar(sa.select(User).where(User.email == email))

    def work(self, title: str) -> Work:
        return db.session.scalar(sa.select(Work).where(Work.title == title))


@pytest.fixture(scope="module", params=DATABASES)
def demo(request, tmp_path_factory, redis_server):
    """One demo, loaded with `flask demo load` into a database of its own, for reading."""
    tmp = tmp_path_factory.mktemp("demo")
    prefix = f"{RUN_PREFIX}{secrets.token_hex(3)}:"
    queue = f"media-test-demo-{secrets.token_hex(4)}"
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'demo.db'}"
        else:
            url = stack.enter_context(scratch_postgres_database("demo"))
        stack.callback(forget_queue, redis_server, queue)
        stack.callback(flush_prefix, redis_server, prefix)
        app = make_test_app(url, str(tmp / "media"), prefix=prefix, queue=queue)
        with app.app_context():
            db.create_all()
            result = app.test_cli_runner().invoke(args=["demo", "load"])
            assert result.exit_code == 0, result.output
            yield Demo(app, result.output)
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def fresh(demo):
    """Each test reads what SQL holds now, not what an earlier test's session remembers."""
    db.session.expire_all()
    yield demo
    db.session.rollback()


def _titles(works) -> set[str]:
    return {work.title for work in works}


# --------------------------------------------------------------------------------------------
# What the campaign holds.


def test_the_campaign_has_stories_published_and_waiting_and_a_film_and_videos_for_the_worker(fresh):
    works = list(db.session.scalars(sa.select(Work)))
    by_status = defaultdict(set)
    for work in works:
        by_status[(work.kind, work.status)].add(work.title)
    assert by_status[(WorkKind.STORY, WorkStatus.PUBLISHED)] == {
        s.title for s in content.STORIES if not s.waiting
    }
    assert by_status[(WorkKind.STORY, WorkStatus.PENDING_REVIEW)] == {
        s.title for s in content.STORIES if s.waiting
    }
    assert by_status[(WorkKind.FILM, WorkStatus.DRAFT)] == {"守护万家灯火"}
    assert by_status[(WorkKind.VIDEO, WorkStatus.DRAFT)] == {"地铁站里的一分钟", "山里孩子的早读课"}


def test_each_film_and_video_waits_on_the_media_queue_for_its_clip(fresh):
    queued = set(media_queue().job_ids)
    for video in content.VIDEOS:
        work = fresh.work(video.title)
        job = Job.fetch(clip_job_id(work.id), connection=redis_client.client)
        assert job.id in queued
        assert job.func_name == CLIP_JOB
        work_id, spec, then = job.args
        assert (
            work_id == work.id and spec["title"] == video.title and spec["subtitle"] == work.collective.name
        )
        assert (then is not None) == video.publish


def test_the_stories_were_published_one_by_one_over_two_weeks(fresh):
    published = db.session.scalars(
        sa.select(Work.published_at).where(Work.status == WorkStatus.PUBLISHED)
    ).all()
    days = {moment.astimezone(ZONE).date() for moment in published}
    assert len(days) == len(published) == 10
    assert utcnow() - min(published) > timedelta(days=12)


def test_likes_come_from_many_days_and_comments_include_replies_and_one_held_for_review(fresh):
    liked_at = db.session.scalars(sa.select(Like.created_at)).all()
    assert len({moment.astimezone(ZONE).date() for moment in liked_at}) >= 12
    comments = list(db.session.scalars(sa.select(Comment)))
    assert sum(c.parent_id is not None for c in comments) >= 8
    (held,) = [c for c in comments if c.status == CommentStatus.PENDING]
    assert held.body == content.PENDING_COMMENT[2]
    assert all(c.status == CommentStatus.VISIBLE for c in comments if c is not held)


# --------------------------------------------------------------------------------------------
# Everything derived agrees.


def test_reconcile_finds_nothing_to_repair_after_the_load(fresh):
    assert reconcile_counters() == []


def test_the_dashboards_view_curves_add_up_to_the_views_on_the_cards(fresh):
    moderator = fresh.user("demo-moderator@example.com")
    board = dashboard.build(moderator, group="province", period=30)
    cards = counts_for(db.session.scalars(sa.select(Work.id).where(Work.status == WorkStatus.PUBLISHED)))
    by_province = defaultdict(int)
    for work_id, counts in cards.items():
        by_province[db.session.get(Work, work_id).collective.province] += counts.views
    assert {name: sum(metrics["views"]) for name, metrics in board.series.items()} == dict(by_province)
    per_day = [sum(metrics["views"][n] for metrics in board.series.values()) for n in range(30)]
    assert all(per_day[-content.HISTORY_DAYS :]) and not any(per_day[: -content.HISTORY_DAYS])


def test_each_works_views_per_day_add_up_to_its_view_count(fresh):
    per_work = dict(
        db.session.execute(
            sa.select(ViewDay.work_id, sa.func.sum(ViewDay.views)).group_by(ViewDay.work_id)
        ).all()
    )
    counted = dict(db.session.execute(sa.select(Work.id, Work.view_count).where(Work.view_count > 0)).all())
    assert per_work == counted and len(counted) == 10


def test_search_finds_the_published_stories_and_not_the_waiting_one(fresh):
    found = _titles(search_works("急诊").works)
    assert found == {"凌晨三点的急诊室", "写给患者家属的一封信"}


# --------------------------------------------------------------------------------------------
# What moderators and members find.


def test_the_featured_wall_shows_six_published_works_with_notes(fresh):
    featured = wall.featured()
    assert [item.work.title for item in featured] == [title for title, _note in content.WALL]
    assert all(item.work.status == WorkStatus.PUBLISHED and item.note for item in featured)


def test_works_wait_in_the_review_queues_and_a_province_has_recommended_one(fresh):
    national = fresh.user("demo-moderator@example.com")
    provincial = fresh.user("demo-moderator-gd@example.com")
    assert _titles(moderation.review_queue(national, "pending").works) == {"急诊科的除夕夜", "一张便民地图"}
    assert _titles(moderation.review_queue(provincial, "pending").works) == {"急诊科的除夕夜"}
    (recommended,) = moderation.review_queue(national, "recommended").works
    assert recommended.title == content.RECOMMENDED and recommended.recommended_by_id == provincial.id
    assert moderation.queue_counts(national)["comments"] == 1


def test_the_like_burst_from_new_accounts_is_flagged_for_moderators(fresh):
    moderator = fresh.user("demo-moderator@example.com")
    (flag,) = vote_flags.open_flags(moderator)
    assert flag.flag.work.title == content.BURST_TARGET
    burst = db.session.scalars(sa.select(User.id).where(User.email.like("demo-new%@example.com"))).all()
    assert len(burst) == content.BURST_ACCOUNTS
    assert sorted(flag.evidence["suspect_user_ids"]) == sorted(burst)


def test_members_and_the_viewer_find_news_unread_and_the_older_news_read(fresh):
    for email, kinds, read_before in (
        ("demo-member1@example.com", {"reply"}, True),  # a fan answered the collective's reply
        ("demo-member3@example.com", {"recommended"}, True),  # 推报 by the province
        ("demo-viewer@example.com", {"reply"}, False),  # the collective answered the viewer
    ):
        items = notifications.list_notifications(fresh.user(email)).items
        unread = {str(view.notification.kind) for view in items if view.unread}
        assert unread == kinds, email
        assert (len(items) > len(unread)) == read_before, email


def test_every_moderation_action_left_its_audit_event(fresh):
    actions = db.session.scalars(sa.select(ModerationEvent.action)).all()
    assert actions.count("approve") == 10
    assert actions.count("feature") == len(content.WALL)
    assert actions.count("recommend") == 1


# --------------------------------------------------------------------------------------------
# The command.


def test_the_printed_accounts_sign_in_with_their_passwords_shown_once(fresh):
    accounts = re.findall(r"email: (\S+)\s+password: (\S+)", fresh.output)
    assert len(accounts) == 10
    for label in ("管理员", "全国审核员", "广东省审核员", "集体成员", "青年网友"):
        assert label in fresh.output
    for email, password in accounts:
        assert fresh.output.count(password) == 1
        assert fresh.user(email).check_password(password)


def test_if_empty_does_nothing_when_accounts_exist(runner, make_user):
    make_user()
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0 and "nothing loaded" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Work)) == 0


def test_load_refuses_a_database_that_has_data(runner, make_user):
    make_user()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 1
    assert "empty database only" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Work)) == 0


def test_the_demo_never_loads_in_production(app, runner):
    app.config["ENV_NAME"] = "production"
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 1
    assert "never runs in production" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_forget_all_leaves_nothing_an_earlier_database_counted_but_the_job_locks(app):
    client = redis_client.client
    rankings.set_rank_scores([(Ranking.of("hot"), 1, 5.0)])
    client.hset(redis_keys.counts_key(1), mapping={"likes": 3, "comments": 0, "views": 9})
    client.set(redis_keys.pending_views_key(1), 4)
    client.sadd(redis_keys.views_dirty_key(), 1)
    counters.mark_intact()
    client.set(redis_keys.job_lock_key("counters"), "someone")
    assert counters.forget_all() >= 5
    assert not client.exists(
        Ranking.of("hot").key(),
        redis_keys.counts_key(1),
        redis_keys.pending_views_key(1),
        redis_keys.views_dirty_key(),
        redis_keys.intact_key(),
    )
    assert client.get(redis_keys.job_lock_key("counters")) == b"someone"


def test_forget_jobs_drops_the_queues_job_records_so_reused_ids_run_again(app, redis_server):
    queue = f"media-test-forget-{secrets.token_hex(4)}"
    app.config["MEDIA_QUEUE"] = queue
    try:
        job_id = f"{queue}-transcode-1"
        enqueue_job("media_worker.jobs.echo_job", 1, job_id=job_id)
        assert forget_jobs() >= 1
        with pytest.raises(NoSuchJobError):
            Job.fetch(job_id, connection=redis_client.client)
        assert media_queue().count == 0
    finally:
        forget_queue(redis_server, queue)


# --------------------------------------------------------------------------------------------
# The pieces.


def test_clock_at_moves_utcnow_for_this_thread_only():
    past = utcnow() - timedelta(days=3)
    seen_elsewhere = []
    with clock_at(past):
        inside = utcnow()
        thread = threading.Thread(target=lambda: seen_elsewhere.append(utcnow()))
        thread.start()
        thread.join()
    assert abs(inside - past) < timedelta(seconds=1)
    assert seen_elsewhere[0] - past > timedelta(days=2)
    assert utcnow() - past > timedelta(days=2)


def _probe(path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def test_a_demo_clip_is_a_video_with_sound_of_the_size_and_length_asked(tmp_path):
    spec = ClipSpec(
        title="地铁站里的一分钟", subtitle="北京地铁某站务中心青年文明号", width=360, height=640, seconds=2
    )
    info = _probe(make_clip(spec, tmp_path / "clip.mp4"))
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 360, 640)
    assert any(s["codec_type"] == "audio" for s in info["streams"])
    assert abs(float(info["format"]["duration"]) - 2) < 0.2
    assert list(tmp_path.iterdir()) == [tmp_path / "clip.mp4"]  # drawtext's text files are gone


def test_a_demo_clip_is_still_made_without_a_chinese_font(tmp_path, monkeypatch):
    monkeypatch.setattr("media_worker.demo_clips.chinese_font", lambda: None)
    spec = ClipSpec(title="守护万家灯火", subtitle="集体", width=320, height=180, seconds=1)
    info = _probe(make_clip(spec, tmp_path / "clip.mp4"))
    assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}


def test_likes_written_in_the_past_keep_their_time_and_count_now(app, make_user, make_collective):
    """What the demo relies on: a like written under clock_at is stored with that moment."""
    from app.engagement.services import like_work
    from app.works import services as svc

    now = utcnow()
    campaign = create_campaign(
        "活动",
        submission_opens=now - timedelta(days=10),
        submission_closes=now + timedelta(days=10),
        voting_opens=now - timedelta(days=10),
        voting_closes=now + timedelta(days=10),
    )
    member = make_user(Role.COLLECTIVE, collective=make_collective())
    admin = make_user(Role.ADMIN)
    work = svc.create_story(member, title="故事", campaign_id=campaign.id, body="正文")
    svc.submit_for_review(work, member)
    with clock_at(now - timedelta(days=4)):
        moderation.approve_work(admin, work.id)
    with clock_at(now - timedelta(days=3)):
        like_work(make_user(), work)
    db.session.expire_all()
    assert now - db.session.get(Work, work.id).published_at > timedelta(days=3, hours=23)
    assert now - db.session.scalar(sa.select(Like.created_at)) > timedelta(days=2, hours=23)
    assert counts_for([work.id])[work.id].likes == 1
    assert reconcile_counters() == []
