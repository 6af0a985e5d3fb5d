"""Shared by the report, comment-moderation and ban tests: a small world of two provinces."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.engagement import comments
from app.extensions import db
from app.models import ModerationEvent, Role
from tests.builders_support import make_work

FLAGGED = "有人在群里刷票，加微信领红包"


@dataclass
class Place:
    beijing_work: Any
    shanghai_work: Any
    viewer: Any
    other_viewer: Any
    member: Any
    moderator: Any
    moderator_elsewhere: Any
    national: Any
    admin: Any


def build_place(make_collective, make_user, open_campaign) -> Place:
    """Each test module wraps this in its own ``place`` fixture."""
    beijing = make_collective("北京地铁青年文明号", "交通运输", "北京")
    shanghai = make_collective("上海银行青年文明号", "金融", "上海")
    return Place(
        beijing_work=make_work(beijing, open_campaign, title="站台上的温暖守候"),
        shanghai_work=make_work(shanghai, open_campaign, title="柜台前的耐心"),
        viewer=make_user(Role.VIEWER),
        other_viewer=make_user(Role.VIEWER),
        member=make_user(Role.COLLECTIVE, collective=beijing),
        moderator=make_user(Role.MODERATOR, province="北京"),
        moderator_elsewhere=make_user(Role.MODERATOR, province="上海"),
        national=make_user(Role.MODERATOR),
        admin=make_user(Role.ADMIN),
    )


def post(user, work, body="说得真好，向你们学习"):
    return comments.post_comment(user, work, body)


def event_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ModerationEvent)) or 0


def events_of(action: str) -> list[ModerationEvent]:
    return list(db.session.scalars(sa.select(ModerationEvent).where(ModerationEvent.action == action)))


def all_read_then_act(
    app, monkeypatch, module: Any, reader: str, actions: list[Callable[[], object]]
) -> list[str]:
    """Run each action in a thread of its own (its own session, as a request has), each pausing
    after ``module.reader`` has read, so that every moderator has seen the same state before any
    of them writes. The outcomes in order: "done" or the name of what the action raised."""
    real = getattr(module, reader)
    all_read = threading.Barrier(len(actions))

    def read_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        all_read.wait(timeout=10)
        return found

    monkeypatch.setattr(module, reader, read_then_wait)
    outcomes: list[str] = ["not run"] * len(actions)

    def run(index: int) -> None:
        with app.app_context():
            try:
                actions[index]()
                outcomes[index] = "done"
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
                outcomes[index] = type(exc).__name__
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    monkeypatch.setattr(module, reader, real)
    return outcomes
