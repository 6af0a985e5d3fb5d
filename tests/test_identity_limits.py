"""Every per-person limit counts the person, not the spelling: full-width letters, case and
spaces around an address spend the budget of the account they reach (issue 17, finding 4)."""

from __future__ import annotations

import logging

import pytest

from app.auth.services import find_account, identity_of
from tests.sign_in_support import PASSWORD, csrf_token

pytestmark = pytest.mark.also_on_redis_cluster

ADDRESS = "member1b@example.com"
# What the tester typed: each reaches the same account through the account lookup.
VARIANTS = [
    "member1b@ｅxample.com",
    "member1b@eｘample.com",
    "member1b@exａmple.com",
    "member1b@ＥＸＡＭＰＬＥ.ＣＯＭ",
    "Member1B@Example.com",
    "MEMBER1B@EXAMPLE.COM",
    "  member1b@example.com ",
    "\tmember1b@example.com\n",
    "member1b@example.cｏm",
    "member1b@examplｅ.com",
]


@pytest.fixture
def member(make_user):
    return make_user(email=ADDRESS)


@pytest.mark.parametrize("typed", VARIANTS, ids=repr)
def test_every_variant_names_the_same_identity_and_reaches_the_same_account(member, typed):
    assert identity_of(typed) == ADDRESS
    assert find_account(typed).id == member.id


def test_something_that_is_no_address_names_nobody(app):
    assert identity_of("not an address") is None
    assert identity_of({"email": ADDRESS}) is None


def test_reset_mails_to_one_account_stop_at_its_limit_whatever_the_spelling(app, client, member, caplog):
    app.config["PASSWORD_RESET_RATE_LIMIT"] = "3 per hour"
    statuses = []
    with caplog.at_level(logging.INFO, logger="app.mail"):
        for typed in VARIANTS:
            answer = client.post("/forgot-password", data={"email": typed, "csrf_token": csrf_token(client)})
            statuses.append(answer.status_code)
    mails = [r for r in caplog.records if r.name == "app.mail"]
    assert len(mails) == 3
    assert statuses == [200] * 3 + [429] * (len(VARIANTS) - 3)


def test_log_in_attempts_on_one_account_stop_at_its_limit_whatever_the_spelling(app, client, member):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    statuses = []
    for typed in VARIANTS:
        answer = client.post(
            "/login", data={"email": typed, "password": "wrong-password-1", "csrf_token": csrf_token(client)}
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * 3 + [429] * (len(VARIANTS) - 3)
    # Past the limit even the right password waits: the budget is the account's.
    right = client.post(
        "/login", data={"email": ADDRESS, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert right.status_code == 429


def test_token_requests_on_one_account_share_the_log_in_limit(app, client, member):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    statuses = [
        client.post("/api/v1/auth/token", json={"email": typed, "password": "wrong-password-1"}).status_code
        for typed in VARIANTS[:5]
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_another_account_keeps_its_own_budget(app, client, member, make_user):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    other = make_user(email="member2b@example.com")
    for typed in VARIANTS[:4]:
        client.post("/login", data={"email": typed, "password": "wrong-1x", "csrf_token": csrf_token(client)})
    answer = client.post(
        "/login", data={"email": other.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert answer.status_code == 302
