"""The notifications page, its "mark all read" button, and the bell's count in every page."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.ids import ID_MAX, query_int
from app.notifications import bp
from app.notifications import services as notifications


@bp.app_context_processor
def bell():
    # A function, not a number: pages that never show the bell never run the query.
    return {"unread_notifications": lambda: notifications.unread_count_for_request(current_user)}


@bp.get("/notifications")
@login_required
def index():
    before = query_int("before", minimum=-ID_MAX, maximum=ID_MAX)
    page = notifications.show_page(current_user, before=before)
    return render_template("notifications/index.html", page=page, before=before)


@bp.post("/notifications/read")
@login_required
def mark_all_read():
    notifications.mark_read(current_user)
    flash(_("全部通知已标为已读。"), "success")
    return redirect(url_for("notifications.index"))
