"""API v1 (extension): the caller's own notifications, and marking them read.

Listing does not mark anything read (clients prefetch; the page marks what a person saw); a
client says what it showed with ``POST /notifications/read``.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.helpers import login_required_api
from app.api.parsing import body
from app.api.schemas import NotificationListQuery, NotificationPage, NotificationsRead, ReadNotificationsBody
from app.notifications import services as notifications
from app.paging import decode_cursor, encode_cursor, invalid_cursor


def _before(cursor: str | None) -> int | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    before = value.get("before")
    if isinstance(before, bool) or not isinstance(before, int):
        raise invalid_cursor()
    return before


@bp.get("/notifications")
@answers(200, NotificationPage, refusing=(400, 401), signed_in=True, query=NotificationListQuery)
@login_required_api
def list_notifications():
    """The caller's notifications, newest first, and how many are unread; listing marks nothing read"""
    limit = request.args.get("limit", default=notifications.PAGE_SIZE, type=int)
    page = notifications.list_notifications(
        current_user, before=_before(request.args.get("cursor")), limit=limit
    )
    return {
        "items": [notifications.notification_to_dict(item) for item in page.items],
        "next_cursor": encode_cursor({"before": page.next_before}) if page.next_before else None,
        "unread": notifications.unread_count(current_user),
    }


@bp.post("/notifications/read")
@answers(200, NotificationsRead, refusing=(400, 401, 415, 422), signed_in=True)
@login_required_api
@body(ReadNotificationsBody)
def read_notifications(data: dict[str, Any]):
    """Mark the caller's notifications read: those in `ids`, or all without a body"""
    marked = notifications.mark_read(current_user, data["ids"])
    return {"marked": marked, "unread": notifications.unread_count(current_user)}
