"""The moderation audit log: who did what to which target, when and why.

``record`` only adds the event to the session: the caller commits it in the same transaction as
the action itself, so an action and its event are written together or not at all (exactly one
event per action). Rows are never updated or deleted.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.errors import ValidationFailed
from app.extensions import db
from app.field_limits import REASON_MAX
from app.models import ModerationEvent, User


def clean_reason(reason: Any, *, required: bool, missing: str | None = None, field: str = "reason") -> str:
    """A moderator's or reporter's reason: trimmed plain text of at most REASON_MAX characters.
    ``missing`` is the message when a required reason is empty (it says what the reason is for)."""
    text = reason.strip() if isinstance(reason, str) else ""
    if required and not text:
        message = missing or _("请填写理由。")
        raise ValidationFailed(message, code="reason_required", fields={field: message})
    if len(text) > REASON_MAX:
        message = _("理由最多 %(max)d 字。", max=REASON_MAX)
        raise ValidationFailed(message, code="reason_too_long", fields={field: message})
    return text


def record(actor: Any, action: str, target_type: str, target_id: int, reason: str = "") -> ModerationEvent:
    event = ModerationEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        reason=(reason or "")[:REASON_MAX],
    )
    db.session.add(event)
    return event


def events(
    *, before_id: int | None = None, limit: int = 50, action: str | None = None
) -> list[tuple[ModerationEvent, User | None]]:
    """Newest first, keyset-paginated by id; each event with its actor."""
    query = (
        sa.select(ModerationEvent, User)
        .outerjoin(User, User.id == ModerationEvent.actor_id)
        .order_by(ModerationEvent.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(ModerationEvent.id < before_id)
    if action:
        query = query.where(ModerationEvent.action == action)
    return [(event, user) for event, user in db.session.execute(query).tuples()]
