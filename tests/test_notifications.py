"""In-app notifications: who hears of what, written only by actions that changed something,
the bell's unread count, the page that marks what it shows read, and the API extension."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.engagement import comments
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.models import Notification, NotificationKind, Role
from app.moderation import comment_review, reports
from app.moderation import services as moderation
from app.notifications import services as notifications
from app.wall import services as wall
from tests.builders_support import make_work
from tests.contract import assert_matches_schema
from tests.moderation_support import FLAGGED
from tests.sign_in_support import page_csrf_token, page_state, sign_in


@pytest.fixture
def members(make_user, metro):
    return [make_user(Role.COLLECTIVE, collective=metro), make_user(Role.COLLECTIVE, collective=metro)]


@pytest.fixture
def member(members):
    return members[0]


@pytest.fixture
def outsider(make_user, bank):
    return make_user(Role.COLLECTIVE, collective=bank)


@pytest.fixture
def moderator(make_user):
    return make_user(Role.MODERATOR, province="北京")


@pytest.fixture
def curator(make_user):
    return make_user(Role.MODERATOR)


@pytest.fixture
def pending(metro, open_campaign):
    return make_work(metro, open_campaign, title="站台上的温暖守候", status="pending_review")


@pytest.fixture
def published(metro, open_campaign):
    return make_work(metro, open_campaign, title="柜台前的耐心")


def _of(user) -> list[Notification]:
    query = sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    return list(db.session.scalars(query))


def _kinds(user) -> list[str]:
    return [str(n.kind) for n in _of(user)]


def _total() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) or 0


def _messages(user) -> list[str]:
    return [item.message for item in notifications.list_notifications(user).items]


# --------------------------------------------------------------------------------------------
# Events.


def test_approving_a_work_notifies_every_member_of_its_collective(members, outsider, moderator, pending):
    moderation.approve_work(moderator, pending.id)
    assert [_kinds(m) for m in members] == [["approved"], ["approved"]]
    assert _kinds(outsider) == [] and _kinds(moderator) == []
    assert _messages(members[0]) == ["您的作品《站台上的温暖守候》已审核通过，现已公开展示。"]
    assert _of(members[0])[0].work_id == pending.id and _of(members[0])[0].actor_id == moderator.id


def test_rejecting_a_work_tells_its_members_the_reason(members, moderator, pending):
    moderation.reject_work(moderator, pending.id, "画面中出现了乘客的正脸，请打码后重新提交")
    assert [_kinds(m) for m in members] == [["rejected"], ["rejected"]]
    assert _messages(members[1]) == [
        "您的作品《站台上的温暖守候》未通过审核：画面中出现了乘客的正脸，请打码后重新提交"
    ]


def test_recommending_a_work_notifies_its_members(members, moderator, published):
    moderation.recommend_work(moderator, published.id)
    assert [_kinds(m) for m in members] == [["recommended"], ["recommended"]]
    assert _messages(members[0]) == ["《柜台前的耐心》已被推报到全国组委会。"]


def test_recommending_again_notifies_nobody_twice(members, moderator, published):
    moderation.recommend_work(moderator, published.id)
    moderation.recommend_work(moderator, published.id)
    assert _total() == len(members)


def test_a_refused_review_notifies_nobody(members, moderator, make_user, pending, published):
    elsewhere = make_user(Role.MODERATOR, province="上海")
    with pytest.raises(Conflict):
        moderation.approve_work(moderator, published.id)  # not pending
    with pytest.raises(Conflict):
        moderation.recommend_work(moderator, pending.id)  # not published
    with pytest.raises(NotFound):  # outside their province
        moderation.approve_work(elsewhere, pending.id)
    assert _total() == 0


def test_only_collective_members_hear_of_their_work(make_user, metro, moderator, pending):
    # An account tied to the collective but no longer a member (a viewer now) is not told.
    former = make_user(Role.VIEWER, collective=metro)
    moderation.approve_work(moderator, pending.id)
    assert _kinds(former) == []


def test_featuring_a_work_notifies_its_members(members, curator, published):
    wall.feature(curator, published.id, "温暖人心")
    assert [_kinds(m) for m in members] == [["featured"], ["featured"]]
    assert _messages(members[0]) == ["《柜台前的耐心》入选优秀作品展示墙。"]


def test_featuring_a_work_already_on_the_wall_notifies_nobody_again(members, curator, published):
    wall.feature(curator, published.id)
    with pytest.raises(Conflict):
        wall.feature(curator, published.id)
    assert _total() == len(members)


def test_a_provincial_moderator_cannot_feature_and_notifies_nobody(members, moderator, published):
    with pytest.raises(Forbidden):
        wall.feature(moderator, published.id)
    assert _total() == 0


def test_a_new_wall_order_notifies_only_for_the_works_it_adds(
    members, outsider, curator, published, bank, open_campaign
):
    other = make_work(bank, open_campaign, title="银行里的微笑")
    wall.feature(curator, published.id)
    wall.set_order(curator, [other.id, published.id])
    assert _kinds(members[0]) == ["featured"]
    assert _kinds(outsider) == ["featured"] and _of(outsider)[0].work_id == other.id


def test_a_refused_wall_order_notifies_nobody(members, curator, published, pending):
    with pytest.raises(ValidationFailed):  # the pending work is not published
        wall.set_order(curator, [published.id, pending.id])
    assert _total() == 0


def test_a_reply_notifies_the_author_of_the_comment_it_answers(make_user, members, published):
    viewer, replier = make_user(Role.VIEWER), make_user(Role.VIEWER)
    top = comments.post_comment(viewer, published, "拍得真好")
    reply = comments.post_comment(replier, published, "同感，<b>看哭了</b>", parent_id=top.id)
    [note] = _of(viewer)
    assert note.kind == NotificationKind.REPLY and note.comment_id == reply.id and note.actor_id == replier.id
    assert _messages(viewer) == [f"{replier.display_name} 回复了您的评论：同感，<b>看哭了</b>"]
    assert _total() == 1  # nobody else: not the collective, not the replier


def test_a_reply_to_a_reply_notifies_the_author_of_that_reply(make_user, published):
    first, second, third = (make_user(Role.VIEWER) for _ in range(3))
    top = comments.post_comment(first, published, "拍得真好")
    answer = comments.post_comment(second, published, "同感", parent_id=top.id)
    comments.post_comment(third, published, "我也是", parent_id=answer.id)
    assert _kinds(second) == ["reply"] and _kinds(first) == ["reply"]  # first: from the second's reply


def test_replying_to_ones_own_comment_notifies_nobody(make_user, published):
    viewer = make_user(Role.VIEWER)
    top = comments.post_comment(viewer, published, "拍得真好")
    comments.post_comment(viewer, published, "补充一句", parent_id=top.id)
    assert _total() == 0


def test_a_top_level_comment_notifies_nobody(make_user, members, published):
    comments.post_comment(make_user(Role.VIEWER), published, "拍得真好")
    assert _total() == 0


def test_a_refused_reply_notifies_nobody(make_user, published):
    viewer = make_user(Role.VIEWER)
    top = comments.post_comment(viewer, published, "拍得真好")
    with pytest.raises(ValidationFailed):  # an empty reply
        comments.post_comment(make_user(Role.VIEWER), published, "   ", parent_id=top.id)
    assert _total() == 0


def test_a_held_reply_notifies_only_when_a_moderator_approves_it(make_user, moderator, published):
    viewer, replier = make_user(Role.VIEWER), make_user(Role.VIEWER)
    top = comments.post_comment(viewer, published, "拍得真好")
    held = comments.post_comment(replier, published, FLAGGED, parent_id=top.id)
    assert held.status == "pending" and _total() == 0
    comment_review.approve_comment(moderator, held.id)
    assert _kinds(viewer) == ["reply"] and _of(viewer)[0].comment_id == held.id


def test_approving_a_reported_visible_reply_notifies_nobody_again(make_user, moderator, published):
    viewer, replier = make_user(Role.VIEWER), make_user(Role.VIEWER)
    top = comments.post_comment(viewer, published, "拍得真好")
    reply = comments.post_comment(replier, published, "同感", parent_id=top.id)
    reports.create_report(viewer, "comment", reply.id, "不友善")
    comment_review.approve_comment(moderator, reply.id)
    assert _kinds(viewer) == ["reply"]


# --------------------------------------------------------------------------------------------
# Reading: the count, the list, marking read.


def test_unread_count_counts_only_that_users_unread_notifications(members, outsider, moderator, pending):
    moderation.approve_work(moderator, pending.id)
    moderation.recommend_work(moderator, pending.id)
    assert notifications.unread_count(members[0]) == 2 and notifications.unread_count(outsider) == 0
    notifications.mark_read(members[0], [_of(members[0])[0].id])
    assert notifications.unread_count(members[0]) == 1 and notifications.unread_count(members[1]) == 2


def test_marking_read_never_touches_another_users_notifications(members, moderator, pending):
    moderation.approve_work(moderator, pending.id)
    theirs = _of(members[1])[0].id
    assert notifications.mark_read(members[0], [theirs]) == 0
    assert notifications.unread_count(members[1]) == 1


def test_the_list_is_newest_first_and_paginated(member, moderator, metro, open_campaign):
    works = [make_work(metro, open_campaign, title=f"作品{i}", status="pending_review") for i in range(3)]
    for work in works:
        moderation.approve_work(moderator, work.id)
    first = notifications.list_notifications(member, limit=2)
    assert [item.work_title for item in first.items] == ["作品2", "作品1"] and first.next_before
    rest = notifications.list_notifications(member, before=first.next_before, limit=2)
    assert [item.work_title for item in rest.items] == ["作品0"] and rest.next_before is None


def _bell(html: str) -> str | None:
    match = re.search(r'<span class="badge" data-unread>([^<]*)</span>', html)
    return match.group(1) if match else None


def test_the_bell_shows_the_unread_count_on_every_page(app, member, moderator, pending):
    moderation.approve_work(moderator, pending.id)
    moderation.recommend_work(moderator, pending.id)
    client = app.test_client()
    sign_in(client, member)
    # Public pages are shared bodies: their script fills the bell in from the state call.
    for url in ("/", "/wall", f"/works/{pending.id}"):
        assert "data-bell" in client.get(url).get_data(as_text=True), url
    assert page_state(client)["unread"] == 2
    # Personal pages render it themselves.
    assert _bell(client.get("/account").get_data(as_text=True)) == "2"


def test_the_bell_has_no_number_when_nothing_is_unread(app, member):
    client = app.test_client()
    sign_in(client, member)
    html = client.get("/").get_data(as_text=True)
    assert "data-bell" in html and _bell(html) is None


def test_signed_out_visitors_see_no_bell(client):
    html = client.get("/").get_data(as_text=True)
    # Only inside the signed-in part of the shared header, which stays hidden for them.
    signed_in_part = re.search(r'<span class="nav-signed-in" data-signed-in hidden>.*?</form>', html, re.S)
    assert signed_in_part and "data-bell" in signed_in_part.group(0)
    assert html.count("data-bell") == 1
    assert page_state(client)["signed_in"] is False and page_state(client)["unread"] == 0


def test_the_bell_costs_one_query_per_page(app, member, moderator, pending):
    moderation.approve_work(moderator, pending.id)
    client = app.test_client()
    sign_in(client, member)
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if "FROM notification" in statement:
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        client.get("/")  # a shared body: no bell query at all
        assert seen == []
        page_state(client)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(seen) == 1


def test_opening_the_page_lists_them_and_marks_them_read(app, member, moderator, pending):
    moderation.approve_work(moderator, pending.id)
    moderation.recommend_work(moderator, pending.id)
    client = app.test_client()
    sign_in(client, member)
    html = client.get("/notifications").get_data(as_text=True)
    assert html.index("已被推报到全国组委会") < html.index("已审核通过，现已公开展示")
    assert f'href="/works/{pending.id}"' in html
    assert html.count("notification unread") == 2  # shown as new this once
    assert _bell(html) is None  # the bell clears on the page that showed them
    assert notifications.unread_count(member) == 0
    assert "notification unread" not in client.get("/notifications").get_data(as_text=True)


def test_the_page_escapes_titles_and_replies(app, make_user, metro, open_campaign, member):
    work = make_work(metro, open_campaign, title="<script>alert(1)</script>")
    top = comments.post_comment(member, work, "谢谢")
    comments.post_comment(make_user(Role.VIEWER), work, "<img src=x onerror=alert(1)>", parent_id=top.id)
    client = app.test_client()
    sign_in(client, member)
    html = client.get("/notifications").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert f'href="/works/{work.id}#comment-' in html


def test_only_the_recipient_sees_their_notifications(app, members, outsider, moderator, pending):
    moderation.reject_work(moderator, pending.id, "请补充字幕")
    client = app.test_client()
    sign_in(client, outsider)
    html = client.get("/notifications").get_data(as_text=True)
    assert "请补充字幕" not in html and "暂时没有通知" in html
    assert notifications.unread_count(members[0]) == 1  # the outsider's visit marked nothing of theirs


def test_the_page_needs_a_signed_in_account(client):
    response = client.get("/notifications")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_mark_all_read_clears_every_unread_notification(app, member, moderator, metro, open_campaign):
    for i in range(25):  # more than one page: the button reaches the ones not yet shown
        work = make_work(metro, open_campaign, title=f"作品{i}", status="pending_review")
        moderation.approve_work(moderator, work.id)
    client = app.test_client()
    sign_in(client, member)
    response = client.post("/notifications/read", data={"csrf_token": page_csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/notifications")
    assert notifications.unread_count(member) == 0


def test_mark_all_read_refuses_a_post_without_csrf_token(app, member, moderator, pending):
    moderation.approve_work(moderator, pending.id)
    client = app.test_client()
    sign_in(client, member)
    assert client.post("/notifications/read").status_code == 400
    assert notifications.unread_count(member) == 1


# --------------------------------------------------------------------------------------------
# API extension.


def test_the_api_lists_the_callers_notifications_without_marking_them(app, member, moderator, pending):
    moderation.reject_work(moderator, pending.id, "请补充字幕")
    client = app.test_client()
    sign_in(client, member)
    body = client.get("/api/v1/notifications").get_json()
    assert body["unread"] == 1 and body["next_cursor"] is None
    [item] = body["items"]
    assert_matches_schema("Notification", item)
    assert item["kind"] == "rejected" and item["details"] == {"reason": "请补充字幕"}
    assert item["message"] == "您的作品《站台上的温暖守候》未通过审核：请补充字幕" and item["read_at"] is None
    assert notifications.unread_count(member) == 1


def test_the_api_pages_with_a_cursor(app, member, moderator, metro, open_campaign):
    for i in range(3):
        work = make_work(metro, open_campaign, title=f"作品{i}", status="pending_review")
        moderation.approve_work(moderator, work.id)
    client = app.test_client()
    sign_in(client, member)
    first = client.get("/api/v1/notifications?limit=2").get_json()
    rest = client.get(f"/api/v1/notifications?limit=2&cursor={first['next_cursor']}").get_json()
    assert [i["work_title"] for i in first["items"] + rest["items"]] == ["作品2", "作品1", "作品0"]
    assert client.get("/api/v1/notifications?cursor=bad").status_code == 400


def test_the_api_marks_the_given_notifications_read(app, member, moderator, pending):
    moderation.approve_work(moderator, pending.id)
    moderation.recommend_work(moderator, pending.id)
    client = app.test_client()
    sign_in(client, member)
    first = _of(member)[0].id
    headers = {"X-CSRFToken": page_csrf_token(client)}
    answer = client.post("/api/v1/notifications/read", json={"ids": [first]}, headers=headers).get_json()
    assert answer == {"marked": 1, "unread": 1}
    answer = client.post("/api/v1/notifications/read", headers=headers).get_json()
    assert answer == {"marked": 1, "unread": 0}


def test_the_api_refuses_ids_that_are_not_a_list_of_integers(app, member):
    client = app.test_client()
    sign_in(client, member)
    headers = {"X-CSRFToken": page_csrf_token(client)}
    response = client.post("/api/v1/notifications/read", json={"ids": "1,2"}, headers=headers)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "validation_failed"


def test_the_api_needs_a_signed_in_caller(client):
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.post("/api/v1/notifications/read").status_code == 401
