"""Accounts and likes written straight into SQL with the times months of real use leave, for the
vote-integrity tests (tests/test_vote_integrity.py, tests/e2e/test_vote_flags.py)."""

from __future__ import annotations

import random
from datetime import timedelta

from app.engagement import services
from app.extensions import db
from app.models import Comment, Like, User
from tests.sign_in_support import PASSWORD


def accounts(n: int, *, registered, prefix: str, email=None, name=None, registration_ip=None) -> list[User]:
    """``registered``, ``email``, ``name`` and ``registration_ip``: a value or a function of i."""

    def value(v, i):
        return v(i) if callable(v) else v

    users = [
        User(
            email=value(email, i) if email else f"{prefix}.{_letters(i)}@example.com",
            display_name=value(name, i) if name else f"{prefix}",
            password_hash=PASSWORD,
            created_at=value(registered, i),
            registration_ip=value(registration_ip, i),
        )
        for i in range(n)
    ]
    db.session.add_all(users)
    db.session.commit()
    return users


def _letters(i: int) -> str:
    """0 → a, 25 → z, 26 → ba: distinct addresses that share no digit template."""
    out = ""
    while True:
        out = "abcdefghijklmnopqrstuvwxyz"[i % 26] + out
        i //= 26
        if not i:
            return out


def like(users, work, *, at, ip) -> None:
    """Likes written straight into SQL with their time and address: what the detector reads."""
    db.session.add_all(
        Like(
            user_id=u.id,
            work_id=work.id,
            ip=ip(i) if callable(ip) else ip,
            created_at=at(i) if callable(at) else at,
        )
        for i, u in enumerate(users)
    )
    db.session.commit()


def give_life(users, elsewhere, *, at) -> None:
    """What people who use the site leave behind: a like on another collective's work, a comment."""
    like(users, elsewhere, at=at, ip="198.51.100.7")
    db.session.add_all(
        Comment(work_id=elsewhere.id, user_id=u.id, body="拍得真好", created_at=at(i) if callable(at) else at)
        for i, u in enumerate(users)
    )
    db.session.commit()


def over_months(now, days: int = 400):
    """Registration times of people who joined one by one over ``days``."""
    rng = random.Random(7)
    return lambda i: now - timedelta(days=30 + rng.uniform(0, days - 30))


def many_networks(i: int) -> str:
    return f"{36 + i % 180}.{(i * 37) % 250}.{(i * 11) % 250}.{i % 200 + 1}"


def farm_liking(work, *, now, size: int = 40, honest: int = 5) -> tuple[list[User], list[User]]:
    """A batch of ``size`` accounts made in one hour 15 days ago from one /24 with templated names,
    liking ``work`` now through the real like path (counted in Redis), beside ``honest`` likes
    from people whose addresses share a template too."""
    services.work_published(work)
    made = now - timedelta(days=15)
    batch = accounts(
        size, registered=lambda i: made + timedelta(seconds=3600 * i / size), prefix="yx",
        email=lambda i: f"yx{3000 + i}@mail-box.cn", name=lambda i: f"用户{8800 + i}",
        registration_ip=lambda i: f"103.21.40.{i % 250 + 2}",
    )  # fmt: skip
    people = accounts(honest, registered=over_months(now), prefix="honest", email=lambda i: f"fan{i}@qq.com")
    for n, user in enumerate(batch + people):
        services.like_work(user, work, ip=many_networks(n))
    return batch, people
