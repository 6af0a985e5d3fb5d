"""Rebuild, reconcile, the repair queue, their scheduled jobs and their commands."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import redis_keys, schedule
from app.engagement import counters, reconcile, scoring, services
from app.engagement.cli import counters_cli
from app.engagement.scoring import Ranking
from app.engagement.views import record_view
from app.extensions import db, redis_client
from app.models import Comment, CommentStatus, Like, User, Work, WorkStatus
from tests.builders_support import make_collective, make_voters, make_work
from tests.engagement_support import flush_test_keys, like_rows, ranking_ids, zscore

pytestmark = pytest.mark.also_on_redis_cluster


@pytest.fixture
def works(app, open_campaign):
    """Three published works with 3, 2 and 1 likes, and one visible comment on the first."""
    beijing = make_collective("北京地铁", "交通运输", "北京")
    shanghai = make_collective("上海银行", "金融", "上海")
    made = [
        make_work(beijing, open_campaign, title="甲"),
        make_work(shanghai, open_campaign, title="乙"),
        make_work(beijing, open_campaign, title="丙"),
    ]
    for work in made:
        services.work_published(work)
    voters = [db.session.get(User, i) for i in make_voters(3)]
    for count, work in zip((3, 2, 1), made, strict=True):
        for user in voters[:count]:
            services.like_work(user, work)
    db.session.add(Comment(work_id=made[0].id, user_id=voters[0].id, body="好", status=CommentStatus.VISIBLE))
    db.session.commit()
    services.recount([made[0].id])
    return made


def _assert_exact(work: Work) -> None:
    likes = like_rows(work.id)
    comments = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Comment)
        .where(Comment.work_id == work.id, Comment.status == CommentStatus.VISIBLE)
    )
    counts = counters.read_counts([work.id])[work.id]
    assert counts is not None
    assert (counts.likes, counts.comments) == (likes, comments)
    for ranking in services.work_rankings(work):
        expected = likes if ranking.metric == "likes" else scoring.hot_score(likes, work.published_at)
        assert zscore(ranking, work.id) == pytest.approx(expected, abs=scoring.HOT_TOLERANCE), ranking.name


def _corrupt(works) -> None:
    client = redis_client.client
    client.hset(redis_keys.counts_key(works[0].id), "likes", 99)
    client.hdel(redis_keys.counts_key(works[1].id), "comments")
    client.zadd(Ranking.of().key(), {redis_keys.member(works[2].id): 50})
    client.delete(Ranking.of("hot").key())
    client.zadd(Ranking.of(province="上海").key(), {redis_keys.member(works[0].id): 1})


# --- rebuild ---------------------------------------------------------------------------------


def test_a_rebuild_recomputes_every_counter_and_ranking_from_sql(works):
    _corrupt(works)
    report = reconcile.rebuild_counters()
    assert (report.works, report.rankings, report.unsettled) == (3, 12, 0)
    for work in works:
        _assert_exact(work)
    assert ranking_ids(Ranking.of(province="上海")) == [works[1].id]
    assert ranking_ids(Ranking.of()) == [w.id for w in works]


def test_a_rebuild_from_an_empty_redis_restores_everything(works):
    flush_test_keys()
    reconcile.rebuild_counters()
    for work in works:
        _assert_exact(work)


def test_a_rebuild_drops_rankings_whose_scope_has_no_published_work_left(works):
    shanghai_work = works[1]
    shanghai_work.status = WorkStatus.WITHDRAWN
    db.session.commit()
    reconcile.rebuild_counters()
    assert not redis_client.client.exists(Ranking.of(province="上海").key())
    assert ranking_ids(Ranking.of()) == [works[0].id, works[2].id]


def test_a_rebuild_forgets_the_counters_of_deleted_works(app, open_campaign):
    work = make_work(make_collective("集体"), open_campaign)
    services.counts_for([work.id])
    db.session.delete(work)
    db.session.commit()
    assert reconcile.rebuild_counters().forgotten_works == 1
    assert not redis_client.client.exists(redis_keys.counts_key(work.id))


# --- reconcile -------------------------------------------------------------------------------


def test_reconcile_repairs_drift_and_reports_each_repair(works):
    _corrupt(works)
    drifts = reconcile.reconcile_counters()
    found = {(d.work_id, d.counter) for d in drifts}
    assert (works[0].id, "likes") in found
    assert (works[1].id, "comments") in found
    assert (works[2].id, "rank:likes:all") in found
    assert (works[0].id, "rank:hot:all") in found
    assert (works[0].id, "rank:likes:p:上海") in found
    for work in works:
        _assert_exact(work)
    assert ranking_ids(Ranking.of(province="上海")) == [works[1].id]


def test_reconcile_of_counters_that_agree_with_sql_reports_nothing(works):
    reconcile.reconcile_counters()
    assert reconcile.reconcile_counters() == []


def test_reconcile_takes_a_work_unpublished_behind_its_back_out_of_every_ranking(works):
    works[0].status = WorkStatus.REJECTED
    db.session.commit()
    reconcile.reconcile_counters()
    assert all(zscore(r, works[0].id) is None for r in services.work_rankings(works[0]))


def test_reconcile_moves_a_work_whose_collective_changed_province(works):
    works[1].collective.province = "广东"
    db.session.commit()
    reconcile.reconcile_counters()
    assert not redis_client.client.exists(Ranking.of(province="上海").key())
    assert ranking_ids(Ranking.of(province="广东")) == [works[1].id]


def test_reconcile_repairs_likes_voided_directly_in_sql(works):
    db.session.execute(sa.delete(Like).where(Like.work_id == works[0].id))
    db.session.commit()
    reconcile.reconcile_counters()
    _assert_exact(works[0])
    assert ranking_ids(Ranking.of())[-1] == works[0].id


def test_reconcile_sets_views_to_sql_plus_the_pending_buffer(works):
    record_view(works[0], "u1")
    works[0].view_count = 10
    db.session.commit()
    reconcile.reconcile_counters()
    assert services.counts_for([works[0].id])[works[0].id].views == 11


def test_reconcile_marks_redis_intact_until_it_loses_its_data(works):
    reconcile.reconcile_counters()
    assert not counters.lost_data()
    flush_test_keys()
    assert counters.lost_data()


def test_a_second_job_is_refused_while_one_holds_the_lock(works):
    with counters.job_lock():
        with pytest.raises(counters.JobBusy):
            reconcile.reconcile_counters(lock_wait=0)


def test_the_repair_queue_recounts_the_works_it_holds(works):
    redis_client.client.hset(redis_keys.counts_key(works[2].id), "likes", 40)
    counters.mark_for_repair([works[2].id])
    drifts = reconcile.repair_dirty()
    assert [(d.work_id, d.counter, d.redis, d.sql) for d in drifts] == [(works[2].id, "likes", 40, 1)]
    _assert_exact(works[2])


# --- the scheduled jobs (app/schedule.py) -----------------------------------------------------


def _reloaded(works) -> list[Work]:
    # Flushing views writes through SQL: the test's objects are read again.
    db.session.expire_all()
    return [db.session.get(Work, work_id) for work_id in works]


def test_the_scheduled_jobs_flush_views_and_repair_drift(works):
    ids = [w.id for w in works]
    record_view(works[0], "u1")
    redis_client.client.hset(redis_keys.counts_key(ids[1]), "likes", 77)
    schedule.flush_views_now()
    reconcile.repair_counters()
    reloaded = _reloaded(ids)
    assert reloaded[0].view_count == 1
    _assert_exact(reloaded[1])


def test_the_scheduled_repair_reconciles_at_once_when_redis_lost_its_data(works):
    ids = [w.id for w in works]
    reconcile.repair_counters()
    flush_test_keys()
    reconcile.repair_counters()
    for work in _reloaded(ids):
        _assert_exact(work)


def test_the_scheduled_repair_leaves_the_full_reconcile_to_its_schedule_while_redis_is_intact(works):
    ids = [w.id for w in works]
    reconcile.reconcile_counters()
    redis_client.client.zadd(Ranking.of().key(), {redis_keys.member(ids[0]): 1000})
    reconcile.repair_counters()
    assert zscore(Ranking.of(), ids[0]) == 1000
    schedule.reconcile_counters_now()
    assert zscore(Ranking.of(), ids[0]) == 3


# --- commands --------------------------------------------------------------------------------


def test_the_rebuild_command_prints_what_it_rebuilt(works, runner):
    result = runner.invoke(counters_cli, ["rebuild"])
    assert result.exit_code == 0, result.output
    assert "已重建：3 个作品的计数，12 个排行榜" in result.output


def test_the_reconcile_command_lists_each_repair(works, runner):
    reconcile.reconcile_counters()
    redis_client.client.hset(redis_keys.counts_key(works[0].id), "likes", 99)
    result = runner.invoke(counters_cli, ["reconcile"])
    assert result.exit_code == 0, result.output
    assert f"已修复 work {works[0].id} likes: redis=99 sql=3" in result.output
    assert "修复 1 处偏差" in result.output


def test_the_reconcile_command_says_when_everything_agrees(works, runner):
    reconcile.reconcile_counters()
    assert "计数与数据库一致" in runner.invoke(counters_cli, ["reconcile"]).output


def test_the_flush_views_command_prints_how_many_views_it_wrote(works, runner):
    record_view(works[0], "u1")
    record_view(works[1], "u1")
    result = runner.invoke(counters_cli, ["flush-views"])
    assert result.exit_code == 0, result.output
    assert "已写入 2 次浏览" in result.output


def test_a_command_says_so_when_another_job_is_running(works, runner, monkeypatch):
    monkeypatch.setattr(reconcile, "JOB_LOCK_WAIT_SECONDS", 0)
    with counters.job_lock():
        result = runner.invoke(counters_cli, ["reconcile"])
    assert result.exit_code == 1
    assert "另一个计数任务正在运行" in result.output
