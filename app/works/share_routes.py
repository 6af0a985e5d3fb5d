"""Short links and printable QR posters of works and collectives (app.works.sharing)."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user

from app.catalog.collectives import get_collective
from app.works import bp, sharing
from app.works import services as svc


@bp.get("/w/<int:work_id>")
def work_short_link(work_id: int):
    # The same visibility check as the work page, so a short link never reveals that a draft exists.
    svc.get_visible_work(work_id, current_user, media=False)
    return redirect(url_for("works.work_detail", work_id=work_id), code=301)


@bp.get("/c/<int:collective_id>")
def collective_short_link(collective_id: int):
    get_collective(collective_id)
    return redirect(url_for("works.collective", collective_id=collective_id), code=301)


@bp.get("/works/<int:work_id>/poster")
def work_poster(work_id: int):
    return render_template("works/poster.html", **sharing.work_poster(sharing.get_public_work(work_id)))


@bp.get("/collectives/<int:collective_id>/poster")
def collective_poster(collective_id: int):
    poster = sharing.collective_poster(get_collective(collective_id))
    return render_template("works/collective_poster.html", **poster)


@bp.app_template_global()
def work_share_card(work):
    return sharing.work_share_card(work)


@bp.app_template_global()
def collective_share_card(collective):
    return sharing.collective_share_card(collective)
