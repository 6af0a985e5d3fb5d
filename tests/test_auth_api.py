"""API v1 accounts: POST /auth/register, POST /auth/token, GET /me."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ApiToken, Role, User
from tests.sign_in_support import NEW_PASSWORD, PASSWORD, csrf_token, fresh_client, login_form, sign_in

NEW_USER = {"email": "Zhao.Lei@Example.com", "password": NEW_PASSWORD, "display_name": "赵磊"}


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(client, email: str) -> str:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return response.json["token"]


def error_of(response) -> dict:
    assert response.is_json, response.get_data(as_text=True)[:200]
    return response.json["error"]


# --- POST /auth/register -----------------------------------------------------------------------


def test_register_answers_201_with_the_new_viewer(client):
    response = client.post("/api/v1/auth/register", json=NEW_USER)
    assert response.status_code == 201
    user = response.json["user"]
    assert user == {
        "id": user["id"],
        "email": "zhao.lei@example.com",
        "display_name": "赵磊",
        "role": "viewer",
        "collective": None,
        "province": None,
    }


def test_register_does_not_sign_the_client_in(client):
    client.post("/api/v1/auth/register", json=NEW_USER)
    assert client.get("/api/v1/me").status_code == 401


def test_register_refuses_a_registered_email_with_409(client, make_user):
    make_user(email="zhao.lei@example.com")
    response = client.post("/api/v1/auth/register", json=NEW_USER)
    assert response.status_code == 409
    assert error_of(response) == {"code": "email_taken", "message": "该邮箱已注册，请直接登录。"}
    assert user_count() == 1


@pytest.mark.parametrize("password", ["short1", "nodigitshere", "zhao.lei2026", "qwerty123"])
def test_register_refuses_a_weak_password_with_422_and_stores_nothing(client, password):
    response = client.post("/api/v1/auth/register", json={**NEW_USER, "password": password})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "weak_password"
    assert error["fields"]["password"] == error["message"]
    assert user_count() == 0


def test_register_names_every_missing_field(client):
    response = client.post("/api/v1/auth/register", json={"email": "a@example.com", "display_name": ""})
    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"password", "display_name"}
    assert user_count() == 0


def test_register_refuses_fields_that_are_not_strings(client):
    response = client.post("/api/v1/auth/register", json={**NEW_USER, "password": 12345678})
    assert response.status_code == 422
    assert "password" in error_of(response)["fields"]


def test_register_refuses_a_body_that_is_not_json_with_415(client):
    response = client.post("/api/v1/auth/register", data=NEW_USER)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert user_count() == 0


def test_register_refuses_broken_json_with_400(client):
    response = client.post(
        "/api/v1/auth/register", data='{"email": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"


# --- POST /auth/token and bearer auth ----------------------------------------------------------


def test_token_answers_a_token_and_the_user(client, make_user):
    user = make_user(email="li@example.com")
    response = client.post("/api/v1/auth/token", json={"email": "Li@Example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json["user"]["id"] == user.id
    token = response.json["token"]
    assert len(token) >= 32
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert stored.token_hash != token  # only a hash is kept


def test_a_bearer_token_signs_requests_in_without_a_cookie(app, client, make_user):
    make_user(email="li@example.com")
    token = token_for(client, "li@example.com")
    other_device = fresh_client(app)
    response = other_device.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json["user"]["email"] == "li@example.com"
    assert other_device.get("/api/v1/me").status_code == 401  # the token did not become a session


@pytest.mark.parametrize(
    ("email", "password"),
    [("li@example.com", "Wrong-password-9"), ("nobody@example.com", PASSWORD), ("not-an-email", PASSWORD)],
)
def test_token_refuses_wrong_credentials_with_401_without_saying_which(client, make_user, email, password):
    make_user(email="li@example.com")
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 401
    assert error_of(response) == {"code": "invalid_credentials", "message": "邮箱或密码不正确。"}


def test_token_refuses_a_banned_account_with_403(client, make_user):
    user = make_user(email="li@example.com")
    user.banned = True
    db.session.commit()
    response = client.post("/api/v1/auth/token", json={"email": "li@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert error_of(response)["code"] == "account_banned"


def test_token_of_a_user_banned_later_stops_working(client, make_user):
    user = make_user(email="li@example.com")
    token = token_for(client, "li@example.com")
    user.banned = True
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_token_needs_email_and_password(client):
    response = client.post("/api/v1/auth/token", json={"email": "li@example.com"})
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"password": "必填"}


def test_token_refuses_a_form_post_with_415(client):
    response = client.post("/api/v1/auth/token", data={"email": "li@example.com", "password": PASSWORD})
    assert response.status_code == 415


# --- GET /me -----------------------------------------------------------------------------------


def test_me_is_401_json_when_anonymous(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_me_is_401_with_an_unknown_token(client):
    assert client.get("/api/v1/me", headers=bearer("not-a-real-token")).status_code == 401


def test_me_through_the_session_cookie_shows_collective_membership(client, make_user, make_collective):
    collective = make_collective()
    member = make_user(Role.COLLECTIVE, collective=collective)
    sign_in(client, member)
    user = client.get("/api/v1/me").json["user"]
    assert (user["role"], user["collective"]) == (
        "collective",
        {"id": collective.id, "name": collective.name},
    )


@pytest.mark.parametrize(("province", "shown"), [("广东", "广东"), (None, None)])
def test_me_shows_a_moderators_province_scope(client, make_user, province, shown):
    make_user(Role.MODERATOR, province=province, email="mod@example.com")
    token = token_for(client, "mod@example.com")
    user = client.get("/api/v1/me", headers=bearer(token)).json["user"]
    assert (user["role"], user["province"]) == ("moderator", shown)


# --- CSRF: cookies need it, bearer tokens and cookie-less clients do not -----------------------


def test_a_cookie_authenticated_api_write_without_x_csrftoken_is_refused(client, make_user):
    sign_in(client, make_user())
    response = client.post("/api/v1/auth/register", json=NEW_USER)
    assert response.status_code == 400
    assert error_of(response)["code"] == "csrf_failed"
    assert user_count() == 1


def test_a_cookie_authenticated_api_write_with_x_csrftoken_is_accepted(client, make_user):
    sign_in(client, make_user())
    response = client.post(
        "/api/v1/auth/register", json=NEW_USER, headers={"X-CSRFToken": csrf_token(client)}
    )
    assert response.status_code == 201


# --- rate limits -------------------------------------------------------------------------------


def test_too_many_token_requests_are_answered_429_json_with_retry_after(app, client, make_user):
    make_user(email="li@example.com")
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    wrong = {"email": "li@example.com", "password": "Wrong-password-9"}
    assert client.post("/api/v1/auth/token", json=wrong).status_code == 401
    assert client.post("/api/v1/auth/token", json=wrong).status_code == 401
    response = client.post("/api/v1/auth/token", json={"email": "li@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert error_of(response) == {"code": "rate_limited", "message": "操作太频繁，请稍后再试。"}


def test_the_login_page_and_the_token_call_share_one_limit(app, make_user):
    make_user(email="li@example.com")
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    assert login_form(fresh_client(app), "li@example.com", "Wrong-password-9").status_code == 401
    response = fresh_client(app).post(
        "/api/v1/auth/token", json={"email": "li@example.com", "password": PASSWORD}
    )
    assert response.status_code == 429


def test_too_many_api_sign_ups_from_one_ip_are_answered_429(app, client):
    app.config["REGISTER_RATE_LIMIT"] = "1 per hour"
    assert client.post("/api/v1/auth/register", json=NEW_USER).status_code == 201
    response = client.post("/api/v1/auth/register", json={**NEW_USER, "email": "other@example.com"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert error_of(response)["code"] == "rate_limited"
    assert user_count() == 1
