"""The public featured wall and its curation page (national moderators).

Views stay thin: parse, call app.wall.services, render or redirect. On the curation page a
refusal is flashed and the page shown again; access is checked before that, so a refusal of the
person (401/403) is never turned into a flash.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.catalog.campaigns import list_campaigns
from app.engagement.work_lists import engagement_counts
from app.errors import ServiceError
from app.ids import ID_MAX, parse_id, parse_int
from app.page_cache import cached
from app.policy import require_national
from app.wall import bp
from app.wall import services as wall


@bp.get("/wall")
@cached(lambda: "wall")
def index():
    filters = wall.wall_filters(request.args)
    sections = wall.wall(filters)
    ids = [item.work.id for item in sections["featured"]]
    ids += [work.id for work in sections["hot"] + sections["likes"]]
    return render_template(
        "wall/index.html",
        featured=sections["featured"],
        hot=sections["hot"],
        likes=sections["likes"],
        counts=engagement_counts(ids),
        liked=set(),
        filters=filters,
        campaigns=list_campaigns(),
    )


@bp.get("/moderation/wall")
@login_required
def manage():
    require_national(current_user)
    return render_template(
        "wall/manage.html", slots=wall.slots(), wall_max=wall.WALL_MAX, note_max=wall.NOTE_MAX
    )


def _back():
    return redirect(url_for("wall.manage"))


def _curate(change, success: str):
    require_national(current_user)
    try:
        change()
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return _back()


def _position_field() -> int | None:
    # A 0-based place on the wall; anything past ID_MAX is simply "the end" for the service.
    return parse_int(request.form.get("position"), minimum=0, maximum=ID_MAX)


@bp.post("/moderation/wall/add")
@login_required
def add():
    work_id = parse_id(request.form.get("work_id"))
    if work_id is None:
        require_national(current_user)
        flash(_("请填写作品编号（数字）。"), "error")
        return _back()
    note = request.form.get("note", "")
    return _curate(lambda: wall.feature(current_user, work_id, note), _("已加入展示墙。"))


@bp.post("/moderation/wall/<int:work_id>/remove")
@login_required
def remove(work_id: int):
    return _curate(lambda: wall.unfeature(current_user, work_id), _("已从展示墙移除。"))


@bp.post("/moderation/wall/<int:work_id>/move")
@login_required
def move(work_id: int):
    direction = request.form.get("direction") or None
    position = None if direction else _position_field()
    return _curate(lambda: wall.move(current_user, work_id, position, direction=direction), _("顺序已调整。"))


@bp.post("/moderation/wall/<int:work_id>/note")
@login_required
def note(work_id: int):
    text = request.form.get("note", "")
    return _curate(lambda: wall.set_note(current_user, work_id, text), _("推荐语已保存。"))
