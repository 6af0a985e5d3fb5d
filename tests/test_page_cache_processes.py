"""The shared page cache across two gunicorn processes (one database, one Redis): a body one
process rendered for a signed-in account is what the other serves to everyone, with nothing of
that account in it, and a take-down is 404 at once from both."""

from __future__ import annotations

import http.client

import pytest

from app.engagement import services as engagement
from app.models import Role
from app.moderation import services as moderation
from app.notifications import services as notifications
from tests.builders_support import make_collective, make_work
from tests.sign_in_support import sign_in
from tests.web_process import WebProcess, served_config

pytestmark = pytest.mark.slow


@pytest.fixture
def webs(app, tmp_path):
    shared = served_config(app, PAGE_CACHE_ENABLED=True)
    app.config.update(shared)  # the test's own purges reach the same cache
    started: list[WebProcess] = []
    try:
        for n in range(2):
            started.append(WebProcess(shared, tmp_path / f"web{n}.log"))
        yield started
    finally:
        for web in started:
            web.stop()


@pytest.fixture
def work(app, open_campaign):
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign, title="站台上的守候")
    engagement.work_published(work)
    return work


def _get(web: WebProcess, path: str, cookie: str | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def _session_cookie(app, user) -> str:
    """The cookie a browser signed in as `user` sends (the processes share SECRET_KEY)."""
    client = app.test_client()
    sign_in(client, user)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return f"{cookie.key}={cookie.value}"


def test_a_body_rendered_for_one_account_reaches_no_other_across_processes(app, webs, work, make_user):
    a = make_user(Role.COLLECTIVE, collective=work.collective, email="wang.a@example.com")
    engagement.like_work(a, work)
    notifications.work_approved(make_user(Role.ADMIN), work)
    cookie_a, cookie_b = _session_cookie(app, a), _session_cookie(app, make_user())
    first, second = webs
    paths = ["/", f"/works/{work.id}", "/wall", f"/collectives/{work.collective_id}"]
    status, _headers, state = _get(first, f"/api/v1/me/state?works={work.id}", cookie_a)
    assert status == 200 and '"unread":1' in state.replace(" ", "")
    csrf_of_a = state.split('"csrf_token":')[1].split('"')[1]
    for path in paths:
        status, headers, _body = _get(first, path, cookie_a)
        assert (status, headers["X-Cache"]) == (200, "miss"), path
    for path in paths:
        for cookie in (cookie_b, None):
            status, headers, body = _get(second, path, cookie)
            assert (status, headers["X-Cache"]) == (200, "hit"), path
            for secret in (
                a.display_name,
                a.email,
                csrf_of_a,
                'aria-pressed="true"',
                'class="badge" data-unread>',
            ):
                assert secret not in body, (path, secret)


def test_a_take_down_is_404_at_once_from_both_processes(app, webs, work, make_user):
    for web in webs:
        for path in (f"/works/{work.id}", f"/api/v1/works/{work.id}"):
            assert _get(web, path)[0] == 200
    assert {_get(web, f"/works/{work.id}")[1]["X-Cache"] for web in webs} == {"hit"}
    moderation.reject_work(make_user(Role.ADMIN), work.id, "内容不符合活动要求")
    for web in webs:
        for path in (f"/works/{work.id}", f"/api/v1/works/{work.id}"):
            assert _get(web, path)[0] == 404, (web.port, path)
