"""The featured wall (优秀作品展示墙): curation by national moderators, one audit event per change,
the public page and API, and who may do what."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.engagement import services as engagement
from app.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed
from app.extensions import db
from app.models import FeaturedSlot, ModerationEvent, Role, User, WorkStatus
from app.wall import services as wall
from app.works.listing import WorkFilters
from tests.builders_support import make_campaign, make_work
from tests.contract import assert_matches_schema
from tests.engagement_support import all_at_once
from tests.sign_in_support import page_csrf_token, page_state, sign_in


@pytest.fixture
def curator(make_user):
    """A national moderator: a moderator without a province."""
    return make_user(Role.MODERATOR)


@pytest.fixture
def publish(metro, open_campaign):
    def make(title: str = "作品", collective=None, campaign=None):
        work = make_work(collective or metro, campaign or open_campaign, title=title)
        engagement.work_published(work)  # ranked, as a real publication does
        return work

    return make


def _wall_ids() -> list[int]:
    return [item.work.id for item in wall.featured()]


def _events(action: str | None = None) -> list[ModerationEvent]:
    query = sa.select(ModerationEvent).order_by(ModerationEvent.id)
    if action:
        query = query.where(ModerationEvent.action == action)
    return list(db.session.scalars(query))


def _positions() -> list[int]:
    return list(db.session.scalars(sa.select(FeaturedSlot.position).order_by(FeaturedSlot.position)))


# --- featuring --------------------------------------------------------------------------------


def test_featuring_appends_the_work_at_the_end_of_the_wall(curator, publish):
    first, second = publish("甲"), publish("乙")
    wall.feature(curator, first.id)
    item = wall.feature(curator, second.id, "  值得一看  ")
    assert _wall_ids() == [first.id, second.id]
    assert (item.position, item.note) == (1, "值得一看")


def test_featuring_records_one_audit_event_with_the_note(curator, publish):
    work = publish()
    wall.feature(curator, work.id, "推荐语")
    (event,) = _events()
    assert (event.actor_id, event.action, event.target_type, event.target_id, event.reason) == (
        curator.id,
        "feature",
        "work",
        work.id,
        "推荐语",
    )


def test_featuring_a_work_already_on_the_wall_is_refused_and_changes_nothing(curator, publish):
    work = publish()
    wall.feature(curator, work.id)
    with pytest.raises(Conflict) as refused:
        wall.feature(curator, work.id)
    assert refused.value.code == "already_featured"
    assert _wall_ids() == [work.id] and len(_events()) == 1


@pytest.mark.parametrize("status", ["draft", "pending_review", "rejected", "withdrawn"])
def test_only_published_works_can_be_featured(curator, metro, open_campaign, status):
    work = make_work(metro, open_campaign, status=status)
    with pytest.raises(Conflict) as refused:
        wall.feature(curator, work.id)
    assert refused.value.status == 409 and refused.value.code == "work_not_published"
    assert "已发布" in refused.value.message
    assert db.session.scalar(sa.select(sa.func.count(FeaturedSlot.id))) == 0 and _events() == []


def test_featuring_a_missing_work_is_404(curator):
    with pytest.raises(NotFound):
        wall.feature(curator, 999_999)


def test_the_wall_holds_a_bounded_number_of_works(curator, publish, monkeypatch):
    monkeypatch.setattr(wall, "WALL_MAX", 2)
    for title in ("甲", "乙"):
        wall.feature(curator, publish(title).id)
    with pytest.raises(Conflict) as refused:
        wall.feature(curator, publish("丙").id)
    assert refused.value.code == "wall_full" and "最多" in refused.value.message
    assert len(_wall_ids()) == 2


def test_the_wall_is_bounded_at_48_works():
    assert wall.WALL_MAX == 48


# --- removing, moving, notes ------------------------------------------------------------------


def test_removing_a_work_closes_the_gap_in_positions(curator, publish):
    works = [publish(t) for t in "甲乙丙"]
    for work in works:
        wall.feature(curator, work.id)
    wall.unfeature(curator, works[1].id)
    assert _wall_ids() == [works[0].id, works[2].id]
    assert _positions() == [0, 1]


def test_removing_a_work_that_is_not_on_the_wall_is_404(curator, publish):
    with pytest.raises(NotFound) as refused:
        wall.unfeature(curator, publish().id)
    assert refused.value.code == "not_featured"


def test_moving_a_work_reorders_the_wall_and_keeps_positions_dense(curator, publish):
    a, b, c = (publish(t) for t in "甲乙丙")
    for work in (a, b, c):
        wall.feature(curator, work.id)
    assert wall.move(curator, c.id, 0) == 0
    assert _wall_ids() == [c.id, a.id, b.id]
    assert _positions() == [0, 1, 2]


def test_moving_past_the_end_lands_at_the_end(curator, publish):
    a, b = publish("甲"), publish("乙")
    wall.feature(curator, a.id)
    wall.feature(curator, b.id)
    assert wall.move(curator, a.id, 99) == 1
    assert _wall_ids() == [b.id, a.id]


def test_moving_up_and_down_swaps_with_the_neighbour(curator, publish):
    a, b, c = (publish(t) for t in "甲乙丙")
    for work in (a, b, c):
        wall.feature(curator, work.id)
    wall.move(curator, c.id, direction="up")
    assert _wall_ids() == [a.id, c.id, b.id]
    wall.move(curator, a.id, direction="down")
    assert _wall_ids() == [c.id, a.id, b.id]


@pytest.mark.parametrize("position", [-1, "2", True, None])
def test_a_move_needs_a_non_negative_integer_position(curator, publish, position):
    work = publish()
    wall.feature(curator, work.id)
    with pytest.raises(ValidationFailed):
        wall.move(curator, work.id, position)


def test_a_note_is_stored_as_plain_text(curator, publish):
    work = publish()
    wall.feature(curator, work.id)
    wall.set_note(curator, work.id, " <b>基层服务</b>的好榜样 ")
    assert wall.featured()[0].note == "<b>基层服务</b>的好榜样"


def test_a_note_longer_than_255_characters_is_refused(curator, publish):
    work = publish()
    wall.feature(curator, work.id, "原来的")
    with pytest.raises(ValidationFailed) as refused:
        wall.set_note(curator, work.id, "字" * 256)
    assert "note" in refused.value.fields
    assert wall.featured()[0].note == "原来的"


@pytest.mark.race
def test_curators_adding_at_the_same_time_leave_dense_positions(app, curator, publish):
    work_ids = [publish(str(n)).id for n in range(6)]
    curator_id = curator.id

    def add(work_id: int):
        return lambda: wall.feature(db.session.get(User, curator_id), work_id)

    assert all_at_once(app, [add(work_id) for work_id in work_ids]) == []
    assert _positions() == list(range(len(work_ids)))
    assert sorted(_wall_ids()) == sorted(work_ids)


# --- what the wall shows ----------------------------------------------------------------------


def test_a_work_unpublished_later_drops_off_the_wall_silently(curator, publish):
    kept, hidden = publish("留下"), publish("下线")
    wall.feature(curator, kept.id)
    wall.feature(curator, hidden.id)
    hidden.status = WorkStatus.WITHDRAWN
    db.session.commit()
    assert _wall_ids() == [kept.id]
    # The curation page still lists it, so that a moderator can take it off for good.
    assert [item.work.id for item in wall.slots()] == [kept.id, hidden.id]


def test_featured_works_are_filtered_by_industry_province_and_campaign(curator, publish, bank):
    other_campaign = make_campaign(title="另一个活动")
    metro_work = publish("地铁")
    bank_work = publish("银行", collective=bank)
    later = publish("另一活动", campaign=other_campaign)
    for work in (metro_work, bank_work, later):
        wall.feature(curator, work.id)

    def ids(**filters):
        return [item.work.id for item in wall.featured(WorkFilters(**filters))]

    assert ids(industry="金融") == [bank_work.id]
    assert ids(province="北京") == [metro_work.id, later.id]
    assert ids(campaign_id=other_campaign.id) == [later.id]


def test_the_wall_adds_the_hottest_and_most_liked_works_from_the_rankings(curator, publish, make_user):
    quiet, liked = publish("安静"), publish("受欢迎")
    engagement.like_work(make_user(), liked)
    wall.feature(curator, quiet.id)
    sections = wall.wall(limit=5)
    assert [item.work.id for item in sections["featured"]] == [quiet.id]
    assert [work.id for work in sections["likes"]] == [liked.id, quiet.id]
    assert sections["hot"][0].id == liked.id


# --- replacing the whole order (API PUT) ------------------------------------------------------


def test_set_order_replaces_the_wall_and_keeps_the_notes_of_works_kept(curator, publish):
    a, b, c = (publish(t) for t in "甲乙丙")
    wall.feature(curator, a.id, "甲的推荐语")
    wall.feature(curator, b.id)
    result = wall.set_order(curator, [c.id, a.id])
    assert [(item.work.id, item.position) for item in result] == [(c.id, 0), (a.id, 1)]
    assert wall.featured()[1].note == "甲的推荐语"
    assert _positions() == [0, 1]


def test_set_order_with_an_empty_list_empties_the_wall(curator, publish):
    wall.feature(curator, publish().id)
    assert wall.set_order(curator, []) == []
    assert _wall_ids() == []


def test_set_order_with_a_bad_id_names_it_and_changes_nothing(curator, publish, metro, open_campaign):
    a, b = publish("甲"), publish("乙")
    draft = make_work(metro, open_campaign, status="draft")
    wall.feature(curator, a.id)
    with pytest.raises(ValidationFailed) as refused:
        wall.set_order(curator, [b.id, draft.id, 424242])
    assert refused.value.code == "validation_failed"
    assert refused.value.message.endswith(f"{draft.id}, 424242")  # the good id b is not named
    assert _wall_ids() == [a.id] and len(_events()) == 1


def test_set_order_refuses_duplicate_ids(curator, publish):
    work = publish()
    with pytest.raises(ValidationFailed) as refused:
        wall.set_order(curator, [work.id, work.id])
    assert "重复" in refused.value.message and str(work.id) in refused.value.message
    assert _wall_ids() == []


@pytest.mark.parametrize("work_ids", [None, "1,2", [1, "2"], [1.5], [True], {"a": 1}])
def test_set_order_needs_a_list_of_integers(curator, work_ids):
    with pytest.raises(ValidationFailed):
        wall.set_order(curator, work_ids)


def test_set_order_refuses_more_than_the_wall_holds(curator, publish, monkeypatch):
    monkeypatch.setattr(wall, "WALL_MAX", 1)
    ids = [publish("甲").id, publish("乙").id]
    with pytest.raises(Conflict) as refused:
        wall.set_order(curator, ids)
    assert refused.value.code == "wall_full"


# --- one audit event per change ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "change"),
    [
        ("feature", lambda actor, w: wall.feature(actor, w[2].id)),
        ("unfeature", lambda actor, w: wall.unfeature(actor, w[0].id)),
        ("feature_move", lambda actor, w: wall.move(actor, w[1].id, 0)),
        ("feature_note", lambda actor, w: wall.set_note(actor, w[0].id, "新的推荐语")),
        ("wall_set", lambda actor, w: wall.set_order(actor, [w[2].id, w[0].id])),
    ],
)
def test_every_change_writes_exactly_one_audit_event(curator, publish, action, change):
    works = [publish(t) for t in "甲乙丙"]
    wall.feature(curator, works[0].id)
    wall.feature(curator, works[1].id)
    before = len(_events())
    change(curator, works)
    new = _events()[before:]
    assert [event.action for event in new] == [action]
    assert new[0].actor_id == curator.id


def test_the_wall_set_event_names_the_new_order(curator, publish):
    a, b = publish("甲"), publish("乙")
    wall.set_order(curator, [b.id, a.id])
    (event,) = _events("wall_set")
    assert (event.target_type, event.target_id, event.reason) == ("wall", 0, f"{b.id}, {a.id}")


# --- who may curate ---------------------------------------------------------------------------


@pytest.fixture
def not_national(make_user, metro):
    return {
        "provincial moderator": make_user(Role.MODERATOR, province="北京"),
        "viewer": make_user(Role.VIEWER),
        "collective": make_user(Role.COLLECTIVE, collective=metro),
    }


@pytest.mark.parametrize("who", ["provincial moderator", "viewer", "collective"])
def test_only_national_moderators_curate_the_wall(not_national, publish, who):
    work = publish()
    actor = not_national[who]
    for change in (
        lambda: wall.feature(actor, work.id),
        lambda: wall.unfeature(actor, work.id),
        lambda: wall.move(actor, work.id, 0),
        lambda: wall.set_note(actor, work.id, "x"),
        lambda: wall.set_order(actor, [work.id]),
    ):
        with pytest.raises(Forbidden):
            change()
    assert _events() == []


def test_signed_out_visitors_are_asked_to_log_in(app, publish):
    from flask_login import AnonymousUserMixin

    with pytest.raises(ServiceError) as refused:
        wall.feature(AnonymousUserMixin(), publish().id)
    assert refused.value.status == 401


def test_admins_curate_too(make_user, publish):
    work = publish()
    wall.feature(make_user(Role.ADMIN), work.id)
    assert _wall_ids() == [work.id]


# --- API --------------------------------------------------------------------------------------


def test_api_wall_answers_featured_hot_and_likes_in_the_spec_shape(client, curator, publish):
    work = publish("精选")
    wall.feature(curator, work.id, "推荐语")
    response = client.get("/api/v1/wall")
    assert response.status_code == 200
    body = response.json
    assert [(item["id"], item["note"], item["position"]) for item in body["featured"]] == [
        (work.id, "推荐语", 0)
    ]
    assert [item["id"] for item in body["hot"]] == [work.id]
    for item in body["featured"]:
        assert_matches_schema("FeaturedWork", item)
    for item in body["hot"] + body["likes"]:
        assert_matches_schema("Work", item)


def test_api_wall_filters_every_section(client, curator, publish, bank):
    metro_work, bank_work = publish("地铁"), publish("银行", collective=bank)
    wall.feature(curator, metro_work.id)
    wall.feature(curator, bank_work.id)
    body = client.get("/api/v1/wall?province=上海").json
    assert [item["id"] for item in body["featured"]] == [bank_work.id]
    assert [item["id"] for item in body["hot"]] == [bank_work.id]
    assert [item["id"] for item in body["likes"]] == [bank_work.id]


def test_api_wall_refuses_an_unknown_province(client):
    response = client.get("/api/v1/wall?province=火星")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_parameter"


def _put(client, user, payload=None, **kwargs):
    sign_in(client, user)
    headers = {"X-CSRFToken": page_csrf_token(client)}
    return client.put("/api/v1/wall", json=payload, headers=headers, **kwargs)


def test_api_put_sets_the_order_and_answers_it(client, curator, publish):
    a, b = publish("甲"), publish("乙")
    response = _put(client, curator, {"work_ids": [b.id, a.id]})
    assert response.status_code == 200, response.json
    assert [(item["id"], item["position"]) for item in response.json["featured"]] == [(b.id, 0), (a.id, 1)]
    for item in response.json["featured"]:
        assert_matches_schema("FeaturedWork", item)
    assert _wall_ids() == [b.id, a.id]


def test_api_put_with_a_bad_id_is_422_naming_it(client, curator, publish):
    work = publish()
    response = _put(client, curator, {"work_ids": [work.id, 777777]})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_failed"
    assert "777777" in response.json["error"]["message"]
    assert_matches_schema("Error", response.json)
    assert _wall_ids() == []


@pytest.mark.parametrize("payload", [{}, {"work_ids": "1"}, {"work_ids": [1, "x"]}])
def test_api_put_needs_a_list_of_integers(client, curator, payload):
    response = _put(client, curator, payload)
    assert response.status_code == 422 and response.json["error"]["code"] == "validation_failed"


def test_api_put_with_a_body_that_is_not_json_is_refused(client, curator):
    response = _put(client, curator, data="work_ids=1", content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("who", ["provincial moderator", "viewer", "collective"])
def test_api_put_is_403_for_everyone_but_national_moderators(client, not_national, publish, who):
    response = _put(client, not_national[who], {"work_ids": [publish().id]})
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"


def test_api_put_is_401_when_signed_out(client, publish):
    response = client.put("/api/v1/wall", json={"work_ids": [publish().id]})
    assert response.status_code == 401


# --- pages ------------------------------------------------------------------------------------


def test_the_wall_page_lists_featured_works_first_with_their_note(client, curator, publish, make_user):
    popular, chosen = publish("人气作品"), publish("精选作品")
    engagement.like_work(make_user(), popular)
    wall.feature(curator, chosen.id, "一线职工的温暖故事")
    page = client.get("/wall").get_data(as_text=True)
    assert page.index("精选作品") < page.index("人气作品")
    assert page.index("精选作品") < page.index('id="hot"') < page.index('id="likes"')
    assert "一线职工的温暖故事" in page
    assert "like-button" in page  # the same like toggles as the home page


def test_a_note_with_markup_is_shown_escaped(client, curator, publish):
    work = publish()
    wall.feature(curator, work.id, '<script>alert("x")</script>')
    page = client.get("/wall").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_the_wall_page_filters_by_province(client, curator, publish, bank):
    metro_work, bank_work = publish("地铁作品"), publish("银行作品", collective=bank)
    wall.feature(curator, metro_work.id)
    wall.feature(curator, bank_work.id)
    page = client.get("/wall?province=上海").get_data(as_text=True)
    assert "银行作品" in page and "地铁作品" not in page


def test_the_nav_links_the_wall_for_everyone_and_its_curation_for_national_moderators(
    client, curator, not_national
):
    # The home page is one shared body: the curation link is in it, hidden, and the page's script
    # shows it when the state call says the role opens it; personal pages render it as before.
    home = client.get("/").get_data(as_text=True)
    assert 'href="/wall"' in home and 'data-nav="manage_wall" hidden' in home
    sign_in(client, not_national["provincial moderator"])
    assert page_state(client)["nav"]["manage_wall"] is False
    assert 'href="/moderation/wall"' not in client.get("/account").get_data(as_text=True)
    sign_in(client, curator)
    assert page_state(client)["nav"]["manage_wall"] is True
    assert 'href="/moderation/wall"' in client.get("/account").get_data(as_text=True)


def test_the_curation_page_lists_the_wall_with_its_forms(client, curator, publish):
    work = publish("墙上的作品")
    wall.feature(curator, work.id, "推荐语")
    sign_in(client, curator)
    page = client.get("/moderation/wall").get_data(as_text=True)
    assert "墙上的作品" in page and 'value="推荐语"' in page
    for action in ("note", "move", "remove"):
        assert f'action="/moderation/wall/{work.id}/{action}"' in page
    assert 'action="/moderation/wall/add"' in page and 'name="csrf_token"' in page


def test_the_curation_page_is_forbidden_to_provincial_moderators(client, not_national):
    sign_in(client, not_national["provincial moderator"])
    assert client.get("/moderation/wall").status_code == 403


def test_the_curation_page_sends_signed_out_visitors_to_log_in(client):
    response = client.get("/moderation/wall")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _post(client, url, **form):
    return client.post(url, data={**form, "csrf_token": page_csrf_token(client)})


def test_the_curation_forms_add_note_move_and_remove(client, curator, publish):
    a, b = publish("甲"), publish("乙")
    sign_in(client, curator)
    assert _post(client, "/moderation/wall/add", work_id=str(a.id), note="甲").status_code == 302
    _post(client, "/moderation/wall/add", work_id=str(b.id))
    _post(client, f"/moderation/wall/{b.id}/move", direction="up")
    assert _wall_ids() == [b.id, a.id]
    _post(client, f"/moderation/wall/{a.id}/move", position="0")
    assert _wall_ids() == [a.id, b.id]
    _post(client, f"/moderation/wall/{b.id}/note", note="乙的推荐语")
    assert wall.featured()[1].note == "乙的推荐语"
    response = _post(client, f"/moderation/wall/{a.id}/remove")
    assert response.headers["Location"].endswith("/moderation/wall")
    assert _wall_ids() == [b.id]


def test_a_refused_curation_is_flashed_on_the_curation_page(client, curator, metro, open_campaign):
    draft = make_work(metro, open_campaign, status="draft")
    sign_in(client, curator)
    response = _post(client, "/moderation/wall/add", work_id=str(draft.id))
    assert response.status_code == 302
    page = client.get("/moderation/wall").get_data(as_text=True)
    assert "只有已发布的作品可以加入展示墙。" in page


def test_adding_without_a_work_number_is_flashed(client, curator):
    sign_in(client, curator)
    _post(client, "/moderation/wall/add", work_id="abc")
    assert "请填写作品编号" in client.get("/moderation/wall").get_data(as_text=True)
