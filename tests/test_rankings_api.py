"""GET /api/v1/works?sort=likes|hot and the home page's sort: the Redis rankings, cursor pagination,
filters mapped to a ranking's scope or post-filtered, and SQL when Redis is down."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import redis_keys
from app.engagement import counters, services
from app.engagement.work_lists import ranking_for
from app.extensions import db, redis_client
from app.models import User, WorkStatus, utcnow
from app.works.listing import WorkFilters
from tests.builders_support import make_campaign, make_voters, make_work
from tests.engagement_support import kill_redis


def _published(collective, campaign, title, *, kind="story", likes=0, published_at=None):
    work = make_work(collective, campaign, title=title, kind=kind, published_at=published_at)
    services.work_published(work)
    for user_id in make_voters(likes, start=work.id * 1000) if likes else []:
        services.like_work(db.session.get(User, user_id), work)
    return work


def _ids(client, query: str = "") -> list[int]:
    response = client.get(f"/api/v1/works?{query}")
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def test_likes_lists_the_most_liked_first(client, metro, open_campaign):
    one = _published(metro, open_campaign, "一赞", likes=1)
    three = _published(metro, open_campaign, "三赞", likes=3)
    none = _published(metro, open_campaign, "无赞")
    assert _ids(client, "sort=likes") == [three.id, one.id, none.id]


def test_the_order_is_the_redis_rankings(client, metro, open_campaign):
    first = _published(metro, open_campaign, "甲")
    second = _published(metro, open_campaign, "乙")
    # SQL says both have no like; the ranking alone puts the older one on top.
    redis_client.client.zadd(counters.Ranking.of("likes").key(), {redis_keys.member(first.id): 9})
    assert _ids(client, "sort=likes") == [first.id, second.id]


def test_hot_lets_a_fresh_work_overtake_an_older_one_with_more_likes(client, metro, open_campaign):
    older = _published(metro, open_campaign, "前天", likes=3, published_at=utcnow() - timedelta(days=2))
    fresh = _published(metro, open_campaign, "刚发布", likes=1)
    assert _ids(client, "sort=hot") == [fresh.id, older.id]
    assert _ids(client, "sort=likes") == [older.id, fresh.id]


def test_a_like_moves_the_work_up_at_once(client, metro, open_campaign):
    quiet = _published(metro, open_campaign, "安静")
    _published(metro, open_campaign, "一赞", likes=1)
    for user_id in make_voters(2, start=90_000):
        services.like_work(db.session.get(User, user_id), quiet)
    assert _ids(client, "sort=likes")[0] == quiet.id


def test_cursor_pagination_walks_the_ranking_once(client, metro, open_campaign):
    works = [_published(metro, open_campaign, f"作品{n}") for n in range(23)]
    for user_id in make_voters(1, start=80_000):
        services.like_work(db.session.get(User, user_id), works[5])
    seen, cursor, pages = [], None, 0
    while True:
        response = client.get(
            "/api/v1/works", query_string={"sort": "likes", **({"cursor": cursor} if cursor else {})}
        )
        seen += [item["id"] for item in response.json["items"]]
        pages += 1
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    # Best first; equal scores newest (highest id) first.
    others = sorted((w.id for w in works if w is not works[5]), reverse=True)
    assert seen == [works[5].id, *others] and pages == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("province=上海", ["银行二赞", "银行无赞"]),
        ("industry=交通运输", ["地铁三赞", "地铁视频"]),
        ("kind=video", ["地铁视频"]),
        ("province=北京&kind=story", ["地铁三赞"]),
        ("industry=金融&province=北京", []),
        ("campaign_id={other}&province=上海", ["银行无赞"]),
    ],
)
def test_filters_keep_the_ranking_order(client, metro, bank, open_campaign, query, expected):
    other = make_campaign(title="另一个活动")
    _published(metro, open_campaign, "地铁三赞", likes=3)
    _published(metro, open_campaign, "地铁视频", kind="video")
    _published(bank, open_campaign, "银行二赞", likes=2)
    _published(bank, other, "银行无赞")
    response = client.get(f"/api/v1/works?sort=likes&{query.format(other=other.id)}")
    assert [item["title"] for item in response.json["items"]] == expected


def test_a_single_filter_reads_its_own_ranking_and_several_the_narrowest(app):
    assert ranking_for(WorkFilters(campaign_id=7), "hot") == counters.Ranking.of("hot", campaign_id=7)
    both = WorkFilters(campaign_id=7, industry="金融", province="上海")
    assert ranking_for(both, "likes") == counters.Ranking.of("likes", province="上海")
    assert ranking_for(WorkFilters(campaign_id=7, industry="金融"), "likes").scope == "industry"


def test_a_post_filtered_page_examines_a_bounded_number_of_works_and_goes_on(app, metro, open_campaign):
    works = [_published(metro, open_campaign, f"作品{n}") for n in range(12)]
    wanted = {works[0].id, works[1].id}  # the oldest: last in the ranking
    ranking = counters.Ranking.of("likes")
    page = services.top_works(ranking, limit=5, keep=lambda ids: wanted & set(ids), scan_limit=6)
    assert page.items == [] and page.next_cursor is not None
    found = []
    while page.next_cursor:
        page = services.top_works(
            ranking, cursor=page.next_cursor, limit=5, keep=lambda ids: wanted & set(ids), scan_limit=6
        )
        found += page.work_ids
    assert found == [works[1].id, works[0].id]


def test_a_work_withdrawn_since_it_was_ranked_is_not_listed(client, metro, open_campaign):
    kept = _published(metro, open_campaign, "在榜")
    gone = _published(metro, open_campaign, "已撤回")
    gone.status = WorkStatus.WITHDRAWN  # in SQL only: the ranking still holds it
    db.session.commit()
    assert _ids(client, "sort=hot") == [kept.id]


def test_with_redis_down_the_rankings_come_from_sql_in_the_same_order(client, metro, bank, open_campaign):
    one = _published(metro, open_campaign, "一赞", likes=1)
    two = _published(bank, open_campaign, "二赞", likes=2)
    fresh = _published(metro, open_campaign, "新作")
    expected = {sort: _ids(client, f"sort={sort}") for sort in ("likes", "hot")}
    kill_redis()
    for sort in ("likes", "hot"):
        assert _ids(client, f"sort={sort}") == expected[sort]
    assert expected["likes"] == [two.id, one.id, fresh.id]
    assert _ids(client, "sort=likes&province=北京") == [one.id, fresh.id]


def test_a_cursor_of_another_sort_is_400_invalid_cursor(client, metro, open_campaign):
    for n in range(25):
        _published(metro, open_campaign, f"作品{n}")
    cursor = client.get("/api/v1/works?sort=new").json["next_cursor"]
    response = client.get("/api/v1/works", query_string={"sort": "hot", "cursor": cursor})
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_cursor"


def test_new_stays_newest_first(client, metro, open_campaign):
    old = _published(metro, open_campaign, "旧", likes=2, published_at=utcnow() - timedelta(days=1))
    new = _published(metro, open_campaign, "新")
    assert _ids(client, "sort=new") == [new.id, old.id]


# --- the home page ---------------------------------------------------------------------------


def test_the_home_page_sorts_by_the_selected_ranking(client, metro, open_campaign):
    _published(metro, open_campaign, "少赞", likes=1)
    _published(metro, open_campaign, "多赞", likes=2)
    _published(metro, open_campaign, "最新无赞")
    html = client.get("/?sort=likes").get_data(as_text=True)
    assert html.index("多赞") < html.index("少赞") < html.index("最新无赞")
    assert '<option value="likes" selected>点赞最多</option>' in html


def test_the_home_page_offers_newest_hottest_and_most_liked(client):
    html = client.get("/").get_data(as_text=True)
    for value, label in (("new", "最新"), ("hot", "最热"), ("likes", "点赞最多")):
        assert f'value="{value}"' in html and label in html
