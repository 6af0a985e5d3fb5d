"""The featured wall (优秀作品展示墙): works national moderators curate, then the live rankings.

Decisions worth knowing:

* The wall holds at most :data:`WALL_MAX` slots, so reading it costs the same however many works
  exist; adding more is **409** ``wall_full``. The 最热 / 点赞最多 sections read the top of the
  Redis rankings (``app.engagement.work_lists.list_published_works``), never count in SQL.
* A slot whose work is no longer ``published`` stays in the table but is not shown: it drops off
  the public wall silently, comes back if the work is published again, and the curation page
  lists it (marked) so that a moderator can remove it. It still takes one of the places.
* Featuring a work already on the wall is **409** ``already_featured`` (not idempotent): the
  curator learns the click did nothing, and a refusal writes no audit event.
* Positions are 0-based and dense (0..n-1) over every slot: each change renumbers the whole wall
  in one transaction. A move to a position past either end lands at that end.
* Every change holds the wall's lock (a transaction-scoped advisory lock on PostgreSQL; SQLite
  serialises writers itself), so two curators at once cannot both take the last place or leave
  two slots at one position. Each change writes exactly one audit event in its own transaction.
* ``set_order`` (API PUT) replaces the whole order: every id must be a distinct published work,
  else **422** ``validation_failed`` naming the bad ids, and nothing changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.engagement.work_lists import list_published_works
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.field_limits import NOTE_MAX, WALL_MAX
from app.models import FeaturedSlot, Work, WorkStatus
from app.moderation import audit
from app.notifications import services as notifications
from app.policy import require_national
from app.signals import announce, wall_changed
from app.sql_locks import lock
from app.works.listing import WorkFilters, apply_work_filters, parse_work_filters

RANKED_LIMIT = 12
# Any constant works: it only has to be the same in every process taking the wall's lock.
_WALL_LOCK_KEY = 0x57A11


@dataclass(frozen=True, slots=True)
class FeaturedWork:
    work: Work
    note: str
    position: int


# --------------------------------------------------------------------------------------------
# Reads.


def _featured_query() -> sa.Select:
    # The collective comes in the same query (cards show its name); media in one more (covers).
    return (
        sa.select(FeaturedSlot, Work)
        .join(Work, Work.id == FeaturedSlot.work_id)
        .options(so.joinedload(Work.collective), so.selectinload(Work.assets))
        .order_by(FeaturedSlot.position, FeaturedSlot.id)
    )


def featured(filters: WorkFilters | None = None, *, limit: int = WALL_MAX) -> list[FeaturedWork]:
    """The wall's published works in position order, optionally filtered like the listings."""
    filters = filters or WorkFilters()
    query = apply_work_filters(_featured_query().where(Work.status == WorkStatus.PUBLISHED), filters)
    rows = db.session.execute(query.limit(max(1, min(limit, WALL_MAX)))).tuples()
    return [FeaturedWork(work, slot.note, slot.position) for slot, work in rows]


def slots() -> list[FeaturedWork]:
    """Every slot, published or not, for the curation page."""
    rows = db.session.execute(_featured_query().limit(WALL_MAX)).tuples()
    return [FeaturedWork(work, slot.note, slot.position) for slot, work in rows]


def wall(filters: WorkFilters | None = None, *, limit: int = RANKED_LIMIT) -> dict[str, list[Any]]:
    """``featured`` (FeaturedWork items), then the top ``hot`` and ``likes`` works (Work items).

    A featured work may also appear in a ranking: the sections answer different questions.
    """
    filters = filters or WorkFilters()
    hot, _after = list_published_works(filters, sort="hot", limit=limit)
    likes, _after = list_published_works(filters, sort="likes", limit=limit)
    return {"featured": featured(filters), "hot": hot, "likes": likes}


def wall_filters(args: Any) -> WorkFilters:
    """Campaign, industry, province (and kind) from query parameters; a bad value is 400."""
    filters, _sort = parse_work_filters({k: v for k, v in args.items() if k != "sort"})
    return filters


# --------------------------------------------------------------------------------------------
# Changes (national moderators).


def _lock_wall() -> list[FeaturedSlot]:
    """Take the wall's lock and return its slots in order, ready to be edited."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WALL_LOCK_KEY})
    return lock(sa.select(FeaturedSlot).order_by(FeaturedSlot.position, FeaturedSlot.id))


def _renumber(order: Sequence[FeaturedSlot]) -> None:
    for position, slot in enumerate(order):
        if slot.position != position:
            slot.position = position


def _slot_of(order: Sequence[FeaturedSlot], work_id: int) -> FeaturedSlot:
    for slot in order:
        if slot.work_id == work_id:
            return slot
    raise NotFound(_("该作品不在展示墙上。"), code="not_featured")


def _wall_full() -> Conflict:
    return Conflict(_("展示墙最多展示 %(n)s 件作品，请先移除一些再添加。", n=WALL_MAX), code="wall_full")


def _clean_note(note: Any) -> str:
    note = "" if note is None else str(note).strip()
    if len(note) > NOTE_MAX:
        message = _("推荐语最多 %(n)s 个字。", n=NOTE_MAX)
        raise ValidationFailed(message, fields={"note": message})
    return note


def _commit(actor: Any, action: str, target_type: str, target_id: int, reason: str = "") -> None:
    audit.record(actor, action, target_type, target_id, reason)
    db.session.commit()
    announce(wall_changed)


def _rollback_on_error(change):
    """Run ``change`` inside the wall's lock; any refusal rolls back and releases the lock."""
    try:
        return change(_lock_wall())
    except Exception:
        db.session.rollback()
        raise


def feature(actor: Any, work_id: int, note: str = "") -> FeaturedWork:
    """Put a published work at the end of the wall, with an optional curator's note."""
    require_national(actor)
    note = _clean_note(note)

    def change(order: list[FeaturedSlot]) -> FeaturedWork:
        work = db.session.get(Work, work_id)
        if work is None:
            raise NotFound(_("作品不存在。"))
        if work.status != WorkStatus.PUBLISHED:
            raise Conflict(_("只有已发布的作品可以加入展示墙。"), code="work_not_published")
        if any(slot.work_id == work_id for slot in order):
            raise Conflict(_("该作品已在展示墙上。"), code="already_featured")
        if len(order) >= WALL_MAX:
            raise _wall_full()
        _renumber(order)
        slot = FeaturedSlot(work_id=work_id, position=len(order), note=note, by_id=actor.id)
        db.session.add(slot)
        notifications.works_featured(actor, [work_id])
        _commit(actor, "feature", "work", work_id, note)
        return FeaturedWork(work, slot.note, slot.position)

    return _rollback_on_error(change)


def unfeature(actor: Any, work_id: int) -> None:
    require_national(actor)

    def change(order: list[FeaturedSlot]) -> None:
        slot = _slot_of(order, work_id)
        order.remove(slot)
        db.session.delete(slot)
        _renumber(order)
        _commit(actor, "unfeature", "work", work_id)

    _rollback_on_error(change)


def move(actor: Any, work_id: int, position: int | None = None, *, direction: str | None = None) -> int:
    """Move a work to ``position`` (0-based), or one place ``up``/``down``; its new position."""
    require_national(actor)
    if direction not in (None, "up", "down") or (position is None) == (direction is None):
        raise ValidationFailed(_("请指定新的位置，或上移、下移。"), fields={"position": _("必填")})
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        message = _("位置必须是不小于 0 的整数。")
        raise ValidationFailed(message, fields={"position": message})

    def change(order: list[FeaturedSlot]) -> int:
        slot = _slot_of(order, work_id)
        current = order.index(slot)
        target = position if position is not None else current + (-1 if direction == "up" else 1)
        target = max(0, min(target, len(order) - 1))
        order.remove(slot)
        order.insert(target, slot)
        _renumber(order)
        _commit(actor, "feature_move", "work", work_id, f"position={target}")
        return target

    return _rollback_on_error(change)


def set_note(actor: Any, work_id: int, note: str) -> None:
    """The curator's note shown with the work (plain text: pages escape it)."""
    require_national(actor)
    note = _clean_note(note)

    def change(order: list[FeaturedSlot]) -> None:
        slot = _slot_of(order, work_id)
        slot.note = note
        _commit(actor, "feature_note", "work", work_id, note)

    _rollback_on_error(change)


def _valid_ids(work_ids: Any) -> list[int]:
    if not isinstance(work_ids, list) or any(
        isinstance(item, bool) or not isinstance(item, int) for item in work_ids
    ):
        message = _("work_ids 必须是作品编号（整数）的列表。")
        raise ValidationFailed(message, fields={"work_ids": message})
    counts = Counter(work_ids)
    repeated = [work_id for work_id, n in counts.items() if n > 1]
    if repeated:
        message = _("作品编号重复：%(ids)s", ids=_join(repeated))
        raise ValidationFailed(message, fields={"work_ids": message})
    if len(work_ids) > WALL_MAX:
        raise _wall_full()
    query = sa.select(Work.id).where(Work.id.in_(work_ids), Work.status == WorkStatus.PUBLISHED)
    published = set(db.session.scalars(query))
    bad = [i for i in work_ids if i not in published]
    if bad:
        message = _("这些作品不存在或未发布：%(ids)s", ids=_join(bad))
        raise ValidationFailed(message, fields={"work_ids": message})
    return work_ids


def _join(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in ids)


def set_order(actor: Any, work_ids: Any) -> list[FeaturedWork]:
    """Replace the wall by exactly these works, in this order; notes of works kept stay."""
    require_national(actor)

    def change(order: list[FeaturedSlot]) -> None:
        ids = _valid_ids(work_ids)
        by_work = {slot.work_id: slot for slot in order}
        wanted = set(ids)
        for slot in order:
            if slot.work_id not in wanted:
                db.session.delete(slot)
        # Removed rows go first, so that the unique work_id never sees a row twice.
        db.session.flush()
        new_order = []
        for work_id in ids:
            slot = by_work.get(work_id)
            if slot is None:
                slot = FeaturedSlot(work_id=work_id, position=0, note="", by_id=actor.id)
                db.session.add(slot)
            new_order.append(slot)
        _renumber(new_order)
        notifications.works_featured(actor, [work_id for work_id in ids if work_id not in by_work])
        _commit(actor, "wall_set", "wall", 0, _join(ids))

    _rollback_on_error(change)
    return featured()
