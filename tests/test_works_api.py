"""API v1 works: list (filters, sorts, cursor pagination), detail visibility, draft creation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.engagement.work_lists import list_published_works
from app.extensions import db
from app.models import Comment, CommentStatus, Like, Role, Work, WorkStatus, utcnow
from app.moderation import services as moderation
from app.works import services as svc
from tests.builders_support import make_campaign, make_work
from tests.contract import assert_matches_schema
from tests.images_support import jpeg_bytes
from tests.sign_in_support import page_csrf_token, sign_in

WORK_FIELDS = {
    "id", "kind", "title", "summary", "body_html", "status", "collective", "campaign_id", "likes", "comments",
    "views", "liked_by_me", "media", "created_at", "published_at", "captions", "storyboard",
}  # fmt: skip


@pytest.fixture
def collective(make_collective):
    return make_collective("北京地铁某站青年文明号", "交通运输", "北京")


def _post_json(client, url, payload):
    return client.post(url, json=payload, headers={"X-CSRFToken": page_csrf_token(client)})


# --- GET /works -------------------------------------------------------------------------------


def test_the_list_has_items_and_next_cursor_and_only_published_works(client, collective, open_campaign):
    published = make_work(collective, open_campaign, title="已发布")
    make_work(collective, open_campaign, title="草稿", status="draft")
    make_work(collective, open_campaign, title="待审", status="pending_review")
    response = client.get("/api/v1/works")
    assert response.status_code == 200
    assert set(response.json) == {"items", "next_cursor"}
    assert [item["id"] for item in response.json["items"]] == [published.id]
    assert response.json["next_cursor"] is None
    assert set(response.json["items"][0]) == WORK_FIELDS
    assert_matches_schema("Work", response.json["items"][0])


def test_new_is_newest_first(client, collective, open_campaign):
    now = utcnow()
    old = make_work(collective, open_campaign, title="旧", published_at=now - timedelta(days=2))
    new = make_work(collective, open_campaign, title="新", published_at=now)
    ids = [item["id"] for item in client.get("/api/v1/works?sort=new").json["items"]]
    assert ids == [new.id, old.id]


def test_cursor_pagination_walks_every_work_once(client, collective, open_campaign):
    moment = utcnow()
    # Half of them share one published_at, so the id tie-breaker is what keeps the order stable.
    expected = [
        make_work(
            collective, open_campaign, title=f"作品{n}", published_at=moment - timedelta(minutes=n // 2)
        ).id
        for n in range(45)
    ]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        response = client.get("/api/v1/works", query_string={"cursor": cursor} if cursor else {})
        seen += [item["id"] for item in response.json["items"]]
        pages += 1
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))


def test_likes_sort_orders_by_like_count(client, collective, open_campaign, make_user):
    quiet = make_work(collective, open_campaign, title="少赞")
    loved = make_work(collective, open_campaign, title="多赞")
    for _ in range(3):
        db.session.add(Like(user_id=make_user().id, work_id=loved.id))
    db.session.add(Like(user_id=make_user().id, work_id=quiet.id))
    db.session.commit()
    for sort in ("likes", "hot"):
        ids = [item["id"] for item in client.get(f"/api/v1/works?sort={sort}").json["items"]]
        assert ids == [loved.id, quiet.id]


def test_likes_sort_paginates_with_its_own_cursor(app, collective, open_campaign, make_user):
    works = [make_work(collective, open_campaign, title=f"作品{n}") for n in range(5)]
    db.session.add(Like(user_id=make_user().id, work_id=works[2].id))
    db.session.commit()
    first, after = list_published_works(sort="likes", limit=2)
    second, after2 = list_published_works(sort="likes", after=after, limit=2)
    third, after3 = list_published_works(sort="likes", after=after2, limit=2)
    order = [w.id for w in first + second + third]
    assert order == [works[2].id, works[4].id, works[3].id, works[1].id, works[0].id]
    assert after3 is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=video", {"视频"}),
        ("industry=金融", {"银行故事"}),
        ("province=上海", {"银行故事"}),
        ("kind=story", {"地铁故事", "银行故事"}),
    ],
)
def test_filters_by_kind_industry_and_province(
    client, collective, make_collective, open_campaign, query, expected
):
    bank = make_collective("上海某银行青年文明号", "金融", "上海")
    make_work(collective, open_campaign, title="地铁故事")
    make_work(bank, open_campaign, title="银行故事")
    make_work(collective, open_campaign, title="视频", kind="video")
    titles = {item["title"] for item in client.get(f"/api/v1/works?{query}").json["items"]}
    assert titles == expected


def test_filters_by_campaign(client, collective, open_campaign):
    other = make_campaign(title="另一个活动")
    make_work(collective, open_campaign, title="本次")
    make_work(collective, other, title="另一次")
    items = client.get(f"/api/v1/works?campaign_id={other.id}").json["items"]
    assert [item["title"] for item in items] == ["另一次"]


@pytest.mark.parametrize("query", ["sort=best", "kind=poem", "industry=火星", "campaign_id=abc"])
def test_unknown_parameters_are_400_invalid_parameter(client, query):
    response = client.get(f"/api/v1/works?{query}")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"


def test_a_garbled_cursor_is_400(client):
    response = client.get("/api/v1/works?cursor=not-a-cursor")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_cursor"


# --- GET /works/<id> ----------------------------------------------------------------------------


def test_the_detail_has_the_contract_fields_and_counts(client, collective, open_campaign, member, make_user):
    work = svc.create_story(member, title="故事", body="**正文**", campaign_id=open_campaign.id)
    svc.add_story_image(work, member, jpeg_bytes((1000, 500)))
    svc.submit_for_review(work, member)
    fan = make_user()
    db.session.add(Like(user_id=fan.id, work_id=work.id))
    db.session.add(Comment(work_id=work.id, user_id=fan.id, body="好", status=CommentStatus.VISIBLE))
    db.session.add(Comment(work_id=work.id, user_id=fan.id, body="待审", status=CommentStatus.PENDING))
    work.view_count = 7
    db.session.commit()
    # Rows written straight to SQL: publishing counts them into Redis, where the API reads them.
    moderation.approve_work(make_user(Role.ADMIN), work.id)

    sign_in(client, fan)
    body = client.get(f"/api/v1/works/{work.id}").json
    assert set(body) == WORK_FIELDS | {"embed_url"}  # the detail's addition (issue 15)
    assert_matches_schema("Work", body)
    assert (body["likes"], body["comments"], body["views"], body["liked_by_me"]) == (1, 1, 7, True)
    assert body["collective"] == {
        "id": collective.id,
        "name": collective.name,
        "industry": "交通运输",
        "province": "北京",
    }
    assert body["body_html"] == "<p><strong>正文</strong></p>\n"
    (image,) = body["media"]["images"]
    assert (image["width"], image["height"]) == (1000, 500) and image["thumbnail"].endswith("-thumb.jpg")
    assert body["media"]["poster"] is None and body["media"]["hls"] is None and body["media"]["mp4"] == {}
    assert body["published_at"].endswith("+00:00")


def test_a_draft_is_404_to_anonymous_api_clients(client, member, open_campaign):
    work = svc.create_story(member, title="草稿", campaign_id=open_campaign.id)
    response = client.get(f"/api/v1/works/{work.id}")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_a_draft_is_visible_to_its_collective_through_the_api(client, member, open_campaign):
    work = svc.create_story(member, title="草稿", campaign_id=open_campaign.id)
    sign_in(client, member)
    assert client.get(f"/api/v1/works/{work.id}").json["status"] == "draft"


# --- POST /works --------------------------------------------------------------------------------


def test_a_member_creates_a_draft(client, member, open_campaign):
    sign_in(client, member)
    response = _post_json(
        client,
        "/api/v1/works",
        {
            "kind": "story",
            "title": "新故事",
            "summary": "简介",
            "body": "# 标题",
            "campaign_id": open_campaign.id,
        },
    )
    assert response.status_code == 201
    work = response.json["work"]
    assert_matches_schema("Work", work)
    assert (work["status"], work["kind"], work["title"], work["body_html"]) == (
        "draft",
        "story",
        "新故事",
        "<h1>标题</h1>\n",
    )
    assert work["published_at"] is None


@pytest.mark.parametrize("kind", ["film", "video"])
def test_films_and_videos_may_start_as_drafts(client, member, open_campaign, kind):
    sign_in(client, member)
    response = _post_json(
        client, "/api/v1/works", {"kind": kind, "title": "片子", "campaign_id": open_campaign.id}
    )
    assert response.status_code == 201 and response.json["work"]["kind"] == kind


def test_creating_anonymously_is_401(client, open_campaign):
    response = client.post(
        "/api/v1/works", json={"kind": "story", "title": "t", "campaign_id": open_campaign.id}
    )
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_creating_as_a_viewer_is_403(client, make_user, open_campaign):
    sign_in(client, make_user(Role.VIEWER))
    response = _post_json(
        client, "/api/v1/works", {"kind": "story", "title": "t", "campaign_id": open_campaign.id}
    )
    assert response.status_code == 403


def test_creating_in_an_unknown_campaign_is_422(client, member):
    sign_in(client, member)
    response = _post_json(client, "/api/v1/works", {"kind": "story", "title": "t", "campaign_id": 424242})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "unknown_campaign"
    assert response.json["error"]["message"] == "活动不存在。"


def test_creating_outside_the_submission_window_is_409(client, member):
    closed = make_campaign(submission_days=(-30, -1))
    sign_in(client, member)
    response = _post_json(client, "/api/v1/works", {"kind": "story", "title": "t", "campaign_id": closed.id})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "submission_closed"
    assert "现在不在征集期内" in response.json["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count(Work.id))) == 0


def test_creating_without_a_title_names_the_missing_field(client, member, open_campaign):
    sign_in(client, member)
    response = _post_json(client, "/api/v1/works", {"kind": "story", "campaign_id": open_campaign.id})
    assert response.status_code == 422 and "title" in response.json["error"]["fields"]


@pytest.mark.parametrize("field", ["title", "summary", "body"])
@pytest.mark.parametrize(
    "value", [{"zh": "标题"}, ["标题"], 12, True], ids=["object", "list", "number", "bool"]
)
def test_a_text_field_that_is_not_text_is_refused_not_stored_as_its_repr(
    client, member, open_campaign, field, value
):
    sign_in(client, member)
    payload = {"kind": "story", "title": "标题", "campaign_id": open_campaign.id, field: value}
    response = _post_json(client, "/api/v1/works", payload)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert client.get("/my/works").get_data(as_text=True).count("{&#39;zh&#39;") == 0


def test_an_unknown_kind_is_422(client, member, open_campaign):
    sign_in(client, member)
    response = _post_json(
        client, "/api/v1/works", {"kind": "poem", "title": "t", "campaign_id": open_campaign.id}
    )
    assert response.status_code == 422 and "kind" in response.json["error"]["fields"]


def test_a_cookie_write_without_the_csrf_header_is_refused(client, member, open_campaign):
    sign_in(client, member)
    response = client.post(
        "/api/v1/works", json={"kind": "story", "title": "t", "campaign_id": open_campaign.id}
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "csrf_failed"


def test_created_drafts_stay_out_of_the_public_list(client, member, open_campaign):
    svc.create_story(member, title="草稿", campaign_id=open_campaign.id)
    assert client.get("/api/v1/works").json["items"] == []
    assert db.session.scalar(sa.select(Work.status)) == WorkStatus.DRAFT
