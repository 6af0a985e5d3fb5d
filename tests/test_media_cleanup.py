"""The pipeline tidies after itself (issue 15): the scheduled clean-up aborts the multipart uploads
of sessions abandoned past UPLOAD_ABANDON_SECONDS (on the real S3 endpoint, and local parts),
and orphaned ones no session knows once they have been orphans that long; it leaves fresh
sessions alone; stuck works are requeued;
/metrics counts each.

The jobs run as the schedule runs them (app.schedule.run_job with the SCHEDULE entry), the
clock moved forward with app.clock.clock_at instead of waiting.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq.job import Job

from app.clock import clock_at
from app.extensions import db, redis_client
from app.media.keys import transcode_job_id
from app.models import MediaAsset, UploadSession, UploadStatus, WorkStatus, utcnow
from app.queue import media_queue
from app.redis_keys import schedule_claim_key
from app.schedule import SCHEDULE, run_job
from app.storage import get_storage
from tests.observability_support import run_worker, scrape
from tests.s3_server import make_s3_storage, s3_endpoint  # noqa: F401
from tests.uploads_support import Uploader, fresh, video_draft

ABANDON = 3600  # the setting in these tests: an hour


@pytest.fixture
def local_app(media_app):
    media_app.config["UPLOAD_ABANDON_SECONDS"] = ABANDON
    return media_app


@pytest.fixture
def s3_app(media_app, s3_endpoint):  # noqa: F811
    storage = make_s3_storage(s3_endpoint)
    storage.ensure_bucket()
    media_app.extensions["storage"] = storage
    media_app.config["UPLOAD_ABANDON_SECONDS"] = ABANDON
    return media_app


def scheduled(name: str) -> str:
    """Run the SCHEDULE entry `name` once, as `flask schedule worker` does (its next interval:
    the claim of an earlier run in this test is dropped)."""
    (job,) = [job for job in SCHEDULE if job.name == name]
    redis_client.client.delete(schedule_claim_key(job.name))
    return run_job(job.name, job.target, job.every, job.time_limit)


def cleanup_after(seconds: float) -> None:
    with clock_at(utcnow() + timedelta(seconds=seconds)):
        assert scheduled("expire-abandoned-uploads") == "ran"


def bucket_uploads(storage) -> list[dict]:
    return storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])


def half_upload(app, people, samples) -> tuple[str, int]:
    """A session that sent one part of several and went quiet. Returns (upload_id, work_id)."""
    work = video_draft(people)
    size = app.config["UPLOAD_PART_SIZE"] + 1000  # two parts
    owner = Uploader(app, people["owner"])
    opened = owner.open(work.id, size).json
    owner.put(opened["parts"][0], b"\0" * app.config["UPLOAD_PART_SIZE"])
    return opened["upload_id"], work.id


def test_an_abandoned_session_is_aborted_on_the_s3_endpoint(s3_app, people, samples):
    upload_id, work_id = half_upload(s3_app, people, samples)
    storage = get_storage()
    assert len(bucket_uploads(storage)) == 1
    cleanup_after(ABANDON + 1)
    assert bucket_uploads(storage) == []
    db.session.expire_all()
    assert db.session.get(UploadSession, upload_id).status == UploadStatus.ABORTED
    assert fresh(work_id).status == WorkStatus.DRAFT


def test_an_abandoned_session_loses_its_local_parts(local_app, people, samples):
    upload_id, _ = half_upload(local_app, people, samples)
    parts = get_storage().root / ".multipart"
    assert len(list(parts.iterdir())) == 1
    cleanup_after(ABANDON + 1)
    assert list(parts.iterdir()) == []
    db.session.expire_all()
    assert db.session.get(UploadSession, upload_id).status == UploadStatus.ABORTED


def test_a_fresh_session_is_left_alone(s3_app, people, samples):
    upload_id, work_id = half_upload(s3_app, people, samples)
    cleanup_after(ABANDON - 60)
    assert len(bucket_uploads(get_storage())) == 1
    db.session.expire_all()
    assert db.session.get(UploadSession, upload_id).status == UploadStatus.OPEN
    assert fresh(work_id).status == WorkStatus.UPLOADING


def test_a_multipart_upload_no_session_knows_is_aborted_a_setting_after_it_was_found(s3_app):
    storage = get_storage()
    storage.create_multipart("works/1/source/orphan.mp4", "video/mp4")
    cleanup_after(0)  # found: perhaps a session committing right now, so only noted
    assert len(bucket_uploads(storage)) == 1
    cleanup_after(ABANDON - 60)
    assert len(bucket_uploads(storage)) == 1
    cleanup_after(ABANDON + 1)
    assert bucket_uploads(storage) == []


def test_orphaned_local_parts_are_deleted_a_setting_after_they_were_found(local_app):
    storage = get_storage()
    storage.create_multipart("works/1/source/orphan.mp4", "video/mp4")
    cleanup_after(0)
    assert len(list((storage.root / ".multipart").iterdir())) == 1
    cleanup_after(ABANDON + 1)
    assert list((storage.root / ".multipart").iterdir()) == []


def test_the_setting_decides_when_a_session_is_abandoned(local_app, people, samples):
    local_app.config["UPLOAD_ABANDON_SECONDS"] = 600
    upload_id, _ = half_upload(local_app, people, samples)
    cleanup_after(601)
    db.session.expire_all()
    assert db.session.get(UploadSession, upload_id).status == UploadStatus.ABORTED


def test_a_stuck_work_is_requeued_by_the_schedule_and_finishes(local_app, people, samples):
    work = video_draft(people)
    _, response = Uploader(local_app, people["owner"]).upload(work.id, samples.tiny().read_bytes())
    assert response.status_code == 202
    source = db.session.scalar(sa.select(MediaAsset).where(MediaAsset.work_id == work.id))
    Job.fetch(transcode_job_id(source.id), connection=redis_client.client).delete()  # its job is lost
    media_queue().empty()
    assert scheduled("requeue-stuck-transcodes") == "ran"
    assert media_queue().job_ids == [transcode_job_id(source.id)]
    run_worker(local_app)  # the media worker's own job handling, in this process
    assert fresh(work.id).status == WorkStatus.PENDING_REVIEW


def test_the_metrics_count_each_clean_up(local_app, people, samples):
    client = local_app.test_client()
    before = scrape(client)
    half_upload(local_app, people, samples)
    get_storage().create_multipart("works/1/source/orphan.mp4", "video/mp4")
    cleanup_after(0)
    cleanup_after(ABANDON + 1)
    work = video_draft(people)
    _, response = Uploader(local_app, people["owner"]).upload(work.id, samples.tiny().read_bytes())
    assert response.status_code == 202
    media_queue().empty()
    assert scheduled("requeue-stuck-transcodes") == "ran"
    after = scrape(client)
    for name, n in (
        ("media_uploads_abandoned_total", 1),
        ("media_orphan_uploads_aborted_total", 1),
        ("media_stuck_works_requeued_total", 1),
    ):
        assert after[name] - before[name] == n, name
