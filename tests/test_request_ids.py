"""Request ids: taken from a sane X-Request-ID or made up, echoed, on every log line of the
request, and carried through the media queue into the worker's log lines for that job."""

from __future__ import annotations

import json
import re
import secrets

import pytest
from rq.job import JobStatus

from app import create_app
from app.models import WorkStatus
from app.observability.context import bound
from app.queue import enqueue_job
from tests.media_worker_process import finished, forget_queue, start_worker, stop, wait_for
from tests.observability_support import json_log, run_worker
from tests.uploads_support import Uploader, fresh, video_draft

UUID_HEX = re.compile(r"[0-9a-f]{32}")


def test_a_sane_incoming_request_id_is_kept_and_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.b_2"})

    assert response.headers["X-Request-ID"] == "edge-7f3a.b_2"


def test_without_an_incoming_id_each_request_gets_a_fresh_uuid(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]

    assert UUID_HEX.fullmatch(first) and UUID_HEX.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "incoming",
    ["x" * 65, "has space", 'quote"d', "semi;colon", "网络倡文明", "{json}", "a/b", ""],
    ids=["too-long", "space", "quote", "semicolon", "non-ascii", "braces", "slash", "empty"],
)
def test_an_insane_incoming_id_is_replaced_never_logged(client, incoming):
    with json_log() as lines:
        response = client.get("/no-such-page", headers={"X-Request-ID": incoming})

    given = response.headers["X-Request-ID"]
    assert UUID_HEX.fullmatch(given)
    assert [line["request_id"] for line in lines] == [given]


def test_an_api_error_keeps_its_shape_and_carries_the_id_in_the_header_only(client):
    response = client.get("/api/v1/works/999999", headers={"X-Request-ID": "abc123"})

    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "abc123"
    assert set(response.json) == {"error"} and set(response.json["error"]) == {"code", "message"}


def test_every_log_line_of_a_request_carries_its_id_and_no_line_after_it(client, app):
    @app.get("/_test/chatty")
    def chatty():
        app.logger.warning("inside the view")
        return "ok"

    with json_log() as lines:
        client.get("/_test/chatty", headers={"X-Request-ID": "chatty-1"})
        app.logger.warning("outside any request")

    inside = [line for line in lines if line["message"] != "outside any request"]
    assert {line["request_id"] for line in inside} == {"chatty-1"}
    assert len(inside) == 2  # the view's line and the access line
    (outside,) = [line for line in lines if line["message"] == "outside any request"]
    assert "request_id" not in outside


def test_a_completed_uploads_request_id_is_on_the_workers_log_lines_for_its_job(media_app, people, samples):  # noqa: F811
    work = video_draft(people)
    owner = Uploader(media_app, people["owner"])
    owner.headers["X-Request-ID"] = "abc123"
    with json_log() as web_lines:
        _, response = owner.upload(work.id, samples.tiny().read_bytes())
    assert response.status_code == 202, response.json
    assert response.headers["X-Request-ID"] == "abc123"
    assert any("completed" in line["message"] and line.get("request_id") == "abc123" for line in web_lines)

    with json_log() as worker_lines:
        run_worker(media_app)

    assert fresh(work.id).status == WorkStatus.PENDING_REVIEW
    job_lines = [
        line for line in worker_lines if line.get("job_id", "").endswith(f"-transcode-{_source_id(work)}")
    ]
    assert any("transcoded" in line["message"] for line in job_lines), worker_lines
    assert {line.get("request_id") for line in job_lines} == {"abc123"}


def test_a_job_enqueued_outside_any_request_logs_without_a_request_id(media_app):  # noqa: F811
    job = enqueue_job("media_worker.jobs.echo_job", "hello")
    with json_log() as lines:
        run_worker(media_app)

    job_lines = [line for line in lines if line.get("job_id") == job.id]
    assert job_lines and all("request_id" not in line for line in job_lines)


def _source_id(work) -> int:
    from app.models import AssetRole

    return next(asset.id for asset in fresh(work.id).assets if asset.role == AssetRole.SOURCE)


def test_a_forked_work_horse_of_the_worker_process_logs_the_request_id_as_json(
    tmp_path, monkeypatch, redis_server
):
    """The production path: `python -m media_worker` forks a work horse per job."""
    queue = f"media-test-ids-{secrets.token_hex(4)}"
    app = create_app("testing", MEDIA_QUEUE=queue, REDIS_KEY_PREFIX=f"{queue}:")
    monkeypatch.setenv("LOG_FORMAT", "json")
    try:
        with app.app_context():
            with bound(request_id="fork-42"):
                job = enqueue_job("media_worker.jobs.echo_job", "hello", job_id=f"{queue}-echo")
            worker = start_worker(queue, tmp_path / "worker.log")
            try:
                assert wait_for(finished(job)) == JobStatus.FINISHED
            finally:
                stop(worker)
    finally:
        forget_queue(redis_server, queue)

    lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    job_lines = [line for line in lines if line.get("job_id") == job.id]
    assert any("echo_job" in line["message"] for line in job_lines), lines
    assert {line["request_id"] for line in job_lines} == {"fork-42"}
