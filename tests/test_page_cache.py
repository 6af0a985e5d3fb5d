"""The shared page cache (app/page_cache.py, docs/scaling.md "The page cache"): one body per key
for everyone, nothing personal in it, purged by what changes it, 304s, the right Cache-Control,
one render per expired hot key, and pages still served when the cache's Redis is gone.

The suite's app renders shared bodies without storing them (TestingConfig); these tests turn the
store on (``cached_app``)."""

from __future__ import annotations

import json
import threading

import pytest

from app import page_cache, redis_keys
from app.engagement import comments
from app.engagement import services as engagement
from app.models import Role
from app.moderation import accounts, comment_review
from app.moderation import services as moderation
from app.notifications import services as notifications
from app.wall import services as wall
from tests.builders_support import make_published_story, make_work
from tests.fault_support import RedisServer
from tests.sign_in_support import page_state, sign_in

pytestmark = pytest.mark.also_on_redis_cluster

CONCURRENT = 64


@pytest.fixture
def cached_app(app):
    app.config["PAGE_CACHE_ENABLED"] = True
    return app


@pytest.fixture
def work(cached_app, open_campaign):
    return make_published_story(open_campaign)


@pytest.fixture
def account_a(make_user, work):
    """A signed-in member with everything personal a page could show: a like, an unread bell,
    the right to edit the work."""
    user = make_user(Role.COLLECTIVE, collective=work.collective, email="wang.a@example.com")
    engagement.like_work(user, work)
    notifications.work_approved(make_user(Role.ADMIN), work)
    return user


def _get(client, path, **headers):
    return client.get(path, headers=headers)


def test_a_second_request_for_a_page_is_served_from_the_cache(cached_app, work):
    before = page_cache.stats.get("renders")
    assert _get(cached_app.test_client(), f"/works/{work.id}").headers["X-Cache"] == "miss"
    again = _get(cached_app.test_client(), f"/works/{work.id}")
    assert again.status_code == 200 and again.headers["X-Cache"] == "hit"
    assert page_cache.stats.get("renders") - before == 1


def test_a_body_rendered_for_a_signed_in_account_holds_nothing_of_theirs(
    cached_app, work, account_a, make_user
):
    a = cached_app.test_client()
    sign_in(a, account_a)
    csrf_of_a = page_state(a, work.id)["csrf_token"]
    paths = ["/", f"/works/{work.id}", "/wall", f"/collectives/{work.collective_id}", "/search?q=站台"]
    rendered_for_a = {path: _get(a, path) for path in paths}
    assert all(r.headers["X-Cache"] == "miss" for r in rendered_for_a.values())
    b = cached_app.test_client()
    sign_in(b, make_user())
    for path in paths:
        for client in (b, cached_app.test_client()):
            response = _get(client, path)
            assert response.headers["X-Cache"] == "hit", path
            body = response.get_data(as_text=True)
            assert body == rendered_for_a[path].get_data(as_text=True)
            for secret in (account_a.display_name, account_a.email, csrf_of_a, 'aria-pressed="true"'):
                assert secret not in body, (path, secret)


def test_the_api_adds_each_callers_own_liked_by_me_to_the_shared_answer(
    cached_app, work, account_a, make_user
):
    a = cached_app.test_client()
    sign_in(a, account_a)
    b = cached_app.test_client()
    sign_in(b, make_user())
    path = f"/api/v1/works/{work.id}"
    assert _get(cached_app.test_client(), path).json["liked_by_me"] is False
    answers = {name: _get(c, path) for name, c in (("a", a), ("b", b))}
    assert {name: r.headers["X-Cache"] for name, r in answers.items()} == {"a": "hit", "b": "hit"}
    assert answers["a"].json["liked_by_me"] is True and answers["b"].json["liked_by_me"] is False
    listed = _get(a, "/api/v1/works").json["items"]
    assert [item["liked_by_me"] for item in listed if item["id"] == work.id] == [True]


def test_a_take_down_is_404_at_once_on_the_page_and_the_api(cached_app, work, make_user):
    client = cached_app.test_client()
    for path in (f"/works/{work.id}", f"/api/v1/works/{work.id}", f"/api/v1/works/{work.id}/comments"):
        assert _get(client, path).status_code == 200
        assert _get(client, path).headers["X-Cache"] == "hit"
    moderation.reject_work(make_user(Role.ADMIN), work.id, "内容不符合活动要求")
    for path in (f"/works/{work.id}", f"/api/v1/works/{work.id}", f"/api/v1/works/{work.id}/comments"):
        assert _get(client, path).status_code == 404, path


def test_a_render_that_raced_a_purge_does_not_store_its_body(cached_app, work):
    # The purge lands while the page is being rendered: the body it had read is not kept.
    group = page_cache.work_group(work.id)
    rendering = page_cache.cached(lambda: group)(lambda: (page_cache.purge(group), "old body")[1])
    with cached_app.test_request_context(f"/works/{work.id}"):
        assert rendering().get_data(as_text=True) == "old body"
    assert not cached_app.extensions["page_cache"]["client"].exists(redis_keys.page_cache_key(group))


def test_a_newly_featured_work_is_on_the_wall_at_once(cached_app, work, make_user):
    client = cached_app.test_client()
    assert _get(client, "/api/v1/wall").json["featured"] == []
    assert "推荐语" not in _get(client, "/wall").get_data(as_text=True)
    wall.feature(make_user(Role.MODERATOR), work.id, "推荐语")
    assert [item["id"] for item in _get(client, "/api/v1/wall").json["featured"]] == [work.id]
    assert "推荐语" in _get(client, "/wall").get_data(as_text=True)


def test_a_hidden_comment_is_gone_at_once(cached_app, work, make_user):
    author = make_user()
    comment = comments.post_comment(author, work, "这条评论会被隐藏")
    client = cached_app.test_client()
    assert "这条评论会被隐藏" in _get(client, f"/works/{work.id}").get_data(as_text=True)
    assert _get(client, f"/api/v1/works/{work.id}/comments").json["items"]
    comment_review.hide_comment(make_user(Role.ADMIN), comment.id, "不文明用语")
    assert "这条评论会被隐藏" not in _get(client, f"/works/{work.id}").get_data(as_text=True)
    assert _get(client, f"/api/v1/works/{work.id}/comments").json["items"] == []


def _expire_every_variant(cached_app, group):
    """What PAGE_CACHE_PAGE_SECONDS does in time: every stored body of the group turns stale."""
    redis = cached_app.extensions["page_cache"]["client"]
    key = redis_keys.page_cache_key(group)
    for field, raw in redis.hgetall(key).items():
        entry = page_cache.Entry.load(raw)
        entry.expires_at = 0
        redis.hset(key, field, entry.dump())


def test_a_new_comment_reaches_the_shared_page_within_its_bound_without_a_purge(cached_app, work, make_user):
    client = cached_app.test_client()
    _get(client, f"/works/{work.id}")
    comments.post_comment(make_user(), work, "刚刚发表的评论")
    # Readers keep the body they share until it ages out, as its counts do: on a hot work, one
    # comment a second re-rendered its page a second (docs/performance.md).
    page = _get(client, f"/works/{work.id}")
    assert page.headers["X-Cache"] == "hit" and "刚刚发表的评论" not in page.get_data(as_text=True)
    redis = cached_app.extensions["page_cache"]["client"]
    for raw in redis.hvals(redis_keys.page_cache_key(page_cache.work_group(work.id))):
        left = page_cache.Entry.load(raw).expires_at - page_cache.time.time()
        assert 0 < left <= cached_app.config["PAGE_CACHE_PAGE_SECONDS"] <= 10
    _expire_every_variant(cached_app, page_cache.work_group(work.id))
    assert "刚刚发表的评论" in _get(client, f"/works/{work.id}").get_data(as_text=True)


def test_the_author_of_a_new_comment_sees_it_at_once(cached_app, work, make_user):
    author = make_user()
    client = cached_app.test_client()
    assert _get(client, f"/api/v1/works/{work.id}/comments").json["items"] == []
    comments.post_comment(author, work, "我刚写的评论")
    sign_in(client, author)
    # The page's script asks the API as its author (own_comments), which answers them fresh.
    assert page_state(client, work.id)["own_comments"] == [work.id]
    mine = _get(client, f"/api/v1/works/{work.id}/comments").json["items"]
    assert [item["body"] for item in mine] == ["我刚写的评论"]


def test_lists_expire_within_their_bound(cached_app, work):
    client = cached_app.test_client()
    _get(client, "/")
    key = redis_keys.page_cache_key("home")
    redis = cached_app.extensions["page_cache"]["client"]
    [raw] = redis.hvals(key)
    entry = page_cache.Entry.load(raw)
    bound = cached_app.config["PAGE_CACHE_LIST_SECONDS"]
    assert 0 < entry.expires_at - page_cache.time.time() <= bound
    # An expired body is served at most the lock's life longer (docs/scaling.md, "Bounds").
    assert bound + cached_app.config["PAGE_CACHE_LOCK_SECONDS"] <= 10


def test_if_none_match_gets_304(cached_app, work):
    client = cached_app.test_client()
    first = _get(client, f"/works/{work.id}")
    again = _get(client, f"/works/{work.id}", **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_anonymous_public_bodies_may_be_held_by_a_shared_cache(cached_app, work):
    for path in ("/", f"/works/{work.id}", "/wall", f"/api/v1/works/{work.id}", "/api/v1/campaigns"):
        response = _get(cached_app.test_client(), path)
        assert response.headers["Cache-Control"].startswith("public, max-age=0, s-maxage="), path
        assert "stale-while-revalidate=" in response.headers["Cache-Control"]
        assert "Accept-Language" in response.headers["Vary"] and "Cookie" in response.headers["Vary"]
        assert "Set-Cookie" not in response.headers


def test_the_state_call_is_never_cacheable(cached_app, work, make_user):
    client = cached_app.test_client()
    assert _get(client, "/api/v1/me/state").headers["Cache-Control"] == "private, no-store"
    sign_in(client, make_user())
    assert _get(client, f"/api/v1/me/state?works={work.id}").headers["Cache-Control"] == "private, no-store"


def test_log_in_pages_are_never_cacheable(cached_app):
    client = cached_app.test_client()
    for path in ("/login", "/register", "/login", "/forgot-password"):
        assert _get(client, path).headers["Cache-Control"] == "private, no-store", path


def test_an_answer_that_sets_a_cookie_is_never_cacheable(cached_app, work):
    answer = _get(cached_app.test_client(), f"/works/{work.id}?lang=en")
    assert "Set-Cookie" in answer.headers and answer.headers["Cache-Control"] == "private, no-store"


def test_a_signed_in_callers_api_answer_is_private(cached_app, work, make_user):
    client = cached_app.test_client()
    sign_in(client, make_user())
    assert _get(client, f"/api/v1/works/{work.id}").headers["Cache-Control"] == "private, no-store"


def test_the_state_call_refuses_a_malformed_list_of_works(cached_app):
    assert _get(cached_app.test_client(), "/api/v1/me/state?works=1,abc").status_code == 400
    many = ",".join(str(n) for n in range(1, 102))
    assert _get(cached_app.test_client(), f"/api/v1/me/state?works={many}").status_code == 400


def _concurrently(cached_app, path: str) -> list:
    barrier = threading.Barrier(CONCURRENT)
    answers: list = [None] * CONCURRENT

    def fetch(n: int) -> None:
        client = cached_app.test_client()
        barrier.wait()
        answers[n] = client.get(path).status_code

    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_64_concurrent_requests_for_an_expired_hot_key_render_it_once(cached_app, work):
    path = f"/works/{work.id}"
    _get(cached_app.test_client(), path)
    redis = cached_app.extensions["page_cache"]["client"]
    key = redis_keys.page_cache_key(page_cache.work_group(work.id))
    [(field, raw)] = redis.hgetall(key).items()
    expired = page_cache.Entry.load(raw)
    expired.expires_at = 0
    redis.hset(key, field, expired.dump())
    before = page_cache.stats.get("renders")
    assert _concurrently(cached_app, path) == [200] * CONCURRENT
    assert page_cache.stats.get("renders") - before == 1


def test_64_concurrent_requests_for_a_key_gone_from_redis_render_it_once(cached_app, work):
    before = page_cache.stats.get("renders")
    assert _concurrently(cached_app, f"/works/{work.id}") == [200] * CONCURRENT
    assert page_cache.stats.get("renders") - before == 1


def test_with_the_cache_redis_stopped_mid_run_every_page_answers_200(cached_app, work, tmp_path, make_user):
    admin = make_user(Role.ADMIN)
    server = RedisServer(tmp_path / "cache-redis.log")
    try:
        page_cache.bind_cache_redis(cached_app, server.url)
        paths = ["/", f"/works/{work.id}", "/wall", f"/collectives/{work.collective_id}", "/search?q=站台"]
        paths += [f"/api/v1/works/{work.id}", "/api/v1/works", "/api/v1/wall", "/api/v1/campaigns"]
        client = cached_app.test_client()
        for path in paths:
            client.get(path)
        assert {client.get(path).headers["X-Cache"] for path in paths} == {"hit"}
        server.kill()
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["X-Cache"] == "off"
        moderation.reject_work(admin, work.id, "下架")  # a purge with no Redis: the page still goes
        assert client.get(f"/works/{work.id}").status_code == 404
    finally:
        server.stop()


def test_the_cache_keys_are_hash_tagged_per_group(cached_app):
    with cached_app.test_request_context("/"):
        keys = [
            redis_keys.page_cache_key("w:7"),
            redis_keys.page_cache_generation_key("w:7"),
            redis_keys.page_cache_lock_key("w:7", "abc"),
        ]
    assert {key[key.index("{") : key.index("}") + 1] for key in keys} == {"{pc:w:7}"}
    assert json.dumps(keys)  # plain strings


def test_the_state_call_names_the_works_whose_comments_the_caller_must_see_as_their_own(
    cached_app, work, open_campaign, make_user
):
    quiet = make_work(work.collective, open_campaign, title="没有评论的作品")
    engagement.work_published(quiet)
    author = make_user()
    comments.post_comment(author, work, "我的评论")
    client = cached_app.test_client()
    sign_in(client, author)
    assert page_state(client, work.id, quiet.id)["own_comments"] == [work.id]


def test_a_banned_accounts_comments_are_gone_from_cached_pages_at_once(cached_app, work, make_user):
    spammer = make_user()
    comments.post_comment(spammer, work, "刷屏广告")
    client = cached_app.test_client()
    assert "刷屏广告" in _get(client, f"/works/{work.id}").get_data(as_text=True)
    accounts.ban_user(make_user(Role.MODERATOR), spammer.id, "广告")
    assert "刷屏广告" not in _get(client, f"/works/{work.id}").get_data(as_text=True)
    assert _get(client, f"/api/v1/works/{work.id}/comments").json["items"] == []
