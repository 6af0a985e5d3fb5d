"""API v1 (extension): the caller's own notifications, and marking them read.

Listing does not mark anything read (clients prefetch; the page marks what a person saw); a
client says what it showed with ``POST /notifications/read``.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from app.api import bp
from app.api.helpers import decode_cursor, encode_cursor, json_body, login_required_api
from app.errors import ServiceError, ValidationFailed
from app.notifications import services as notifications


def _before(cursor: str | None) -> int | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    before = value.get("before")
    if isinstance(before, bool) or not isinstance(before, int):
        raise ServiceError(_("分页游标无效。"), code="invalid_cursor")
    return before


@bp.get("/notifications")
@login_required_api
def list_notifications():
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
@login_required_api
def read_notifications():
    data = json_body() if request.content_length else {}
    ids = data.get("ids")
    if ids is not None and (
        not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids)
    ):
        message = _("ids 必须是通知编号（整数）的列表。")
        raise ValidationFailed(message, fields={"ids": message})
    marked = notifications.mark_read(current_user, ids)
    return {"marked": marked, "unread": notifications.unread_count(current_user)}
