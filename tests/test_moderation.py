"""Reviewing works: queues in the moderator's scope, approve, reject with a reason, 推报, bulk
actions, and one audit event per action."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import redis_keys
from app.engagement.scoring import Ranking
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db, redis_client
from app.models import ModerationEvent, Role, User, WorkStatus
from app.moderation import services as moderation
from app.works.listing import WorkFilters
from tests.builders_support import make_work
from tests.engagement_support import another_request
from tests.sign_in_support import page_csrf_token, sign_in, statements_sent


@pytest.fixture
def beijing(metro):
    return metro


@pytest.fixture
def shanghai(bank):
    return bank


@pytest.fixture
def beijing_moderator(make_user):
    return make_user(Role.MODERATOR, province="北京")


@pytest.fixture
def national(make_user):
    return make_user(Role.MODERATOR)


def pending(collective, campaign, title="待审作品", kind="story"):
    return make_work(collective, campaign, title=title, status="pending_review", kind=kind)


def events(action: str | None = None) -> list[ModerationEvent]:
    query = sa.select(ModerationEvent).order_by(ModerationEvent.id)
    if action:
        query = query.where(ModerationEvent.action == action)
    return list(db.session.scalars(query))


def likes_rank(work_id: int) -> float | None:
    return redis_client.client.zscore(Ranking.of("likes").key(), redis_keys.member(work_id))


# --- queues ---------------------------------------------------------------------------------------


def test_a_provincial_moderator_sees_only_their_provinces_pending_works(
    beijing, shanghai, open_campaign, beijing_moderator
):
    ours = pending(beijing, open_campaign, "北京的作品")
    pending(shanghai, open_campaign, "上海的作品")
    page = moderation.review_queue(beijing_moderator)
    assert [w.id for w in page.works] == [ours.id]


def test_a_national_moderator_sees_every_province(beijing, shanghai, open_campaign, national):
    works = [pending(beijing, open_campaign), pending(shanghai, open_campaign)]
    assert [w.id for w in moderation.review_queue(national).works] == [w.id for w in works]


def test_pending_works_come_oldest_first_a_page_at_a_time(beijing, open_campaign, national):
    works = [pending(beijing, open_campaign, f"作品{n}") for n in range(5)]
    first = moderation.review_queue(national, limit=2)
    second = moderation.review_queue(national, limit=2, after_id=first.next_cursor)
    last = moderation.review_queue(national, limit=2, after_id=second.next_cursor)
    seen = [w.id for page in (first, second, last) for w in page.works]
    assert seen == [w.id for w in works] and last.next_cursor is None


def test_filters_combine(beijing, shanghai, open_campaign, national):
    film = pending(beijing, open_campaign, "地铁微电影", kind="film")
    pending(beijing, open_campaign, "地铁微故事", kind="story")
    pending(shanghai, open_campaign, "银行微电影", kind="film")
    filters = WorkFilters(kind="film", industry="交通运输", campaign_id=open_campaign.id)
    assert [w.id for w in moderation.review_queue(national, filters=filters).works] == [film.id]


def test_counts_per_queue_follow_the_scope(beijing, shanghai, open_campaign, beijing_moderator, national):
    pending(beijing, open_campaign)
    pending(shanghai, open_campaign)
    make_work(beijing, open_campaign, status="rejected")
    counts = moderation.queue_counts(beijing_moderator)
    assert (counts["pending"], counts["rejected"], counts["published"]) == (1, 1, 0)
    assert "recommended" not in counts
    assert moderation.queue_counts(national)["pending"] == 2


def test_only_national_moderators_see_the_recommendations(beijing_moderator):
    with pytest.raises(Forbidden):
        moderation.review_queue(beijing_moderator, "recommended")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COLLECTIVE])
def test_viewers_and_collectives_have_no_queue(make_user, role):
    with pytest.raises(Forbidden):
        moderation.review_queue(make_user(role))


# --- approve, reject, recommend -------------------------------------------------------------------


def test_approving_publishes_the_work_and_ranks_it(beijing, open_campaign, beijing_moderator):
    work = pending(beijing, open_campaign)
    moderation.approve_work(beijing_moderator, work.id)
    assert work.status == WorkStatus.PUBLISHED and work.published_at is not None
    assert likes_rank(work.id) == 0


def test_each_action_writes_exactly_one_audit_event(beijing, open_campaign, beijing_moderator):
    work = pending(beijing, open_campaign)
    moderation.approve_work(beijing_moderator, work.id)
    moderation.recommend_work(beijing_moderator, work.id, "值得全国推广")
    moderation.unrecommend_work(beijing_moderator, work.id)
    moderation.reject_work(beijing_moderator, work.id, "画面中出现未授权的商标")
    assert [(e.action, e.actor_id, e.target_id) for e in events()] == [
        ("approve", beijing_moderator.id, work.id),
        ("recommend", beijing_moderator.id, work.id),
        ("unrecommend", beijing_moderator.id, work.id),
        ("reject", beijing_moderator.id, work.id),
    ]
    assert events("reject")[0].reason == "画面中出现未授权的商标"


def test_approving_twice_is_refused_and_writes_no_second_event(beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    moderation.approve_work(national, work.id)
    with pytest.raises(Conflict):
        moderation.approve_work(national, work.id)
    assert len(events("approve")) == 1


def test_a_rejection_needs_a_reason(beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    with pytest.raises(ValidationFailed):
        moderation.reject_work(national, work.id, "   ")
    assert work.status == WorkStatus.PENDING_REVIEW and events() == []


def test_an_over_long_reason_is_refused(beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    with pytest.raises(ValidationFailed):
        moderation.reject_work(national, work.id, "长" * 501)


def test_the_collective_reads_the_reason_on_its_works_page(
    client, beijing, open_campaign, national, make_user
):
    work = pending(beijing, open_campaign)
    moderation.reject_work(national, work.id, "<script>alert(1)</script>请补充字幕")
    sign_in(client, make_user(Role.COLLECTIVE, collective=beijing))
    page = client.get("/my/works").get_data(as_text=True)
    assert "请补充字幕" in page and "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_taking_a_published_work_down_removes_it_from_the_rankings(beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    moderation.approve_work(national, work.id)
    moderation.reject_work(national, work.id, "收到举报，核实后下架")
    assert work.status == WorkStatus.REJECTED and likes_rank(work.id) is None


def test_only_published_works_can_be_recommended(beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    with pytest.raises(Conflict):
        moderation.recommend_work(national, work.id)


def test_recommending_again_changes_nothing(beijing, open_campaign, beijing_moderator, national):
    work = pending(beijing, open_campaign)
    moderation.approve_work(beijing_moderator, work.id)
    moderation.recommend_work(beijing_moderator, work.id)
    moderation.recommend_work(beijing_moderator, work.id)
    assert work.recommended and work.recommended_by_id == beijing_moderator.id
    assert len(events("recommend")) == 1
    assert [w.id for w in moderation.review_queue(national, "recommended").works] == [work.id]


def test_recommending_a_work_taken_down_since_it_was_read_is_refused_and_changes_nothing(
    beijing, open_campaign, beijing_moderator, national, monkeypatch
):
    work = make_work(beijing, open_campaign, title="站台上的守候")
    read = moderation.get_work_for_review

    def read_then_taken_down(moderator, work_id):
        found = read(moderator, work_id)  # the provincial moderator still sees it published
        if moderator.id == beijing_moderator.id:
            with another_request():  # meanwhile the national committee takes it down
                moderation.reject_work(db.session.get(User, national.id), work_id, "收到举报，核实后下架")
        return found

    monkeypatch.setattr(moderation, "get_work_for_review", read_then_taken_down)
    with pytest.raises(Conflict) as refused:
        moderation.recommend_work(beijing_moderator, work.id)
    assert refused.value.code == "not_published"
    assert work.status == WorkStatus.REJECTED and not work.recommended
    assert events("recommend") == []


def test_a_provincial_moderator_cannot_act_outside_their_province(shanghai, open_campaign, beijing_moderator):
    hidden = pending(shanghai, open_campaign)
    with pytest.raises(NotFound):  # an unpublished work of another province does not even exist
        moderation.approve_work(beijing_moderator, hidden.id)
    public = make_work(shanghai, open_campaign, title="上海已发布")
    with pytest.raises(Forbidden):
        moderation.recommend_work(beijing_moderator, public.id)
    with pytest.raises(Forbidden):
        moderation.reject_work(beijing_moderator, public.id, "越权")
    assert events() == [] and hidden.status == WorkStatus.PENDING_REVIEW


# --- bulk -----------------------------------------------------------------------------------------


def test_bulk_approval_acts_on_each_work_and_reports_the_refusals(
    beijing, shanghai, open_campaign, make_user
):
    moderator = make_user(Role.MODERATOR, province="北京")
    ours = [pending(beijing, open_campaign, f"作品{n}") for n in range(3)]
    elsewhere = pending(shanghai, open_campaign)
    result = moderation.bulk_act(moderator, "approve", [w.id for w in ours] + [elsewhere.id])
    assert result.done == [w.id for w in ours] and list(result.failed) == [elsewhere.id]
    assert len(events("approve")) == 3


def test_bulk_rejection_without_a_reason_touches_nothing(beijing, open_campaign, national):
    works = [pending(beijing, open_campaign, f"作品{n}") for n in range(2)]
    with pytest.raises(ValidationFailed):
        moderation.bulk_act(national, "reject", [w.id for w in works], "")
    assert all(w.status == WorkStatus.PENDING_REVIEW for w in works)


# --- pages ----------------------------------------------------------------------------------------


def test_the_queue_page_lists_the_work_with_its_preview_and_counts(client, beijing, open_campaign, national):
    work = pending(beijing, open_campaign, "站台上的温暖守候")
    sign_in(client, national)
    page = client.get("/moderation").get_data(as_text=True)
    assert "站台上的温暖守候" in page and f'data-work-id="{work.id}"' in page
    assert "预览作品" in page and 'data-count="pending">1<' in page


def test_approving_from_the_page_returns_to_the_queue(client, beijing, open_campaign, national):
    work = pending(beijing, open_campaign, "站台上的温暖守候")
    sign_in(client, national)
    response = client.post(
        f"/moderation/works/{work.id}/approve",
        data={"csrf_token": page_csrf_token(client), "next": "/moderation?queue=pending"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/moderation?queue=pending"
    db.session.refresh(work)
    assert work.status == WorkStatus.PUBLISHED
    assert "已审核通过并发布" in client.get("/moderation").get_data(as_text=True)


def test_a_form_never_redirects_off_the_site(client, beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    sign_in(client, national)
    response = client.post(
        f"/moderation/works/{work.id}/approve",
        data={"csrf_token": page_csrf_token(client), "next": "//evil.example/phish"},
    )
    assert response.headers["Location"] == "/moderation"


def test_a_refused_page_action_is_explained(client, beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    sign_in(client, national)
    client.post(f"/moderation/works/{work.id}/reject", data={"csrf_token": page_csrf_token(client)})
    assert "请填写不通过的原因" in client.get("/moderation").get_data(as_text=True)


def test_bulk_approval_from_the_page(client, beijing, open_campaign, national):
    works = [pending(beijing, open_campaign, f"作品{n}") for n in range(3)]
    sign_in(client, national)
    client.post(
        "/moderation/bulk",
        data={"csrf_token": page_csrf_token(client), "action": "approve", "work_ids": [w.id for w in works]},
    )
    assert moderation.queue_counts(national)["published"] == 3


def test_the_audit_log_shows_who_did_what(client, beijing, open_campaign, national, make_user):
    work = pending(beijing, open_campaign)
    moderation.reject_work(national, work.id, "需要补充字幕")
    sign_in(client, make_user(Role.ADMIN))
    page = client.get("/admin/audit").get_data(as_text=True)
    assert national.display_name in page and "reject" in page and "需要补充字幕" in page


def test_the_audit_log_is_for_admins_only(client, national):
    sign_in(client, national)
    assert client.get("/admin/audit").status_code == 403


# --- API ------------------------------------------------------------------------------------------


def test_the_api_queue_lists_works_with_review_fields_and_counts(client, beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    sign_in(client, national)
    answer = client.get("/api/v1/moderation/queue?kind=works&work_kind=story").json
    assert [item["id"] for item in answer["items"]] == [work.id]
    assert answer["items"][0]["recommended"] is False and answer["counts"]["pending"] == 1
    assert answer["next_cursor"] is None


def test_the_api_queue_pages_with_the_one_signed_cursor(client, beijing, open_campaign, national):
    works = [pending(beijing, open_campaign, f"作品{n}") for n in range(3)]
    sign_in(client, national)
    first = client.get("/api/v1/moderation/queue?limit=2").json
    rest = client.get(f"/api/v1/moderation/queue?limit=2&cursor={first['next_cursor']}").json
    assert [item["id"] for item in first["items"] + rest["items"]] == [w.id for w in works]
    assert rest["next_cursor"] is None


def test_the_api_queue_refuses_a_cursor_it_did_not_sign(client, beijing, open_campaign, national):
    pending(beijing, open_campaign)
    sign_in(client, national)
    answer = client.get("/api/v1/moderation/queue?cursor=1")
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_cursor"


def test_the_api_approves_rejects_and_recommends(client, beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    sign_in(client, national)
    headers = {"X-CSRFToken": page_csrf_token(client)}
    approved = client.post(f"/api/v1/moderation/works/{work.id}/approve", headers=headers)
    assert approved.status_code == 200 and approved.json["work"]["status"] == "published"
    recommended = client.post(f"/api/v1/moderation/works/{work.id}/recommend", headers=headers)
    assert recommended.json["work"]["recommended"] is True
    rejected = client.post(
        f"/api/v1/moderation/works/{work.id}/reject", headers=headers, json={"reason": "内容与主题不符"}
    )
    assert rejected.json["work"]["status"] == "rejected"
    assert rejected.json["work"]["reject_reason"] == "内容与主题不符"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COLLECTIVE])
def test_the_api_recommend_refuses_a_non_moderator_before_reading_the_body(
    client, make_user, beijing, open_campaign, role
):
    work = make_work(beijing, open_campaign)
    sign_in(client, make_user(role, collective=beijing if role == Role.COLLECTIVE else None))
    answer = client.post(
        f"/api/v1/moderation/works/{work.id}/recommend",
        headers={"X-CSRFToken": page_csrf_token(client)},
        data="x",
        content_type="text/plain",
    )
    assert answer.status_code == 403  # not 415: a stranger learns nothing of what the call takes


def test_the_api_queue_reads_a_pages_counts_and_likes_at_once_whatever_its_size(
    client, beijing, open_campaign, national
):
    sign_in(client, national)
    for n in range(2):
        pending(beijing, open_campaign, f"作品{n}")
    # Each is measured on its second read: the first caches the session and the new works' counts.
    client.get("/api/v1/moderation/queue")
    two = statements_sent(lambda: client.get("/api/v1/moderation/queue"))
    for n in range(2, 20):
        pending(beijing, open_campaign, f"作品{n}")
    client.get("/api/v1/moderation/queue")
    twenty = statements_sent(lambda: client.get("/api/v1/moderation/queue"))
    assert len(twenty) == len(two), twenty


def test_the_api_refuses_a_rejection_without_a_reason(client, beijing, open_campaign, national):
    work = pending(beijing, open_campaign)
    sign_in(client, national)
    answer = client.post(
        f"/api/v1/moderation/works/{work.id}/reject",
        headers={"X-CSRFToken": page_csrf_token(client)},
        json={},
    )
    assert answer.status_code == 422 and answer.json["error"]["code"] == "reason_required"


def test_an_unknown_queue_kind_is_a_clear_400(client, national):
    sign_in(client, national)
    answer = client.get("/api/v1/moderation/queue?kind=likes")
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COLLECTIVE])
def test_the_api_queue_is_closed_to_viewers_and_collectives(client, make_user, beijing, role):
    sign_in(client, make_user(role, collective=beijing if role == Role.COLLECTIVE else None))
    assert client.get("/api/v1/moderation/queue").status_code == 403


def test_the_api_queue_asks_strangers_to_log_in(client):
    assert client.get("/api/v1/moderation/queue").status_code == 401


def test_two_moderators_approving_at_once_publish_once(app, beijing, open_campaign, make_user):
    import threading

    work = pending(beijing, open_campaign)
    moderators = [make_user(Role.MODERATOR, province="北京") for _ in range(4)]
    start = threading.Barrier(len(moderators))
    outcomes: list[str] = []

    def approve(user_id: int) -> None:
        with app.app_context():  # a session and connection of its own, like a request
            moderator = db.session.get(User, user_id)
            start.wait()
            try:
                moderation.approve_work(moderator, work.id)
                outcomes.append("approved")
            except Conflict:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(m.id,)) for m in moderators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved", "refused", "refused", "refused"]
    assert len(events("approve")) == 1
