"""A rejected film or video goes back to review: with a new video ("声音太小，请替换视频"), or with
the one it has once what the moderator asked for is done (captions, say). Before, a rejected
film was a dead end: no new upload (409 not_uploadable), no submitting by hand."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.errors import ValidationFailed
from app.media.uploads import expire_abandoned_uploads
from app.models import AssetRole, AssetStatus, WorkStatus, utcnow
from app.moderation.services import reject_work
from app.works import services as svc
from tests.sign_in_support import page_csrf_token, sign_in
from tests.uploads_support import Uploader, fresh, run_job, video_draft


@pytest.fixture
def rejected_film(media_app, people, samples):
    work = video_draft(people, kind="film")
    _, completed = Uploader(media_app, people["owner"]).upload(work.id, samples.tiny().read_bytes())
    assert completed.status_code == 202, completed.json
    assert run_job(work).status == WorkStatus.PENDING_REVIEW
    reject_work(people["moderator"], work.id, "声音太小，请替换视频后重新提交")
    return fresh(work.id)


def test_a_rejected_film_replaces_its_video_and_the_new_one_goes_to_review(
    media_app, people, samples, rejected_film
):
    old_source = next(a.id for a in rejected_film.assets if a.role == AssetRole.SOURCE)
    _, completed = Uploader(media_app, people["owner"]).upload(
        rejected_film.id, samples.one_second().read_bytes()
    )
    assert completed.status_code == 202, completed.json
    work = run_job(rejected_film)
    assert (work.status, work.reject_reason) == (WorkStatus.PENDING_REVIEW, None)
    sources = [a for a in work.assets if a.role == AssetRole.SOURCE]
    assert [a.id != old_source and a.status == AssetStatus.READY for a in sources] == [True]
    assert len(work.assets) == 5  # the new source and its renditions only


def test_a_rejected_film_goes_back_to_review_with_the_video_it_has(people, rejected_film):
    svc.submit_for_review(rejected_film, people["owner"])
    work = fresh(rejected_film.id)
    assert (work.status, work.reject_reason) == (WorkStatus.PENDING_REVIEW, None)


def test_a_film_without_a_ready_video_is_not_submitted_by_hand(media_app, people):
    with pytest.raises(ValidationFailed, match="视频上传并处理完成后自动提交审核"):
        svc.submit_for_review(video_draft(people, kind="film"), people["owner"])


@pytest.mark.parametrize("text", [b"this is not a video at all" * 100, b"The free software movement" * 100])
def test_a_refused_replacement_leaves_the_film_able_to_go_back_with_its_video(
    media_app, people, rejected_film, text
):
    _, refused = Uploader(media_app, people["owner"]).upload(rejected_film.id, text)
    assert refused.status_code == 422
    work = fresh(rejected_film.id)
    assert work.status == WorkStatus.REJECTED and work.video_ready  # the old video stays
    svc.submit_for_review(work, people["owner"])
    assert fresh(work.id).status == WorkStatus.PENDING_REVIEW


def test_my_works_and_the_upload_page_offer_a_new_video_or_review_again(media_app, people, rejected_film):
    client = media_app.test_client()
    sign_in(client, people["owner"])
    listing = client.get("/my/works").get_data(as_text=True)
    assert "更换视频" in listing and f'action="/works/{rejected_film.id}/submit"' in listing
    page = client.get(f"/works/{rejected_film.id}/upload").get_data(as_text=True)
    assert "data-upload-form hidden" not in page  # the file can be chosen
    assert "重新提交审核" in page
    answer = client.post(f"/works/{rejected_film.id}/submit", data={"csrf_token": page_csrf_token(client)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/my/works")
    assert fresh(rejected_film.id).status == WorkStatus.PENDING_REVIEW
    assert "重新提交审核" not in client.get(f"/works/{rejected_film.id}/upload").get_data(as_text=True)


def test_a_film_submitted_by_hand_without_its_video_is_told_why_on_its_upload_page(media_app, people):
    work = video_draft(people, kind="film")
    client = media_app.test_client()
    sign_in(client, people["owner"])
    answer = client.post(f"/works/{work.id}/submit", data={"csrf_token": page_csrf_token(client)})
    assert answer.headers["Location"].endswith(f"/works/{work.id}/upload")
    assert "视频上传并处理完成后自动提交审核" in client.get(answer.headers["Location"]).get_data(as_text=True)


def test_a_replacement_cancelled_from_the_page_leaves_the_film_rejected_with_its_video(
    media_app, people, samples, rejected_film
):
    owner = Uploader(media_app, people["owner"])
    assert owner.open(rejected_film.id, samples.one_second().read_bytes()).status_code == 201
    assert fresh(rejected_film.id).status == WorkStatus.UPLOADING
    client = media_app.test_client()
    sign_in(client, people["owner"])
    page = client.get(f"/works/{rejected_film.id}/upload").get_data(as_text=True)
    assert re.search(r"data-cancel\s*>", page)  # 取消上传 shown, not hidden: an upload is under way
    answer = client.post(
        f"/works/{rejected_film.id}/upload/cancel", data={"csrf_token": page_csrf_token(client)}
    )
    assert answer.status_code == 302
    work = fresh(rejected_film.id)
    assert (work.status, work.reject_reason, work.video_ready) == (
        WorkStatus.REJECTED,
        "声音太小，请替换视频后重新提交",
        True,
    )
    assert "已取消上传" in client.get(answer.headers["Location"]).get_data(as_text=True)


def test_an_abandoned_replacement_leaves_the_film_rejected_when_it_expires(
    media_app, people, samples, rejected_film
):
    owner = Uploader(media_app, people["owner"])
    upload_id = owner.open(rejected_film.id, samples.one_second().read_bytes()).json["upload_id"]
    assert expire_abandoned_uploads(utcnow() + timedelta(days=2)) == [upload_id]
    assert fresh(rejected_film.id).status == WorkStatus.REJECTED


def test_a_replacement_the_worker_refuses_leaves_no_row_of_the_old_videos_files(
    media_app, people, rejected_film
):
    junk = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20 + b"not a video" * 3000
    _, completed = Uploader(media_app, people["owner"]).upload(rejected_film.id, junk)
    assert completed.status_code == 202  # the type check passes; the worker's probe does not
    work = run_job(rejected_film)
    assert work.status == WorkStatus.FAILED
    # The old video's files went when the new file arrived whole: so did every row naming them.
    assert [a.role for a in work.assets] == [AssetRole.SOURCE]


def test_cancelling_after_a_replacement_the_worker_refused_gives_back_the_failure(
    media_app, people, samples, rejected_film
):
    junk = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20 + b"not a video" * 3000
    owner = Uploader(media_app, people["owner"])
    owner.upload(rejected_film.id, junk)
    assert run_job(rejected_film).status == WorkStatus.FAILED
    upload_id = owner.open(rejected_film.id, samples.one_second().read_bytes()).json["upload_id"]
    assert owner.client.delete(f"/api/v1/uploads/{upload_id}", headers=owner.headers).status_code == 204
    work = fresh(rejected_film.id)
    assert (work.status, work.video_ready) == (WorkStatus.FAILED, False)  # not "rejected" without a video
    status = owner.client.get(f"/api/v1/works/{work.id}/status").json
    assert status["status"] == "failed" and status["error"]  # the worker's reason, shown again
