"""Bans and voiding likes: national decisions only, comments hidden and likes removed in SQL,
and every counter and ranking exact afterwards (the issue's Done-when: 50 accounts' likes on
5 works voided, the rest untouched)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import redis_keys
from app.engagement import comments, counters, measure, reconcile, scoring, services
from app.errors import ServiceError
from app.extensions import db, redis_client
from app.models import Comment, CommentStatus, Like, Role, User
from app.moderation import accounts, reports
from tests.builders_support import make_work
from tests.moderation_support import FLAGGED, build_place, event_count, events_of, post
from tests.sign_in_support import page_csrf_token, signed_in


@pytest.fixture
def place(make_collective, make_user, open_campaign):
    return build_place(make_collective, make_user, open_campaign)


def _accounts(n: int, tag: str) -> list[User]:
    """Many viewer accounts quickly (no password hashing: they never log in)."""
    users = [
        User(email=f"{tag}{i}@example.com", display_name=f"{tag}{i}", password_hash="-", role=Role.VIEWER)
        for i in range(n)
    ]
    db.session.add_all(users)
    db.session.commit()
    return users


def _assert_counters_and_rankings_match_sql(works) -> None:
    ids = [work.id for work in works]
    likes = measure.like_counts(ids)
    cached = counters.read_counts(ids)
    client = redis_client.client
    for work in works:
        expected = likes.get(work.id, 0)
        assert cached[work.id].likes == expected, work.id
        for ranking in services.work_rankings(work):
            score = client.zscore(ranking.key(), redis_keys.member(work.id))
            want = expected if ranking.metric == "likes" else scoring.hot_score(expected, work.published_at)
            assert score == pytest.approx(want, abs=1e-6), (work.id, ranking.name)


# --------------------------------------------------------------------------------------------
# Voiding likes.


def test_voiding_50_accounts_likes_leaves_counters_and_rankings_equal_to_a_recount_from_scratch(
    place, open_campaign
):
    works = [make_work(place.beijing_work.collective, open_campaign, title=f"作品{n}") for n in range(4)]
    works.append(place.shanghai_work)
    # Every published work ranked from the start, as publishing does (make_work writes rows only).
    reconcile.reconcile_counters()
    boosters = _accounts(50, "booster")
    honest = _accounts(12, "honest")
    for user in boosters:
        for work in works:
            services.like_work(user, work)
    for n, user in enumerate(honest):
        for work in works[: 1 + n % len(works)]:
            services.like_work(user, work)
    honest_likes = measure.like_counts([w.id for w in works])
    assert all(counters.read_counts([w.id])[w.id].likes > 50 for w in works)

    outcome = accounts.void_likes(place.national, [u.id for u in boosters], "刷票：同一时段批量点赞")

    assert outcome.voided_likes == 250 and sorted(outcome.work_ids) == sorted(w.id for w in works)
    after = measure.like_counts([w.id for w in works])
    assert {w: n - 50 for w, n in honest_likes.items()} == after
    assert after[works[0].id] == 12 and after[works[4].id] == 2
    _assert_counters_and_rankings_match_sql(works)
    # What `flask counters rebuild`/reconcile compute from scratch: nothing left to repair.
    assert [str(d) for d in reconcile.reconcile_counters()] == []


def test_voiding_writes_one_audit_event_per_account(place):
    voided = _accounts(3, "v")
    before = event_count()
    accounts.void_likes(place.national, [u.id for u in voided], "刷票")
    assert event_count() == before + 3
    assert sorted(e.target_id for e in events_of("likes_void")) == sorted(u.id for u in voided)
    assert {e.target_type for e in events_of("likes_void")} == {"user"}


def test_voiding_keeps_other_accounts_likes(place):
    booster, honest = _accounts(2, "x")
    services.like_work(booster, place.beijing_work)
    services.like_work(honest, place.beijing_work)
    accounts.void_likes(place.admin, [booster.id], "刷票")
    assert db.session.scalars(sa.select(Like.user_id)).all() == [honest.id]
    assert counters.read_counts([place.beijing_work.id])[place.beijing_work.id].likes == 1


@pytest.mark.parametrize("role", ["moderator", "viewer", "member"])
def test_only_national_moderators_and_admins_void_likes(place, role):
    (booster,) = _accounts(1, "b")
    services.like_work(booster, place.beijing_work)
    with pytest.raises(ServiceError) as caught:
        accounts.void_likes(getattr(place, role), [booster.id], "刷票")
    assert caught.value.status == 403 and db.session.scalar(sa.select(sa.func.count(Like.id))) == 1


def test_voiding_needs_a_reason(place):
    with pytest.raises(ServiceError) as caught:
        accounts.void_likes(place.national, [place.viewer.id], " ")
    assert caught.value.status == 422 and event_count() == 0


def test_voiding_an_unknown_account_answers_404_and_changes_nothing(place):
    services.like_work(place.viewer, place.beijing_work)
    with pytest.raises(ServiceError) as caught:
        accounts.void_likes(place.national, [place.viewer.id, 999_999], "刷票")
    assert caught.value.status == 404 and db.session.scalar(sa.select(sa.func.count(Like.id))) == 1


# --------------------------------------------------------------------------------------------
# Bans.


def test_a_ban_marks_the_account_banned_and_writes_exactly_one_audit_event(place):
    before = event_count()
    accounts.ban_user(place.national, place.viewer.id, "发布引流广告")
    assert db.session.get(User, place.viewer.id).banned
    assert event_count() == before + 1
    (event,) = events_of("user_ban")
    assert (event.target_type, event.target_id, event.reason) == ("user", place.viewer.id, "发布引流广告")


def test_a_ban_hides_the_accounts_comments_with_exact_counters(place):
    kept = post(place.other_viewer, place.beijing_work)
    spam = [post(place.viewer, place.beijing_work), post(place.viewer, place.shanghai_work)]
    pending = post(place.viewer, place.beijing_work, FLAGGED)
    outcome = accounts.ban_user(place.national, place.viewer.id, "刷屏")
    assert outcome.hidden_comments == 2
    statuses = dict(db.session.execute(sa.select(Comment.id, Comment.status)).tuples().all())
    assert statuses[kept.id] == CommentStatus.VISIBLE
    assert {statuses[c.id] for c in [*spam, pending]} == {CommentStatus.HIDDEN}
    for work, expected in ((place.beijing_work, 1), (place.shanghai_work, 0)):
        assert counters.read_counts([work.id])[work.id].comments == expected
        assert measure.visible_comment_counts([work.id]).get(work.id, 0) == expected


def test_a_ban_hides_the_replies_under_the_accounts_comments(place):
    top = post(place.viewer, place.beijing_work)
    reply = comments.post_comment(place.other_viewer, place.beijing_work, "同意", top.id)
    accounts.ban_user(place.national, place.viewer.id, "刷屏")
    assert db.session.get(Comment, reply.id).status == CommentStatus.HIDDEN
    assert counters.read_counts([place.beijing_work.id])[place.beijing_work.id].comments == 0


def test_a_ban_resolves_the_open_reports_on_the_hidden_comments(place):
    comment = post(place.viewer, place.beijing_work)
    report = reports.create_report(place.other_viewer, "comment", comment.id, "广告")
    accounts.ban_user(place.national, place.viewer.id, "广告")
    db.session.refresh(report)
    assert report.status == "resolved"


def test_a_ban_with_void_likes_removes_the_likes_and_recounts(place):
    services.like_work(place.viewer, place.beijing_work)
    services.like_work(place.other_viewer, place.beijing_work)
    before = event_count()
    outcome = accounts.ban_user(place.national, place.viewer.id, "刷票", void_likes=True)
    assert outcome.voided_likes == 1 and event_count() == before + 2
    _assert_counters_and_rankings_match_sql([place.beijing_work])
    assert counters.read_counts([place.beijing_work.id])[place.beijing_work.id].likes == 1


@pytest.mark.parametrize("target", ["moderator", "national", "admin"])
def test_moderators_and_admins_cannot_be_banned(place, target):
    with pytest.raises(ServiceError) as caught:
        accounts.ban_user(place.admin, getattr(place, target).id, "误操作")
    assert caught.value.status == 403 and not db.session.get(User, getattr(place, target).id).banned


@pytest.mark.parametrize("role", ["moderator", "moderator_elsewhere", "viewer", "member"])
def test_provincial_moderators_viewers_and_collectives_cannot_ban(place, role):
    with pytest.raises(ServiceError) as caught:
        accounts.ban_user(getattr(place, role), place.other_viewer.id, "刷屏")
    assert caught.value.status == 403 and event_count() == 0


def test_banning_twice_is_refused_with_409(place):
    accounts.ban_user(place.national, place.viewer.id, "刷屏")
    with pytest.raises(ServiceError) as caught:
        accounts.ban_user(place.national, place.viewer.id, "刷屏")
    assert caught.value.status == 409 and event_count() == 1


def test_a_ban_needs_a_reason(place):
    with pytest.raises(ServiceError) as caught:
        accounts.ban_user(place.national, place.viewer.id, "")
    assert caught.value.status == 422 and not db.session.get(User, place.viewer.id).banned


def test_a_banned_account_is_signed_out_of_the_site(app, place):
    client = signed_in(app, place.viewer)
    accounts.ban_user(place.national, place.viewer.id, "刷屏")
    response = client.get("/my/works")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_ban_form_bans_voids_likes_and_flashes_what_it_did(app, place):
    services.like_work(place.viewer, place.beijing_work)
    post(place.viewer, place.beijing_work)
    client = signed_in(app, place.national)
    form = {"reason": "刷票", "void_likes": "1", "csrf_token": page_csrf_token(client)}
    response = client.post(f"/moderation/users/{place.viewer.id}/ban", data=form, follow_redirects=True)
    assert "账号已封禁：隐藏 1 条评论，作废 1 个点赞。" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, place.viewer.id).banned
    assert counters.read_counts([place.beijing_work.id])[place.beijing_work.id].likes == 0


def test_the_ban_form_is_403_for_a_provincial_moderator(app, place):
    client = signed_in(app, place.moderator)
    form = {"reason": "刷票", "csrf_token": page_csrf_token(client)}
    assert client.post(f"/moderation/users/{place.viewer.id}/ban", data=form).status_code == 403
