"""Likes: durable in SQL first, counted once in Redis, exact under races and Redis faults."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa

from app import redis_keys
from app.engagement import counters, reconcile, scoring, services
from app.engagement.scoring import Ranking
from app.errors import ServiceError
from app.extensions import db, redis_client
from app.models import Comment, CommentStatus, Like, User, Work, WorkStatus, utcnow
from tests.builders_support import make_campaign, make_collective, make_voters, make_work
from tests.engagement_support import (
    another_request,
    flush_test_keys,
    in_threads,
    kill_redis,
    like_rows,
    liked_pairs,
    zscore,
)

pytestmark = pytest.mark.also_on_redis_cluster

THREADS = 12


@pytest.fixture
def work(app, open_campaign) -> Work:
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign)
    services.work_published(work)
    return work


def _redis_likes(work_id: int) -> int | None:
    counts = counters.read_counts([work_id])[work_id]
    return None if counts is None else counts.likes


def _assert_exact(work: Work) -> None:
    """Redis agrees with SQL: the counter and every ranking the work is in."""
    expected = like_rows(work.id)
    assert _redis_likes(work.id) == expected
    for ranking in services.work_rankings(work):
        if ranking.metric == "likes":
            assert zscore(ranking, work.id) == expected, ranking.name
        else:
            hot = scoring.hot_score(expected, work.published_at)
            assert zscore(ranking, work.id) == pytest.approx(hot, abs=1e-6), ranking.name


# --- likes and unlikes -----------------------------------------------------------------------


def test_a_like_is_stored_in_sql_and_counted_once(work, make_user):
    user = make_user()
    assert services.like_work(user, work, "10.1.2.3") == (True, 1)
    assert like_rows(work.id) == 1
    assert db.session.scalar(sa.select(Like.ip).where(Like.user_id == user.id)) == "10.1.2.3"
    _assert_exact(work)


def test_repeating_a_like_changes_nothing(work, make_user):
    user = make_user()
    services.like_work(user, work)
    assert services.like_work(user, work) == (True, 1)
    assert like_rows(work.id) == 1
    _assert_exact(work)


def test_an_unlike_takes_the_like_back(work, make_user):
    user, other = make_user(), make_user()
    services.like_work(user, work)
    services.like_work(other, work)
    assert services.unlike_work(user, work) == (False, 1)
    assert liked_pairs() == {(other.id, work.id)}
    _assert_exact(work)


def test_repeating_an_unlike_changes_nothing(work, make_user):
    user, other = make_user(), make_user()
    services.like_work(other, work)
    services.unlike_work(user, work)
    assert services.unlike_work(user, work) == (False, 1)
    _assert_exact(work)


@pytest.mark.parametrize(("opens", "closes"), [(1, 30), (-30, -1)], ids=["not-yet-open", "closed"])
def test_a_like_outside_the_voting_window_is_refused_with_the_window(app, make_user, opens, closes):
    campaign = make_campaign(title="已结束的活动", submission_days=(-60, -40), voting_days=(opens, closes))
    work = make_work(make_collective("集体"), campaign)
    with pytest.raises(ServiceError) as refused:
        services.like_work(make_user(), work)
    assert (refused.value.code, refused.value.status) == ("voting_closed", 409)
    assert refused.value.message.startswith("本次活动的投票时间为 ")
    assert refused.value.message.endswith("，现在不在投票期内。")
    assert like_rows(work.id) == 0


def test_an_unlike_after_the_voting_window_is_refused(work, make_user):
    user = make_user()
    services.like_work(user, work)
    work.campaign.voting_closes = utcnow() - timedelta(minutes=1)
    db.session.commit()
    with pytest.raises(ServiceError) as refused:
        services.unlike_work(user, work)
    assert refused.value.code == "voting_closed"
    assert refused.value.message.endswith("现在不在投票期内。")
    assert like_rows(work.id) == 1


@pytest.mark.parametrize("status", [WorkStatus.DRAFT, WorkStatus.PENDING_REVIEW, WorkStatus.WITHDRAWN])
def test_a_work_that_is_not_published_cannot_be_liked(app, open_campaign, make_user, status):
    work = make_work(make_collective("集体"), open_campaign, status=status)
    with pytest.raises(ServiceError) as refused:
        services.like_work(make_user(), work)
    assert (refused.value.code, refused.value.status) == ("work_not_published", 409)
    assert like_rows(work.id) == 0


def _take_down(work_id: int, make_user) -> None:
    """A moderator takes the work down from another request."""
    from app.models import Role
    from app.moderation import services as moderation

    with another_request():
        moderation.reject_work(make_user(Role.ADMIN), work_id, "内容违规")


def test_a_like_checked_just_before_the_work_was_taken_down_is_refused(work, make_user):
    user = make_user()
    assert work.status == WorkStatus.PUBLISHED  # what the like's request read
    _take_down(work.id, make_user)
    with pytest.raises(ServiceError) as refused:
        services.like_work(user, work)
    assert (refused.value.code, refused.value.status) == ("work_not_published", 409)
    assert like_rows(work.id) == 0 and _redis_likes(work.id) == 0
    assert all(zscore(ranking, work.id) is None for ranking in services.work_rankings(work))


def test_an_unlike_checked_just_before_the_work_was_taken_down_is_refused(work, make_user):
    user = make_user()
    services.like_work(user, work)
    assert work.status == WorkStatus.PUBLISHED
    _take_down(work.id, make_user)
    with pytest.raises(ServiceError) as refused:
        services.unlike_work(user, work)
    assert refused.value.code == "work_not_published"
    assert like_rows(work.id) == 1 and _redis_likes(work.id) == 1


def test_liking_again_a_work_still_published_changes_nothing_and_answers_liked(work, make_user):
    user = make_user()
    assert services.like_work(user, work) == (True, 1)
    assert services.like_work(user, work) == (True, 1)
    assert services.unlike_work(user, work) == (False, 0)
    assert services.unlike_work(user, work) == (False, 0)


# --- Redis away or emptied -------------------------------------------------------------------


def test_a_like_answers_503_and_writes_nothing_when_redis_is_down(work, make_user):
    user = make_user()
    kill_redis()
    with pytest.raises(ServiceError) as refused:
        services.like_work(user, work)
    assert (refused.value.code, refused.value.status) == ("counters_unavailable", 503)
    assert refused.value.message == "点赞服务暂时繁忙，请稍后再试。"
    assert like_rows(work.id) == 0


def test_an_unlike_answers_503_and_keeps_the_like_when_redis_is_down(work, make_user):
    user = make_user()
    services.like_work(user, work)
    kill_redis()
    with pytest.raises(ServiceError) as refused:
        services.unlike_work(user, work)
    assert refused.value.status == 503
    assert like_rows(work.id) == 1


def test_a_like_stands_and_is_counted_from_sql_when_redis_fails_after_the_commit(
    work, make_user, monkeypatch
):
    services.like_work(make_user(), work)

    def redis_gone(self):
        raise redis.ConnectionError("Redis went away after the commit")

    monkeypatch.setattr(counters.Flight, "finish", redis_gone)
    assert services.like_work(make_user(), work) == (True, 2)
    assert like_rows(work.id) == 2


def test_a_like_after_redis_lost_the_counters_answers_the_exact_count(work, make_user):
    for _ in range(3):
        services.like_work(make_user(), work)
    flush_test_keys()
    assert services.like_work(make_user(), work) == (True, 4)
    _assert_exact(work)


def test_a_write_whose_fence_token_vanished_moves_no_counter(work, make_user):
    services.like_work(make_user(), work)
    flight = counters.begin_flight(work.id, services.work_rankings(work))
    redis_client.client.delete(redis_keys.fence_key(work.id))  # Redis lost the token mid-flight
    flight.likes = 1
    assert flight.finish().status == "lost"
    assert _redis_likes(work.id) == 1
    assert zscore(Ranking.of(), work.id) == 1


def test_a_like_waits_while_the_work_is_being_measured(work, make_user):
    gated = counters.close_gates([work.id], "measurer")
    assert work.id in gated
    with pytest.raises(counters.CountersBusy):
        counters.begin_flight(work.id, wait=0.05)
    counters.release_gates([work.id], "measurer")
    assert services.like_work(make_user(), work) == (True, 1)


# --- counts, liked_by, comments ---------------------------------------------------------------


def test_counts_for_reads_likes_comments_and_views_of_each_work(work, make_user, open_campaign):
    quiet = make_work(make_collective("另一个集体"), open_campaign)
    services.like_work(make_user(), work)
    counts = services.counts_for([work.id, quiet.id])
    assert counts[work.id].as_dict() == {"likes": 1, "comments": 0, "views": 0}
    assert counts[quiet.id].as_dict() == {"likes": 0, "comments": 0, "views": 0}


def test_counts_for_falls_back_to_sql_when_redis_is_down(work, make_user):
    services.like_work(make_user(), work)
    services.like_work(make_user(), work)
    work.view_count = 7
    db.session.commit()
    kill_redis()
    assert services.counts_for([work.id])[work.id].as_dict() == {"likes": 2, "comments": 0, "views": 7}


def test_counts_for_repopulates_counters_redis_lost(work, make_user):
    services.like_work(make_user(), work)
    flush_test_keys()
    assert services.counts_for([work.id])[work.id].likes == 1
    _assert_exact(work)


def test_liked_by_names_the_works_the_user_likes(work, make_user, open_campaign):
    other = make_work(make_collective("另一个集体"), open_campaign)
    user = make_user()
    services.like_work(user, work)
    assert services.liked_by(user, [work.id, other.id]) == {work.id}
    assert services.liked_by(None, [work.id]) == set()


def _comment(work: Work, user: User, status: CommentStatus) -> None:
    with services.counting(work) as flight:
        db.session.add(Comment(work_id=work.id, user_id=user.id, body="好作品", status=status))
        db.session.commit()
        services.comment_added(work, status == CommentStatus.VISIBLE, flight=flight)


def test_the_comment_counter_counts_visible_comments_only(work, make_user):
    user = make_user()
    _comment(work, user, CommentStatus.VISIBLE)
    _comment(work, user, CommentStatus.PENDING)
    assert services.counts_for([work.id])[work.id].comments == 1


def test_removing_a_visible_comment_lowers_the_counter(work, make_user):
    user = make_user()
    _comment(work, user, CommentStatus.VISIBLE)
    comment = db.session.scalar(sa.select(Comment))
    comment.status = CommentStatus.HIDDEN
    db.session.commit()
    services.comment_removed(work, was_visible=True)
    assert services.counts_for([work.id])[work.id].comments == 0
    assert work.id in counters.take_for_repair(10)  # moved outside a flight: queued for a recount


# --- races and faults ------------------------------------------------------------------------


@pytest.mark.slow
def test_200_accounts_liking_unliking_and_liking_again_concurrently_leave_exact_counts(app, work):
    voters = make_voters(200)
    # Each account runs its like, unlike, like twice at once, from different threads.
    jobs = voters * 2
    random.Random(4).shuffle(jobs)
    work_id = work.id

    def vote(user_id):
        user, target = db.session.get(User, user_id), db.session.get(Work, work_id)
        services.like_work(user, target, "10.0.0.1")
        services.unlike_work(user, target)
        services.like_work(user, target, "10.0.0.1")

    assert in_threads(app, jobs, vote, THREADS) == []
    assert like_rows(work.id) == 200
    _assert_exact(work)


@pytest.mark.slow
def test_redis_emptied_mid_storm_loses_no_acknowledged_like_and_reconcile_makes_all_exact(app, open_campaign):
    works = [
        make_work(make_collective("北京地铁", "交通运输", "北京"), open_campaign, title="甲"),
        make_work(make_collective("上海银行", "金融", "上海"), open_campaign, title="乙"),
        make_work(make_collective("广州医院", "医疗卫生", "广东"), open_campaign, title="丙"),
    ]
    for w in works:
        services.work_published(w)
    a, b, c = (w.id for w in works)
    voters = make_voters(200)
    acknowledged: set[tuple[int, int]] = set()
    lock, halfway = threading.Lock(), threading.Event()
    done = iter(range(1, 1000))

    def vote(index):
        user_id = voters[index]
        user = db.session.get(User, user_id)
        targets = {wid: db.session.get(Work, wid) for wid in (a, b, c)}
        plan = [("like", a)] + ([("like", b)] if index % 3 else [("like", c)])
        if index % 6 == 0:
            plan.append(("unlike", c))
        for action, wid in plan:
            if action == "like":
                liked, _ = services.like_work(user, targets[wid])
            else:
                liked, _ = services.unlike_work(user, targets[wid])
            with lock:
                (acknowledged.add if liked else acknowledged.discard)((user_id, wid))
        with lock:
            if next(done) == len(voters) // 2:
                halfway.set()

    errors: list[Exception] = []
    storm = threading.Thread(target=lambda: errors.extend(in_threads(app, range(len(voters)), vote, THREADS)))
    storm.start()
    assert halfway.wait(60)
    assert flush_test_keys() > 0
    storm.join(120)
    assert errors == []

    # No acknowledged like is missing from SQL, and no acknowledged unlike came back.
    assert liked_pairs() == acknowledged
    # Even before any repair, Redis never shows a number off by more than the likes in flight.
    for w in works:
        redis_likes = _redis_likes(w.id)
        assert redis_likes is None or abs(redis_likes - like_rows(w.id)) <= THREADS

    reconcile.reconcile_counters()
    for w in works:
        _assert_exact(w)
    assert [ranked.work_id for ranked in services.top_works(Ranking.of()).items] == [a, b, c]

    reconcile.rebuild_counters()
    for w in works:
        _assert_exact(w)
