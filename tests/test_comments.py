"""Comments: posting, replies, the word filter, deleting, listing with a cursor, the counter,
the API contract, the work page's comment section, rate limits and Redis down."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app import redis_keys
from app.engagement import comments, measure
from app.engagement.services import counts_for
from app.errors import ServiceError
from app.extensions import db, redis_client
from app.models import Comment, CommentStatus, ModerationEvent, Role
from tests.builders_support import make_campaign, make_voters, make_work
from tests.contract import assert_matches_schema
from tests.engagement_support import all_at_once, in_threads, kill_redis, revive_redis
from tests.sign_in_support import bearer, login_form, page_csrf_token, page_state, signed_in

XSS = [
    "<script>alert('xss')</script>",
    '<img src=x onerror="alert(1)">',
    "javascript:alert(document.cookie)",
    '"><svg onload=alert(1)>',
]


@pytest.fixture
def work(collective, open_campaign):
    return make_work(collective, open_campaign, title="站台上的温暖守候")


@pytest.fixture
def viewer(make_user):
    return make_user(Role.VIEWER)


def _post_api(client, work_id, body, parent_id=None, **extra):
    payload = {"body": body, **extra}
    if parent_id is not None:
        payload["parent_id"] = parent_id
    return client.post(
        f"/api/v1/works/{work_id}/comments", json=payload, headers={"X-CSRFToken": page_csrf_token(client)}
    )


def _delete_api(client, comment_id):
    return client.delete(f"/api/v1/comments/{comment_id}", headers={"X-CSRFToken": page_csrf_token(client)})


def _post_form(client, work_id, body, parent_id=""):
    data = {"body": body, "parent_id": parent_id, "csrf_token": page_csrf_token(client)}
    return client.post(f"/works/{work_id}/comments", data=data)


def _sql_visible(work_id) -> int:
    return measure.visible_comment_counts([work_id]).get(work_id, 0)


def _redis_comments(work_id) -> int | None:
    value = redis_client.client.hget(redis_keys.counts_key(work_id), "comments")
    return None if value is None else int(value)


def _assert_counter_exact(work_id, expected):
    assert _sql_visible(work_id) == expected
    assert counts_for([work_id])[work_id].comments == expected
    assert _redis_comments(work_id) == expected


# --- posting (services) ---------------------------------------------------------------------


def test_a_comment_is_stored_visible_and_counted(work, viewer):
    comment = comments.post_comment(viewer, work, "  为青年文明号点赞！\r\n第二行\r\n  ")
    assert comment.status == CommentStatus.VISIBLE
    assert comment.body == "为青年文明号点赞！\n第二行"
    assert comment.parent_id is None
    _assert_counter_exact(work.id, 1)


def test_newlines_are_normalised_blank_runs_shortened_and_control_characters_dropped(work, viewer):
    comment = comments.post_comment(viewer, work, "一\r二\n\n\n\n三\x00\x07\u202e四\t五")
    assert comment.body == "一\n二\n\n三四\t五"


@pytest.mark.parametrize("body", ["", "   ", "\n\r\n\t", None, "\u202e"])
def test_an_empty_comment_is_refused(work, viewer, body):
    with pytest.raises(ServiceError) as refused:
        comments.post_comment(viewer, work, body)
    assert refused.value.status == 422
    assert refused.value.message == "评论内容不能为空。"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 0


def test_a_comment_that_is_not_text_is_refused(work, viewer):
    with pytest.raises(ServiceError) as refused:
        comments.post_comment(viewer, work, ["列表"])
    assert refused.value.status == 422


def test_the_length_limit_counts_characters(app, work, viewer):
    assert comments.post_comment(viewer, work, "文" * 500).body == "文" * 500
    with pytest.raises(ServiceError) as refused:
        comments.post_comment(viewer, work, "文" * 501)
    assert (refused.value.status, refused.value.code) == (422, "comment_too_long")
    assert refused.value.message == "评论最多 500 字。"
    app.config["COMMENT_MAX_CHARS"] = 10
    with pytest.raises(ServiceError) as refused:
        comments.post_comment(viewer, work, "文" * 11)
    assert refused.value.message == "评论最多 10 字。"


def test_signed_out_visitors_cannot_comment(work):
    from flask_login import AnonymousUserMixin

    with pytest.raises(ServiceError) as refused:
        comments.post_comment(AnonymousUserMixin(), work, "你好")
    assert refused.value.status == 401


@pytest.mark.parametrize("status", ["draft", "pending_review", "rejected", "withdrawn"])
def test_only_published_works_take_comments(collective, open_campaign, viewer, status):
    unpublished = make_work(collective, open_campaign, status=status)
    with pytest.raises(ServiceError) as refused:
        comments.post_comment(viewer, unpublished, "你好")
    assert (refused.value.status, refused.value.code) == (409, "work_not_published")


def test_comments_stay_open_after_the_voting_window_closes(collective, viewer):
    closed = make_campaign(submission_days=(-90, -60), voting_days=(-60, -1))
    work = make_work(collective, closed)
    assert comments.post_comment(viewer, work, "投票结束了也要夸一夸").status == CommentStatus.VISIBLE


# --- the word filter --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["大家快来刷票", "刷 票 互助", "刷-票", "加 ＶＸ 送红包", "真人荷官，在线发牌"]
)
def test_a_sensitive_word_holds_the_comment_pending_and_it_is_not_counted(work, viewer, body):
    comments.post_comment(viewer, work, "第一条正常的评论")
    comment = comments.post_comment(viewer, work, body)
    assert comment.status == CommentStatus.PENDING
    _assert_counter_exact(work.id, 1)
    event = db.session.scalar(sa.select(ModerationEvent).where(ModerationEvent.target_id == comment.id))
    assert (event.action, event.target_type, event.actor_id) == ("comment_flagged", "comment", None)
    assert event.reason.startswith("敏感词：")


def test_a_pending_comment_is_shown_to_its_author_only(work, viewer, make_user):
    pending = comments.post_comment(viewer, work, "刷票群欢迎你")
    visible = comments.post_comment(viewer, work, "正常评论")
    other = make_user()
    mine = comments.list_comments(work, viewer)
    assert [(v.comment.id, str(v.comment.status)) for v in mine.items] == [
        (visible.id, "visible"),
        (pending.id, "pending"),
    ]
    assert [v.comment.id for v in comments.list_comments(work, other).items] == [visible.id]
    assert [v.comment.id for v in comments.list_comments(work, None).items] == [visible.id]


# --- replies -----------------------------------------------------------------------------------


def test_a_reply_to_a_reply_joins_the_top_level_thread(work, viewer, make_user):
    other = make_user()
    top = comments.post_comment(viewer, work, "楼主")
    reply = comments.post_comment(other, work, "回复楼主", parent_id=top.id)
    deeper = comments.post_comment(viewer, work, "回复回复", parent_id=str(reply.id))
    assert reply.parent_id == top.id
    assert deeper.parent_id == top.id
    _assert_counter_exact(work.id, 3)


def test_a_reply_to_another_works_comment_is_refused(work, viewer, collective, open_campaign):
    elsewhere = make_work(collective, open_campaign, title="另一件作品")
    foreign = comments.post_comment(viewer, elsewhere, "别处的评论")
    with pytest.raises(ServiceError) as refused:
        comments.post_comment(viewer, work, "串台了", parent_id=foreign.id)
    assert (refused.value.status, refused.value.code) == (422, "invalid_parent")
    _assert_counter_exact(work.id, 0)


@pytest.mark.parametrize("parent", ["missing", "pending", "hidden", "garbage", "bool"])
def test_a_reply_needs_a_visible_parent(work, viewer, parent):
    if parent == "missing":
        parent_id = 999_999
    elif parent == "garbage":
        parent_id = "abc"
    elif parent == "bool":
        parent_id = True
    elif parent == "pending":
        parent_id = comments.post_comment(viewer, work, "刷票").id
    else:
        hidden = comments.post_comment(viewer, work, "将被删除")
        comments.delete_comment(viewer, hidden)
        parent_id = hidden.id
    with pytest.raises(ServiceError) as refused:
        comments.post_comment(viewer, work, "回复", parent_id=parent_id)
    assert refused.value.code == "invalid_parent"


# --- deleting ----------------------------------------------------------------------------------


def test_deleting_a_top_level_comment_hides_its_thread_and_uncounts_what_was_visible(work, viewer, make_user):
    other = make_user()
    top = comments.post_comment(viewer, work, "楼主")
    comments.post_comment(other, work, "回复一", parent_id=top.id)
    comments.post_comment(other, work, "刷票回复", parent_id=top.id)  # pending
    kept = comments.post_comment(other, work, "另一条")
    _assert_counter_exact(work.id, 3)
    assert comments.delete_comment(viewer, top) == 2
    _assert_counter_exact(work.id, 1)
    statuses = db.session.scalars(sa.select(Comment.status).where(Comment.id != kept.id)).all()
    assert set(statuses) == {CommentStatus.HIDDEN}
    assert [v.comment.id for v in comments.list_comments(work, viewer).items] == [kept.id]


def test_deleting_a_reply_keeps_the_thread(work, viewer, make_user):
    other = make_user()
    top = comments.post_comment(viewer, work, "楼主")
    reply = comments.post_comment(other, work, "回复", parent_id=top.id)
    assert comments.delete_comment(other, reply) == 1
    _assert_counter_exact(work.id, 1)
    assert db.session.get(Comment, top.id).status == CommentStatus.VISIBLE


def test_deleting_a_pending_comment_moves_no_counter(work, viewer):
    comments.post_comment(viewer, work, "正常")
    pending = comments.post_comment(viewer, work, "刷票")
    assert comments.delete_comment(viewer, pending) == 0
    _assert_counter_exact(work.id, 1)


def test_someone_elses_comment_cannot_be_deleted(work, viewer, make_user):
    comment = comments.post_comment(viewer, work, "我的评论")
    with pytest.raises(ServiceError) as refused:
        comments.delete_comment(make_user(), comment)
    assert refused.value.status == 403
    _assert_counter_exact(work.id, 1)


@pytest.mark.parametrize(
    ("role", "province", "allowed"),
    [
        ("moderator", "北京", True),
        ("moderator", None, True),
        ("admin", None, True),
        ("moderator", "上海", False),
    ],
)
def test_moderators_of_the_works_province_and_admins_delete_any_comment_with_an_audit_event(
    work, viewer, make_user, role, province, allowed
):
    comment = comments.post_comment(viewer, work, "需要处理的评论")
    moderator = make_user(Role(role), province=province)
    if not allowed:
        with pytest.raises(ServiceError):
            comments.delete_comment(moderator, comment)
        return
    comments.delete_comment(moderator, comment)
    _assert_counter_exact(work.id, 0)
    event = db.session.scalar(sa.select(ModerationEvent).where(ModerationEvent.action == "comment_delete"))
    assert (event.actor_id, event.target_id) == (moderator.id, comment.id)


def test_deleting_twice_is_not_found_and_uncounts_once(work, viewer):
    comment = comments.post_comment(viewer, work, "一次")
    comments.delete_comment(viewer, comment)
    with pytest.raises(ServiceError) as refused:
        comments.delete_comment(viewer, db.session.get(Comment, comment.id))
    assert refused.value.status == 404
    _assert_counter_exact(work.id, 0)


# --- the counter -------------------------------------------------------------------------------


def test_the_counter_stays_exact_through_adds_pending_deletes_and_a_recount(work, viewer, make_user):
    from app.engagement import reconcile

    users = [make_user() for _ in range(3)]
    posted = [comments.post_comment(u, work, f"评论{n}") for n, u in enumerate(users)]
    comments.post_comment(users[0], work, "刷票")
    comments.post_comment(users[1], work, "回复", parent_id=posted[0].id)
    _assert_counter_exact(work.id, 4)
    comments.delete_comment(users[0], posted[0])  # takes its reply with it
    _assert_counter_exact(work.id, 2)
    redis_client.client.delete(redis_keys.counts_key(work.id))  # Redis lost the hash
    comments.post_comment(users[2], work, "再来一条")
    _assert_counter_exact(work.id, 3)
    assert reconcile.reconcile_counters() == []


# --- listing -----------------------------------------------------------------------------------


def test_comments_are_listed_newest_first_with_a_stable_cursor(work, make_user):
    author = make_user()
    posted = [comments.post_comment(author, work, f"第{n}条") for n in range(25)]
    first = comments.list_comments(work, None, limit=10)
    assert [v.comment.id for v in first.items] == [c.id for c in reversed(posted)][:10]
    # New comments arriving between pages neither repeat nor skip anything.
    comments.post_comment(author, work, "新来的")
    second = comments.list_comments(work, None, first.next_cursor, limit=10)
    third = comments.list_comments(work, None, second.next_cursor, limit=10)
    walked = [v.comment.id for page in (first, second, third) for v in page.items]
    assert walked == [c.id for c in reversed(posted)]
    assert third.next_cursor is None


def test_a_mangled_cursor_is_a_clear_400(work):
    with pytest.raises(ServiceError) as refused:
        comments.list_comments(work, None, "not-a-cursor")
    assert (refused.value.status, refused.value.code) == (400, "invalid_cursor")


def test_top_level_comments_carry_their_first_replies_oldest_first_and_a_count(work, make_user):
    author = make_user()
    top = comments.post_comment(author, work, "楼主")
    quiet = comments.post_comment(author, work, "没人回复")
    replies = [comments.post_comment(make_user(), work, f"回复{n}", parent_id=top.id) for n in range(5)]
    page = comments.list_comments(work, None)
    by_id = {v.comment.id: v for v in page.items}
    assert [v.comment.id for v in page.items] == [quiet.id, top.id]
    assert [r.comment.id for r in by_id[top.id].replies] == [r.id for r in replies[: comments.REPLIES_SHOWN]]
    assert by_id[top.id].reply_count == 5
    assert (by_id[quiet.id].replies, by_id[quiet.id].reply_count) == ([], 0)
    every = comments.list_replies(work, None, top.id, limit=2)
    rest = comments.list_replies(work, None, top.id, every.next_cursor, limit=10)
    assert [v.comment.id for v in every.items + rest.items] == [r.id for r in replies]


# --- API ---------------------------------------------------------------------------------------


def test_api_post_answers_201_with_the_comment_and_it_matches_the_spec(app, work, viewer):
    client = signed_in(app, viewer)
    response = _post_api(client, work.id, "接口发表的评论")
    assert response.status_code == 201
    comment = response.json["comment"]
    assert_matches_schema("Comment", comment)
    assert comment["status"] == "visible" and "message" not in response.json
    assert comment["user"] == {"id": viewer.id, "display_name": viewer.display_name}
    assert (comment["replies"], comment["reply_count"], comment["can_delete"]) == ([], 0, True)
    reply = _post_api(client, work.id, "回复", parent_id=comment["id"]).json["comment"]
    assert_matches_schema("Comment", reply)
    assert reply["parent_id"] == comment["id"] and "replies" not in reply

    listing = app.test_client().get(f"/api/v1/works/{work.id}/comments")
    assert listing.status_code == 200
    assert set(listing.json) == {"items", "next_cursor"}
    item = listing.json["items"][0]
    assert_matches_schema("Comment", item)
    assert item["reply_count"] == 1 and item["replies"][0]["id"] == reply["id"]
    assert item["can_delete"] is False  # an anonymous reader


def test_api_pending_comment_says_so(app, work, viewer):
    response = _post_api(signed_in(app, viewer), work.id, "刷 票 加群")
    assert response.status_code == 201
    assert response.json["comment"]["status"] == "pending"
    assert response.json["message"] == "评论包含需要审核的内容，审核通过后将公开显示。"
    assert app.test_client().get(f"/api/v1/works/{work.id}/comments").json["items"] == []


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"body": ""}, 422, "评论内容不能为空。"),
        ({"body": "文" * 501}, 422, "评论最多 500 字。"),
        ({}, 422, "评论内容不能为空。"),
    ],
)
def test_api_refusals_are_clear(app, work, viewer, payload, status, message):
    client = signed_in(app, viewer)
    response = client.post(
        f"/api/v1/works/{work.id}/comments", json=payload, headers={"X-CSRFToken": page_csrf_token(client)}
    )
    assert response.status_code == status
    assert response.json["error"]["message"] == message
    assert response.json["error"]["fields"]["body"] == message


def test_api_reply_to_another_works_comment_is_422(app, work, viewer, collective, open_campaign):
    client = signed_in(app, viewer)
    elsewhere = make_work(collective, open_campaign, title="另一件")
    foreign = _post_api(client, elsewhere.id, "别处").json["comment"]["id"]
    response = _post_api(client, work.id, "串台", parent_id=foreign)
    assert (response.status_code, response.json["error"]["code"]) == (422, "invalid_parent")


def test_api_needs_sign_in_and_a_visible_work(app, client, work, viewer, collective, open_campaign):
    assert _post_api(client, work.id, "匿名").status_code == 401
    draft = make_work(collective, open_campaign, status="draft")
    signed = signed_in(app, viewer)
    assert _post_api(signed, draft.id, "草稿").status_code == 404
    assert client.get(f"/api/v1/works/{draft.id}/comments").status_code == 404
    assert client.get("/api/v1/works/999999/comments").status_code == 404


def test_api_cookie_writes_need_the_csrf_header(app, work, viewer):
    client = signed_in(app, viewer)
    response = client.post(f"/api/v1/works/{work.id}/comments", json={"body": "没有令牌"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 0


def test_api_bearer_clients_post_without_csrf(app, work, viewer):
    response = app.test_client().post(
        f"/api/v1/works/{work.id}/comments", json={"body": "客户端发表"}, headers=bearer(viewer)
    )
    assert response.status_code == 201


def test_api_delete_own_is_204_and_someone_elses_403(app, work, viewer, make_user):
    mine = signed_in(app, viewer)
    comment_id = _post_api(mine, work.id, "我的").json["comment"]["id"]
    other = signed_in(app, make_user())
    refused = _delete_api(other, comment_id)
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "forbidden")
    assert _delete_api(mine, comment_id).status_code == 204
    assert _delete_api(mine, comment_id).status_code == 404
    assert _delete_api(app.test_client(), comment_id).status_code in (401, 404)
    _assert_counter_exact(work.id, 0)


def test_api_someone_elses_pending_comment_is_not_found(app, work, viewer, make_user):
    pending = _post_api(signed_in(app, viewer), work.id, "刷票").json["comment"]["id"]
    assert _delete_api(signed_in(app, make_user()), pending).status_code == 404


def test_api_cursor_pagination(app, work, viewer, make_user):
    for n in range(25):
        comments.post_comment(viewer, work, f"第{n}条")
    client = app.test_client()
    seen, cursor = [], None
    while True:
        url = f"/api/v1/works/{work.id}/comments" + (f"?cursor={cursor}" if cursor else "")
        page = client.get(url).json
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 25 and seen == sorted(seen, reverse=True)
    bad = client.get(f"/api/v1/works/{work.id}/comments?cursor=%%%")
    assert (bad.status_code, bad.json["error"]["code"]) == (400, "invalid_cursor")


def test_api_lists_every_reply_of_a_comment(app, work, viewer):
    top = comments.post_comment(viewer, work, "楼主")
    replies = [comments.post_comment(viewer, work, f"回复{n}", parent_id=top.id) for n in range(5)]
    answer = app.test_client().get(f"/api/v1/works/{work.id}/comments?parent_id={top.id}").json
    assert [item["id"] for item in answer["items"]] == [r.id for r in replies]
    assert app.test_client().get(f"/api/v1/works/{work.id}/comments?parent_id=999999").status_code == 404


@pytest.mark.parametrize("payload", XSS)
def test_api_returns_markup_verbatim_as_plain_text(app, work, viewer, payload):
    client = signed_in(app, viewer)
    assert _post_api(client, work.id, payload).json["comment"]["body"] == payload
    listing = client.get(f"/api/v1/works/{work.id}/comments")
    assert listing.json["items"][0]["body"] == payload
    assert listing.mimetype == "application/json"


# --- the work page -----------------------------------------------------------------------------


def test_the_page_escapes_every_payload_and_keeps_newlines(app, work, viewer):
    for payload in XSS:
        comments.post_comment(viewer, work, payload)
    comments.post_comment(viewer, work, "第一行\n第二行")
    html = app.test_client().get(f"/works/{work.id}").get_data(as_text=True)
    section = html[html.index('id="comments"') :]
    assert "<script>alert" not in section
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in section
    assert "<img src=x" not in section and "&lt;img src=x onerror=" in section
    assert "<svg" not in section
    assert 'href="javascript:' not in section
    assert "javascript:alert(document.cookie)" in section  # shown as text
    assert '<p class="comment-body">第一行\n第二行</p>' in section


def test_signed_out_visitors_see_a_login_link_that_comes_back(app, work, viewer):
    client = app.test_client()
    comments_html = client.get(f"/works/{work.id}").get_data(as_text=True)
    match = re.search(r'href="/login\?next=([^"]+)"[^>]*>登录后发表评论', comments_html)
    assert match, "no 登录后发表评论 link"
    # The shared page holds the form hidden for the script to show to a signed-in reader.
    assert re.search(r'id="comment-form"[^>]*data-signed-in-only hidden', comments_html)
    assert page_state(client)["signed_in"] is False
    response = login_form(client, viewer.email, next_url=match.group(1))
    assert response.headers["Location"] == f"/works/{work.id}#comments"


def test_the_form_route_posts_and_redirects_to_the_comment(app, work, viewer):
    client = signed_in(app, viewer)
    response = _post_form(client, work.id, "不用脚本也能评论")
    assert response.status_code == 302
    comment = db.session.scalar(sa.select(Comment))
    assert response.headers["Location"].endswith(f"/works/{work.id}#comment-{comment.id}")
    page = client.get(f"/works/{work.id}").get_data(as_text=True)
    assert "评论已发表。" in page and "不用脚本也能评论" in page
    _assert_counter_exact(work.id, 1)


def test_the_form_route_reply_and_pending_notice(app, work, viewer):
    client = signed_in(app, viewer)
    top = comments.post_comment(viewer, work, "楼主")
    page = client.get(f"/works/{work.id}?reply_to={top.id}").get_data(as_text=True)
    assert f'name="parent_id" value="{top.id}"' in page
    assert _post_form(client, work.id, "刷票群", parent_id=str(top.id)).status_code == 302
    page = client.get(f"/works/{work.id}").get_data(as_text=True)
    assert "评论包含需要审核的内容，审核通过后将公开显示。" in page
    assert "待审核，仅自己可见" in page


def test_a_refused_form_post_shows_the_page_again_with_the_text_kept(app, work, viewer):
    client = signed_in(app, viewer)
    response = _post_form(client, work.id, "文" * 501)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "评论最多 500 字。" in html and "文" * 501 in html
    assert _post_form(client, work.id, "   ").status_code == 422


def test_the_form_route_needs_csrf_and_sign_in(app, client, work, viewer):
    signed = signed_in(app, viewer)
    assert signed.post(f"/works/{work.id}/comments", data={"body": "没有令牌"}).status_code == 400
    response = _post_form(client, work.id, "匿名")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 0


def test_the_delete_form_route(app, work, viewer, make_user):
    comment = comments.post_comment(viewer, work, "要删除")
    other = signed_in(app, make_user())
    csrf = page_csrf_token(other)
    assert other.post(f"/comments/{comment.id}/delete", data={"csrf_token": csrf}).status_code == 403
    mine = signed_in(app, viewer)
    response = mine.post(f"/comments/{comment.id}/delete", data={"csrf_token": page_csrf_token(mine)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).status == CommentStatus.HIDDEN
    _assert_counter_exact(work.id, 0)


def test_the_page_offers_more_comments_with_the_cursor(app, work, viewer):
    for n in range(comments.PAGE_SIZE + 3):
        comments.post_comment(viewer, work, f"第{n}条")
    client = app.test_client()
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    match = re.search(r'href="([^"]+comments_cursor=[^"]+)"[^>]*data-more', html)
    assert match, "no 加载更多 link"
    more = client.get(match.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "第0条" in more and "第22条" not in more
    # A mangled cursor shows the first page rather than an error.
    assert client.get(f"/works/{work.id}?comments_cursor=bad").status_code == 200


# --- rate limits -------------------------------------------------------------------------------


def test_too_many_comments_from_one_account_are_answered_429_with_retry_after(app, work, viewer):
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    client = signed_in(app, viewer)
    assert _post_api(client, work.id, "一").status_code == 201
    assert _post_form(client, work.id, "二").status_code == 302  # the page and the API share it
    response = _post_api(client, work.id, "三")
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.json["error"] == {"code": "rate_limited", "message": "评论太频繁了，请稍后再试。"}
    page = _post_form(client, work.id, "四")
    assert page.status_code == 429 and "评论太频繁了" in page.get_data(as_text=True)
    assert "Retry-After" in page.headers
    _assert_counter_exact(work.id, 2)


def test_many_accounts_behind_one_office_ip_all_comment(app, work, make_user):
    app.config["COMMENT_RATE_LIMIT"] = "1 per minute"
    for _ in range(30):
        client = signed_in(app, make_user())
        client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
        assert _post_api(client, work.id, "同事来支持").status_code == 201
    _assert_counter_exact(work.id, 30)


def test_one_ip_has_a_ceiling(app, work, make_user):
    app.config["COMMENT_IP_RATE_LIMIT"] = "3 per minute"
    answers = []
    for _ in range(4):
        client = signed_in(app, make_user())
        client.environ_base["REMOTE_ADDR"] = "198.51.100.9"
        answers.append(_post_api(client, work.id, "评论").status_code)
    assert answers == [201, 201, 201, 429]


def test_the_default_ip_limit_lets_an_office_comment_together():
    from limits import parse_many

    from config import Config

    assert all(item.amount >= 300 for item in parse_many(Config.COMMENT_IP_RATE_LIMIT))


# --- Redis down --------------------------------------------------------------------------------


def test_redis_down_posting_answers_503_and_writes_nothing_but_reading_works(app, work, viewer):
    comments.post_comment(viewer, work, "Redis 正常时的评论")
    client = signed_in(app, viewer)
    kill_redis()
    try:
        response = _post_api(client, work.id, "Redis 挂了")
        assert response.status_code == 503
        assert response.json["error"] == {
            "code": "counters_unavailable",
            "message": "评论服务暂时繁忙，请稍后再试。",
        }
        page_post = _post_form(client, work.id, "表单也一样")
        assert page_post.status_code == 503
        assert "评论服务暂时繁忙" in page_post.get_data(as_text=True)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 1
        listing = client.get(f"/api/v1/works/{work.id}/comments")
        assert listing.status_code == 200 and len(listing.json["items"]) == 1
        page = client.get(f"/works/{work.id}")
        assert page.status_code == 200 and "Redis 正常时的评论" in page.get_data(as_text=True)
        comment_id = listing.json["items"][0]["id"]
        assert _delete_api(client, comment_id).status_code == 503
        db.session.expire_all()
        assert db.session.get(Comment, comment_id).status == CommentStatus.VISIBLE
    finally:
        revive_redis()
    _assert_counter_exact(work.id, 1)


# --- races -------------------------------------------------------------------------------------


def _orphans() -> int:
    """Visible replies under a hidden top-level comment: counted, but shown nowhere."""
    db.session.expire_all()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Comment)
        .join(Comment.__table__.alias("root"), sa.text("root.id = comment.parent_id"))
        .where(Comment.status == CommentStatus.VISIBLE, sa.text("root.status = 'hidden'"))
    )


@pytest.mark.race
def test_replies_racing_the_deletion_of_their_thread_never_outlive_it(app, work, make_user):
    from app.models import User, Work

    repliers = make_voters(6)
    author_id, work_id = make_user(Role.VIEWER).id, work.id
    root_id = comments.post_comment(db.session.get(User, author_id), work, "主评论").id

    def reply(user_id):
        def job():
            user, target = db.session.get(User, user_id), db.session.get(Work, work_id)
            for n in range(8):
                try:
                    comments.post_comment(user, target, f"回复{n}", parent_id=root_id)
                except ServiceError as exc:
                    assert exc.code == "invalid_parent"
                    return

        return job

    def delete():
        comments.delete_comment(db.session.get(User, author_id), db.session.get(Comment, root_id))

    assert all_at_once(app, [delete, *map(reply, repliers)]) == []
    assert _orphans() == 0
    _assert_counter_exact(work_id, _sql_visible(work_id))


@pytest.mark.race
def test_replies_approved_while_their_thread_is_hidden_never_outlive_it(app, work, make_user):
    from app.models import User
    from app.moderation import comment_review

    moderator_id = make_user(Role.MODERATOR).id
    root = comments.post_comment(make_user(Role.VIEWER), work, "主评论")
    held = [
        comments.post_comment(db.session.get(User, user_id), work, f"刷票回复{n}", parent_id=root.id).id
        for n, user_id in enumerate(make_voters(6))
    ]
    root_id, work_id = root.id, work.id

    def approve(comment_id):
        def job():
            try:
                comment_review.approve_comment(db.session.get(User, moderator_id), comment_id)
            except ServiceError as exc:
                assert exc.code in ("parent_hidden", "already_moderated")

        return job

    def hide():
        comment_review.hide_comment(db.session.get(User, moderator_id), root_id, "整串隐藏")

    assert all_at_once(app, [hide, *map(approve, held)]) == []
    assert _orphans() == 0
    _assert_counter_exact(work_id, _sql_visible(work_id))


@pytest.mark.slow
@pytest.mark.race(rounds=1)
@pytest.mark.also_on_redis_cluster
def test_concurrent_posts_replies_deletes_and_recounts_leave_the_counter_exact(app, work, make_user):
    import threading

    from app.engagement import reconcile
    from app.models import User, Work

    voters = make_voters(40)
    moderator_id = make_user(Role.MODERATOR).id
    work_id = work.id
    threads_done = threading.Event()
    doomed = [comments.post_comment(db.session.get(User, voters[n]), work, f"待删{n}").id for n in range(4)]

    def act(n):
        user, target = db.session.get(User, voters[n]), db.session.get(Work, work_id)
        mine = comments.post_comment(user, target, f"评论{n}")
        comments.post_comment(user, target, f"刷票{n}")  # pending: never counted
        try:  # replies race the deletion of their thread
            comments.post_comment(user, target, f"回复{n}", parent_id=doomed[n % 4])
        except ServiceError as exc:
            assert exc.code == "invalid_parent"
        if n % 10 in (5, 6):  # a moderator deletes each doomed thread, twice at once
            comments.delete_comment(
                db.session.get(User, moderator_id), db.session.get(Comment, doomed[n // 10])
            )
        if n % 2:
            comments.delete_comment(user, db.session.get(Comment, mine.id))

    def recount():
        with app.app_context():
            while not threads_done.is_set():
                reconcile.recount_works([work_id])
            db.session.remove()

    recounter = threading.Thread(target=recount)
    recounter.start()
    try:
        errors = in_threads(app, range(40), act)
    finally:
        threads_done.set()
        recounter.join()
    # Deleting a thread that another thread already deleted is a clean 404.
    assert all(getattr(e, "status", None) == 404 for e in errors), errors
    assert _orphans() == 0
    _assert_counter_exact(work.id, _sql_visible(work.id))
    assert _sql_visible(work.id) > 0
