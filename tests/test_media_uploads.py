"""Uploads of film and video sources through API v1, and the transcode job that follows.

Real ffmpeg, real Redis, LocalStorage in a temp folder and a real S3 endpoint (moto's server over
HTTP, parts PUT to presigned URLs with urllib). The job runs in-process here
(``media_worker.jobs.transcode_asset`` inside the app context); tests/test_media_worker.py and the
browser test run it in a real worker process.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq.job import Job

from app.extensions import db, redis_client
from app.media.keys import output_prefix, transcode_job_id
from app.media.progress import get_progress, set_progress
from app.media.transcodes import requeue_stuck_works
from app.media.uploads import SNIFF_BYTES, expire_abandoned_uploads, sniff_video_type
from app.models import AssetRole, AssetStatus, MediaAsset, UploadSession, UploadStatus, Work, WorkStatus
from app.queue import media_queue
from app.storage import MultipartError, get_storage
from media_worker.jobs import remove_orphaned_temp_dirs
from media_worker.probe import probe
from tests.builders_support import make_work
from tests.engagement_support import all_at_once
from tests.s3_server import make_s3_storage, s3_endpoint  # noqa: F401
from tests.sign_in_support import csrf_token, sign_in
from tests.uploads_support import PART, ArrivingPart, Uploader, fresh, run_job, video_draft


@pytest.fixture
def s3_app(media_app, s3_endpoint):  # noqa: F811
    storage = make_s3_storage(s3_endpoint)
    storage.ensure_bucket()
    media_app.extensions["storage"] = storage
    media_app.config["UPLOAD_PART_SIZE"] = 8 * 1024 * 1024
    return media_app


def ffprobe_size(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "json", str(path)],
        capture_output=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    stream = json.loads(out)["streams"][0]
    return stream["width"], stream["height"]


def assert_transcoded(work: Work, storage) -> None:
    assert work.status == WorkStatus.PENDING_REVIEW
    roles = {asset.role: asset for asset in work.assets}
    expected = {AssetRole.SOURCE, AssetRole.MP4_360, AssetRole.HLS, AssetRole.POSTER, AssetRole.STORYBOARD}
    assert set(roles) == expected
    assert all(asset.status == AssetStatus.READY for asset in work.assets)
    mp4 = roles[AssetRole.MP4_360]
    source = roles[AssetRole.SOURCE]
    assert mp4.storage_key.startswith(output_prefix(work.id, source.id, source.storage_key) + "/")
    assert mp4.bytes == storage.size(mp4.storage_key) > 0
    assert (mp4.width, mp4.height) == (320, 180)  # never upscaled: the 320×180 source is the top rung
    master = storage.get(roles[AssetRole.HLS].storage_key).decode()
    assert master.startswith("#EXTM3U") and "#EXT-X-STREAM-INF" in master
    assert roles[AssetRole.POSTER].bytes == storage.size(roles[AssetRole.POSTER].storage_key) > 0
    storyboard = roles[AssetRole.STORYBOARD]  # the seek previews: index and sprite, stored together
    assert storage.get(storyboard.storage_key).startswith(b"WEBVTT")
    assert storage.get(storyboard.thumbnail_key)[:3] == b"\xff\xd8\xff"
    source = roles[AssetRole.SOURCE]
    assert 1.5 < source.duration < 2.5 and (source.width, source.height) == (320, 180)


# --------------------------------------------------------------------------------------------
# Happy paths.


@pytest.mark.slow
def test_upload_in_parts_then_transcode_local(media_app, people, samples, tmp_path):
    work = video_draft(people)
    data = samples.tiny().read_bytes()
    owner = Uploader(media_app, people["owner"])
    opened = owner.open(work.id, data)
    assert opened.status_code == 201, opened.json
    body = opened.json
    assert body["part_size"] == PART and len(body["parts"]) == -(-len(data) // PART) > 1
    assert all(p["method"] == "PUT" and p["url"].startswith("/api/v1/uploads/") for p in body["parts"])
    assert fresh(work.id).status == WorkStatus.UPLOADING

    # Out of order, and the first part sent twice: the second copy replaces the first.
    order = list(reversed(range(len(body["parts"]))))
    parts = owner.send(body, data, order=order)
    again = owner.put(body["parts"][0], data[:PART])
    state = owner.client.get(f"/api/v1/uploads/{body['upload_id']}").json
    assert sorted(p["number"] for p in state["received"]) == [p["number"] for p in body["parts"]]
    parts = [again if p["number"] == 1 else p for p in parts]

    response = owner.complete(body["upload_id"], parts)
    assert response.status_code == 202, response.json
    assert response.json["work"]["status"] == "processing"
    source = db.session.scalar(sa.select(MediaAsset).where(MediaAsset.work_id == work.id))
    assert get_storage().get(source.storage_key) == data
    assert source.mime == "video/mp4"

    # Exactly one job, keyed by the asset id; completing again changes nothing.
    job = Job.fetch(transcode_job_id(source.id), connection=redis_client.client)
    assert job.func_name == "media_worker.jobs.transcode_asset" and job.args == (source.id,)
    assert media_queue().count == 1
    assert owner.complete(body["upload_id"], parts).status_code == 202
    assert media_queue().count == 1

    status = owner.client.get(f"/api/v1/works/{work.id}/status").json
    assert status == {"status": "processing", "progress": 0.0, "error": None}

    work = run_job(work)
    assert_transcoded(work, get_storage())
    mp4 = next(a for a in work.assets if a.role == AssetRole.MP4_360)
    local = tmp_path / "out.mp4"
    get_storage().download_to(mp4.storage_key, local)
    assert ffprobe_size(local) == (320, 180)
    status = owner.client.get(f"/api/v1/works/{work.id}/status").json
    assert status == {"status": "pending_review", "progress": 1.0, "error": None}

    # The work page's API representation lists the media.
    detail = owner.client.get(f"/api/v1/works/{work.id}").json
    media = detail["media"]
    assert media["hls"] and media["poster"] and set(media["mp4"]) == {"360"}
    assert detail["storyboard"].endswith("/storyboard.vtt") and detail["captions"] == []
    # Running the job again (a retry, a duplicate) does nothing.
    assert run_job(work).status == WorkStatus.PENDING_REVIEW
    assert len(work.assets) == 5  # source, MP4, HLS, poster, storyboard


def test_a_part_arriving_when_another_tab_starts_over_is_told_its_upload_ended(media_app, people, samples):
    work = video_draft(people)
    data = samples.tiny().read_bytes()
    tab_a, tab_b = Uploader(media_app, people["owner"]), Uploader(media_app, people["owner"])
    opened = tab_a.open(work.id, data).json
    started_over = {}
    arriving = ArrivingPart(data[:PART], lambda: started_over.update(answer=tab_b.open(work.id, data)))
    answer = tab_a.client.put(
        opened["parts"][0]["url"],
        input_stream=arriving,
        content_length=PART,
        headers={**tab_a.headers, "Content-Type": "application/octet-stream"},
    )
    assert started_over["answer"].status_code == 201
    assert (answer.status_code, answer.json["error"]["code"]) == (400, "no_such_upload")  # was a 500
    assert "请重新选择文件上传" in answer.json["error"]["message"]


@pytest.mark.race
def test_a_new_upload_racing_the_completion_of_the_last_leaves_one_of_them_whole(media_app, people, samples):
    work = video_draft(people)
    data = samples.tiny().read_bytes()
    first, second = Uploader(media_app, people["owner"]), Uploader(media_app, people["owner"])
    opened = first.open(work.id, data)
    parts = first.send(opened.json, data)
    upload_id = opened.json["upload_id"]
    answers = {}

    def complete():
        answers["complete"] = first.complete(upload_id, parts)

    def reopen():
        answers["reopen"] = second.open(work.id, data)

    assert all_at_once(media_app, [complete, reopen]) == []
    work = fresh(work.id)
    completed, reopened = answers["complete"], answers["reopen"]
    session = db.session.get(UploadSession, upload_id)
    if completed.status_code == 202:  # the completion first: the work is processing its source
        assert (reopened.status_code, reopened.json["error"]["code"]) == (409, "not_uploadable")
        assert (session.status, work.status) == ("completed", WorkStatus.PROCESSING)
        assert media_queue().count == 1
    else:  # the new upload first: it replaced the unfinished one
        assert (completed.status_code, completed.json["error"]["code"]) == (409, "upload_closed")
        assert reopened.status_code == 201
        assert (session.status, work.status) == ("aborted", WorkStatus.UPLOADING)
        assert media_queue().count == 0


@pytest.mark.slow
def test_upload_to_s3_through_presigned_urls(s3_app, people, samples):
    work = video_draft(people, kind="film")
    data = samples.tiny().read_bytes()
    owner = Uploader(s3_app, people["owner"])
    opened = owner.open(work.id, data)
    assert opened.status_code == 201, opened.json
    assert [p["url"].startswith("http://127.0.0.1") for p in opened.json["parts"]] == [True]
    parts = owner.send(opened.json, data)
    state = owner.client.get(f"/api/v1/uploads/{opened.json['upload_id']}").json
    assert [p["number"] for p in state["received"]] == [1]
    response = owner.complete(opened.json["upload_id"], parts)
    assert response.status_code == 202, response.json
    work = run_job(work)
    assert_transcoded(work, get_storage())


# --------------------------------------------------------------------------------------------
# Refusals before and at completion.


@pytest.mark.parametrize(
    ("size", "content_type", "status", "code"),
    [
        (0, "video/mp4", 422, "empty_file"),
        (1000, "text/plain", 422, "unsupported_type"),
        (600 * 1024 * 1024, "video/mp4", 413, "file_too_large"),
    ],
)
def test_refused_up_front(media_app, people, size, content_type, status, code):
    work = video_draft(people)
    response = Uploader(media_app, people["owner"]).open(work.id, size, content_type=content_type)
    assert response.status_code == status and response.json["error"]["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json["error"]["message"])
    assert fresh(work.id).status == WorkStatus.DRAFT


def test_stories_take_no_video(media_app, people):
    story = make_work(people["collective"], people["campaign"], kind="story", status="draft")
    response = Uploader(media_app, people["owner"]).open(story.id, 1000)
    assert response.status_code == 409 and response.json["error"]["code"] == "not_a_video_work"


def test_text_file_named_mp4_is_refused_at_completion(media_app, people, samples):
    work = video_draft(people)
    upload_id, response = Uploader(media_app, people["owner"]).upload(
        work.id, samples.text_as_mp4().read_bytes()
    )
    assert response.status_code == 422 and response.json["error"]["code"] == "unsupported_format"
    session = db.session.get(UploadSession, upload_id)
    assert fresh(work.id).status == WorkStatus.DRAFT
    assert not get_storage().exists(session.storage_key)
    assert media_queue().count == 0


def test_completion_with_a_part_missing(media_app, people, samples):
    work = video_draft(people)
    data = samples.tiny().read_bytes()
    owner = Uploader(media_app, people["owner"])
    opened = owner.open(work.id, data).json
    parts = owner.send(opened, data)
    response = owner.complete(opened["upload_id"], parts[:-1])
    assert response.status_code == 400 and response.json["error"]["code"] == "missing_parts"
    # Listed but never sent: the storage says which one.
    response = owner.complete(opened["upload_id"], parts[:-1] + [{"number": len(parts), "etag": "0" * 32}])
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_part"
    # The upload is still open: the right list completes it.
    assert owner.complete(opened["upload_id"], parts).status_code == 202


def test_an_upload_left_open_past_its_expiry_is_closed_and_its_parts_dropped(media_app, people, samples):
    work = video_draft(people)
    data = samples.tiny().read_bytes()
    owner = Uploader(media_app, people["owner"])
    opened = owner.open(work.id, data).json
    parts = owner.send(opened, data)
    assert expire_abandoned_uploads() == []  # not expired yet: left alone
    session = db.session.get(UploadSession, opened["upload_id"])
    assert expire_abandoned_uploads(session.expires_at) == [opened["upload_id"]]
    db.session.expire_all()
    assert session.status == UploadStatus.ABORTED
    assert fresh(work.id).status == WorkStatus.DRAFT
    with pytest.raises(MultipartError):
        get_storage().list_parts(session.storage_key, session.storage_upload_id)
    response = owner.complete(opened["upload_id"], parts)
    assert response.status_code == 409, response.json


def test_someone_elses_upload_session_is_404(media_app, people, samples):
    work = video_draft(people)
    data = samples.tiny().read_bytes()
    opened = Uploader(media_app, people["owner"]).open(work.id, data).json
    for role in ("stranger", "moderator", "viewer"):
        other = Uploader(media_app, people[role])
        assert other.client.get(f"/api/v1/uploads/{opened['upload_id']}").status_code == 404
        response = other.client.put(opened["parts"][0]["url"], data=data[:PART], headers=other.headers)
        assert response.status_code == 404
        assert other.complete(opened["upload_id"], [{"number": 1, "etag": "x"}]).status_code == 404
    assert Uploader(media_app, people["stranger"]).open(work.id, 1000).status_code == 404


def test_a_part_larger_than_the_part_size_is_refused(media_app, people, samples):
    work = video_draft(people)
    owner = Uploader(media_app, people["owner"])
    opened = owner.open(work.id, 3 * PART).json
    response = owner.client.put(opened["parts"][0]["url"], data=b"x" * (PART + 1), headers=owner.headers)
    assert response.status_code == 413 and response.json["error"]["code"] == "part_too_large"


# --------------------------------------------------------------------------------------------
# Refusals by the worker: each ends in `failed` with a Chinese reason.


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sample", "code_word"),
    [("truncated", "不完整"), ("audio_only", "没有视频画面"), ("tiny", "时长")],
)
def test_bad_media_ends_failed_with_a_reason(media_app, people, samples, sample, code_word):
    if sample == "tiny":
        media_app.config["MAX_VIDEO_SECONDS"] = 1  # the 2-second clip is over the limit
    work = video_draft(people)
    data = getattr(samples, sample)().read_bytes()
    owner = Uploader(media_app, people["owner"])
    # An audio-only .m4a has an ftyp box: the bytes pass the sniffing, ffprobe sees no video.
    _, response = owner.upload(work.id, data)
    assert response.status_code == 202, response.json
    work = run_job(work)
    assert work.status == WorkStatus.FAILED
    status = owner.client.get(f"/api/v1/works/{work.id}/status").json
    assert status["status"] == "failed" and code_word in status["error"]
    assert [a.role for a in work.assets] == [AssetRole.SOURCE]
    # The uploader can try again: a new upload replaces the failed one.
    _, response = owner.upload(work.id, samples.one_second().read_bytes())
    assert response.status_code == 202, response.json
    work = run_job(work)
    assert work.status == WorkStatus.PENDING_REVIEW


def test_zero_byte_upload_never_reaches_the_worker(media_app, people):
    work = video_draft(people)
    response = Uploader(media_app, people["owner"]).open(work.id, b"")
    assert response.status_code == 422 and response.json["error"]["code"] == "empty_file"


# --------------------------------------------------------------------------------------------
# Status, progress, recovery.


def test_status_is_for_the_collective_and_moderators(media_app, people):
    work = video_draft(people)
    work.status = WorkStatus.PROCESSING
    db.session.commit()
    set_progress(work.id, 0.42)
    assert get_progress(work.id) == pytest.approx(0.42)
    for role, expected in (("owner", 200), ("moderator", 200), ("stranger", 404), ("viewer", 404)):
        response = Uploader(media_app, people[role]).client.get(f"/api/v1/works/{work.id}/status")
        assert response.status_code == expected, role
        if expected == 200:
            assert response.json == {"status": "processing", "progress": 0.42, "error": None}
    assert media_app.test_client().get(f"/api/v1/works/{work.id}/status").status_code == 401


def test_the_bar_stays_under_100_percent_until_every_rendition_is_stored(
    media_app, people, samples, monkeypatch
):
    work = video_draft(people)
    _, response = Uploader(media_app, people["owner"]).upload(work.id, samples.tiny().read_bytes())
    assert response.status_code == 202
    storage = media_app.extensions["storage"]
    put_file = storage.put_file
    shown_while_storing: list[float] = []

    def storing(key, path, content_type):
        shown_while_storing.append(get_progress(work.id))
        return put_file(key, path, content_type)

    monkeypatch.setattr(storage, "put_file", storing)
    assert run_job(work).status == WorkStatus.PENDING_REVIEW
    # The encode fills the bar to 90 %, storing the files the rest; 100 % is the work ready.
    assert shown_while_storing[0] == pytest.approx(0.9, abs=0.01)  # shown in whole percents
    assert shown_while_storing == sorted(shown_while_storing) and max(shown_while_storing) < 1.0
    assert max(shown_while_storing) > 0.9


def test_an_upload_cancelled_through_the_api_drops_its_parts_and_frees_the_work(media_app, people, samples):
    work = video_draft(people)
    data = samples.tiny().read_bytes()
    owner = Uploader(media_app, people["owner"])
    opened = owner.open(work.id, data).json
    owner.send(opened, data)
    session = db.session.get(UploadSession, opened["upload_id"])
    key, store_id = session.storage_key, session.storage_upload_id
    for _ in range(2):  # cancelling again changes nothing
        answer = owner.client.delete(f"/api/v1/uploads/{opened['upload_id']}", headers=owner.headers)
        assert answer.status_code == 204
    assert fresh(work.id).status == WorkStatus.DRAFT
    assert db.session.get(UploadSession, opened["upload_id"]).status == UploadStatus.ABORTED
    with pytest.raises(MultipartError):
        get_storage().list_parts(key, store_id)


def test_a_completed_upload_cannot_be_cancelled(media_app, people, samples):
    work = video_draft(people)
    owner = Uploader(media_app, people["owner"])
    upload_id, completed = owner.upload(work.id, samples.tiny().read_bytes())
    assert completed.status_code == 202
    answer = owner.client.delete(f"/api/v1/uploads/{upload_id}", headers=owner.headers)
    assert (answer.status_code, answer.json["error"]["code"]) == (409, "upload_completed")
    assert fresh(work.id).status == WorkStatus.PROCESSING


def test_stuck_processing_work_is_requeued(media_app, people, samples):
    work = video_draft(people)
    _, response = Uploader(media_app, people["owner"]).upload(work.id, samples.tiny().read_bytes())
    assert response.status_code == 202
    source = db.session.scalar(sa.select(MediaAsset).where(MediaAsset.work_id == work.id))
    assert requeue_stuck_works() == []  # its job is queued
    Job.fetch(transcode_job_id(source.id), connection=redis_client.client).delete()  # lost
    assert requeue_stuck_works() == [source.id]
    assert media_queue().count == 1
    assert requeue_stuck_works() == []


@pytest.mark.parametrize(
    ("name", "output"),
    [
        ("camcorder.mts", ["-c:v", "libx264", "-f", "mpegts", "-mpegts_m2ts_mode", "1"]),
        ("movie-maker.wmv", ["-c:v", "wmv2", "-f", "asf"]),
        ("dvd.mpg", ["-c:v", "mpeg2video", "-f", "vob"]),
        ("old.flv", ["-c:v", "flv1", "-f", "flv"]),
        ("phone.ts", ["-c:v", "libx264", "-f", "mpegts"]),
    ],
)
def test_every_container_the_worker_opens_passes_the_sniff_at_completion(tmp_path, name, output):
    path = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=1", *output, str(path)],
        check=True,
        timeout=60,
    )
    assert probe(path).duration > 0.5  # the worker takes it ...
    assert sniff_video_type(path.read_bytes()[:SNIFF_BYTES]) is not None  # ... so completion must too


def test_an_old_quicktime_file_without_an_ftyp_box_passes_the_sniff(tmp_path):
    path = tmp_path / "old.mov"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=1", "-f", "mov", str(path)],
        check=True,
        timeout=60,
    )
    data = path.read_bytes()
    assert data[4:8] == b"ftyp"
    path.write_bytes(data[:4] + b"free" + data[8:])  # ftyp is optional in QuickTime
    assert probe(path).duration > 0.5
    assert sniff_video_type(path.read_bytes()[:SNIFF_BYTES]) == "video/quicktime"


def test_sniffing_reads_the_bytes():
    assert sniff_video_type(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20) == "video/mp4"
    assert sniff_video_type(b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 20) == "video/quicktime"
    assert sniff_video_type(b"\x1a\x45\xdf\xa3" + b"\x00" * 20) == "video/x-matroska"
    assert sniff_video_type(b"RIFF\x00\x00\x00\x00AVI LIST") == "video/x-msvideo"
    assert sniff_video_type(b"\x47" + b"\x00" * 187 + b"\x47" + b"\x00" * 3) == "video/mp2t"
    assert sniff_video_type(b"G" + b"a short text" * 10) is None  # one stray "G" is no TS
    # Text holding an old QuickTime file's first atom names where they would be is no video.
    for text in (b"The free software movement", b"The wide world", b"The moov", b"The skip"):
        assert sniff_video_type(text * 20) is None
    assert sniff_video_type(b"<html>" + b"\x00" * 200) is None
    assert sniff_video_type("这不是视频".encode() * 20) is None


def test_orphaned_temp_dirs_are_removed(tmp_path):
    dead = tmp_path / "wmcwm-transcode-999999999-abc"
    alive = tmp_path / f"wmcwm-transcode-{os.getpid()}-abc"
    dead.mkdir()
    alive.mkdir()
    assert remove_orphaned_temp_dirs(str(tmp_path)) == [str(dead)]
    assert alive.exists()


# --------------------------------------------------------------------------------------------
# Pages.


def test_new_film_page_creates_a_draft_and_opens_the_upload_page(media_app, people):
    client = media_app.test_client()
    sign_in(client, people["owner"])
    assert "新建微电影/微视频" in client.get("/my/works/new-media").get_data(as_text=True)
    form = {
        "kind": "film",
        "title": "我们的一天",
        "summary": "简介",
        "campaign_id": str(people["campaign"].id),
    }
    response = client.post("/my/works/new-media", data={**form, "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    work = db.session.scalar(sa.select(Work).where(Work.title == "我们的一天"))
    assert work.kind == "film" and work.status == WorkStatus.DRAFT
    assert response.headers["Location"].endswith(f"/works/{work.id}/upload")
    page = client.get(f"/works/{work.id}/upload").get_data(as_text=True)
    assert 'id="media-upload"' in page and "<progress" in page and "js/upload.js" in page
    assert f'data-create-url="/api/v1/works/{work.id}/uploads"' in page
    # A story cannot be made here.
    response = client.post(
        "/my/works/new-media", data={**form, "kind": "story", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 200 and "请选择作品类型" in response.get_data(as_text=True)


@pytest.mark.slow
def test_work_page_plays_the_transcoded_video(media_app, people, samples):
    work = video_draft(people)
    owner = Uploader(media_app, people["owner"])
    _, response = owner.upload(work.id, samples.tiny().read_bytes())
    assert response.status_code == 202
    run_job(work)
    page = owner.client.get(f"/works/{work.id}").get_data(as_text=True)
    assert "data-hls=" in page and "vendor/hls.js/hls.min.js" in page and 'type="video/mp4"' in page
    assert "poster=" in page
    static = media_app.test_client().get("/static/vendor/hls.js/hls.min.js")
    assert static.status_code == 200
    static.close()


def test_requeue_stuck_command(media_app, people, samples):
    work = video_draft(people)
    _, response = Uploader(media_app, people["owner"]).upload(work.id, samples.tiny().read_bytes())
    assert response.status_code == 202
    source = db.session.scalar(sa.select(MediaAsset).where(MediaAsset.work_id == work.id))
    Job.fetch(transcode_job_id(source.id), connection=redis_client.client).delete()
    result = media_app.test_cli_runner().invoke(args=["media", "requeue-stuck"])
    assert result.exit_code == 0 and f"requeued 1 transcode job(s): [{source.id}]" in result.output
