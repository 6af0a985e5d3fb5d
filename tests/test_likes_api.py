"""API v1 likes: PUT/DELETE /works/<id>/like — idempotent, signed in, refusals that say why,
503 with nothing written when Redis is down, and rate limits per account and per IP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.engagement import counters, services
from app.extensions import db
from app.models import Role, Work, utcnow
from tests.builders_support import make_collective, make_work
from tests.contract import assert_matches_schema
from tests.engagement_support import kill_redis, like_rows
from tests.sign_in_support import bearer, page_csrf_token, sign_in

pytestmark = pytest.mark.also_on_redis_cluster


@pytest.fixture
def work(app, open_campaign) -> Work:
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign)
    services.work_published(work)
    return work


def _like(client, work_id: int, headers: dict[str, str], method: str = "PUT", **environ):
    return client.open(f"/api/v1/works/{work_id}/like", method=method, headers=headers, environ_base=environ)


def _redis_likes(work_id: int) -> int:
    return counters.read_counts([work_id])[work_id].likes


# --- the calls --------------------------------------------------------------------------------


def test_a_like_answers_liked_and_the_new_count(client, work, make_user):
    response = _like(client, work.id, bearer(make_user()))
    assert response.status_code == 200
    assert response.json == {"liked": True, "likes": 1}
    assert_matches_schema("LikeState", response.json)
    assert like_rows(work.id) == 1 and _redis_likes(work.id) == 1


def test_repeating_a_like_changes_nothing(client, work, make_user):
    headers = bearer(make_user())
    _like(client, work.id, headers)
    assert _like(client, work.id, headers).json == {"liked": True, "likes": 1}
    assert like_rows(work.id) == 1 and _redis_likes(work.id) == 1


def test_delete_takes_the_like_back_and_repeating_it_changes_nothing(client, work, make_user):
    headers, other = bearer(make_user()), bearer(make_user())
    _like(client, work.id, headers)
    _like(client, work.id, other)
    assert _like(client, work.id, headers, "DELETE").json == {"liked": False, "likes": 1}
    assert _like(client, work.id, headers, "DELETE").json == {"liked": False, "likes": 1}
    assert like_rows(work.id) == 1 and _redis_likes(work.id) == 1


def test_the_work_then_says_liked_by_me(client, work, make_user):
    headers = bearer(make_user())
    _like(client, work.id, headers)
    body = client.get(f"/api/v1/works/{work.id}", headers=headers).json
    assert (body["likes"], body["liked_by_me"]) == (1, True)


def test_a_signed_out_like_is_401_json(client, work):
    response = _like(client, work.id, {})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert like_rows(work.id) == 0


def test_the_session_cookie_needs_the_csrf_header(client, work, make_user):
    sign_in(client, make_user())
    refused = _like(client, work.id, {})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "csrf_failed"
    assert like_rows(work.id) == 0
    accepted = _like(client, work.id, {"X-CSRFToken": page_csrf_token(client)})
    assert accepted.json == {"liked": True, "likes": 1}


def test_a_work_the_caller_cannot_see_is_404(client, open_campaign, make_user):
    draft = make_work(make_collective("集体"), open_campaign, status="draft")
    headers = bearer(make_user())
    assert _like(client, draft.id, headers).status_code == 404
    assert _like(client, draft.id + 1000, headers).json["error"]["code"] == "not_found"


def test_a_draft_its_collective_sees_is_409_work_not_published(client, open_campaign, make_user):
    group = make_collective("集体")
    draft = make_work(group, open_campaign, status="draft")
    response = _like(client, draft.id, bearer(make_user(Role.COLLECTIVE, collective=group)))
    assert response.status_code == 409
    assert response.json["error"]["code"] == "work_not_published"


def test_outside_the_voting_window_is_409_voting_closed_naming_the_window(client, work, make_user):
    work.campaign.voting_closes = utcnow() - timedelta(hours=1)
    db.session.commit()
    response = _like(client, work.id, bearer(make_user()))
    assert response.status_code == 409
    assert response.json["error"]["code"] == "voting_closed"
    assert response.json["error"]["message"].startswith("本次活动的投票时间为 ")
    assert like_rows(work.id) == 0


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_redis_down_is_503_counters_unavailable_and_nothing_is_written(client, work, make_user, method):
    user = make_user()
    headers = bearer(user)
    if method == "DELETE":
        _like(client, work.id, headers)
    kill_redis()
    response = _like(client, work.id, headers, method)
    assert response.status_code == 503
    assert response.json["error"] == {
        "code": "counters_unavailable",
        "message": "点赞服务暂时繁忙，请稍后再试。",
    }
    assert like_rows(work.id) == (1 if method == "DELETE" else 0)


# --- rate limits ------------------------------------------------------------------------------


def test_the_per_account_limit_is_429_while_a_colleague_on_the_same_ip_still_likes(
    app, client, open_campaign, make_user
):
    app.config["LIKE_RATE_LIMIT"] = "2 per minute"
    group = make_collective("集体")
    works = [make_work(group, open_campaign, title=f"作品{n}") for n in range(3)]
    eager, colleague = bearer(make_user()), bearer(make_user())
    office = {"REMOTE_ADDR": "203.0.113.7"}
    assert _like(client, works[0].id, eager, **office).status_code == 200
    assert _like(client, works[1].id, eager, **office).status_code == 200
    refused = _like(client, works[2].id, eager, **office)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json["error"] == {"code": "rate_limited", "message": "点赞太频繁了，请稍后再试。"}
    assert _like(client, works[2].id, colleague, **office).status_code == 200
    assert like_rows(works[2].id) == 1


def test_likes_and_unlikes_share_one_budget(app, client, work, make_user):
    app.config["LIKE_RATE_LIMIT"] = "2 per minute"
    headers = bearer(make_user())
    _like(client, work.id, headers)
    _like(client, work.id, headers, "DELETE")
    assert _like(client, work.id, headers).status_code == 429


def test_the_per_ip_limit_stops_an_address_whatever_the_account(app, client, work, make_user):
    app.config["LIKE_IP_RATE_LIMIT"] = "2 per minute"
    for _ in range(2):
        assert _like(client, work.id, bearer(make_user()), REMOTE_ADDR="198.51.100.9").status_code == 200
    assert _like(client, work.id, bearer(make_user()), REMOTE_ADDR="198.51.100.9").status_code == 429
    assert _like(client, work.id, bearer(make_user()), REMOTE_ADDR="198.51.100.10").status_code == 200


def test_the_default_limits_let_an_office_like_together():
    from limits import parse_many

    from config import Config

    per_ip = min(item.amount / item.get_expiry() * 60 for item in parse_many(Config.LIKE_IP_RATE_LIMIT))
    per_account = min(item.amount for item in parse_many(Config.LIKE_RATE_LIMIT))
    # A thousand colleagues behind one NAT each like a work within the same minute, and one
    # person still cannot like more than a screenful of works a minute.
    assert per_ip >= 1000 and per_account <= 100
