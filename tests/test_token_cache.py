"""A web process remembers the account behind an API token for a few seconds (app/auth/token_cache.py).

Changes made "on another process" are made here with plain SQL on a connection of their own,
which this process's ORM never sees: exactly what another web process's commit looks like.
"""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from app.engagement import counters, services
from app.extensions import db
from app.models import ApiToken, User, Work
from app.redis_keys import fence_key
from tests.builders_support import make_collective, make_work
from tests.engagement_support import like_rows


@pytest.fixture
def work(app, open_campaign) -> Work:
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign)
    services.work_published(work)
    return work


@pytest.fixture
def caller(client, make_user):
    """A viewer signed in with a token that this process has already looked up (and remembers)."""
    from app.auth.services import issue_token

    user = make_user()
    token = issue_token(user)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    return user.id, token, headers


def _elsewhere(statement: str, **params) -> None:
    """A commit made by another process: straight to the database, past this process's session."""
    with db.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _like(client, work_id: int, headers: dict[str, str], method: str = "PUT"):
    return client.open(f"/api/v1/works/{work_id}/like", method=method, headers=headers)


def test_a_remembered_token_reads_without_asking_sql_again(app, client, caller):
    _user_id, token, headers = caller
    _elsewhere(f'DELETE FROM "{ApiToken.__table__.name}" WHERE token_hash = :h', h=_token_hash(token))
    # Within TOKEN_CACHE_SECONDS another process's revocation is not seen by reads: the bound.
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_a_like_with_a_token_revoked_on_another_process_is_401_at_once_and_writes_nothing(
    client, work, caller
):
    _user_id, token, headers = caller
    _elsewhere(f'DELETE FROM "{ApiToken.__table__.name}" WHERE token_hash = :h', h=_token_hash(token))
    refused = _like(client, work.id, headers)
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "invalid_token"
    assert like_rows(work.id) == 0
    assert counters.read_counts([work.id])[work.id].likes == 0


def test_a_refused_like_makes_this_process_forget_the_token(client, work, caller):
    _user_id, token, headers = caller
    _elsewhere(f'DELETE FROM "{ApiToken.__table__.name}" WHERE token_hash = :h', h=_token_hash(token))
    _like(client, work.id, headers)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_like_by_an_account_banned_on_another_process_is_refused_at_once(client, work, caller):
    user_id, _token, headers = caller
    _elsewhere(f'UPDATE "{User.__table__.name}" SET banned = true WHERE id = :id', id=user_id)
    assert _like(client, work.id, headers).status_code == 401
    assert like_rows(work.id) == 0


def test_an_unlike_with_a_token_revoked_on_another_process_takes_nothing_back(client, work, caller):
    _user_id, token, headers = caller
    assert _like(client, work.id, headers).status_code == 200
    _elsewhere(f'DELETE FROM "{ApiToken.__table__.name}" WHERE token_hash = :h', h=_token_hash(token))
    assert _like(client, work.id, headers, "DELETE").status_code == 401
    assert like_rows(work.id) == 1


def test_a_revocation_through_this_process_is_seen_by_its_next_request(client, caller):
    _user_id, _token, headers = caller
    assert client.delete("/api/v1/auth/token", headers=headers).status_code in (200, 204)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_ban_committed_by_this_process_is_seen_by_its_next_request(client, caller):
    user_id, _token, headers = caller
    db.session.get(User, user_id).banned = True
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_with_the_cache_off_a_revocation_elsewhere_is_seen_at_once(app, client, make_user):
    from app.auth.services import issue_token

    app.config["TOKEN_CACHE_SECONDS"] = 0
    token = issue_token(make_user())
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    _elsewhere(f'DELETE FROM "{ApiToken.__table__.name}" WHERE token_hash = :h', h=_token_hash(token))
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_like_refused_by_its_rate_limit_leaves_no_trace_in_the_works_fence(app, client, work, caller):
    from app.extensions import redis_client

    _user_id, _token, headers = caller
    app.config["LIKE_RATE_LIMIT"] = "1 per minute"
    assert _like(client, work.id, headers).status_code == 200
    assert _like(client, work.id, headers, "DELETE").status_code == 429
    fence = redis_client.client.hgetall(fence_key(work.id))
    assert not any(field.startswith(b"t:") for field in fence)
    assert like_rows(work.id) == 1


def test_a_like_of_a_work_that_does_not_exist_leaves_no_redis_key(client, caller):
    from app.extensions import redis_client

    _user_id, _token, headers = caller
    assert _like(client, 987654321, headers).status_code == 404
    assert not redis_client.client.exists(fence_key(987654321))


def test_a_savepoint_rolled_back_does_not_keep_a_token_revoked_before_it(client, caller):
    _user_id, token, headers = caller
    db.session.execute(sa.delete(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    db.session.begin_nested().rollback()
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
