"""The public pages of works: the home page's listing, a work's page (media, counts, comment
section, view counting) and a collective's page."""

from __future__ import annotations

from flask import make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.catalog.collectives import get_collective
from app.engagement import views, visitors
from app.engagement.like_targets import like_target
from app.engagement.work_lists import engagement_counts, list_published_works
from app.errors import ServiceError
from app.extensions import csrf
from app.models import WorkStatus
from app.page_cache import cached, collective_group, work_group
from app.pages.comment_section import comment_section
from app.paging import decode_cursor, more_url
from app.works import bp
from app.works.listing import collective_works, parse_work_filters
from app.works.serialise import work_captions, work_media, work_storyboard
from app.works.services import EDITABLE_STATUSES, get_visible_work


@bp.get("/")
@cached(lambda: "home")
def index():
    filters, sort = parse_work_filters(request.args)
    works, after = list_published_works(filters, sort=sort, after=decode_cursor(request.args.get("cursor")))
    ids = [w.id for w in works]
    return render_template(
        "works/index.html",
        works=works,
        counts=engagement_counts(ids),
        liked=set(),
        filters=filters,
        sort=sort,
        more_url=more_url("works.index", after),
    )


@bp.get("/works/<int:work_id>")
@cached(lambda work_id: work_group(work_id), seconds="PAGE_CACHE_PAGE_SECONDS")
def work_detail(work_id: int):
    work = get_visible_work(work_id, current_user)
    view_beacon = view_token = None
    if work.status == WorkStatus.PUBLISHED:
        # The page is one body for everyone, served from the cache: the page's scripts count the
        # view (and give a new visitor its cookie) through the beacon or a signed-in reader's
        # state call, never the page itself.
        view_token = visitors.beacon_token(work.id)
        view_beacon = url_for("works.count_view", work_id=work.id, t=view_token)
    media = work_media(work)
    # Pictures the body already shows inline are not repeated in the gallery below it.
    gallery = [image for image in media["images"] if image["url"] not in work.body_html]
    page = render_template(
        "works/detail.html",
        work=work,
        media=media,
        captions=work_captions(work),
        storyboard=work_storyboard(work),
        gallery=gallery,
        counts=engagement_counts([work.id])[work.id],
        liked=False,
        can_edit=policy.can_edit_work(current_user, work),
        editable=work.status in EDITABLE_STATUSES,
        comment_section=comment_section(work),
        view_beacon=view_beacon,
        view_token=view_token,
    )
    return page


@bp.post("/works/<int:work_id>/view")
@csrf.exempt  # counts a view and nothing else; a browser refusing cookies has no CSRF session
def count_view(work_id: int):
    """The work page's script counts the view: a signed-in viewer as the account, a browser with
    our visitor cookie as that visitor. A browser without one gets it here and an answer of 202
    ``{"again": true}``: the script asks once more (``&again=1``), bringing the cookie back, so
    a new visitor counts once as that visitor; a client returning no cookie is then counted on
    its address as a fallback (app/engagement/visitors.py), as is any new visitor from an address
    that was given too many visitor ids of late."""
    if not visitors.beacon_token_valid(request.args.get("t"), work_id):
        raise ServiceError(_("请求无效。"), code="invalid_view_token")
    if current_user.is_authenticated or visitors.visitor_id() or request.args.get("again"):
        views.count_page_view(work_id, current_user)
        return visitors.renew_cookie(make_response("", 204))
    # The first ask of a new visitor: 404 for a work they may not see, as its page; a published
    # work's facts come from this process's memory of them, not SQL (like_targets).
    like_target(work_id, current_user)
    if not visitors.may_give_cookie():
        # This address was given many new ids of late: counted on it, as a client refusing
        # cookies is (at most COOKIELESS_VIEWERS_PER_IP viewers per work per day).
        views.count_page_view(work_id, current_user)
        return "", 204
    response = make_response({"again": True}, 202)
    visitors.give_cookie(response, visitors.new_visitor_id())
    return response


@bp.get("/collectives/<int:collective_id>")
@cached(lambda collective_id: collective_group(collective_id))
def collective(collective_id: int):
    group = get_collective(collective_id)
    works = collective_works(group, current_user)
    return render_template(
        "works/collective.html",
        collective=group,
        works=works,
        counts=engagement_counts(w.id for w in works),
        liked=set(),
        can_manage=policy.can_manage_collective(current_user, group),
    )
