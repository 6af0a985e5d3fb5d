"""Redis keys, the fence, hot scores and rankings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis.crc import key_slot

from app import redis_keys
from app.engagement import counters, reconcile, scoring, services
from app.engagement.scoring import Ranking
from app.errors import ServiceError
from app.extensions import db, redis_client
from app.models import User, WorkStatus, utcnow
from tests.builders_support import make_collective, make_voters, make_work
from tests.engagement_support import kill_redis, own_keys, ranking_ids, zscore


def _like_n(work, n: int, start: int = 0) -> None:
    for user_id in make_voters(n, start):
        services.like_work(db.session.get(User, user_id), work)


# --- keys ------------------------------------------------------------------------------------


def test_every_engagement_key_starts_with_the_configured_prefix(app, open_campaign, make_user):
    work = make_work(make_collective("集体"), open_campaign)
    services.work_published(work)
    services.like_work(make_user(), work)
    prefix = app.config["REDIS_KEY_PREFIX"].encode()
    keys = own_keys()
    assert keys and all(key.startswith(prefix) for key in keys)
    assert all(b"{" in key and b"}" in key for key in keys)


def test_the_keys_of_one_work_share_one_cluster_slot(app):
    keys = [
        redis_keys.counts_key(42),
        redis_keys.fence_key(42),
        redis_keys.pending_views_key(42),
        redis_keys.seen_key(42, "20260701"),
    ]
    assert len({key_slot(key.encode()) for key in keys}) == 1
    assert key_slot(redis_keys.counts_key(43).encode()) != key_slot(redis_keys.counts_key(42).encode())


def test_a_rankings_temporary_key_shares_its_slot_so_it_can_be_renamed_over_it(app):
    ranking = Ranking.of("hot", province="北京")
    assert key_slot(ranking.temp_key("abcd").encode()) == key_slot(ranking.key().encode())


@pytest.mark.parametrize(
    "ranking",
    [
        Ranking.of(),
        Ranking.of("hot"),
        Ranking.of(campaign_id=7),
        Ranking.of("hot", industry="交通运输"),
        Ranking.of(province="新疆生产建设兵团"),
        Ranking.of(industry="a}b{c*d:e%f g"),
    ],
    ids=lambda r: r.name,
)
def test_a_ranking_is_recognised_from_its_key(app, ranking):
    assert scoring.parse_ranking_key(ranking.key()) == (ranking, False)
    assert scoring.parse_ranking_key(ranking.temp_key("ab12")) == (ranking, True)


def test_a_ranking_has_at_most_one_scope():
    with pytest.raises(ValueError):
        Ranking.of(campaign_id=1, province="北京")


# --- hot score -------------------------------------------------------------------------------


def test_a_hot_score_needs_ten_times_the_likes_to_keep_up_with_a_work_one_decay_period_newer(app):
    older = utcnow()
    newer = older + timedelta(seconds=app.config["HOT_DECAY_SECONDS"])
    assert scoring.hot_score(99, older) == pytest.approx(scoring.hot_score(9, newer))


def test_a_hot_score_decays_so_a_newer_work_passes_an_older_one_with_more_likes(app):
    now = utcnow()
    assert scoring.hot_score(1, now) > scoring.hot_score(5, now - timedelta(days=1))
    assert scoring.hot_score(50, now - timedelta(hours=1)) > scoring.hot_score(1, now)


def test_live_hot_scores_equal_the_ones_recomputed_from_sql(app, open_campaign):
    work = make_work(make_collective("集体"), open_campaign)
    services.work_published(work)
    _like_n(work, 7)
    live = zscore(Ranking.of("hot"), work.id)
    assert live == pytest.approx(scoring.hot_score(7, work.published_at), abs=scoring.HOT_TOLERANCE)


# --- rankings --------------------------------------------------------------------------------


@pytest.fixture
def three_works(app, open_campaign):
    beijing = make_collective("北京地铁", "交通运输", "北京")
    shanghai = make_collective("上海银行", "金融", "上海")
    works = [
        make_work(beijing, open_campaign, title="一"),
        make_work(shanghai, open_campaign, title="二"),
        make_work(beijing, open_campaign, title="三"),
    ]
    for work in works:
        services.work_published(work)
    _like_n(works[0], 1, 0)
    _like_n(works[1], 3, 100)
    _like_n(works[2], 2, 200)
    return works


def test_the_likes_ranking_orders_works_by_likes(three_works):
    one, two, three = (w.id for w in three_works)
    assert services.top_works(Ranking.of()).work_ids == [two, three, one]


@pytest.mark.parametrize(
    ("scope", "expected"),
    [({"province": "北京"}, [2, 0]), ({"industry": "金融"}, [1]), ({"province": "广东"}, [])],
)
def test_a_scoped_ranking_holds_only_the_works_of_its_scope(three_works, scope, expected):
    assert services.top_works(Ranking.of(**scope)).work_ids == [three_works[i].id for i in expected]


def test_the_campaign_ranking_holds_the_campaigns_works(three_works, open_campaign):
    ranking = Ranking.of(campaign_id=open_campaign.id)
    assert sorted(services.top_works(ranking).work_ids) == sorted(w.id for w in three_works)


def test_the_hot_ranking_puts_a_fresh_work_above_an_older_work_with_more_likes(app, open_campaign):
    collective = make_collective("集体")
    old = make_work(collective, open_campaign, title="旧", published_at=utcnow() - timedelta(days=3))
    new = make_work(collective, open_campaign, title="新")
    for work in (old, new):
        services.work_published(work)
    _like_n(old, 20)
    _like_n(new, 1, 100)
    assert services.top_works(Ranking.of()).work_ids == [old.id, new.id]
    assert services.top_works(Ranking.of("hot")).work_ids == [new.id, old.id]


def test_pages_of_a_ranking_follow_each_other_without_repeats_newest_first_among_ties(app, open_campaign):
    collective = make_collective("集体")
    works = [make_work(collective, open_campaign, title=f"作品{i}") for i in range(7)]
    for work in works:
        services.work_published(work)
    _like_n(works[3], 2)
    seen, cursor = [], None
    while True:
        page = services.top_works(Ranking.of(), cursor=cursor, limit=3)
        seen += page.work_ids
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    others = sorted((w.id for w in works if w is not works[3]), reverse=True)
    assert seen == [works[3].id, *others]


def test_a_cursor_continues_below_its_last_work_even_after_that_work_moved(app, open_campaign):
    collective = make_collective("集体")
    works = [make_work(collective, open_campaign, title=f"作品{i}") for i in range(5)]
    for work in works:
        services.work_published(work)
    first = services.top_works(Ranking.of(), limit=2)
    newest_first = sorted((w.id for w in works), reverse=True)
    assert first.work_ids == newest_first[:2]
    moved = next(w for w in works if w.id == first.work_ids[-1])
    _like_n(moved, 1)
    assert services.top_works(Ranking.of(), cursor=first.next_cursor, limit=5).work_ids == newest_first[2:]


def test_an_invalid_cursor_is_refused(app):
    with pytest.raises(ServiceError) as refused:
        services.top_works(Ranking.of(), cursor="not-a-cursor")
    assert refused.value.code == "invalid_cursor"


def test_rankings_are_computed_from_sql_in_the_same_order_when_redis_is_down(three_works):
    from_redis = services.top_works(Ranking.of(), limit=2)
    kill_redis()
    from_sql = services.top_works(Ranking.of(), limit=2)
    assert from_sql.from_sql and not from_redis.from_sql
    assert from_sql.work_ids == from_redis.work_ids
    assert services.top_works(Ranking.of(), cursor=from_sql.next_cursor).work_ids == [three_works[0].id]
    assert services.top_works(Ranking.of("hot"), limit=3).from_sql


def test_a_ranking_missing_from_redis_is_answered_from_sql(three_works):
    redis_client.client.delete(Ranking.of().key())
    page = services.top_works(Ranking.of())
    assert page.from_sql
    assert page.work_ids == [three_works[1].id, three_works[2].id, three_works[0].id]


def test_a_published_work_enters_every_ranking_with_its_likes(app, open_campaign, make_user):
    work = make_work(make_collective("集体"), open_campaign)
    services.work_published(work)
    services.like_work(make_user(), work)
    services.work_unpublished(work)
    services.work_published(work)
    for ranking in services.work_rankings(work):
        expected = 1 if ranking.metric == "likes" else scoring.hot_score(1, work.published_at)
        assert zscore(ranking, work.id) == pytest.approx(expected), ranking.name


def test_an_unpublished_work_leaves_every_ranking(app, open_campaign):
    work = make_work(make_collective("集体"), open_campaign)
    services.work_published(work)
    work.status = WorkStatus.WITHDRAWN
    db.session.commit()
    services.work_unpublished(work)
    assert all(zscore(ranking, work.id) is None for ranking in services.work_rankings(work))


def test_an_increment_never_puts_a_work_into_a_ranking_it_is_not_in(app, open_campaign):
    work = make_work(make_collective("集体"), open_campaign)
    services.work_published(work)
    services.work_unpublished(work)  # e.g. withdrawn while a like was in flight
    flight = counters.begin_flight(work.id, services.work_rankings(work))
    flight.likes = 1
    assert flight.finish().rankings_missing
    assert ranking_ids(Ranking.of()) == []


# --- the fence -------------------------------------------------------------------------------


def test_a_stale_fence_token_of_a_dead_writer_does_not_hold_up_a_recount(app, open_campaign, make_user):
    work = make_work(make_collective("集体"), open_campaign)
    services.work_published(work)
    redis_client.client.hset(redis_keys.fence_key(work.id), "t:deadbeef", 1)  # 1 ms after 1970
    services.like_work(make_user(), work)
    recount = reconcile.recount_works([work.id])
    assert recount.unsettled == set()
    assert recount.counts[work.id].likes == 1


def test_a_recount_while_a_write_stays_in_flight_only_fills_gaps_and_queues_the_work(
    app, open_campaign, monkeypatch
):
    work = make_work(make_collective("集体"), open_campaign)
    services.work_published(work)
    flight = counters.begin_flight(work.id)
    redis_client.client.hset(redis_keys.counts_key(work.id), "likes", 5)  # must not be overwritten
    monkeypatch.setattr(counters, "DRAIN_WAIT_SECONDS", 0.05)
    recount = reconcile.recount_works([work.id])
    flight.abandon()
    assert recount.unsettled == {work.id}
    assert recount.counts[work.id].likes == 5
    assert counters.take_for_repair(10) == [work.id]
