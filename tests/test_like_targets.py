"""A web process remembers what a like needs of a published work for a moment
(app/engagement/like_targets.py); nothing it remembers lets a like through that SQL would refuse.

Changes "on another process" are plain SQL on a connection of their own, which this process's ORM
never sees: what another web process's commit looks like.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.engagement import counters, services
from app.extensions import db
from app.models import Campaign, Work, utcnow
from tests.builders_support import make_collective, make_work
from tests.engagement_support import like_rows
from tests.sign_in_support import bearer


@pytest.fixture
def work(app, open_campaign) -> Work:
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign)
    services.work_published(work)
    return work


def _like(client, work_id: int, headers: dict[str, str], method: str = "PUT"):
    return client.open(f"/api/v1/works/{work_id}/like", method=method, headers=headers)


def _elsewhere(statement: str, **params) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_a_work_taken_down_on_another_process_is_404_at_once_and_nothing_is_written(client, work, make_user):
    assert _like(client, work.id, bearer(make_user())).status_code == 200  # now remembered
    _elsewhere(f'UPDATE "{Work.__table__.name}" SET status = :s WHERE id = :id', s="withdrawn", id=work.id)
    refused = _like(client, work.id, bearer(make_user()))
    assert refused.status_code == 404
    assert like_rows(work.id) == 1
    assert counters.read_counts([work.id])[work.id].likes == 1


def test_an_unlike_of_a_work_taken_down_on_another_process_takes_nothing_back(client, work, make_user):
    headers = bearer(make_user())
    assert _like(client, work.id, headers).status_code == 200
    _elsewhere(f'UPDATE "{Work.__table__.name}" SET status = :s WHERE id = :id', s="withdrawn", id=work.id)
    assert _like(client, work.id, headers, "DELETE").status_code == 404
    assert like_rows(work.id) == 1


def test_a_voting_window_closed_by_this_process_is_seen_by_its_next_like(client, work, make_user):
    assert _like(client, work.id, bearer(make_user())).status_code == 200
    campaign = db.session.get(Campaign, work.campaign_id)
    campaign.voting_closes = utcnow() - timedelta(minutes=1)
    db.session.commit()
    refused = _like(client, work.id, bearer(make_user()))
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "voting_closed"
