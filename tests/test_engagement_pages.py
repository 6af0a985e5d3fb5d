"""Likes and views on the pages: like buttons on the work page and on every card, counts from
Redis (SQL when Redis is down), a view per viewer per work per day, and publication ranking a work."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app import redis_keys
from app.engagement import services, views
from app.engagement.views import flush_views, view_day
from app.extensions import db, redis_client
from app.models import Like, Role, Work, WorkStatus
from app.moderation import services as moderation
from app.works import services as svc
from tests.builders_support import make_collective, make_work
from tests.engagement_support import kill_redis
from tests.sign_in_support import page_state, sign_in

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
DESKTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"


@pytest.fixture
def work(app, open_campaign) -> Work:
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign, title="站台上的守候")
    services.work_published(work)
    return work


def _like_button(html: str) -> str:
    match = re.search(r'<(?:button|a) [^>]*class="like-button[^"]*"[^>]*>', html)
    assert match, "no like button on the page"
    return match.group(0)


def _count(html: str, label: str) -> int:
    if label == "点赞":
        return int(re.search(r'<span class="like-count">(\d+)</span>', html).group(1))
    return int(re.search(rf"<span>{label} (\d+)</span>", html).group(1))


def _sql_views(work_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(Work.view_count).where(Work.id == work_id))


# --- like buttons -----------------------------------------------------------------------------


def test_the_work_page_has_a_like_toggle_for_a_signed_in_viewer(client, work, make_user):
    # The page is one shared body: its like carries the toggle's URL, and the state call tells
    # the script (static/js/state.js) that this viewer may like and has not yet.
    sign_in(client, make_user())
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    assert f'data-like-work="{work.id}"' in html
    assert f'data-like-url="/api/v1/works/{work.id}/like"' in _like_button(html)
    state = page_state(client, work.id)
    assert state["signed_in"] and state["liked"] == []


def test_a_liked_work_shows_the_toggle_pressed_and_its_count(client, work, make_user):
    user = make_user()
    services.like_work(user, work)
    sign_in(client, user)
    assert _count(client.get(f"/works/{work.id}").get_data(as_text=True), "点赞") == 1
    state = page_state(client, work.id)
    assert state["liked"] == [work.id] and state["counts"][str(work.id)]["likes"] == 1


def test_a_signed_out_visitor_gets_a_link_to_log_in_and_come_back(client, work):
    button = _like_button(client.get(f"/works/{work.id}?from=share").get_data(as_text=True))
    assert button.startswith("<a ")
    assert f'href="/login?next=/works/{work.id}?from%3Dshare"' in button


def test_every_card_on_the_home_page_has_a_like_toggle(client, work, open_campaign, make_user):
    other = make_work(work.collective, open_campaign, title="第二件作品")
    services.work_published(other)
    user = make_user()
    services.like_work(user, other)
    sign_in(client, user)
    html = client.get("/").get_data(as_text=True)
    on_page = sorted(int(i) for i in re.findall(r'data-like-work="(\d+)"', html))
    assert on_page == sorted([work.id, other.id])
    assert page_state(client, *on_page)["liked"] == [other.id]


def test_the_pages_load_the_like_script(client, work):
    assert "/static/js/likes.js" in client.get("/").get_data(as_text=True)


def test_an_unpublished_work_has_no_like_toggle(client, open_campaign, make_user):
    group = make_collective("集体")
    draft = make_work(group, open_campaign, status=WorkStatus.DRAFT)
    sign_in(client, make_user(Role.COLLECTIVE, collective=group))
    html = client.get(f"/works/{draft.id}").get_data(as_text=True)
    assert "like-button" not in html and "<span>点赞 0</span>" in html


def test_counts_on_pages_come_from_the_redis_counters(client, work):
    redis_client.client.hset(redis_keys.counts_key(work.id), "likes", 42)
    assert _count(client.get(f"/works/{work.id}").get_data(as_text=True), "点赞") == 42
    assert _count(client.get("/").get_data(as_text=True), "点赞") == 42


def test_publishing_ranks_the_work_with_its_likes(app, open_campaign, make_user):
    group = make_collective("集体")
    member = make_user(Role.COLLECTIVE, collective=group)
    work = svc.create_story(member, title="新作", body="正文", campaign_id=open_campaign.id)
    svc.submit_for_review(work, member)
    moderation.approve_work(make_user(Role.ADMIN), work.id)
    for ranking in services.work_rankings(work):
        assert redis_client.client.zscore(ranking.key(), redis_keys.member(work.id)) is not None, ranking.name


# --- views ------------------------------------------------------------------------------------


_BEACON = re.compile(r'data-view-beacon="([^"]+)"')


def _open_page(client, work, agent=PHONE_UA) -> str:
    """A browser opening the work page: its script (static/js/views.js) posts the view beacon,
    and once more when the first answer gave it its visitor cookie (202)."""
    html = client.get(f"/works/{work.id}", headers={"User-Agent": agent}).get_data(as_text=True)
    beacon = _BEACON.search(html).group(1).replace("&amp;", "&")
    answer = client.post(beacon, headers={"User-Agent": agent})
    if answer.status_code == 202:
        answer = client.post(beacon + "&again=1", headers={"User-Agent": agent})
    assert answer.status_code == 204
    return html


def test_opening_the_work_page_counts_one_view_per_visitor_per_day(app, client, work):
    _open_page(client, work)
    html = _open_page(client, work, DESKTOP_UA)  # the same browser, whatever it says it is
    assert _count(html, "浏览") == 1
    _open_page(app.test_client(), work)  # another browser
    assert services.counts_for([work.id])[work.id].views == 2


def test_a_known_visitor_is_counted_by_one_beacon_without_a_new_cookie(client, work):
    _open_page(client, work)
    redis_client.client.delete(redis_keys.seen_key(work.id, view_day()))  # a new day, as it were
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    answer = client.post(_BEACON.search(html).group(1).replace("&amp;", "&"))
    assert answer.status_code == 204 and "Set-Cookie" not in answer.headers
    assert services.counts_for([work.id])[work.id].views == 2


def test_a_signed_in_viewer_counts_once_whatever_the_device(client, work, make_user):
    sign_in(client, make_user())
    for agent in (PHONE_UA, DESKTOP_UA):
        _open_page(client, work, agent)
    assert services.counts_for([work.id])[work.id].views == 1


def test_an_unpublished_work_counts_no_view(client, open_campaign, make_user):
    group = make_collective("集体")
    draft = make_work(group, open_campaign, status=WorkStatus.PENDING_REVIEW)
    sign_in(client, make_user(Role.COLLECTIVE, collective=group))
    client.get(f"/works/{draft.id}")
    assert views.pending_views(draft.id) == 0


def test_a_head_request_is_not_a_view(client, work):
    client.head(f"/works/{work.id}")
    assert views.pending_views(work.id) == 0


def test_the_periodic_flush_moves_page_views_to_sql(app, client, work):
    _open_page(client, work)
    _open_page(app.test_client(), work, DESKTOP_UA)
    assert _sql_views(work.id) == 0
    assert flush_views() == 2
    assert _sql_views(work.id) == 2
    assert services.counts_for([work.id])[work.id].views == 2


# --- Redis down -------------------------------------------------------------------------------


@pytest.fixture
def liked_work(work, make_user):
    services.like_work(make_user(), work)
    work.view_count = 5  # flushed views
    db.session.commit()
    return work


@pytest.mark.parametrize("path", ["/", "/?sort=hot", "/?sort=likes", "/?province=北京&kind=story&sort=hot"])
def test_with_redis_down_the_home_page_renders_with_counts_from_sql(client, liked_work, path):
    kill_redis()
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert liked_work.title in html
    assert (_count(html, "点赞"), _count(html, "浏览")) == (1, 5)


def test_with_redis_down_the_work_page_renders_with_counts_from_sql(client, liked_work, make_user):
    user = make_user()
    sign_in(client, user)
    db.session.add(Like(user_id=user.id, work_id=liked_work.id))
    db.session.commit()
    kill_redis()
    response = client.get(f"/works/{liked_work.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (_count(html, "点赞"), _count(html, "浏览")) == (2, 5)
    state = page_state(client, liked_work.id)  # what the page's script fills in, from SQL
    assert state["liked"] == [liked_work.id] and state["counts"][str(liked_work.id)]["likes"] == 2


def test_with_redis_down_the_collective_page_renders(client, liked_work):
    kill_redis()
    response = client.get(f"/collectives/{liked_work.collective_id}")
    assert response.status_code == 200 and _count(response.get_data(as_text=True), "点赞") == 1
