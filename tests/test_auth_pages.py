"""Sign-up, log-in and log-out pages, through the real forms with CSRF on."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from limits import parse_many

from app.extensions import db
from app.models import Role, User
from config import Config
from tests.sign_in_support import (
    NEW_PASSWORD,
    PASSWORD,
    csrf_token,
    fresh_client,
    login_form,
    register_form,
    signed_in_email,
)


def users_named(email: str) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.email == email)))


# --- the pages themselves ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fields"),
    [("/register", ["email", "display_name", "password", "confirm"]), ("/login", ["email", "password"])],
)
def test_each_form_input_has_a_name_and_id_equal_to_its_field(client, path, fields):
    html = client.get(path).get_data(as_text=True)
    for field in fields:
        assert re.search(rf'<input[^>]*\bid="{field}"[^>]*\bname="{field}"', html), field
    assert '<button type="submit">' in html
    assert 'name="csrf_token"' in html


def test_the_pages_are_in_chinese_and_fit_a_phone(client):
    html = client.get("/register").get_data(as_text=True)
    assert "注册账号" in html and "确认密码" in html
    assert 'name="viewport"' in html


# --- sign-up -----------------------------------------------------------------------------------


def test_signing_up_creates_a_viewer_logs_in_and_goes_home_with_a_welcosigned_in_email(client):
    response = register_form(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    [user] = users_named("wang.fang@example.com")
    assert (user.display_name, user.role) == ("王芳", Role.VIEWER)
    assert signed_in_email(client) == "wang.fang@example.com"
    assert "注册成功" in client.get("/").get_data(as_text=True)


def test_signing_up_with_a_registered_email_says_so_in_chinese_and_stores_nothing(client, make_user):
    make_user(email="wang.fang@example.com")
    response = register_form(client, email="WANG.FANG@example.com")
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "该邮箱已注册，请直接登录。" in html
    assert len(users_named("wang.fang@example.com")) == 1
    assert signed_in_email(client) is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("abc123", "密码至少需要 8 个字符"),
        ("onlyletters", "密码需要同时包含字母和数字"),
        ("wang.fang99", "不能包含邮箱用户名"),
        ("password123", "这个密码太常见"),
    ],
)
def test_a_weak_password_is_refused_next_to_the_field_and_keeps_what_was_typed(client, password, message):
    response = register_form(client, password=password, confirm=password)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="password".*?class="field-error"[^>]*>[^<]*{message}', html, re.S)
    assert 'value="Wang.Fang@Example.com"' in html
    assert 'value="王芳"' in html
    assert password not in html
    assert users_named("wang.fang@example.com") == []


def test_passwords_that_do_not_match_are_refused(client):
    response = register_form(client, confirm="Another-2026")
    assert response.status_code == 422
    assert "两次输入的密码不一致。" in response.get_data(as_text=True)
    assert users_named("wang.fang@example.com") == []


def test_a_missing_display_name_is_refused_in_chinese(client):
    response = register_form(client, display_name="   ")
    assert response.status_code == 422
    assert "请填写昵称。" in response.get_data(as_text=True)


def test_an_invalid_email_is_refused_next_to_the_field(client):
    response = register_form(client, email="wang.fang@localhost")
    assert response.status_code == 422
    assert "邮箱地址格式不正确" in response.get_data(as_text=True)


# --- log-in and log-out ------------------------------------------------------------------------


def test_logging_in_goes_home_and_records_the_time(client, make_user):
    user = make_user(email="li@example.com")
    response = login_form(client, " LI@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in_email(client) == "li@example.com"
    db.session.expire_all()
    assert db.session.get(User, user.id).last_login_at is not None


def test_remember_me_sets_a_lasting_cookie(client, make_user):
    make_user(email="li@example.com")
    response = login_form(client, "li@example.com", remember="y")
    assert "remember_token=" in " ".join(response.headers.getlist("Set-Cookie"))


def test_a_wrong_password_is_refused_keeping_the_email_but_not_the_password(client, make_user):
    make_user(email="li@example.com")
    response = login_form(client, "li@example.com", "Wrong-password-9")
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "邮箱或密码不正确。" in html
    assert 'value="li@example.com"' in html
    assert "Wrong-password-9" not in html
    assert signed_in_email(client) is None


def test_a_banned_user_cannot_log_in_and_is_told_why(client, make_user):
    user = make_user(email="li@example.com")
    user.banned = True
    db.session.commit()
    response = login_form(client, "li@example.com")
    assert response.status_code == 403
    assert "该账号已被停用" in response.get_data(as_text=True)
    assert signed_in_email(client) is None


def test_a_user_banned_while_signed_in_is_signed_out_at_the_next_request(client, make_user):
    user = make_user(email="li@example.com")
    assert login_form(client, user.email).status_code == 302
    user.banned = True
    db.session.commit()
    assert signed_in_email(client) is None


def test_login_follows_a_next_path_on_this_site(client, make_user):
    make_user(email="li@example.com")
    page = client.get("/login?next=/my/works").get_data(as_text=True)
    assert 'action="/login?next=/my/works"' in page or 'action="/login?next=%2Fmy%2Fworks"' in page
    response = login_form(client, "li@example.com", next_url="/my/works?kind=story")
    assert response.headers["Location"] == "/my/works?kind=story"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "my/works",
    ],
)
def test_login_refuses_to_send_people_off_the_site(client, make_user, target):
    make_user(email="li@example.com")
    response = login_form(client, "li@example.com", next_url=quote(target, safe=""))
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logging_out_ends_the_session(client, make_user):
    user = make_user()
    assert login_form(client, user.email).status_code == 302
    assert signed_in_email(client) == user.email
    response = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert signed_in_email(client) is None
    assert "您已退出登录。" in client.get("/").get_data(as_text=True)


def test_logging_out_by_get_is_not_allowed(client):
    assert client.get("/logout").status_code == 405


def test_one_browser_logging_in_does_not_log_in_another(app, client, make_user):
    assert login_form(client, make_user().email).status_code == 302
    assert signed_in_email(fresh_client(app)) is None


# --- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/login", {"email": "li@example.com", "password": PASSWORD}),
        ("/register", {"email": "new@example.com", "display_name": "新", "password": NEW_PASSWORD}),
        ("/logout", {}),
    ],
)
def test_a_form_post_without_its_csrf_token_is_refused(client, make_user, path, data):
    user = make_user(email="li@example.com")
    assert login_form(client, user.email).status_code == 302
    response = client.post(path, data={**data, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert "安全令牌" in response.get_data(as_text=True)
    assert signed_in_email(client) == "li@example.com"  # still logged in: the logout was not forged
    assert users_named("new@example.com") == []


def test_a_form_post_with_a_forged_csrf_token_is_refused(client, make_user):
    make_user(email="li@example.com")
    csrf_token(client)  # the session has a real token; the form carries another one
    forged = {"email": "li@example.com", "password": PASSWORD, "csrf_token": "forged"}
    response = client.post("/login", data=forged)
    assert response.status_code == 400


# --- rate limits -------------------------------------------------------------------------------


def test_too_many_logins_for_one_email_are_answered_429_with_retry_after(app, client, make_user):
    make_user(email="li@example.com")
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    assert login_form(client, "li@example.com", "Wrong-password-9").status_code == 401
    assert login_form(client, "li@example.com", "Wrong-password-9").status_code == 401
    response = login_form(client, "li@example.com")  # even the right password waits now
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "操作太频繁" in response.get_data(as_text=True)
    assert signed_in_email(client) is None


def test_the_login_limit_is_per_email_so_colleagues_behind_one_ip_still_log_in(app, client, make_user):
    make_user(email="li@example.com")
    colleague = make_user(email="wang@example.com")
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    login_form(client, "li@example.com", "Wrong-password-9")
    assert login_form(client, "li@example.com").status_code == 429
    other_browser = fresh_client(app)
    assert login_form(other_browser, colleague.email).status_code == 302


def test_one_ip_has_a_ceiling_on_logins_whatever_the_emails(app, client):
    app.config["LOGIN_IP_RATE_LIMIT"] = "3 per minute"
    for n in range(3):
        assert login_form(client, f"user{n}@example.com").status_code == 401
    assert login_form(client, "user9@example.com").status_code == 429


def test_the_login_limit_is_counted_per_ip(app, make_user):
    make_user(email="li@example.com")
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    office = app.test_client()
    home = app.test_client()
    office.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    home.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    login_form(office, "li@example.com", "Wrong-password-9")
    assert login_form(office, "li@example.com").status_code == 429
    assert login_form(home, "li@example.com").status_code == 302


def test_opening_the_login_page_does_not_count_against_the_limit(app, client, make_user):
    make_user(email="li@example.com")
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    for _ in range(5):
        assert client.get("/login").status_code == 200
    assert login_form(client, "li@example.com").status_code == 302


def test_too_many_sign_ups_from_one_ip_are_answered_429_with_retry_after(app, client):
    app.config["REGISTER_RATE_LIMIT"] = "2 per hour"
    assert register_form(client, email="a@example.com").status_code == 302
    assert register_form(fresh_client(app), email="b@example.com").status_code == 302
    response = register_form(fresh_client(app), email="c@example.com")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert users_named("c@example.com") == []


def test_the_default_sign_up_limit_lets_an_office_sign_up_together():
    # Hundreds of colleagues share one office IP and are asked to sign up in the same hour.
    for item in parse_many(Config.REGISTER_RATE_LIMIT):
        assert item.amount >= 60, item
