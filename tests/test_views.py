"""Views: once per viewer per work per day, live in Redis, flushed to SQL in batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import redis_keys
from app.engagement import services, views
from app.engagement.views import flush_views, record_view, view_day, viewer_key
from app.extensions import db, redis_client
from app.models import Work, WorkStatus
from tests.builders_support import make_collective, make_work
from tests.engagement_support import kill_redis

DAY = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)  # noon in Beijing


@pytest.fixture
def work(app, open_campaign) -> Work:
    work = make_work(make_collective("集体"), open_campaign)
    services.work_published(work)
    return work


def _sql_views(work_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(Work.view_count).where(Work.id == work_id))


def test_a_viewer_is_counted_once_per_work_per_day(work):
    assert record_view(work, "u1", now=DAY)
    assert not record_view(work, "u1", now=DAY + timedelta(hours=5))
    assert services.counts_for([work.id])[work.id].views == 1


def test_the_same_viewer_counts_again_the_next_day(work):
    record_view(work, "u1", now=DAY)
    assert record_view(work, "u1", now=DAY + timedelta(days=1))
    assert services.counts_for([work.id])[work.id].views == 2


def test_each_viewer_counts(work):
    for viewer in ("u1", "u2", "a0123"):
        assert record_view(work, viewer, now=DAY)
    assert services.counts_for([work.id])[work.id].views == 3


def test_the_viewing_day_starts_at_midnight_in_the_campaigns_time_zone(app):
    assert view_day(datetime(2026, 7, 1, 15, 59, tzinfo=UTC)) == "20260701"
    assert view_day(datetime(2026, 7, 1, 16, 0, tzinfo=UTC)) == "20260702"


def test_a_days_viewer_set_expires_on_its_own(work):
    record_view(work, "u1", now=DAY)
    ttl = redis_client.client.ttl(redis_keys.seen_key(work.id, view_day(DAY)))
    assert 0 < ttl <= views.SEEN_TTL_SECONDS


@pytest.mark.parametrize("status", [WorkStatus.DRAFT, WorkStatus.PENDING_REVIEW, WorkStatus.WITHDRAWN])
def test_views_of_a_work_that_is_not_published_are_not_counted(app, open_campaign, status):
    work = make_work(make_collective("集体"), open_campaign, status=status)
    assert not record_view(work, "u1")
    assert services.counts_for([work.id])[work.id].views == 0


def test_a_signed_in_viewer_is_the_account_and_a_cookie_visitor_the_visitor_id(app, make_user):
    user = make_user()
    assert viewer_key(user, "203.0.113.9", "Mozilla/5.0", "v1d") == f"u{user.id}"
    assert viewer_key(None, "203.0.113.9", "Mozilla/5.0", "v1d") == "vv1d"


def test_a_client_without_cookies_is_a_keyed_hash_of_its_address_and_user_agent(app):
    key = viewer_key(None, "203.0.113.9", "Mozilla/5.0")
    assert key.startswith("a") and "203.0.113.9" not in key
    assert key == viewer_key(None, "203.0.113.9", "Mozilla/5.0")
    assert viewer_key(None, "198.51.100.7", "Mozilla/5.0") != key


def test_inventing_user_agents_gives_one_address_at_most_the_configured_number_of_viewers(app):
    keys = {viewer_key(None, "203.0.113.9", f"Agent/{n}") for n in range(200)}
    assert len(keys) == app.config["COOKIELESS_VIEWERS_PER_IP"]


def test_views_show_in_counts_before_they_are_flushed(work):
    record_view(work, "u1")
    assert services.counts_for([work.id])[work.id].views == 1
    assert _sql_views(work.id) == 0


def test_a_flush_moves_buffered_views_to_sql_in_batches(app, open_campaign):
    collective = make_collective("集体")
    works = [make_work(collective, open_campaign, title=f"作品{i}") for i in range(5)]
    for i, work in enumerate(works):
        for viewer in range(i + 1):
            record_view(work, f"u{viewer}")
    assert flush_views(batch_size=2) == 15
    assert [_sql_views(w.id) for w in works] == [1, 2, 3, 4, 5]
    assert flush_views() == 0
    assert all(views.pending_views(w.id) == 0 for w in works)


def test_a_flush_leaves_the_works_updated_at_alone(work):
    before = work.updated_at
    record_view(work, "u1")
    flush_views()
    db.session.expire_all()
    assert db.session.get(Work, work.id).updated_at == before


def test_counts_stay_the_same_across_a_flush(work):
    record_view(work, "u1")
    record_view(work, "u2")
    before = services.counts_for([work.id])[work.id]
    flush_views()
    assert services.counts_for([work.id])[work.id] == before
    assert _sql_views(work.id) == 2


def test_views_recorded_after_a_flush_are_flushed_by_the_next_one(work):
    record_view(work, "u1")
    flush_views()
    record_view(work, "u2")
    assert flush_views() == 1
    assert _sql_views(work.id) == 2


def test_a_flush_that_cannot_write_to_sql_puts_the_views_back(work, monkeypatch):
    record_view(work, "u1")
    record_view(work, "u2")

    def sql_fails():
        raise sa.exc.OperationalError("UPDATE work", {}, Exception("database is away"))

    monkeypatch.setattr(db.session, "commit", sql_fails)
    with pytest.raises(sa.exc.OperationalError):
        flush_views()
    monkeypatch.undo()
    assert views.pending_views(work.id) == 2
    assert flush_views() == 2
    assert _sql_views(work.id) == 2


def test_a_view_without_redis_is_not_counted_and_the_page_still_renders(work):
    kill_redis()
    assert record_view(work, "u1") is False
