"""deploy/nginx/ in front of two web processes: Debian's nginx, run from a prefix of the test's own
on a loopback port (no root needed), with the configuration deploy/nginx/render.py writes from the
templates, proxying to two gunicorn processes that share the test's database, Redis and media
folder (LocalStorage), as two web hosts would. They start once per database for the module;
each test gets the emptied database, Redis prefix, media folder and micro-cache (see `app`).

What it shows: an anonymous public body comes from nginx's micro-cache; nothing personal does
(a token, a session cookie, /api/v1/me, an answer that sets a cookie); a chunked upload's parts
PUT through nginx and complete; media and static files come from disk with long cache headers;
both web processes take requests.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from app.auth.services import issue_token
from app.extensions import db, limiter
from app.models import Role
from tests.app_support import (
    DATABASES,
    RUN_PREFIX,
    RUN_TOKEN,
    WORKER,
    flush_prefix,
    make_test_app,
    scratch_postgres_database,
)
from tests.builders_support import make_work
from tests.media_samples import make_clip
from tests.media_worker_process import forget_queue
from tests.web_process import WebProcess, free_port, served_config

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"  # Debian's package, installed by scripts/bootstrap.sh --test
PART_SIZE = 5 * 1024 * 1024  # the smallest part LocalStorage takes (S3's rule)
# Long enough that the second request of a test always finds the first one's body cached.
# How long nginx may hold a public body (s-maxage): long enough for a test to see the HIT.
SHARED_CACHE_SECONDS = 60

# One worker runs them all (`make test` distributes by group), so the front starts once per database.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("nginx")]


class Nginx:
    def __init__(self, prefix: Path, servers: list[int], media_root: str) -> None:
        self.port = free_port()
        self.prefix = prefix
        rendered = subprocess.run(
            [
                sys.executable, str(ROOT / "deploy" / "nginx" / "render.py"),
                "--prefix", str(prefix),
                "--listen", f"127.0.0.1:{self.port}",
                *[arg for port in servers for arg in ("--server", f"127.0.0.1:{port}")],
                "--media-root", media_root,
                "--static-root", str(ROOT / "app" / "static"),
                "--part-size", str(PART_SIZE),
            ],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        conf = rendered.stdout.strip()
        self.process = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", conf, "-e", str(prefix / "logs" / "error.log"),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            assert self.process.poll() is None, self.error_log()
            try:
                if self.call("GET", "/healthz").status == 200:
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, self.error_log()
            time.sleep(0.1)

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text() if path.exists() else ""

    def access_log(self) -> str:
        return (self.prefix / "logs" / "access.log").read_text()

    def call(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            response.data = response.read()
            return response
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass
class Front:
    """One nginx and its two web processes, with the app (in this process) on their database."""

    app: Flask
    nginx: Nginx
    prefix: str
    queue: str


@pytest.fixture(scope="module", params=DATABASES)
def served(request, tmp_path_factory, redis_server) -> Iterator[Front]:
    """nginx and two gunicorns started once per database for the whole module (each start costs
    seconds); the `app` fixture below hands each test a clean world on them."""
    if not Path(NGINX).exists():
        raise AssertionError("nginx is missing: run scripts/bootstrap.sh --test (it installs Debian's nginx)")
    tmp = tmp_path_factory.mktemp("nginx-front")
    token = secrets.token_hex(3)
    prefix = f"{RUN_PREFIX}{token}:"
    queue = f"media-test-{WORKER}-{RUN_TOKEN}-{token}"
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'front.db'}"
        else:
            url = stack.enter_context(scratch_postgres_database("nginx"))
        app = make_test_app(url, str(tmp / "media"), prefix=prefix, queue=queue)
        shared = served_config(
            app,
            MEDIA_QUEUE=app.config["MEDIA_QUEUE"],
            STORAGE_BACKEND="local",
            UPLOAD_PART_SIZE=PART_SIZE,
            PROXY_HOPS=1,
            PAGE_CACHE_ENABLED=True,
            PAGE_CACHE_HTTP_SECONDS=SHARED_CACHE_SECONDS,
        )
        app.config.update(shared)
        Path(app.config["MEDIA_ROOT"]).mkdir(parents=True, exist_ok=True)
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        webs: list[WebProcess] = []
        nginx = None
        try:
            webs = [WebProcess(shared, tmp / f"web{n}.log") for n in range(2)]
            nginx = Nginx(tmp / "nginx", [web.port for web in webs], app.config["MEDIA_ROOT"])
            yield Front(app, nginx, prefix, queue)
        finally:
            if nginx is not None:
                nginx.stop()
            for web in webs:
                web.stop()
            flush_prefix(redis_server, prefix)
            forget_queue(redis_server, queue)


@pytest.fixture
def app(served, redis_server):
    """The module's app (conftest's own would make a new database the web processes never see),
    in an app context; afterwards the world is emptied for the next test: every table's rows,
    the Redis keys of the prefix (page cache, counters, rate limits), the media queue, the media
    folder, and nginx's micro-cache. Emptying the micro-cache too (deleting its files is how
    open-source nginx purges: a key whose file is gone is a MISS) keeps every test's MISS/HIT
    its own, even where ids or paths repeat (SQLite hands out ids again after its rows go)."""
    app = served.app
    # Flask-Limiter keeps the key prefix of the app it was bound to last (as conftest's `app`).
    limiter._key_prefix = app.config["RATELIMIT_KEY_PREFIX"]
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
            db.engine.dispose()
    flush_prefix(redis_server, served.prefix)
    forget_queue(redis_server, served.queue)
    for folder in (Path(app.config["MEDIA_ROOT"]), served.nginx.prefix / "cache"):
        for entry in folder.iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


@pytest.fixture
def front(served, app) -> Nginx:
    return served.nginx


@pytest.fixture
def published(app, make_collective, open_campaign):
    return make_work(make_collective(), open_campaign, title="网络文明公开作品")


def _token(make_user, role=Role.VIEWER, **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(make_user(role, **kwargs))}"}


def test_an_anonymous_public_body_is_served_from_nginxs_cache(front, published):
    first = front.call("GET", f"/api/v1/works/{published.id}")
    second = front.call("GET", f"/api/v1/works/{published.id}")
    assert first.status == second.status == 200
    assert "s-maxage" in first.headers["Cache-Control"]
    assert (first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]) == ("MISS", "HIT")
    assert second.data == first.data


def test_the_anonymous_work_list_is_served_from_nginxs_cache(front, published):
    front.call("GET", "/api/v1/works")
    again = front.call("GET", "/api/v1/works")
    assert again.status == 200
    assert again.headers["X-Cache-Status"] == "HIT"
    assert [item["id"] for item in json.loads(again.data)["items"]] == [published.id]


def test_a_caller_with_a_token_passes_through_and_sees_their_own_like(front, published, make_user):
    front.call("GET", f"/api/v1/works/{published.id}")  # the anonymous body, now cached
    headers = _token(make_user)
    assert front.call("PUT", f"/api/v1/works/{published.id}/like", headers=headers).status == 200
    mine = front.call("GET", f"/api/v1/works/{published.id}", headers=headers)
    assert mine.headers["X-Cache-Status"] == "BYPASS"
    assert json.loads(mine.data)["liked_by_me"] is True
    assert "public" not in mine.headers.get("Cache-Control", "")


def test_a_request_with_the_session_cookie_is_never_answered_from_the_cache(front, published):
    front.call("GET", f"/api/v1/works/{published.id}")
    with_cookie = front.call("GET", f"/api/v1/works/{published.id}", headers={"Cookie": "session=abc"})
    assert with_cookie.headers["X-Cache-Status"] == "BYPASS"


def test_me_passes_through_uncached_to_each_its_own_account(front, make_user):
    ann, bob = make_user(), make_user()
    earlier = len(front.access_log())
    for user in (ann, bob, ann):
        answer = front.call("GET", "/api/v1/me", headers={"Authorization": f"Bearer {issue_token(user)}"})
        assert answer.status == 200
        assert json.loads(answer.data)["user"]["display_name"] == user.display_name
        assert "X-Cache-Status" not in answer.headers  # the cache is off for /api/v1/me*
    assert "cache=HIT" not in front.access_log()[earlier:]


def test_an_answer_that_sets_a_cookie_is_never_cached(front):
    # The log-in page puts a CSRF token in a new session for an anonymous visitor.
    for _ in range(2):
        page = front.call("GET", "/login")
        assert page.status == 200 and "Set-Cookie" in page.headers
        assert page.headers.get("X-Cache-Status") in (None, "MISS", "BYPASS")


@pytest.mark.parametrize("page", ["/", "/wall", "/works/{id}"])
def test_an_anonymous_public_page_is_served_from_nginxs_cache(front, published, page):
    path = page.format(id=published.id)
    first, second = front.call("GET", path), front.call("GET", path)
    assert first.status == second.status == 200
    assert "Set-Cookie" not in first.headers and "s-maxage" in first.headers["Cache-Control"]
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.data == first.data


def test_the_state_call_passes_through_uncached_to_each_its_own_account(front, published, make_user):
    ann, bob = make_user(), make_user()
    for user in (ann, bob, ann):
        headers = {"Authorization": f"Bearer {issue_token(user)}"}
        answer = front.call("GET", f"/api/v1/me/state?works={published.id}", headers=headers)
        assert answer.status == 200
        assert json.loads(answer.data)["user"]["display_name"] == user.display_name
        assert "no-store" in answer.headers["Cache-Control"]
        assert "X-Cache-Status" not in answer.headers  # the cache is off for /api/v1/me*


def test_both_web_processes_take_requests(front, published, make_user):
    headers = _token(make_user)
    earlier = len(front.access_log())  # the log of the module's front: only this test's lines count
    for _ in range(8):
        assert front.call("GET", f"/api/v1/works/{published.id}", headers=headers).status == 200
    lines = front.access_log()[earlier:].splitlines()
    upstreams = {line.split("upstream=")[1].split()[0] for line in lines}
    assert len(upstreams - {"-"}) == 2


def test_a_chunked_upload_puts_its_parts_through_nginx_and_completes(
    front, make_collective, make_user, open_campaign, tmp_path
):
    collective = make_collective()
    headers = _token(make_user, Role.COLLECTIVE, collective=collective)
    draft = make_work(collective, open_campaign, title="微视频", kind="video", status="draft")
    clip = make_clip(tmp_path / "clip.mp4", width=320, height=180, seconds=1)
    # Past one part, so that a full 5 MiB part crosses nginx (its default limit is 1 MiB).
    data = clip.read_bytes() + b"\0" * (PART_SIZE + 4096)
    body = {"filename": "clip.mp4", "size": len(data), "content_type": "video/mp4"}
    json_headers = {**headers, "Content-Type": "application/json"}
    opened = front.call("POST", f"/api/v1/works/{draft.id}/uploads", json_headers, json.dumps(body).encode())
    assert opened.status == 201, opened.data
    session = json.loads(opened.data)
    assert session["part_size"] == PART_SIZE and len(session["parts"]) == 2
    parts = []
    for target in session["parts"]:
        n = target["number"]
        chunk = data[(n - 1) * PART_SIZE : n * PART_SIZE]
        path = (
            "/" + target["url"].split("://", 1)[-1].split("/", 1)[1]
            if "://" in target["url"]
            else target["url"]
        )
        put = front.call("PUT", path, {**headers, "Content-Type": "application/octet-stream"}, chunk)
        assert put.status == 200, put.data
        parts.append({"number": n, "etag": json.loads(put.data)["etag"]})
    done = front.call(
        "POST", f"/api/v1/uploads/{session['upload_id']}/complete", json_headers,
        json.dumps({"parts": parts}).encode(),
    )  # fmt: skip
    assert done.status == 202, done.data
    assert json.loads(done.data)["work"]["status"] == "processing"


def test_media_files_come_from_disk_with_long_cache_headers_and_ranges(app, front):
    folder = Path(app.config["MEDIA_ROOT"]) / "works" / "77" / "a1b2"
    folder.mkdir(parents=True)
    (folder / "720.mp4").write_bytes(bytes(range(256)) * 4)
    whole = front.call("GET", "/media/works/77/a1b2/720.mp4")
    assert whole.status == 200 and len(whole.data) == 1024
    assert "max-age=2592000" in whole.headers["Cache-Control"]
    assert "X-Request-ID" not in whole.headers  # nginx answered; the app never saw it
    part = front.call("GET", "/media/works/77/a1b2/720.mp4", headers={"Range": "bytes=256-511"})
    assert part.status == 206 and part.data == bytes(range(256))


def test_other_files_of_the_store_are_not_served(app, front):
    folder = Path(app.config["MEDIA_ROOT"]) / "uploads"
    folder.mkdir(parents=True)
    (folder / "part-1").write_bytes(b"in progress")
    assert front.call("GET", "/media/uploads/part-1").status == 404


def test_static_files_come_from_disk_with_cache_headers(front):
    css = front.call("GET", "/static/css/site.css")
    assert css.status == 200
    assert css.data == (ROOT / "app" / "static" / "css" / "site.css").read_bytes()
    assert "max-age=3600" in css.headers["Cache-Control"]
    assert "X-Request-ID" not in css.headers
