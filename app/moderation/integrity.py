"""Vote integrity (刷票): a periodic detector that scores unusual likes as evidence for moderators.

A flag is evidence, never a verdict. A workplace mobilising its own staff from one office network
is what the campaign asks for, so no single signal flags a work; the detector combines four:

- **burst**: likes in the window against the work's usual rate over the day before;
- **one subnet**: the share of the window's likes from the busiest /24 (IPv4) or /48 (IPv6);
- **fresh accounts**: the share of likers whose account was created minutes before their like;
- **single-purpose accounts**: the share of recent accounts (under a week old) that never did
  anything but like this one collective's works (no comment, no like elsewhere).

The score is a weighted sum (0–100). A burst from one office of long-standing accounts stays
below the threshold; add brand-new accounts and it is flagged for a moderator to look at, with
the evidence and the accounts in question. Moderators dismiss a flag or void those accounts'
likes (``app.moderation.accounts``), which recounts every affected counter and ranking.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.auth.verification import unproven_at
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Collective, Comment, FlagStatus, Like, User, VoteFlag, Work, utcnow
from app.moderation import audit
from app.moderation.accounts import void_likes
from app.policy import in_scope, province_of, require_moderator, require_national

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=15)
BASELINE = timedelta(hours=24)
MIN_LIKES = 20  # fewer likes than this in a window is never a burst worth a moderator's time
FRESH = timedelta(minutes=30)  # an account this young at its like counts as fresh
RECENT = timedelta(days=7)  # single-purpose counts only accounts younger than this
THRESHOLD = 50.0
WEIGHTS = {"burst": 0.20, "subnet": 0.20, "fresh": 0.40, "single_purpose": 0.20}
SUSPECTS_MAX = 500  # accounts listed in one flag's evidence
_CHUNK = 500


@dataclass
class Signals:
    likes: int
    baseline_per_window: float
    burst_ratio: float
    top_subnet: str | None
    top_subnet_share: float
    fresh_share: float
    single_purpose_share: float
    components: dict[str, float] = field(default_factory=dict)
    score: float = 0.0


def subnet_of(ip: str | None) -> str | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one: what one office network shares."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def score(signals: Signals) -> Signals:
    """Fill in the components and the score. A burst counts from 3× the usual rate, fully at 10×."""
    components = {
        "burst": _clamp((signals.burst_ratio - 3) / 7),
        "subnet": signals.top_subnet_share,
        "fresh": signals.fresh_share,
        "single_purpose": signals.single_purpose_share,
    }
    signals.components = {k: round(v, 3) for k, v in components.items()}
    signals.score = round(100 * sum(WEIGHTS[k] * v for k, v in components.items()), 1)
    return signals


def _chunks(values: list[int]) -> list[list[int]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _users_active_elsewhere(user_ids: list[int], collective_id: int) -> set[int]:
    """Likers who commented anywhere or liked another collective's work."""
    active: set[int] = set()
    for chunk in _chunks(user_ids):
        active.update(
            db.session.scalars(sa.select(Comment.user_id).where(Comment.user_id.in_(chunk)).distinct())
        )
        active.update(
            db.session.scalars(
                sa.select(Like.user_id)
                .join(Work, Like.work_id == Work.id)
                .where(Like.user_id.in_(chunk), Work.collective_id != collective_id)
                .distinct()
            )
        )
    return active


def measure_work(work: Work, start: datetime, end: datetime) -> tuple[Signals, list[int]]:
    """The signals of one work's likes in [start, end), and the accounts that look suspicious."""
    rows = db.session.execute(
        sa.select(Like.user_id, Like.ip, Like.created_at, User.created_at, User.email_verified_at)
        .join(User, User.id == Like.user_id)
        .where(Like.work_id == work.id, Like.created_at >= start, Like.created_at < end)
    ).all()
    before = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Like)
        .where(Like.work_id == work.id, Like.created_at >= start - BASELINE, Like.created_at < start)
    )
    windows_per_baseline = BASELINE / (end - start)
    baseline = (before or 0) / windows_per_baseline
    count = len(rows)
    subnets = Counter(subnet_of(ip) for _user, ip, _at, _created, _verified in rows)
    subnets.pop(None, None)
    top_subnet, top_count = subnets.most_common(1)[0] if subnets else (None, 0)
    # Unconfirmed (or just-confirmed) addresses count as fresh accounts (app/auth/verification.py).
    fresh = {
        user
        for user, _ip, liked_at, created, verified in rows
        if liked_at - created <= FRESH or unproven_at(verified, liked_at)
    }
    recent = [user for user, _ip, _liked_at, created, _verified in rows if end - created <= RECENT]
    active = _users_active_elsewhere(recent, work.collective_id) if recent else set()
    single_purpose = {user for user in recent if user not in active}
    signals = score(
        Signals(
            likes=count,
            baseline_per_window=round(baseline, 2),
            # A work nobody liked yesterday has a usual rate of at most one like per window.
            burst_ratio=round(count / max(baseline, 1.0), 2),
            top_subnet=top_subnet,
            top_subnet_share=round(top_count / count, 3) if count else 0.0,
            fresh_share=round(len(fresh) / count, 3) if count else 0.0,
            single_purpose_share=round(len(single_purpose) / count, 3) if count else 0.0,
        )
    )
    suspects = sorted(fresh | single_purpose)[:SUSPECTS_MAX]
    return signals, suspects


def detect(now: datetime | None = None, window: timedelta = WINDOW) -> list[VoteFlag]:
    """Score every work with at least MIN_LIKES likes in the last ``window``; open (or update)
    a flag for each scoring at least THRESHOLD. Cheap when nothing is happening: one grouped
    query over the window's likes, on the index on ``like.created_at``."""
    end = now or utcnow()
    start = end - window
    busy = db.session.execute(
        sa.select(Like.work_id)
        .where(Like.created_at >= start, Like.created_at < end)
        .group_by(Like.work_id)
        .having(sa.func.count() >= MIN_LIKES)
    ).scalars()
    flags = []
    for work_id in list(busy):
        work = db.session.get(Work, work_id)
        if work is None:  # pragma: no cover - likes keep their work (foreign key)
            continue
        signals, suspects = measure_work(work, start, end)
        if signals.score >= THRESHOLD:
            flags.append(_open_flag(work, signals, suspects, start, end))
    db.session.commit()
    if flags:
        log.info("vote integrity: %d work(s) flagged", len(flags))
    return flags


def _open_flag(work: Work, signals: Signals, suspects: list[int], start: datetime, end: datetime) -> VoteFlag:
    flag = db.session.scalar(
        sa.select(VoteFlag).where(VoteFlag.work_id == work.id, VoteFlag.status == FlagStatus.OPEN)
    )
    if flag is None:
        flag = VoteFlag(work_id=work.id, score=0.0, evidence="{}", window_start=start)
        db.session.add(flag)
    previous = json.loads(flag.evidence)
    # The strongest window's signals stand; the suspects of every window add up.
    evidence = previous if previous and signals.score < flag.score else asdict(signals)
    merged = sorted(set(previous.get("suspect_user_ids", [])) | set(suspects))[:SUSPECTS_MAX]
    flag.score = max(flag.score, signals.score)
    flag.evidence = json.dumps({**evidence, "suspect_user_ids": merged})
    flag.window_end = end
    return flag


# --------------------------------------------------------------------------------------------
# The moderators' side.


@dataclass
class FlagView:
    flag: VoteFlag
    evidence: dict[str, Any]


def open_flags(moderator: Any, limit: int = 50) -> list[FlagView]:
    """Open flags in the moderator's scope, strongest first."""
    require_moderator(moderator)
    query = (
        sa.select(VoteFlag)
        .join(Work, VoteFlag.work_id == Work.id)
        .join(Collective, Work.collective_id == Collective.id)
        .options(so.contains_eager(VoteFlag.work).joinedload(Work.collective))
        .where(VoteFlag.status == FlagStatus.OPEN)
        .order_by(VoteFlag.score.desc(), VoteFlag.id)
        .limit(limit)
    )
    province = province_of(moderator)
    if province is not None:
        query = query.where(Collective.province == province)
    return [FlagView(flag, json.loads(flag.evidence)) for flag in db.session.scalars(query)]


def get_flag(moderator: Any, flag_id: int) -> VoteFlag:
    require_moderator(moderator)
    flag = db.session.get(VoteFlag, flag_id)
    if flag is None or not in_scope(moderator, flag.work.collective.province):
        raise NotFound(_("这条刷票线索不存在或不在您负责的范围内。"))
    if flag.status != FlagStatus.OPEN:
        raise Conflict(_("这条线索已经处理过了。"), code="flag_closed")
    return flag


def dismiss_flag(moderator: Any, flag_id: int, reason: str = "") -> VoteFlag:
    """The moderator judged the likes genuine (an office mobilising its staff, say)."""
    flag = get_flag(moderator, flag_id)
    flag.status = FlagStatus.DISMISSED
    flag.decided_by_id = moderator.id
    flag.decided_at = utcnow()
    audit.record(moderator, "flag_dismiss", "work", flag.work_id, reason or "")
    db.session.commit()
    return flag


def suspect_ids(flag: VoteFlag) -> list[int]:
    return [int(user_id) for user_id in json.loads(flag.evidence).get("suspect_user_ids", [])]


def void_flag(moderator: Any, flag_id: int, reason: str) -> VoteFlag:
    """Void every like of the flag's suspect accounts (national moderators: a like counts in the
    national rankings). The accounts' ``likes_void`` events are this action's record; the flag
    closes in the same transaction."""
    require_national(moderator)
    flag = get_flag(moderator, flag_id)
    flag.status = FlagStatus.VOIDED
    flag.decided_by_id = moderator.id
    flag.decided_at = utcnow()
    text = (reason or "").strip()
    try:
        # void_likes commits the flag's new state together with the deletions and their events.
        void_likes(moderator, suspect_ids(flag), f"{text} (#{flag.id})" if text else "")
    except Exception:
        db.session.rollback()
        raise
    return flag
