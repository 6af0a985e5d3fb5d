"""Reports (举报): who may report what, reasons, duplicates, rate limits, the API contract, the
report form, and how moderators answer reports within their province."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.engagement import counters
from app.errors import ServiceError
from app.extensions import db
from app.models import Comment, CommentStatus, Report, ReportStatus
from app.moderation import reports
from tests.builders_support import make_voters, make_work
from tests.contract import assert_matches_schema
from tests.engagement_support import all_at_once, pause_here, widened_window
from tests.moderation_support import FLAGGED, build_place, event_count, events_of, post
from tests.sign_in_support import page_csrf_token, signed_in


@pytest.fixture
def place(make_collective, make_user, open_campaign):
    return build_place(make_collective, make_user, open_campaign)


def _api_report(client, **payload):
    return client.post("/api/v1/reports", json=payload, headers={"X-CSRFToken": page_csrf_token(client)})


def _report_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Report)) or 0


# --------------------------------------------------------------------------------------------
# Reporting.


def test_a_viewer_reports_a_published_work_and_the_report_is_open(place):
    report = reports.create_report(place.viewer, "work", place.beijing_work.id, "  标题党，内容抄袭  ")
    assert (report.target_type, report.target_id, report.status) == ("work", place.beijing_work.id, "open")
    assert report.reason == "标题党，内容抄袭"


def test_a_viewer_reports_a_visible_comment(place):
    comment = post(place.other_viewer, place.beijing_work)
    report = reports.create_report(place.viewer, "comment", comment.id, "广告")
    assert (report.target_type, report.target_id) == ("comment", comment.id)


def test_reporting_the_same_open_target_again_returns_the_first_report(place):
    first = reports.create_report(place.viewer, "work", place.beijing_work.id, "抄袭")
    again = reports.create_report(place.viewer, "work", place.beijing_work.id, "还是抄袭")
    assert again.id == first.id and _report_count() == 1


def test_two_people_reporting_one_target_make_two_reports(place):
    reports.create_report(place.viewer, "work", place.beijing_work.id, "抄袭")
    reports.create_report(place.other_viewer, "work", place.beijing_work.id, "抄袭")
    assert _report_count() == 2


def test_after_an_answer_the_same_person_can_report_the_target_again(place):
    first = reports.create_report(place.viewer, "work", place.beijing_work.id, "抄袭")
    reports.resolve_report(place.moderator, first.id, "dismissed")
    again = reports.create_report(place.viewer, "work", place.beijing_work.id, "确实抄袭，附链接")
    assert again.id != first.id and _report_count() == 2


@pytest.mark.parametrize("status", ["draft", "pending_review"])
def test_a_work_the_reporter_cannot_see_answers_404(place, open_campaign, status):
    hidden = make_work(place.beijing_work.collective, open_campaign, title="草稿", status=status)
    with pytest.raises(ServiceError) as caught:
        reports.create_report(place.viewer, "work", hidden.id, "不当内容")
    assert caught.value.status == 404 and _report_count() == 0


def test_a_missing_work_answers_404(place):
    with pytest.raises(ServiceError) as caught:
        reports.create_report(place.viewer, "work", 999_999, "不当内容")
    assert caught.value.status == 404


def test_a_hidden_comment_answers_404(place):
    comment = post(place.other_viewer, place.beijing_work)
    comment.status = CommentStatus.HIDDEN
    db.session.commit()
    with pytest.raises(ServiceError) as caught:
        reports.create_report(place.viewer, "comment", comment.id, "广告")
    assert caught.value.status == 404


def test_someone_elses_pending_comment_answers_404(place):
    comment = post(place.other_viewer, place.beijing_work, FLAGGED)
    assert comment.status == CommentStatus.PENDING
    with pytest.raises(ServiceError) as caught:
        reports.create_report(place.viewer, "comment", comment.id, "广告")
    assert caught.value.status == 404


@pytest.mark.parametrize("reason", ["", "   ", None, 42])
def test_an_empty_reason_is_refused_with_422(place, reason):
    with pytest.raises(ServiceError) as caught:
        reports.create_report(place.viewer, "work", place.beijing_work.id, reason)
    assert caught.value.status == 422 and caught.value.message == "请写明举报理由。"


def test_a_reason_over_500_characters_is_refused_with_422(place):
    with pytest.raises(ServiceError) as caught:
        reports.create_report(place.viewer, "work", place.beijing_work.id, "长" * 501)
    assert caught.value.status == 422 and "500" in caught.value.message


def test_a_reason_of_exactly_500_characters_is_accepted(place):
    assert len(reports.create_report(place.viewer, "work", place.beijing_work.id, "长" * 500).reason) == 500


def test_an_unknown_target_type_is_refused_with_422(place):
    with pytest.raises(ServiceError) as caught:
        reports.create_report(place.viewer, "user", place.viewer.id, "骚扰")
    assert caught.value.status == 422


# --------------------------------------------------------------------------------------------
# The API.


def test_api_report_answers_201_with_the_report_in_the_published_schema(app, place):
    client = signed_in(app, place.viewer)
    response = _api_report(client, target_type="work", target_id=place.beijing_work.id, reason="抄袭")
    assert response.status_code == 201
    assert_matches_schema("Report", response.json["report"])
    assert response.json["report"]["status"] == "open"


def test_api_report_signed_out_answers_401(client, place):
    response = client.post("/api/v1/reports", json={"target_type": "work", "target_id": 1, "reason": "x"})
    assert response.status_code == 401


def test_api_report_of_an_invisible_target_answers_404_in_the_error_schema(app, place):
    client = signed_in(app, place.viewer)
    response = _api_report(client, target_type="comment", target_id=999_999, reason="广告")
    assert response.status_code == 404
    assert_matches_schema("Error", response.json)


def test_api_report_without_a_reason_answers_422_in_chinese(app, place):
    client = signed_in(app, place.viewer)
    response = _api_report(client, target_type="work", target_id=place.beijing_work.id, reason="")
    assert response.status_code == 422
    assert response.json["error"]["message"] == "请写明举报理由。"


def test_too_many_reports_from_one_account_answer_429_in_chinese(app, place):
    app.config["REPORT_RATE_LIMIT"] = "2 per hour"
    client = signed_in(app, place.viewer)
    answers = [
        _api_report(client, target_type="work", target_id=place.beijing_work.id, reason=f"理由{n}")
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[-1].json["error"]["message"] == "举报太频繁了，请稍后再试。"
    assert answers[-1].headers.get("Retry-After")


def test_the_report_form_and_the_api_share_one_budget(app, place):
    app.config["REPORT_RATE_LIMIT"] = "1 per hour"
    client = signed_in(app, place.viewer)
    form = {"target_type": "work", "target_id": place.beijing_work.id, "reason": "抄袭"}
    assert client.post("/reports", data={**form, "csrf_token": page_csrf_token(client)}).status_code == 302
    assert _api_report(client, **form).status_code == 429


# --------------------------------------------------------------------------------------------
# The report form on the work page.


def test_the_work_page_offers_signed_in_viewers_a_report_form_for_the_work_and_each_comment(app, place):
    comment = post(place.other_viewer, place.beijing_work)
    html = signed_in(app, place.viewer).get(f"/works/{place.beijing_work.id}").get_data(as_text=True)
    assert 'name="target_type" value="work"' in html
    assert f'id="report-comment-{comment.id}"' in html


def test_the_work_page_shows_no_report_form_to_signed_out_visitors(client, place):
    post(place.other_viewer, place.beijing_work)
    html = client.get(f"/works/{place.beijing_work.id}").get_data(as_text=True)
    # One shared body: the forms are there for the script to show to a signed-in reader only.
    forms = re.findall(r'<details class="report"[^>]*>', html)
    assert forms and all("data-signed-in-only hidden" in form for form in forms)
    assert client.get("/api/v1/me/state").json["signed_in"] is False


def test_the_report_form_flashes_thanks_and_returns_to_the_comment(app, place):
    comment = post(place.other_viewer, place.beijing_work)
    client = signed_in(app, place.viewer)
    form = {
        "target_type": "comment",
        "target_id": comment.id,
        "reason": "广告",
        "csrf_token": page_csrf_token(client),
    }
    response = client.post("/reports", data=form)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/works/{place.beijing_work.id}#comment-{comment.id}")
    assert "举报已收到" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _report_count() == 1


def test_the_report_form_without_a_reason_flashes_why_and_stores_nothing(app, place):
    client = signed_in(app, place.viewer)
    form = {
        "target_type": "work",
        "target_id": place.beijing_work.id,
        "reason": " ",
        "csrf_token": page_csrf_token(client),
    }
    response = client.post("/reports", data=form, follow_redirects=True)
    assert "请写明举报理由。" in response.get_data(as_text=True) and _report_count() == 0


def test_the_report_form_signed_out_goes_to_log_in(client, place):
    form = {"target_type": "work", "target_id": place.beijing_work.id, "reason": "抄袭"}
    response = client.post("/reports", data={**form, "csrf_token": page_csrf_token(client)})
    assert response.status_code == 302 and "/login" in response.headers["Location"] and _report_count() == 0


# --------------------------------------------------------------------------------------------
# Moderators answer reports.


def test_open_reports_list_only_the_moderators_province(place):
    reports.create_report(place.viewer, "work", place.beijing_work.id, "北京作品的举报")
    on_comment = post(place.other_viewer, place.shanghai_work)
    reports.create_report(place.viewer, "comment", on_comment.id, "上海评论的举报")
    beijing, _ = reports.open_reports(place.moderator)
    shanghai, _ = reports.open_reports(place.moderator_elsewhere)
    everything, _ = reports.open_reports(place.national)
    assert [r["reason"] for r in beijing] == ["北京作品的举报"]
    assert [r["reason"] for r in shanghai] == ["上海评论的举报"]
    assert len(everything) == 2 and shanghai[0]["work_id"] == place.shanghai_work.id


def test_open_reports_page_oldest_first_with_a_cursor(place, make_user):
    for n in range(5):
        reports.create_report(make_user(), "work", place.beijing_work.id, f"第{n}个")
    first, cursor = reports.open_reports(place.moderator, limit=3)
    rest, end = reports.open_reports(place.moderator, cursor, limit=3)
    assert [r["reason"] for r in first + rest] == [f"第{n}个" for n in range(5)] and end is None


@pytest.mark.parametrize("outcome", ["resolved", "dismissed"])
def test_answering_a_report_closes_it_and_writes_exactly_one_audit_event(place, outcome):
    report = reports.create_report(place.viewer, "work", place.beijing_work.id, "抄袭")
    before = event_count()
    reports.resolve_report(place.moderator, report.id, outcome, reason="已核实")
    db.session.refresh(report)
    assert report.status == outcome and report.resolved_by_id == place.moderator.id and report.resolved_at
    assert event_count() == before + 1
    (event,) = events_of(f"report_{outcome}")
    assert (event.target_type, event.target_id, event.actor_id) == ("report", report.id, place.moderator.id)


def test_a_provincial_moderator_cannot_answer_a_report_from_another_province(place):
    report = reports.create_report(place.viewer, "work", place.beijing_work.id, "抄袭")
    with pytest.raises(ServiceError) as caught:
        reports.resolve_report(place.moderator_elsewhere, report.id, "dismissed")
    db.session.refresh(report)
    assert caught.value.status == 404 and report.status == ReportStatus.OPEN and event_count() == 0


def test_an_answered_report_cannot_be_answered_again(place):
    report = reports.create_report(place.viewer, "work", place.beijing_work.id, "抄袭")
    reports.resolve_report(place.moderator, report.id, "resolved")
    with pytest.raises(ServiceError) as caught:
        reports.resolve_report(place.admin, report.id, "dismissed")
    assert caught.value.status == 409 and event_count() == 1


def test_an_unknown_outcome_is_refused_with_422(place):
    report = reports.create_report(place.viewer, "work", place.beijing_work.id, "抄袭")
    with pytest.raises(ServiceError) as caught:
        reports.resolve_report(place.moderator, report.id, "deleted")
    assert caught.value.status == 422


def test_resolving_a_comment_report_with_hide_hides_it_uncounts_it_and_answers_every_report_on_it(place):
    comment = post(place.other_viewer, place.beijing_work)
    first = reports.create_report(place.viewer, "comment", comment.id, "广告")
    second = reports.create_report(place.member, "comment", comment.id, "引流")
    before = event_count()
    reports.resolve_report(place.moderator, first.id, "resolved", hide=True)
    db.session.refresh(comment)
    assert comment.status == CommentStatus.HIDDEN
    assert counters.read_counts([place.beijing_work.id])[place.beijing_work.id].comments == 0
    statuses = db.session.scalars(sa.select(Report.status).where(Report.id.in_([first.id, second.id])))
    assert set(statuses) == {ReportStatus.RESOLVED}
    assert event_count() == before + 1 and len(events_of("comment_hide")) == 1


def test_hiding_through_a_report_whose_comment_its_author_deleted_meanwhile_still_answers_it(
    place, monkeypatch
):
    from app.engagement import comments
    from app.models import User
    from tests.engagement_support import another_request

    comment = post(place.other_viewer, place.beijing_work)
    report = reports.create_report(place.viewer, "comment", comment.id, "广告")
    author_id, read = place.other_viewer.id, reports._report_in_scope

    def read_then_author_deletes(actor, report_id):
        found = read(actor, report_id)  # the moderator sees the comment visible
        with another_request():
            comments.delete_comment(db.session.get(User, author_id), db.session.get(Comment, comment.id))
        return found

    monkeypatch.setattr(reports, "_report_in_scope", read_then_author_deletes)
    answered = reports.resolve_report(place.moderator, report.id, "resolved", hide=True)
    assert answered.status == ReportStatus.RESOLVED  # was a 409 with the report left open
    assert events_of("comment_hide") == [] and len(events_of("report_resolved")) == 1


@pytest.mark.race
def test_reports_racing_the_hiding_of_their_comment_are_refused_or_resolved_with_it(app, place):
    from app.models import User
    from app.moderation import comment_review

    comment_id = post(place.other_viewer, place.beijing_work).id
    moderator_id = place.moderator.id

    def report(user_id):
        def job():
            pause_here()
            try:
                reports.create_report(db.session.get(User, user_id), "comment", comment_id, "广告")
            except ServiceError as exc:
                assert exc.status == 404  # hidden first: as for any hidden comment

        return job

    def hide():
        comment_review.hide_comment(db.session.get(User, moderator_id), comment_id, "广告")

    # The reporters pause between finding the comment visible and writing their report.
    with widened_window(r"^SELECT comment\.id, .*FROM comment\s+WHERE comment\.id ="):
        assert all_at_once(app, [hide, *map(report, make_voters(6))]) == []
    db.session.expire_all()
    assert db.session.get(Comment, comment_id).status == CommentStatus.HIDDEN
    left_open = sa.select(sa.func.count()).where(
        Report.target_type == "comment", Report.target_id == comment_id, Report.status == ReportStatus.OPEN
    )
    assert db.session.scalar(left_open) == 0


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_collectives_cannot_list_or_answer_reports(place, role):
    user = getattr(place, role)
    report = reports.create_report(place.other_viewer, "work", place.beijing_work.id, "抄袭")
    for call in (
        lambda: reports.open_reports(user),
        lambda: reports.resolve_report(user, report.id, "dismissed"),
    ):
        with pytest.raises(ServiceError) as caught:
            call()
        assert caught.value.status == 403


def test_the_reports_page_lists_the_report_escaped_and_resolves_it(app, place):
    comment = post(place.other_viewer, place.beijing_work, "<script>alert(1)</script>")
    report = reports.create_report(place.viewer, "comment", comment.id, "<b>广告</b>")
    client = signed_in(app, place.moderator)
    html = client.get("/moderation/reports").get_data(as_text=True)
    assert "&lt;b&gt;广告&lt;/b&gt;" in html and "<script>alert(1)" not in html
    form = {"outcome": "dismissed", "csrf_token": page_csrf_token(client)}
    response = client.post(f"/moderation/reports/{report.id}/resolve", data=form, follow_redirects=True)
    assert "举报已驳回。" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Report, report.id).status == ReportStatus.DISMISSED
    assert db.session.get(Comment, comment.id).status == CommentStatus.VISIBLE
