"""Micro-stories: drafts, images, submission, publication, and who may do what."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from app.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed
from app.extensions import db
from app.models import MediaAsset, Role, Work, WorkStatus, utcnow
from app.moderation import services as moderation
from app.policy import can_view_work
from app.storage import get_storage
from app.works import services as svc
from tests.builders_support import make_campaign
from tests.engagement_support import all_at_once, another_request
from tests.images_support import jpeg_bytes, png_bomb
from tests.sign_in_support import page_csrf_token, sign_in


@pytest.fixture
def story(member, open_campaign):
    return svc.create_story(
        member,
        title="站台上的温暖守候",
        summary="末班车前",
        body="深夜的站台……",
        campaign_id=open_campaign.id,
    )


def _stored_files(app) -> list[str]:
    root = get_storage().root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _image_rows() -> int:
    return db.session.scalar(sa.select(sa.func.count(MediaAsset.id)))


# --- drafts ------------------------------------------------------------------------------------


def test_a_member_creates_a_story_draft_with_sanitised_html(member, open_campaign):
    work = svc.create_story(
        member, title="标题", body="**好**<script>x</script>", campaign_id=open_campaign.id
    )
    assert work.status == WorkStatus.DRAFT
    assert work.collective_id == member.collective_id and work.author_id == member.id
    assert "<strong>好</strong>" in work.body_html and "<script" not in work.body_html


def test_a_title_longer_than_120_characters_is_refused(member, open_campaign):
    with pytest.raises(ValidationFailed) as caught:
        svc.create_story(member, title="长" * 121, campaign_id=open_campaign.id)
    assert "title" in caught.value.fields


def test_a_summary_longer_than_500_characters_is_refused(member, open_campaign):
    with pytest.raises(ValidationFailed) as caught:
        svc.create_story(member, title="t", summary="长" * 501, campaign_id=open_campaign.id)
    assert "summary" in caught.value.fields


def test_an_unknown_campaign_is_refused(member):
    with pytest.raises(ValidationFailed, match="活动不存在") as caught:
        svc.create_story(member, title="t", campaign_id=9999)
    assert caught.value.code == "unknown_campaign" and caught.value.status == 422
    assert db.session.scalar(sa.select(sa.func.count(Work.id))) == 0


def test_writing_before_the_submission_window_is_refused(member):
    campaign = make_campaign(submission_days=(3, 30))
    with pytest.raises(ServiceError, match=r"本次活动的作品征集时间为 .+ 至 .+，现在不在征集期内") as caught:
        svc.create_story(member, title="t", campaign_id=campaign.id)
    assert (caught.value.code, caught.value.status) == ("submission_closed", 409)


def test_editing_after_the_submission_window_closed_is_refused(story, open_campaign):
    open_campaign.submission_closes = utcnow()
    db.session.commit()
    with pytest.raises(ServiceError, match="现在不在征集期内"):
        svc.update_work(story, story.author, title="新标题", body="x")
    db.session.refresh(story)
    assert story.title == "站台上的温暖守候"


def test_a_viewer_cannot_create_a_story(make_user, open_campaign):
    with pytest.raises(Forbidden):
        svc.create_story(make_user(Role.VIEWER), title="t", campaign_id=open_campaign.id)


def test_a_member_of_another_collective_cannot_edit_the_story(story, make_collective, make_user):
    other = make_user(Role.COLLECTIVE, collective=make_collective("别的集体", "金融", "上海"))
    with pytest.raises(Forbidden):
        svc.update_work(story, other, title="改掉", body="x")
    with pytest.raises(Forbidden):
        svc.add_story_image(story, other, jpeg_bytes())


def test_an_admin_may_edit_any_collectives_story(story, make_user):
    svc.update_work(story, make_user(Role.ADMIN), title="管理员修改", body="正文")
    assert story.title == "管理员修改"


# --- images ------------------------------------------------------------------------------------


def test_an_image_is_stored_under_the_work_with_a_thumbnail(app, story, member):
    asset = svc.add_story_image(story, member, io.BytesIO(jpeg_bytes((1600, 1200))))
    assert re.fullmatch(rf"works/{story.id}/images/[A-Za-z0-9_-]{{22}}\.jpg", asset.storage_key)
    assert asset.thumbnail_key == asset.storage_key.replace(".jpg", "-thumb.jpg")
    assert (asset.role, asset.position, asset.width, asset.height) == ("image", 1, 1600, 1200)
    assert _stored_files(app) == sorted([asset.storage_key, asset.thumbnail_key])


def test_a_tenth_image_is_refused(app, story, member):
    for _ in range(9):
        svc.add_story_image(story, member, jpeg_bytes((64, 48)))
    with pytest.raises(ValidationFailed, match="每个微故事最多 9 张图片"):
        svc.add_story_image(story, member, jpeg_bytes((64, 48)))
    assert _image_rows() == 9
    assert len(_stored_files(app)) == 18
    assert [a.position for a in svc.story_images(story)] == list(range(1, 10))


@pytest.mark.race
def test_images_uploaded_at_once_never_take_more_than_the_last_place(app, story, member):
    from app.models import User

    for _ in range(7):
        svc.add_story_image(story, member, jpeg_bytes((64, 48)))
    story_id, member_id = story.id, member.id
    refused = []

    def upload():
        try:
            work, user = db.session.get(Work, story_id), db.session.get(User, member_id)
            svc.add_story_image(work, user, jpeg_bytes((64, 48)))
        except ValidationFailed as exc:
            refused.append(exc.code)

    assert all_at_once(app, [upload] * 4) == []
    db.session.expire_all()
    assert refused == ["too_many_images"] * 2
    assert [a.position for a in svc.story_images(db.session.get(Work, story_id))] == list(range(1, 10))


def test_an_edit_checked_on_a_draft_submitted_and_published_meanwhile_is_refused(story, member, make_user):
    stale = story  # what the edit request read: a draft
    with another_request():  # meanwhile, from another tab and a moderator
        svc.submit_for_review(db.session.get(Work, story.id), db.session.get(type(member), member.id))
        moderation.approve_work(make_user(Role.ADMIN), story.id)
    with pytest.raises(Conflict) as refused:
        svc.update_work(stale, member, title="改过的标题", body="审核后偷偷改的正文")
    assert refused.value.code == "not_editable"
    db.session.expire_all()
    published = db.session.get(Work, story.id)
    assert published.status == WorkStatus.PUBLISHED
    assert (published.title, published.body) == ("站台上的温暖守候", "深夜的站台……")


def test_an_image_checked_on_a_draft_that_was_submitted_meanwhile_is_refused(app, story, member):
    with another_request():
        svc.submit_for_review(db.session.get(Work, story.id), db.session.get(type(member), member.id))
    with pytest.raises(Conflict):
        svc.add_story_image(story, member, jpeg_bytes((64, 48)))
    assert _image_rows() == 0 and _stored_files(app) == []


def test_a_refused_image_leaves_no_row_and_no_file(app, story, member):
    with pytest.raises(ValidationFailed):
        svc.add_story_image(story, member, io.BytesIO(png_bomb()))
    assert _image_rows() == 0 and _stored_files(app) == []


def test_a_failed_commit_removes_the_files_already_written(app, story, member, monkeypatch):
    def broken_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        svc.add_story_image(story, member, jpeg_bytes())
    monkeypatch.undo()
    assert _image_rows() == 0 and _stored_files(app) == []


def test_removing_an_image_deletes_its_row_and_files(app, story, member):
    asset = svc.add_story_image(story, member, jpeg_bytes())
    svc.remove_story_image(story, member, asset.id)
    assert _image_rows() == 0 and _stored_files(app) == []


def test_images_are_only_for_stories(member, open_campaign):
    film = svc.create_work(member, kind="film", title="微电影", campaign_id=open_campaign.id)
    with pytest.raises(ValidationFailed):
        svc.add_story_image(film, member, jpeg_bytes())


# --- review and publication -------------------------------------------------------------------


def test_submitting_moves_a_draft_to_pending_review(story, member):
    svc.submit_for_review(story, member)
    assert story.status == WorkStatus.PENDING_REVIEW


def test_submitting_requires_a_body(member, open_campaign):
    work = svc.create_story(member, title="只有标题", campaign_id=open_campaign.id)
    with pytest.raises(ValidationFailed, match="请填写正文"):
        svc.submit_for_review(work, member)
    assert work.status == WorkStatus.DRAFT


def test_a_pending_story_can_no_longer_be_edited(story, member):
    svc.submit_for_review(story, member)
    with pytest.raises(Conflict):
        svc.update_work(story, member, title="改", body="x")


def test_an_admin_publishes_a_pending_story(story, member, make_user):
    svc.submit_for_review(story, member)
    moderation.approve_work(make_user(Role.ADMIN), story.id)
    assert story.status == WorkStatus.PUBLISHED and story.published_at is not None


def test_a_viewer_cannot_publish(story, member, make_user):
    svc.submit_for_review(story, member)
    with pytest.raises(Forbidden):
        moderation.approve_work(make_user(Role.VIEWER), story.id)


# --- visibility ---------------------------------------------------------------------------------


def test_a_draft_is_404_to_the_public(client, story):
    assert client.get(f"/works/{story.id}").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "other_member"])
def test_a_draft_is_404_to_signed_in_outsiders(client, story, make_user, make_collective, role):
    if role == "viewer":
        user = make_user(Role.VIEWER)
    else:
        user = make_user(Role.COLLECTIVE, collective=make_collective("别的集体", "金融", "上海"))
    sign_in(client, user)
    assert client.get(f"/works/{story.id}").status_code == 404


def test_a_draft_is_visible_to_its_collective(client, story, member):
    sign_in(client, member)
    page = client.get(f"/works/{story.id}").get_data(as_text=True)
    assert "站台上的温暖守候" in page and "草稿" in page


def test_a_draft_is_visible_to_a_national_moderator_but_not_to_another_provinces(story, make_user):
    assert can_view_work(make_user(Role.MODERATOR), story)
    assert can_view_work(make_user(Role.MODERATOR, province="北京"), story)
    assert not can_view_work(make_user(Role.MODERATOR, province="上海"), story)


def test_get_visible_work_raises_not_found_for_hidden_drafts(story):
    with pytest.raises(NotFound):
        svc.get_visible_work(story.id, None)


# --- the pages ----------------------------------------------------------------------------------


def test_a_member_writes_uploads_and_submits_through_the_pages(client, member, open_campaign):
    sign_in(client, member)
    token = page_csrf_token(client)
    response = client.post(
        "/my/works/new",
        data={
            "csrf_token": token,
            "title": "页面上写的故事",
            "summary": "简介",
            "body": "正文",
            "campaign_id": open_campaign.id,
        },
    )
    assert response.status_code == 302
    work = db.session.scalar(sa.select(Work))
    assert response.headers["Location"].endswith(f"/works/{work.id}/edit")

    response = client.post(
        f"/works/{work.id}/images",
        data={
            "csrf_token": token,
            "images": [(io.BytesIO(jpeg_bytes()), "a.jpg"), (io.BytesIO(jpeg_bytes()), "b.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and _image_rows() == 2
    editor = client.get(f"/works/{work.id}/edit").get_data(as_text=True)
    assert editor.count("data-insert-image=") == 2

    assert client.post(f"/works/{work.id}/submit", data={"csrf_token": token}).status_code == 302
    db.session.refresh(work)
    assert work.status == WorkStatus.PENDING_REVIEW
    assert "待审核" in client.get("/my/works").get_data(as_text=True)


def test_a_text_file_named_jpg_uploaded_through_the_page_is_refused(app, client, story, member):
    sign_in(client, member)
    response = client.post(
        f"/works/{story.id}/images",
        data={
            "csrf_token": page_csrf_token(client),
            "images": (io.BytesIO(b"hello, not a picture"), "photo.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "文件不是有效的图片" in response.get_data(as_text=True)
    assert _image_rows() == 0 and _stored_files(app) == []


def test_posting_the_story_form_without_a_csrf_token_is_refused(client, member, open_campaign):
    sign_in(client, member)
    response = client.post("/my/works/new", data={"title": "t", "body": "b", "campaign_id": open_campaign.id})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Work.id))) == 0


def test_the_editor_of_another_collectives_story_is_forbidden(client, story, make_user, make_collective):
    other = make_user(Role.COLLECTIVE, collective=make_collective("别的集体", "金融", "北京"))
    sign_in(client, other)
    # It is published, so visible: the refusal is then 403, not 404.
    story.status = WorkStatus.PUBLISHED
    db.session.commit()
    assert client.get(f"/works/{story.id}/edit").status_code == 403


def test_my_works_is_for_collective_members_only(client, make_user):
    sign_in(client, make_user(Role.VIEWER))
    assert client.get("/my/works").status_code == 403


def test_my_works_lists_the_collectives_works_with_status_labels(client, story, member):
    sign_in(client, member)
    page = client.get("/my/works").get_data(as_text=True)
    assert "站台上的温暖守候" in page and "草稿" in page and f"/works/{story.id}/edit" in page
