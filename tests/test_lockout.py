"""Account lock-out: repeated wrong passwords lock one account for a while, on the log-in page
and the token API alike, counted durably and atomically in SQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.lockout import AccountLocked
from app.auth.services import authenticate
from app.extensions import db
from app.models import User, utcnow
from tests.sign_in_support import PASSWORD, login_form, signed_in_email

LIMIT = 3


@pytest.fixture
def lockout_app(app):
    app.config.update(
        LOGIN_LOCKOUT_FAILURES=LIMIT,
        LOGIN_LOCKOUT_MINUTES=15,
        # The lock, not the rate limiter, is what these tests are about.
        LOGIN_RATE_LIMIT="1000 per minute",
    )
    return app


def _row(user_id: int):
    db.session.expire_all()
    return db.session.get(User, user_id)


def _fail(client, email: str, times: int) -> None:
    for _ in range(times):
        assert login_form(client, email, "Wrong-Password-1").status_code in (401, 423)


def test_the_right_password_is_refused_once_the_account_is_locked(lockout_app, client, make_user):
    user = make_user()
    _fail(client, user.email, LIMIT)
    response = login_form(client, user.email)
    assert response.status_code == 423
    assert "账号已临时锁定" in response.get_data(as_text=True)
    assert signed_in_email(client) is None


def test_the_attempt_that_locks_the_account_already_says_so(lockout_app, client, make_user):
    user = make_user()
    _fail(client, user.email, LIMIT - 1)
    response = login_form(client, user.email, "Wrong-Password-1")
    assert response.status_code == 423
    assert "15 分钟" in response.get_data(as_text=True)


def test_the_token_api_refuses_a_locked_account_with_account_locked(lockout_app, client, make_user):
    user = make_user()
    _fail(client, user.email, LIMIT)
    response = lockout_app.test_client().post(
        "/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 423
    assert response.json["error"]["code"] == "account_locked"
    assert "账号已临时锁定" in response.json["error"]["message"]


def test_api_and_page_failures_count_together(lockout_app, client, make_user):
    user = make_user()
    _fail(client, user.email, LIMIT - 1)
    response = lockout_app.test_client().post(
        "/api/v1/auth/token", json={"email": user.email, "password": "Wrong-Password-1"}
    )
    assert response.status_code == 423


def test_fewer_failures_than_the_limit_do_not_lock_and_a_log_in_starts_the_count_again(
    lockout_app, client, make_user
):
    user = make_user()
    _fail(client, user.email, LIMIT - 1)
    assert login_form(client, user.email).status_code == 302
    assert _row(user.id).failed_logins == 0
    _fail(client, user.email, LIMIT - 1)
    assert login_form(client, user.email).status_code == 302


def test_the_lock_ends_after_its_minutes(lockout_app, client, make_user):
    user = make_user()
    _fail(client, user.email, LIMIT)
    assert _row(user.id).locked_until > utcnow() + timedelta(minutes=14)
    db.session.execute(
        sa.update(User).where(User.id == user.id).values(locked_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert login_form(client, user.email).status_code == 302


def test_failures_older_than_the_window_are_not_counted(lockout_app, client, make_user):
    user = make_user()
    _fail(client, user.email, LIMIT - 1)
    db.session.execute(
        sa.update(User).where(User.id == user.id).values(failed_since=utcnow() - timedelta(minutes=16))
    )
    db.session.commit()
    _fail(client, user.email, 1)
    assert _row(user.id).failed_logins == 1
    assert _row(user.id).locked_until is None


def test_locking_is_per_account_so_colleagues_behind_the_same_ip_still_log_in(lockout_app, app, make_user):
    careless, colleague = make_user(), make_user()
    office = {"REMOTE_ADDR": "203.0.113.9"}
    first, second = app.test_client(), app.test_client()
    first.environ_base.update(office)
    second.environ_base.update(office)
    _fail(first, careless.email, LIMIT)
    assert login_form(second, colleague.email).status_code == 302


def test_unknown_addresses_lock_nothing(lockout_app, client):
    for _ in range(LIMIT + 1):
        assert login_form(client, "nobody@example.com", "Wrong-Password-1").status_code == 401


def test_concurrent_wrong_guesses_are_all_counted(lockout_app, make_user):
    """Each guess is one UPDATE evaluated by the database: none is lost to a race."""
    lockout_app.config["LOGIN_LOCKOUT_FAILURES"] = 1000
    user = make_user()
    guesses, threads = 4, 6
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def guess() -> None:
        try:
            with lockout_app.app_context():
                barrier.wait()
                for _ in range(guesses):
                    assert authenticate(user.email, "Wrong-Password-1") is None
                db.session.remove()
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    workers = [threading.Thread(target=guess) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert _row(user.id).failed_logins == guesses * threads


def test_concurrent_guesses_past_the_limit_all_end_locked(lockout_app, make_user):
    user = make_user()
    threads = 6
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def guess() -> None:
        with lockout_app.app_context():
            barrier.wait()
            try:
                outcomes.append("refused" if authenticate(user.email, "Wrong-Password-1") is None else "in")
            except AccountLocked:
                outcomes.append("locked")
            finally:
                db.session.remove()

    workers = [threading.Thread(target=guess) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert "in" not in outcomes and "locked" in outcomes
    db.session.expire_all()  # this test's session read the row before the threads wrote it
    with pytest.raises(AccountLocked):
        authenticate(user.email, PASSWORD)
