"""Signals (app/signals.py): sent after the sender's commit; a failing subscriber is logged and
neither loses the sender's write nor keeps the other subscribers from running."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from app import signals
from app.engagement import comments
from app.extensions import db
from app.models import Comment, Notification, Role
from app.moderation import services as moderation
from app.wall import services as wall
from tests.builders_support import make_work


@pytest.fixture
def published(metro, open_campaign):
    return make_work(metro, open_campaign)


@pytest.fixture
def failing_subscriber():
    def fail(_sender, **_kwargs):
        raise RuntimeError("subscriber down")

    signals.comment_posted.connect(fail)
    yield fail
    signals.comment_posted.disconnect(fail)


def test_a_subscriber_sees_the_comment_already_committed(app, make_user, published):
    seen = []

    def record(_sender, *, comment, replied_to):
        # A fresh connection sees only committed rows.
        with db.engine.connect() as connection:
            seen.append(connection.scalar(sa.select(Comment.id).where(Comment.id == comment.id)))

    signals.comment_posted.connect(record)
    try:
        comment = comments.post_comment(make_user(Role.VIEWER), published, "讲得好")
    finally:
        signals.comment_posted.disconnect(record)
    assert seen == [comment.id]


def test_a_failing_subscriber_is_logged_and_the_comment_and_other_subscribers_stand(
    app, make_user, published, failing_subscriber, caplog
):
    author = make_user(Role.VIEWER)
    top = comments.post_comment(author, published, "讲得好")
    with caplog.at_level(logging.ERROR, logger="app.signals"):
        reply = comments.post_comment(make_user(Role.VIEWER), published, "同感", parent_id=top.id)
    assert db.session.get(Comment, reply.id) is not None
    assert "subscriber down" in caplog.text
    # The notifications' subscriber still ran: the author hears of the reply.
    notes = db.session.scalars(sa.select(Notification).where(Notification.user_id == author.id)).all()
    assert [note.comment_id for note in notes] == [reply.id]


@pytest.fixture
def heard():
    """What each signal announced during the test, by signal name."""
    heard: dict[str, list[dict]] = {}
    watched = (signals.work_published, signals.comments_hidden, signals.wall_changed)
    receivers = {}
    for signal in watched:

        def receiver(_sender, _name=signal.name, **kwargs):
            heard.setdefault(_name, []).append(kwargs)

        receivers[signal] = receiver
        signal.connect(receiver)
    yield heard
    for signal, receiver in receivers.items():
        signal.disconnect(receiver)


def test_approving_a_work_announces_it_published(heard, make_user, bank, open_campaign):
    work = make_work(bank, open_campaign, status="pending_review")
    moderation.approve_work(make_user(Role.ADMIN), work.id)
    assert [kwargs["work"].id for kwargs in heard["work-published"]] == [work.id]


def test_deleting_a_comment_announces_what_is_no_longer_shown(heard, make_user, published):
    author = make_user(Role.VIEWER)
    comment = comments.post_comment(author, published, "讲得好")
    comments.delete_comment(author, comment)
    assert heard["comments-hidden"] == [{"work": published, "comment_ids": [comment.id]}]


def test_featuring_a_work_announces_the_wall_changed(heard, make_user, published):
    wall.feature(make_user(Role.ADMIN), published.id)
    assert heard["wall-changed"] == [{}]
