"""A Bearer header means token authentication only: a bad token is 401 whatever cookies come
with it, so adding the header can no longer switch off the CSRF check of a cookie request
(issue 17, finding 5)."""

from __future__ import annotations

import pytest

from app.engagement import services
from app.models import Role
from tests.builders_support import make_campaign, make_work
from tests.sign_in_support import bearer, csrf_token, login_form


@pytest.fixture
def work(make_collective):
    return make_work(make_collective(), make_campaign(), title="站台上的守候")


@pytest.fixture
def victim(client, make_user):
    """A browser signed in with a session cookie, as a forged cross-site request would ride on."""
    user = make_user()
    login_form(client, user.email)
    return user


# Writes a forged request could make with the victim's cookie (the tester's three).
WRITES = [
    ("put", "/api/v1/works/{id}/like", None),
    ("post", "/api/v1/works/{id}/comments", {"body": "伪造的评论"}),
    ("post", "/api/v1/notifications/read", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=lambda v: v if isinstance(v, str) else "")
def test_the_cookie_alone_without_its_csrf_token_is_refused(client, victim, work, method, path, body):
    answer = getattr(client, method)(path.format(id=work.id), json=body)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "csrf_failed"


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("header", ["Bearer x", "Bearer ", "bearer x", "BEARER not-a-token"])
def test_a_bad_bearer_token_next_to_the_cookie_is_401_not_the_cookies_account(
    client, victim, work, method, path, body, header
):
    answer = getattr(client, method)(path.format(id=work.id), json=body, headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "invalid_token"
    assert "invalid_token" in answer.headers["WWW-Authenticate"]


def test_the_forged_like_changed_nothing(client, victim, work):
    client.put(f"/api/v1/works/{work.id}/like", headers={"Authorization": "Bearer x"})
    assert services.counts_for([work.id])[work.id].likes == 0


def test_a_bad_bearer_token_is_401_on_reads_too(client, victim):
    answer = client.get("/api/v1/me", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 401


def test_a_valid_token_acts_as_its_own_account_whatever_the_cookie(app, client, victim, work, make_user):
    other = make_user(Role.VIEWER)
    headers = bearer(other)
    assert client.get("/api/v1/me", headers=headers).json["user"]["id"] == other.id
    assert client.put(f"/api/v1/works/{work.id}/like", headers=headers).status_code == 200


def test_the_cookie_with_its_csrf_token_still_works(client, victim, work):
    answer = client.put(f"/api/v1/works/{work.id}/like", headers={"X-CSRFToken": csrf_token(client)})
    assert answer.json == {"liked": True, "likes": 1}


def test_another_scheme_is_not_a_token_and_the_cookie_still_needs_its_csrf_token(client, victim, work):
    answer = client.put(f"/api/v1/works/{work.id}/like", headers={"Authorization": "Basic eDp5"})
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "csrf_failed"


def test_pages_ignore_the_session_when_a_bearer_header_comes_with_it(client, victim):
    # Cookies are for pages, tokens for API clients; a request carrying both is taken as a
    # token request, and a bad token opens nothing anywhere.
    answer = client.get("/notifications", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
