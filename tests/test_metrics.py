"""`/metrics`: what Prometheus reads after real requests, jobs, transcodes and reconciles, and who
may read it.

The web tier's counters live in this process for the whole test run, so tests compare scrapes
taken before and after; the Redis-backed figures start at zero with each test's key prefix.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import create_app, redis_keys
from app.engagement import reconcile, services
from app.extensions import redis_client
from app.models import Role, WorkStatus
from app.queue import enqueue_job
from tests.builders_support import make_collective, make_work
from tests.observability_support import run_worker, scrape
from tests.sign_in_support import bearer, sign_in
from tests.uploads_support import Uploader, fresh, video_draft

LIKE_ROUTE = "/api/v1/works/<int:id>/like"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def work(app, open_campaign):
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign)
    services.work_published(work)
    return work


def _like(client, work_id: int, user, method: str = "PUT"):
    headers = bearer(user)
    return client.open(f"/api/v1/works/{work_id}/like", method=method, headers=headers)


# --- requests and likes ----------------------------------------------------------------------


def test_a_like_counts_once_in_likes_total_and_once_as_a_request_of_its_route(client, work, make_user):
    user = make_user()
    before = scrape(client)

    assert _like(client, work.id, user).status_code == 200
    after = scrape(client)

    assert after["likes_total"] - before["likes_total"] == 1
    labels = {"route": LIKE_ROUTE, "method": "PUT", "status": "200"}
    assert after["http_requests_total", labels] - before["http_requests_total", labels] == 1
    duration = {"route": LIKE_ROUTE, "method": "PUT"}
    assert (
        after["http_request_duration_seconds_count", duration]
        - before["http_request_duration_seconds_count", duration]
        == 1
    )


def test_repeating_a_like_records_no_second_like(client, work, make_user):
    user = make_user()
    _like(client, work.id, user)
    before = scrape(client)

    assert _like(client, work.id, user).status_code == 200

    assert scrape(client)["likes_total"] == before["likes_total"]


def test_taking_a_like_back_counts_in_unlikes_total(client, work, make_user):
    user = make_user()
    _like(client, work.id, user)
    before = scrape(client)

    _like(client, work.id, user, "DELETE")

    assert scrape(client)["unlikes_total"] - before["unlikes_total"] == 1


def test_a_path_no_rule_matches_is_counted_as_unmatched_never_by_its_raw_path(client):
    before = scrape(client)

    assert client.get("/no-such-page/abc123").status_code == 404
    after = scrape(client)

    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    assert after["http_requests_total", labels] - before["http_requests_total", labels] == 1
    assert not [key for key in after if any("abc123" in value for _, value in key[1])]


def test_a_like_on_a_missing_work_is_a_404_of_the_like_route(client, make_user, app):
    user = make_user()
    before = scrape(client)

    assert _like(client, 999_999, user).status_code == 404
    after = scrape(client)

    labels = {"route": LIKE_ROUTE, "method": "PUT", "status": "404"}
    assert after["http_requests_total", labels] - before["http_requests_total", labels] == 1
    assert after["likes_total"] == before["likes_total"]


# --- the media queue and transcodes -----------------------------------------------------------


def test_an_enqueued_job_shows_in_the_queue_depth_until_a_worker_takes_it(media_app, client):  # noqa: F811
    assert scrape(client)["media_queue_jobs", {"state": "queued"}] == 0

    enqueue_job("media_worker.jobs.echo_job", "ping")
    assert scrape(client)["media_queue_jobs", {"state": "queued"}] == 1

    run_worker(media_app)
    depth = scrape(client)
    assert depth["media_queue_jobs", {"state": "queued"}] == 0
    assert depth["media_queue_jobs", {"state": "failed"}] == 0


@pytest.mark.slow
def test_a_transcode_through_the_worker_is_timed(media_app, people, samples, client):  # noqa: F811
    work = video_draft(people)
    _, response = Uploader(media_app, people["owner"]).upload(work.id, samples.tiny().read_bytes())
    assert response.status_code == 202, response.json

    run_worker(media_app)

    assert fresh(work.id).status == WorkStatus.PENDING_REVIEW
    after = scrape(client)
    assert after["transcode_duration_seconds_count"] == 1
    assert after["transcode_duration_seconds_bucket", {"le": "+Inf"}] == 1
    assert 0 < after["transcode_duration_seconds_sum"] < 120
    assert after.total("transcode_failures_total") == 0


def test_a_transcode_of_a_broken_video_counts_one_failure_with_its_reason(media_app, people, samples, client):  # noqa: F811
    work = video_draft(people)
    # Truncated: its first bytes are a real MP4's, so it passes the upload and fails in ffprobe.
    _, response = Uploader(media_app, people["owner"]).upload(work.id, samples.truncated().read_bytes())
    assert response.status_code == 202, response.json

    run_worker(media_app)

    assert fresh(work.id).status == WorkStatus.FAILED
    after = scrape(client)
    failures = {
        dict(labels)["reason"]: value
        for (name, labels), value in after.items()
        if name == "transcode_failures_total"
    }
    assert sum(failures.values()) == 1
    assert failures == {"truncated": 1}
    assert after["transcode_duration_seconds_count"] == 0


# --- reconcile --------------------------------------------------------------------------------


def test_a_reconcile_that_repaired_drift_says_how_much_and_when(client, work, make_user):
    _like(client, work.id, make_user())
    redis_client.client.hset(redis_keys.counts_key(work.id), "likes", 99)
    before = time.time()

    drifts = reconcile.reconcile_counters()
    after = scrape(client)

    assert any(d.counter == "likes" for d in drifts)
    assert after["counter_drift_repaired_total", {"counter": "likes"}] == 1
    assert after.total("counter_drift_repaired_total") == len(drifts)
    assert after["reconcile_last_drift"] == len(drifts)
    assert after["reconcile_runs_total"] == 1
    assert before - 1 <= after["reconcile_last_run_timestamp_seconds"] <= time.time() + 1


def test_a_reconcile_that_found_nothing_is_still_a_run(client, work):
    reconcile.reconcile_counters()
    reconcile.reconcile_counters()

    after = scrape(client)

    assert after["reconcile_runs_total"] == 2
    assert after["reconcile_last_drift"] == 0


# --- access -----------------------------------------------------------------------------------


def test_loopback_and_private_addresses_may_scrape_when_no_token_is_set(client):
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "::1"):
        response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 200, address


def test_a_public_address_is_refused_when_no_token_is_set(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})

    assert response.status_code == 403
    assert b"http_requests_total" not in response.data


def test_a_request_through_an_undeclared_proxy_is_refused(client):
    # PROXY_HOPS=0, yet a proxy forwarded it: the loopback address is the proxy's, not the client's.
    response = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})

    assert response.status_code == 403


@pytest.mark.parametrize(
    "header",
    [
        ("X-Real-IP", "10.0.0.7"),
        ("Forwarded", "for=10.0.0.7"),
        ("X-Forwarded-Host", "metrics.internal"),
        ("X-Forwarded-Proto", "https"),
        ("True-Client-IP", "10.0.0.7"),
    ],
    ids=lambda header: header[0],
)
def test_without_proxy_hops_no_forwarding_header_at_all_is_trusted(client, header):
    # From loopback, as the tester sent them: any forwarding header says a proxy stands between.
    response = client.get("/metrics", headers=dict([header]))

    assert response.status_code == 403


def test_behind_a_declared_proxy_the_clients_own_address_decides(app):
    proxied = create_app(
        "testing", PROXY_HOPS=1, REDIS_KEY_PREFIX=app.config["REDIS_KEY_PREFIX"]
    ).test_client()

    assert proxied.get("/metrics", headers={"X-Forwarded-For": "10.0.0.7"}).status_code == 200
    assert proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403


def test_with_a_token_only_the_bearer_of_it_may_scrape_from_anywhere(app, client):
    app.config["METRICS_TOKEN"] = "s3cret-scrape-token"

    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    public = {"REMOTE_ADDR": "203.0.113.9"}
    right = client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"}, environ_base=public
    )
    assert right.status_code == 200 and b"http_requests_total" in right.data


def test_signing_in_grants_no_access_to_metrics(client, make_user):
    sign_in(client, make_user(Role.ADMIN))

    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403


def test_metrics_are_served_while_redis_is_down_and_say_so(app):
    down = create_app("testing", REDIS_URL="redis://127.0.0.1:1/0").test_client()

    page = scrape(down)

    assert page["redis_up"] == 0
    assert ("media_queue_jobs", frozenset({("state", "queued")})) not in page


# --- several processes ------------------------------------------------------------------------

_REQUESTS_IN_A_PROCESS = """
import sys
from app import create_app
client = create_app("testing").test_client()
for _ in range(int(sys.argv[1])):
    assert client.get("/healthz").status_code == 200
print(client.get("/metrics").get_data(as_text=True))
"""


@pytest.mark.slow
def test_gunicorn_style_processes_add_up_their_counts_in_the_multiprocess_folder(tmp_path):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), APP_ENV="testing")

    def run(requests: int) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _REQUESTS_IN_A_PROCESS, str(requests)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout

    run(3)
    page = run(4)

    line = next(
        line for line in page.splitlines() if line.startswith("http_requests_total") and "/healthz" in line
    )
    assert float(line.rsplit(" ", 1)[1]) == 7
    assert "redis_up" in page
