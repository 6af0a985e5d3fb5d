"""Votes from real people: with REQUIRE_VERIFIED_EMAIL an account confirms its address by a
signed link before it may like or comment; the pages say why and send the link again; the
vote-integrity detector counts unconfirmed and just-confirmed likers (issue 17, finding 9)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app import create_app
from app.auth import verification
from app.engagement import services
from app.extensions import db
from app.models import Like, User, utcnow
from app.moderation import integrity
from tests.app_support import REDIS_URL
from tests.builders_support import make_campaign, make_work
from tests.sign_in_support import NEW_PASSWORD, csrf_token, login_form, sign_in

LINK = re.compile(r"https?://\S+/verify-email/\S+")


@pytest.fixture
def required(app):
    app.config["REQUIRE_VERIFIED_EMAIL"] = True
    return app


@pytest.fixture
def work(make_collective):
    return make_work(make_collective(), make_campaign(), title="站台上的守候")


def _register(client, email="voter@example.com"):
    return client.post(
        "/api/v1/auth/register", json={"email": email, "password": NEW_PASSWORD, "display_name": "投票人"}
    )


def _like(client, work):
    return client.put(f"/api/v1/works/{work.id}/like", headers={"X-CSRFToken": csrf_token(client)})


def _user(email="voter@example.com") -> User:
    return db.session.scalar(db.select(User).where(User.email == email))


# --- the attack: a new account likes at once ------------------------------------------------------


def test_a_new_account_may_not_like_before_confirming_its_address(required, client, work):
    assert _register(client).status_code == 201
    login_form(client, "voter@example.com", NEW_PASSWORD)
    answer = _like(client, work)
    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "email_unverified"
    assert "验证邮箱" in answer.json["error"]["message"]
    assert services.counts_for([work.id])[work.id].likes == 0


def test_nor_comment(required, client, work):
    _register(client)
    login_form(client, "voter@example.com", NEW_PASSWORD)
    answer = client.post(
        f"/api/v1/works/{work.id}/comments", json={"body": "好"}, headers={"X-CSRFToken": csrf_token(client)}
    )
    assert answer.status_code == 403 and answer.json["error"]["code"] == "email_unverified"


def test_the_comment_form_says_why_and_keeps_the_text(required, client, work):
    _register(client)
    login_form(client, "voter@example.com", NEW_PASSWORD)
    answer = client.post(
        f"/works/{work.id}/comments", data={"body": "写得真好", "csrf_token": csrf_token(client)}
    )
    assert answer.status_code == 403
    html = answer.get_data(as_text=True)
    assert "请先验证邮箱" in html and "写得真好" in html


def test_sign_up_mails_a_link_that_confirms_the_address_and_then_likes_count(required, client, work, mails):
    _register(client)
    [body] = mails()
    link = LINK.search(body).group(0)
    login_form(client, "voter@example.com", NEW_PASSWORD)
    page = client.get("/" + link.split("://", 1)[1].partition("/")[2])
    assert page.status_code == 200 and "已验证" in page.get_data(as_text=True)
    assert _user().email_verified_at is not None
    assert _like(client, work).json == {"liked": True, "likes": 1}


def test_the_sign_up_page_sends_the_link_and_says_so(required, client, mails):
    data = {
        "email": "page@example.com",
        "display_name": "页面",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(client),
    }
    home = client.post("/register", data=data, follow_redirects=True).get_data(as_text=True)
    assert "我们已向 page@example.com 发送确认邮件" in home
    assert len(mails()) == 1


def test_opening_the_link_twice_changes_nothing(required, client, mails):
    _register(client)
    path = "/" + LINK.search(mails()[0]).group(0).split("://", 1)[1].partition("/")[2]
    client.get(path)
    first = _user().email_verified_at
    assert client.get(path).status_code == 200
    db.session.expire_all()
    assert _user().email_verified_at == first


@pytest.mark.parametrize("token", ["garbage", ""])
def test_a_forged_link_confirms_nothing(required, client, token):
    _register(client)
    assert client.get(f"/verify-email/{token}x").status_code == 400
    assert _user().email_verified_at is None


def test_a_link_signed_with_another_key_or_for_another_address_confirms_nothing(required, app, client):
    _register(client)
    user = _user()
    forged = URLSafeTimedSerializer("another-key", salt="email-verify").dumps({"u": user.id, "e": user.email})
    assert client.get(f"/verify-email/{forged}").status_code == 400
    stale = URLSafeTimedSerializer(app.secret_key, salt="email-verify").dumps(
        {"u": user.id, "e": "old@example.com"}
    )
    assert client.get(f"/verify-email/{stale}").status_code == 400
    assert _user().email_verified_at is None


def test_an_expired_link_confirms_nothing(required, app, client):
    _register(client)
    user = _user()

    class SignedEightDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 8 * 24 * 3600

    old = URLSafeTimedSerializer(app.secret_key, salt="email-verify", signer=SignedEightDaysAgo)
    assert client.get(f"/verify-email/{old.dumps({'u': user.id, 'e': user.email})}").status_code == 400
    assert _user().email_verified_at is None


def test_the_work_page_says_why_and_where_to_resend(required, client, work, make_user):
    sign_in(client, make_user())
    html = client.get(f"/works/{work.id}").get_data(as_text=True)
    assert "data-verify-notice" in html and "/account#email" in html


def test_the_account_page_resends_the_link_within_a_limit(required, client, make_user, mails):
    required.config["EMAIL_VERIFY_RATE_LIMIT"] = "2 per hour"
    sign_in(client, make_user())
    page = client.get("/account").get_data(as_text=True)
    assert "data-resend-verification" in page and "为防止刷票" in page
    statuses = [
        client.post("/account/verify-email", data={"csrf_token": csrf_token(client)}).status_code
        for _ in range(3)
    ]
    assert statuses == [302, 302, 429]
    assert len(mails()) == 2


def test_a_password_reset_by_mail_confirms_the_address_too(required, client, make_user, mails):
    from app.auth import password_reset

    user = make_user()
    with required.test_request_context("/"):
        token = password_reset.make_token(user)
    password_reset.reset_password(token, NEW_PASSWORD)
    assert db.session.get(User, user.id).email_verified_at is not None


def test_with_the_setting_off_new_accounts_like_at_once(app, client, work, mails):
    assert app.config["REQUIRE_VERIFIED_EMAIL"] is False
    _register(client)
    login_form(client, "voter@example.com", NEW_PASSWORD)
    assert _like(client, work).status_code == 200
    assert mails() == []


def test_the_setting_is_on_in_production_and_off_for_make_run(tmp_path):
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "REDIS_URL": REDIS_URL}
    production = create_app(
        "production",
        SECRET_KEY="9c1e5f0a7b3d4e2f8a6c0b9d1e3f5a7c",
        PUBLIC_BASE_URL="https://w.example.cn",
        **settings,
    )
    assert production.config["REQUIRE_VERIFIED_EMAIL"] is True
    assert create_app("development", **settings).config["REQUIRE_VERIFIED_EMAIL"] is False


# --- the detector -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verified_minutes_before", "unproven"),
    [(None, True), (5, True), (29, True), (60 * 24, False)],
    ids=["unconfirmed", "5 min before", "29 min before", "a day before"],
)
def test_unconfirmed_and_just_confirmed_likers_look_unproven(required, verified_minutes_before, unproven):
    liked_at = utcnow()
    verified = (
        None if verified_minutes_before is None else liked_at - timedelta(minutes=verified_minutes_before)
    )
    assert verification.unproven_at(verified, liked_at) is unproven


def test_where_confirmation_is_not_asked_for_it_is_no_evidence(app):
    assert verification.unproven_at(None, utcnow()) is False


def test_the_detector_counts_just_confirmed_aged_accounts_as_fresh(required, make_collective, make_user):
    work = make_work(make_collective(), make_campaign(), title="被刷的作品")
    now = utcnow()
    likers = []
    for _ in range(integrity.MIN_LIKES):
        user = make_user()
        user.created_at = now - timedelta(days=60)  # aged accounts (养号)…
        user.email_verified_at = now - timedelta(minutes=3)  # …confirmed in a batch just before
        likers.append(user)
    db.session.add_all(
        Like(user_id=u.id, work_id=work.id, ip=f"203.0.113.{n}", created_at=now) for n, u in enumerate(likers)
    )
    db.session.commit()
    burst = integrity.PASSES[0]
    result = integrity.measure_work(work, now - burst.window, now + timedelta(seconds=1), thorough=True)
    assert result.signals.fresh_share == 1.0
    assert set(result.suspects) == {u.id for u in likers}


def test_the_detector_spares_long_confirmed_aged_accounts(required, make_collective, make_user):
    work = make_work(make_collective(), make_campaign(), title="正常的作品")
    now = utcnow()
    for n in range(integrity.MIN_LIKES):
        user = make_user()
        user.created_at = now - timedelta(days=60)
        user.email_verified_at = now - timedelta(days=59)
        db.session.add(Like(user_id=user.id, work_id=work.id, ip=f"203.0.113.{n}", created_at=now))
    db.session.commit()
    burst = integrity.PASSES[0]
    result = integrity.measure_work(work, now - burst.window, now + timedelta(seconds=1), thorough=True)
    assert result.signals.fresh_share == 0.0
