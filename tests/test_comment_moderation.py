"""The comment queue: what it holds, who sees it, and approving or hiding with exact counters
and exactly one audit event per action."""

from __future__ import annotations

import pytest

from app.engagement import comments, counters, measure
from app.errors import ServiceError
from app.extensions import db
from app.models import Comment, CommentStatus, Report, ReportStatus, User
from app.moderation import comment_review, reports
from tests.moderation_support import FLAGGED, all_read_then_act, build_place, event_count, events_of, post
from tests.sign_in_support import page_csrf_token, signed_in


@pytest.fixture
def place(make_collective, make_user, open_campaign):
    return build_place(make_collective, make_user, open_campaign)


def _redis_comments(work) -> int:
    return counters.read_counts([work.id])[work.id].comments


def _sql_comments(work) -> int:
    return measure.visible_comment_counts([work.id]).get(work.id, 0)


def test_the_queue_holds_pending_and_reported_comments_oldest_first(place):
    post(place.viewer, place.beijing_work, "普通评论")
    pending = post(place.viewer, place.beijing_work, FLAGGED)
    reported = post(place.other_viewer, place.beijing_work, "被举报的评论")
    reports.create_report(place.viewer, "comment", reported.id, "人身攻击")
    items, cursor = comment_review.comment_queue(place.moderator)
    assert [item["id"] for item in items] == [pending.id, reported.id] and cursor is None
    assert items[1]["report_count"] == 1 and items[1]["reasons"] == ["人身攻击"]
    assert items[0]["status"] == "pending" and items[0]["work_title"] == "站台上的温暖守候"
    assert items[0]["author_name"] == place.viewer.display_name and items[0]["body"] == FLAGGED


def test_the_queue_shows_a_provincial_moderator_only_their_province(place):
    post(place.viewer, place.shanghai_work, FLAGGED)
    assert comment_review.comment_queue(place.moderator)[0] == []
    assert len(comment_review.comment_queue(place.moderator_elsewhere)[0]) == 1
    assert len(comment_review.comment_queue(place.national)[0]) == 1


def test_the_queue_pages_with_a_cursor(place):
    ids = [post(place.viewer, place.beijing_work, f"{FLAGGED}{n}").id for n in range(5)]
    first, cursor = comment_review.comment_queue(place.moderator, limit=2)
    second, cursor = comment_review.comment_queue(place.moderator, cursor, limit=2)
    third, end = comment_review.comment_queue(place.moderator, cursor, limit=2)
    assert [item["id"] for item in first + second + third] == ids and end is None


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_collectives_have_no_queue(place, role):
    with pytest.raises(ServiceError) as caught:
        comment_review.comment_queue(getattr(place, role))
    assert caught.value.status == 403


def test_approving_a_pending_comment_counts_it_exactly_once(place):
    post(place.viewer, place.beijing_work)
    pending = post(place.viewer, place.beijing_work, FLAGGED)
    assert _redis_comments(place.beijing_work) == 1
    comment_review.approve_comment(place.moderator, pending.id)
    assert db.session.get(Comment, pending.id).status == CommentStatus.VISIBLE
    assert _redis_comments(place.beijing_work) == _sql_comments(place.beijing_work) == 2


def test_approving_twice_counts_once_and_the_second_is_refused(place):
    pending = post(place.viewer, place.beijing_work, FLAGGED)
    comment_review.approve_comment(place.moderator, pending.id)
    with pytest.raises(ServiceError) as caught:
        comment_review.approve_comment(place.admin, pending.id)
    assert caught.value.status == 409
    assert _redis_comments(place.beijing_work) == _sql_comments(place.beijing_work) == 1


def test_approving_writes_exactly_one_audit_event(place):
    pending = post(place.viewer, place.beijing_work, FLAGGED)
    before = event_count()
    comment_review.approve_comment(place.moderator, pending.id)
    assert event_count() == before + 1
    (event,) = events_of("comment_approve")
    assert (event.actor_id, event.target_type, event.target_id) == (place.moderator.id, "comment", pending.id)


def test_approving_a_reported_visible_comment_keeps_it_and_dismisses_its_reports(place):
    comment = post(place.viewer, place.beijing_work)
    report = reports.create_report(place.other_viewer, "comment", comment.id, "我不同意")
    comment_review.approve_comment(place.moderator, comment.id)
    assert db.session.get(Report, report.id).status == ReportStatus.DISMISSED
    assert _redis_comments(place.beijing_work) == 1
    assert comment_review.comment_queue(place.moderator)[0] == []


def test_hiding_a_visible_comment_uncounts_it_exactly(place):
    post(place.viewer, place.beijing_work)
    comment = post(place.other_viewer, place.beijing_work)
    assert comment_review.hide_comment(place.moderator, comment.id, "不文明用语") == 1
    assert db.session.get(Comment, comment.id).status == CommentStatus.HIDDEN
    assert _redis_comments(place.beijing_work) == _sql_comments(place.beijing_work) == 1


@pytest.mark.parametrize("kind", ["visible", "pending"])
def test_two_moderators_hiding_one_comment_at_once_hide_it_once_with_one_event(app, place, monkeypatch, kind):
    work = place.beijing_work
    comment_id = post(place.viewer, work, FLAGGED if kind == "pending" else "说得真好").id
    counted = _redis_comments(work)
    outcomes = all_read_then_act(
        app,
        monkeypatch,
        comment_review,
        "_reviewable",
        [
            lambda uid=uid: comment_review.hide_comment(db.session.get(User, uid), comment_id, "广告")
            for uid in (place.moderator.id, place.national.id)
        ],
    )
    assert sorted(outcomes) == ["Conflict", "done"]  # the second is told it was handled already
    assert len(events_of("comment_hide")) == 1
    assert db.session.get(Comment, comment_id).status == CommentStatus.HIDDEN
    assert _redis_comments(work) == _sql_comments(work) == counted - (kind == "visible")


def test_hiding_a_pending_comment_moves_no_counter(place):
    post(place.viewer, place.beijing_work)
    pending = post(place.viewer, place.beijing_work, FLAGGED)
    assert comment_review.hide_comment(place.moderator, pending.id) == 0
    assert _redis_comments(place.beijing_work) == _sql_comments(place.beijing_work) == 1


def test_hiding_a_top_level_comment_hides_and_uncounts_its_replies(place):
    top = post(place.viewer, place.beijing_work)
    reply = comments.post_comment(place.other_viewer, place.beijing_work, "回复", top.id)
    assert comment_review.hide_comment(place.moderator, top.id) == 2
    assert db.session.get(Comment, reply.id).status == CommentStatus.HIDDEN
    assert _redis_comments(place.beijing_work) == _sql_comments(place.beijing_work) == 0


def test_hiding_writes_exactly_one_audit_event_with_the_reason(place):
    comment = post(place.viewer, place.beijing_work)
    before = event_count()
    comment_review.hide_comment(place.moderator, comment.id, "  广告引流 ")
    assert event_count() == before + 1
    assert [e.reason for e in events_of("comment_hide")] == ["广告引流"]


def test_hiding_resolves_the_open_reports_on_the_comment(place):
    comment = post(place.viewer, place.beijing_work)
    report = reports.create_report(place.other_viewer, "comment", comment.id, "广告")
    comment_review.hide_comment(place.moderator, comment.id)
    assert db.session.get(Report, report.id).status == ReportStatus.RESOLVED


def test_a_hide_reason_over_500_characters_is_refused(place):
    comment = post(place.viewer, place.beijing_work)
    with pytest.raises(ServiceError) as caught:
        comment_review.hide_comment(place.moderator, comment.id, "长" * 501)
    assert caught.value.status == 422 and event_count() == 0


@pytest.mark.parametrize("action", ["approve", "hide"])
def test_a_provincial_moderator_cannot_act_outside_their_province(place, action):
    pending = post(place.viewer, place.shanghai_work, FLAGGED)
    with pytest.raises(ServiceError) as caught:
        getattr(comment_review, f"{action}_comment")(place.moderator, pending.id)
    assert caught.value.status == 404
    assert db.session.get(Comment, pending.id).status == CommentStatus.PENDING and event_count() == 1


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_collectives_cannot_approve_or_hide(place, role):
    pending = post(place.viewer, place.beijing_work, FLAGGED)
    for action in (comment_review.approve_comment, comment_review.hide_comment):
        with pytest.raises(ServiceError) as caught:
            action(getattr(place, role), pending.id)
        assert caught.value.status == 403


def test_approving_a_reply_whose_thread_was_deleted_is_refused(place):
    top = post(place.viewer, place.beijing_work)
    reply = comments.post_comment(place.other_viewer, place.beijing_work, FLAGGED, top.id)
    comments.delete_comment(place.viewer, top)
    db.session.refresh(reply)
    # Deleting the thread hid the pending reply too; it can no longer be approved.
    with pytest.raises(ServiceError) as caught:
        comment_review.approve_comment(place.moderator, reply.id)
    assert caught.value.status == 409 and _redis_comments(place.beijing_work) == 0


def test_the_queue_page_shows_the_comment_escaped_and_its_buttons_work(app, place):
    pending = post(place.viewer, place.beijing_work, "<img src=x onerror=alert(1)> " + FLAGGED)
    client = signed_in(app, place.moderator)
    html = client.get("/moderation/comments").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert f"/moderation/comments/{pending.id}/approve" in html and 'name="csrf_token"' in html
    response = client.post(
        f"/moderation/comments/{pending.id}/approve",
        data={"csrf_token": page_csrf_token(client)},
        follow_redirects=True,
    )
    assert "评论已通过，公开显示。" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Comment, pending.id).status == CommentStatus.VISIBLE


def test_the_hide_button_hides_and_says_so(app, place):
    comment = post(place.viewer, place.beijing_work)
    reports.create_report(place.other_viewer, "comment", comment.id, "广告")
    client = signed_in(app, place.moderator)
    form = {"reason": "广告", "csrf_token": page_csrf_token(client)}
    response = client.post(f"/moderation/comments/{comment.id}/hide", data=form, follow_redirects=True)
    assert "评论已隐藏。" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).status == CommentStatus.HIDDEN


def test_approving_an_already_handled_comment_on_the_page_flashes_why(app, place):
    comment = post(place.viewer, place.beijing_work)
    client = signed_in(app, place.moderator)
    response = client.post(
        f"/moderation/comments/{comment.id}/approve",
        data={"csrf_token": page_csrf_token(client)},
        follow_redirects=True,
    )
    assert "这条评论已经处理过了。" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_the_queue_page_is_403_for_viewers_and_collectives(app, place, role):
    assert signed_in(app, getattr(place, role)).get("/moderation/comments").status_code == 403


def test_the_queue_page_sends_signed_out_visitors_to_log_in(client, place):
    response = client.get("/moderation/comments")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_national_moderators_see_a_ban_form_with_a_void_likes_checkbox(app, place):
    post(place.viewer, place.beijing_work, FLAGGED)
    national = signed_in(app, place.national).get("/moderation/comments").get_data(as_text=True)
    provincial = signed_in(app, place.moderator).get("/moderation/comments").get_data(as_text=True)
    assert f"/moderation/users/{place.viewer.id}/ban" in national and 'name="void_likes"' in national
    assert "/ban" not in provincial
