"""Vote flags, the moderators' side: list the open flags with their evidence, dismiss one, or void
the likes of its accounts (the cohort, the fresh and the look-alike accounts the detector found:
``app.moderation.integrity``).

A moderator judges a cohort by when and where its accounts were made, what they did before and
what they are called, so each flag is shown with up to ``vote_signals.EVIDENCE_SAMPLE`` of its
accounts, read live from the accounts table: the evidence keeps ids, not copies of addresses.
Voiding is one action of a national moderator; ``accounts.void_likes`` deletes the likes and
recounts every affected counter and ranking through the counter fence, so the numbers end exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Collective, FlagStatus, User, VoteFlag, Work, utcnow
from app.moderation import audit
from app.moderation.accounts import void_likes
from app.moderation.vote_signals import subnet_of
from app.policy import in_scope, province_of, require_moderator, require_national
from app.sql_locks import transition


@dataclass
class CohortAccount:
    """One account of a flagged cohort as the flag page shows it."""

    id: int
    display_name: str
    email: str
    registered_at: datetime
    registration_subnet: str | None


@dataclass
class FlagView:
    flag: VoteFlag
    evidence: dict[str, Any]
    accounts: list[CohortAccount] = field(default_factory=list)

    @property
    def cohort(self) -> dict[str, Any] | None:
        return self.evidence.get("cohort")

    @property
    def registered_from(self) -> datetime | None:
        return _when((self.cohort or {}).get("registered_from"))

    @property
    def registered_to(self) -> datetime | None:
        return _when((self.cohort or {}).get("registered_to"))


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def open_flags(moderator: Any, limit: int = 50) -> list[FlagView]:
    """Open flags in the moderator's scope, strongest first, each with its cohort's sample accounts."""
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
    views = [FlagView(flag, json.loads(flag.evidence)) for flag in db.session.scalars(query)]
    wanted = {uid for view in views for uid in (view.cohort or {}).get("sample_user_ids", [])}
    accounts = _accounts(wanted)
    for view in views:
        view.accounts = [
            accounts[uid] for uid in (view.cohort or {}).get("sample_user_ids", []) if uid in accounts
        ]
    return views


def _accounts(user_ids: set[int]) -> dict[int, CohortAccount]:
    if not user_ids:
        return {}
    rows = db.session.execute(
        sa.select(User.id, User.display_name, User.email, User.created_at, User.registration_ip).where(
            User.id.in_(sorted(user_ids))
        )
    )
    return {
        uid: CohortAccount(uid, name, email, created, subnet_of(ip)) for uid, name, email, created, ip in rows
    }


def get_flag(moderator: Any, flag_id: int) -> VoteFlag:
    require_moderator(moderator)
    flag = db.session.get(VoteFlag, flag_id)
    if flag is None or not in_scope(moderator, flag.work.collective.province):
        raise NotFound(_("这条刷票线索不存在或不在您负责的范围内。"))
    if flag.status != FlagStatus.OPEN:
        raise _closed()
    return flag


def _decide(moderator: Any, flag: VoteFlag, status: FlagStatus) -> None:
    """Close the flag only while it is still open (``transition``): when two moderators decide one
    flag at once, or one dismisses while another voids, exactly one of them succeeds and writes
    its event. The caller commits."""
    if not transition(
        flag,
        VoteFlag.status == FlagStatus.OPEN,
        status=status,
        decided_by_id=moderator.id,
        decided_at=utcnow(),
    ):
        db.session.rollback()
        raise _closed()


def _closed() -> Conflict:
    return Conflict(_("这条线索已经处理过了。"), code="flag_closed")


def dismiss_flag(moderator: Any, flag_id: int, reason: str = "") -> VoteFlag:
    """The moderator judged the likes genuine (an office mobilising its staff, say)."""
    flag = get_flag(moderator, flag_id)
    _decide(moderator, flag, FlagStatus.DISMISSED)
    audit.record(moderator, "flag_dismiss", "work", flag.work_id, reason or "")
    db.session.commit()
    return flag


def suspect_ids(flag: VoteFlag) -> list[int]:
    return [int(user_id) for user_id in json.loads(flag.evidence).get("suspect_user_ids", [])]


def void_flag(moderator: Any, flag_id: int, reason: str) -> VoteFlag:
    """Void every like of the flag's suspect accounts in one action (national moderators: a like
    counts in the national rankings). The accounts' ``likes_void`` events are this action's
    record; the flag closes in the same transaction."""
    require_national(moderator)
    flag = get_flag(moderator, flag_id)
    _decide(moderator, flag, FlagStatus.VOIDED)
    text = (reason or "").strip()
    try:
        # void_likes commits the flag's new state together with the deletions and their events.
        void_likes(moderator, suspect_ids(flag), f"{text} (#{flag.id})" if text else "")
    except Exception:
        db.session.rollback()
        raise
    return flag
