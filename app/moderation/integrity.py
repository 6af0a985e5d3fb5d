"""Vote integrity (刷票): the detector that scores unusual likes as evidence for moderators.

A flag is evidence, never a verdict: a workplace mobilising its staff from one office network is
what the campaign asks for. ``app.moderation.vote_signals`` defines the signals and their
weights; this module chooses what to measure, reads it from SQL and opens the flags that
moderators judge on ``/moderation/flags`` (``app.moderation.flags``).

Three passes, each over a window ending now; the scheduler (app/schedule.py, ``detect-likes``)
starts the detector every minute and runs the passes that are due (by hand
``flask moderation detect``):

==========  ========  ===========  ==========================================================
pass        window    runs every   measures the works that, in the window, have
==========  ========  ===========  ==========================================================
``burst``   15 min    minute       at least MIN_LIKES likes
``hour``    1 hour    5 minutes    MIN_COHORT_HINT likers whose accounts were made in the same
``day``     24 hours  hour         clock hour, a BATCH_HINT_SHARE of their likes (the sign of
                                   a batch), and MIN_LIKES likes
==========  ========  ===========  ==========================================================

A burst shows within a minute or two; a batch liking slowly, a few likes every few minutes so
that no 15-minute window looks busy, shows in the hour or the day pass. Every query is bounded
by the window and indexed: the passes select on ``like.created_at``, one work's window on
``(work_id, created_at)``; one work's measure reads at most MAX_LIKERS likes and probes the past
of at most SAMPLE accounts (``user_id`` indexes), and only when that past could carry the score
to the threshold.
The cost at a million likes a day is measured by ``bench/integrity.py`` (docs/performance.md).

Each pass is claimed by one conditional UPDATE of its ``integrity_pass`` row, so a pass runs
once however many processes start the detector; a partial unique index keeps one open flag per
work even when two passes find the same work at the same moment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from app.auth.verification import unproven_at
from app.extensions import db
from app.models import Comment, FlagStatus, IntegrityPass, Like, User, VoteFlag, Work, utcnow
from app.moderation import vote_signals
from app.moderation.vote_signals import THRESHOLD, WEIGHTS, Activity, Liker, Signals

log = logging.getLogger(__name__)

__all__ = ["THRESHOLD", "WEIGHTS", "PASSES", "detect", "run_detector", "measure_work"]

MIN_LIKES = 20  # fewer likes than this in a window is never worth a moderator's time
# A batch of MIN_COHORT accounts made within an hour has at least half of them in one clock hour.
MIN_COHORT_HINT = vote_signals.MIN_COHORT // 2
BATCH_HINT_SHARE = 0.2  # ... and be at least this share of the work's likes in the window
BASELINE = timedelta(hours=24)  # a work's usual rate: its likes in the day before the window
MAX_LIKERS = 5000  # the newest likes of one work in one window that a measure reads
SAMPLE = 400  # likers whose past activity is probed (shares within ±5 points at 95%)
SUSPECTS_MAX = 5000  # accounts kept in one flag's evidence (the cohort a moderator voids)
# A scheduler firing a few seconds early must not skip its minute.
DUE_SLACK = timedelta(seconds=10)
_CHUNK = 500


@dataclass(frozen=True)
class Pass:
    name: str
    window: timedelta
    every: timedelta
    batches_only: bool  # measure only works whose likers include the sign of a batch


PASSES = (
    Pass("burst", timedelta(minutes=15), timedelta(minutes=1), batches_only=False),
    Pass("hour", timedelta(hours=1), timedelta(minutes=5), batches_only=True),
    Pass("day", timedelta(hours=24), timedelta(hours=1), batches_only=True),
)


@dataclass
class Measurement:
    pass_name: str
    work_id: int
    start: datetime
    end: datetime
    signals: Signals
    suspects: list[int]


@dataclass
class Run:
    flags: list[VoteFlag] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Reading.


def _clock_hour(column):
    """The clock hour of a timestamp, as a value that groups: what a batch of accounts shares."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.date_trunc("hour", column)
    return sa.func.substr(column, 1, 13)  # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff"


def candidate_works(pass_: Pass, start: datetime, end: datetime) -> list[int]:
    """The works this pass measures: one grouped query over the window's likes (index on
    ``like.created_at``)."""
    in_window = sa.and_(Like.created_at >= start, Like.created_at < end)
    if not pass_.batches_only:
        query = (
            sa.select(Like.work_id)
            .where(in_window)
            .group_by(Like.work_id)
            .having(sa.func.count() >= MIN_LIKES)
        )
        return sorted(db.session.scalars(query))
    batches = (
        sa.select(Like.work_id, sa.func.count())
        .join(User, User.id == Like.user_id)
        .where(in_window)
        .group_by(Like.work_id, _clock_hour(User.created_at))
        .having(sa.func.count() >= MIN_COHORT_HINT)
    )
    largest: dict[int, int] = {}
    for work_id, count in db.session.execute(batches):
        largest[work_id] = max(count, largest.get(work_id, 0))
    if not largest:
        return []
    totals = (
        sa.select(Like.work_id, sa.func.count())
        .where(in_window, Like.work_id.in_(sorted(largest)))
        .group_by(Like.work_id)
        .having(sa.func.count() >= MIN_LIKES)
    )
    # A batch that is a small part of a work's likes cannot carry a flag (the signals are shares);
    # on a busy work, accounts made in a popular hour (the campaign's launch) are no batch.
    counted = db.session.execute(totals)
    return sorted(work_id for work_id, total in counted if largest[work_id] >= BATCH_HINT_SHARE * total)


def load_likers(work_id: int, start: datetime, end: datetime) -> list[Liker]:
    """The newest MAX_LIKERS likes of the work in [start, end) with their accounts."""
    rows = db.session.execute(
        sa.select(
            Like.user_id,
            Like.created_at,
            Like.ip,
            User.created_at,
            User.registration_ip,
            User.email,
            User.display_name,
            User.email_verified_at,
        )
        .join(User, User.id == Like.user_id)
        .where(Like.work_id == work_id, Like.created_at >= start, Like.created_at < end)
        .order_by(Like.created_at.desc())
        .limit(MAX_LIKERS)
    ).all()
    return [
        Liker(
            user_id=user_id,
            liked_at=liked_at,
            like_ip=ip,
            registered_at=registered_at,
            registration_ip=registration_ip,
            email=email,
            display_name=display_name,
            unproven=unproven_at(verified_at, liked_at),
        )
        for user_id, liked_at, ip, registered_at, registration_ip, email, display_name, verified_at in rows
    ]


def usual_rate(work_id: int, start: datetime, window: timedelta, likes: int) -> float:
    """Likes per window over the BASELINE before ``start``. Counted up to what makes the burst
    signal zero (a third of ``likes`` per window), so a hot work's history is never read whole."""
    windows = BASELINE / window
    cap = int(likes / 3 * windows) + 1
    before = (
        sa.select(sa.literal(1))
        .where(Like.work_id == work_id, Like.created_at >= start - BASELINE, Like.created_at < start)
        .limit(cap)
        .subquery()
    )
    count = db.session.scalar(sa.select(sa.func.count()).select_from(before)) or 0
    return count / windows


def sample(likers: Sequence[Liker], size: int | None = None) -> list[Liker]:
    """At most ``size`` (SAMPLE) likers spread evenly over the window."""
    size = SAMPLE if size is None else size
    if len(likers) <= size:
        return list(likers)
    step = len(likers) / size
    return [likers[int(i * step)] for i in range(size)]


def probe_activity(user_ids: Sequence[int], collective_id: int, start: datetime) -> dict[int, Activity]:
    """What these accounts did before ``start``: four EXISTS probes per account on the indexes
    that lead with ``user_id`` (``like``'s unique key, ``comment.user_id``), each reading at most
    that account's own likes or comments, and stopping at the first that answers."""
    other_like = so.aliased(Like)
    other_work = so.aliased(Work)
    recent_like = so.aliased(Like)
    since = start - vote_signals.DORMANT
    liked_elsewhere = sa.exists(
        sa.select(sa.literal(1))
        .select_from(other_like)
        .join(other_work, other_work.id == other_like.work_id)
        .where(
            other_like.user_id == User.id,
            other_like.created_at < start,
            other_work.collective_id != collective_id,
        )
    )
    commented = sa.exists().where(Comment.user_id == User.id, Comment.created_at < start)
    liked_recently = sa.exists().where(
        recent_like.user_id == User.id, recent_like.created_at >= since, recent_like.created_at < start
    )
    commented_recently = sa.exists().where(
        Comment.user_id == User.id, Comment.created_at >= since, Comment.created_at < start
    )
    found: dict[int, Activity] = {}
    for offset in range(0, len(user_ids), _CHUNK):
        chunk = list(user_ids[offset : offset + _CHUNK])
        rows = db.session.execute(
            sa.select(
                User.id,
                liked_elsewhere.label("liked_elsewhere"),
                commented.label("commented"),
                liked_recently.label("liked_recently"),
                commented_recently.label("commented_recently"),
            ).where(User.id.in_(chunk))
        )
        for user_id, elsewhere, has_commented, recent_like_, recent_comment in rows:
            found[user_id] = Activity(
                commented=bool(has_commented),
                liked_elsewhere=bool(elsewhere),
                active_recently=bool(recent_like_ or recent_comment),
            )
    return found


_NO_PAST = Activity(commented=False, liked_elsewhere=False, active_recently=False)


def measure_work(
    work: Work,
    start: datetime,
    end: datetime,
    weights: dict[str, float] | None = None,
    *,
    thorough: bool = False,
) -> vote_signals.Measured | None:
    """The signals of one work's likes in [start, end), or None below MIN_LIKES.

    The accounts' past is probed only when it could matter: if the score stays under THRESHOLD
    even were every sampled account dormant with no life elsewhere, nothing is probed
    (``probed`` is 0) and the signals that need it read 0. Busy honest works, most of what the
    minute pass sees, cost no probes that way. ``thorough`` probes always (the bench records
    every signal of every window to fit the weights)."""
    likers = load_likers(work.id, start, end)
    if len(likers) < MIN_LIKES:
        return None
    baseline = usual_rate(work.id, start, end - start, len(likers))
    chosen = sample(likers)
    if not thorough:
        worst = {liker.user_id: _NO_PAST for liker in chosen}
        ceiling = vote_signals.measure(likers, worst, baseline_per_window=baseline, weights=weights)
        if ceiling.signals.score < THRESHOLD:
            return ceiling.unprobed(weights)
    probed = probe_activity([liker.user_id for liker in chosen], work.collective_id, start)
    return vote_signals.measure(likers, probed, baseline_per_window=baseline, weights=weights)


# --------------------------------------------------------------------------------------------
# Running.


_ENSURE_PASS = sa.text(
    f'INSERT INTO "{IntegrityPass.__table__.name}" (name) VALUES (:name) ON CONFLICT (name) DO NOTHING'
)


def _claim(pass_: Pass, now: datetime, force: bool) -> bool:
    """Take this pass for this run, committed: False when it ran less than ``every`` ago (here
    or in another process)."""
    db.session.execute(_ENSURE_PASS, {"name": pass_.name})
    statement = sa.update(IntegrityPass).where(IntegrityPass.name == pass_.name).values(last_run_at=now)
    if not force:
        due = now - pass_.every + DUE_SLACK
        statement = statement.where(
            sa.or_(IntegrityPass.last_run_at.is_(None), IntegrityPass.last_run_at <= due)
        )
    claimed = db.session.execute(statement.returning(IntegrityPass.name)).first() is not None
    db.session.commit()
    return claimed


def run_pass(
    pass_: Pass, now: datetime, weights: dict[str, float] | None = None, *, thorough: bool = False
) -> Run:
    """Measure this pass's works and open (or strengthen) a flag for each at THRESHOLD or more."""
    start = now - pass_.window
    run = Run(passes=[pass_.name])
    for work_id in candidate_works(pass_, start, now):
        work = db.session.get(Work, work_id)
        if work is None:  # pragma: no cover - likes keep their work (foreign key)
            continue
        measured = measure_work(work, start, now, weights, thorough=thorough)
        if measured is None:
            continue
        run.measurements.append(
            Measurement(pass_.name, work_id, start, now, measured.signals, measured.suspects)
        )
        if measured.signals.score >= THRESHOLD:
            run.flags.append(_open_flag(work, pass_, measured, start, now))
    db.session.commit()
    return run


def run_detector(
    now: datetime | None = None,
    *,
    force: bool = False,
    weights: dict[str, float] | None = None,
    thorough: bool = False,
) -> Run:
    """Run every pass that is due (every pass with ``force``)."""
    end = now or utcnow()
    run = Run()
    for pass_ in PASSES:
        if not _claim(pass_, end, force):
            continue
        done = run_pass(pass_, end, weights, thorough=thorough)
        run.passes += done.passes
        run.measurements += done.measurements
        run.flags += [flag for flag in done.flags if flag not in run.flags]
    if run.flags:
        log.info(
            "vote integrity: %d flag(s) opened or strengthened (%s)", len(run.flags), ", ".join(run.passes)
        )
    return run


def detect(now: datetime | None = None, *, force: bool = False) -> list[VoteFlag]:
    """The scheduled minute job: run the passes that are due; the flags opened or updated."""
    return run_detector(now, force=force).flags


# --------------------------------------------------------------------------------------------
# Flags.


def _open_flag(
    work: Work, pass_: Pass, measured: vote_signals.Measured, start: datetime, end: datetime
) -> VoteFlag:
    """One open flag per work: the strongest window's evidence stands, the suspects of every
    window add up."""
    signals = measured.signals
    flag = _open_flag_of(work.id)
    if flag is None:
        # DO NOTHING when another detector process opened it a moment ago; then that one is read.
        db.session.execute(_insert_open_flag(work.id, start, end))
        flag = _open_flag_of(work.id)
        assert flag is not None
    previous = json.loads(flag.evidence)
    stronger = not previous or signals.score >= flag.score
    evidence = previous
    if stronger:
        minutes = int(pass_.window.total_seconds() // 60)
        evidence = {**signals.as_evidence(), "pass": pass_.name, "window_minutes": minutes}
    suspects = sorted(set(previous.get("suspect_user_ids", [])) | set(measured.suspects))[:SUSPECTS_MAX]
    if stronger:
        flag.window_start, flag.window_end = start, end
    flag.score = max(flag.score, signals.score)
    flag.evidence = json.dumps({**evidence, "suspect_user_ids": suspects}, ensure_ascii=False)
    return flag


def _insert_open_flag(work_id: int, start: datetime, end: datetime):
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    return (
        insert(VoteFlag)
        .values(
            work_id=work_id,
            score=0.0,
            evidence="{}",
            status=FlagStatus.OPEN,
            window_start=start,
            window_end=end,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["work_id"], index_where=VoteFlag.status == FlagStatus.OPEN)
    )


def _open_flag_of(work_id: int) -> VoteFlag | None:
    return db.session.scalar(
        sa.select(VoteFlag).where(VoteFlag.work_id == work_id, VoteFlag.status == FlagStatus.OPEN)
    )
