"""Public pages (home, work, collective) and the collective members' story editor.

Views stay thin: parse the form, call app.works.services, render or redirect. A refusal from a
service on a form page is flashed and the form shown again with what the person typed.
"""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.clients import client_ip
from app.engagement import comment_routes, views, visitors
from app.errors import Forbidden, ServiceError
from app.extensions import csrf
from app.models import WorkStatus
from app.paging import decode_cursor, encode_cursor
from app.works import bp
from app.works import services as svc


@bp.app_template_global()
def work_cover(work) -> str | None:
    return svc.work_cover(work)


@bp.app_template_global()
def media_url(key: str) -> str:
    return svc.media_url(key)


@bp.app_template_global()
def badge_url(collective) -> str | None:
    return svc.badge_url(collective)


def _uploads(name: str):
    return [f for f in request.files.getlist(name) if f and f.filename]


# ---------------------------------------------------------------------------------------------
# Public pages


@bp.get("/")
def index():
    filters, sort = svc.parse_work_filters(request.args)
    works, after = svc.list_published_works(
        filters, sort=sort, after=decode_cursor(request.args.get("cursor"))
    )
    more_url = None
    if after is not None:
        args = {k: v for k, v in request.args.items() if k != "cursor" and v}
        more_url = url_for("works.index", **args, cursor=encode_cursor(after))
    ids = [w.id for w in works]
    return render_template(
        "works/index.html",
        works=works,
        counts=svc.engagement_counts(ids),
        liked=svc.liked_work_ids(current_user, ids),
        filters=filters,
        sort=sort,
        more_url=more_url,
    )


def _record_view(work) -> None:
    # Counted once per viewer per day, published works only; never fails the page.
    viewer = views.viewer_key(current_user, client_ip(), request.user_agent.string, visitors.visitor_id())
    views.record_view(work, viewer)


@bp.get("/works/<int:work_id>")
def work_detail(work_id: int):
    work = svc.get_visible_work(work_id, current_user)
    new_visitor = None
    view_beacon = None
    # HEAD (link checkers, previews) is not a view.
    if request.method == "GET" and work.status == WorkStatus.PUBLISHED:
        if current_user.is_authenticated or visitors.visitor_id():
            _record_view(work)
        else:
            # Someone we do not know yet: a visitor cookie comes with the page, and the page's
            # script has the view counted with it (app/engagement/visitors.py).
            new_visitor = visitors.new_visitor_id()
            view_beacon = url_for("works.count_view", work_id=work.id, t=visitors.beacon_token(work.id))
    media = svc.work_media(work)
    # Pictures the body already shows inline are not repeated in the gallery below it.
    gallery = [image for image in media["images"] if image["url"] not in work.body_html]
    page = render_template(
        "works/detail.html",
        work=work,
        media=media,
        gallery=gallery,
        counts=svc.engagement_counts([work.id])[work.id],
        liked=work.id in svc.liked_work_ids(current_user, [work.id]),
        can_edit=policy.can_edit_work(current_user, work),
        editable=work.status in svc.EDITABLE_STATUSES,
        comment_section=comment_routes.comment_section(work),
        view_beacon=view_beacon,
    )
    response = make_response(page)
    if new_visitor:
        visitors.give_cookie(response, new_visitor)
    return response


@bp.post("/works/<int:work_id>/view")
@csrf.exempt  # counts a view and nothing else; a browser refusing cookies has no CSRF session
def count_view(work_id: int):
    """The work page's script, for a visitor the page did not know: counts the view now that the
    visitor cookie comes back, or on the address as a fallback when it does not."""
    if not visitors.beacon_token_valid(request.args.get("t"), work_id):
        raise ServiceError(_("请求无效。"), code="invalid_view_token")
    _record_view(svc.get_visible_work(work_id, current_user, media=False))
    return "", 204


@bp.get("/collectives/<int:collective_id>")
def collective(collective_id: int):
    group = svc.get_collective(collective_id)
    works = svc.collective_works(group, current_user)
    return render_template(
        "works/collective.html",
        collective=group,
        works=works,
        counts=svc.engagement_counts(w.id for w in works),
        liked=svc.liked_work_ids(current_user, (w.id for w in works)),
        can_manage=policy.can_manage_collective(current_user, group),
    )


@bp.route("/collectives/<int:collective_id>/edit", methods=["GET", "POST"])
@login_required
def edit_collective(collective_id: int):
    group = svc.get_collective(collective_id)
    if not policy.can_manage_collective(current_user, group):
        raise Forbidden(_("只有本集体的成员可以修改集体资料。"))
    form = {"promise": group.promise, "supervision_channel": group.supervision_channel}
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in form}
        badges = _uploads("badge")
        try:
            svc.update_collective_profile(
                group, current_user, badge=badges[0].stream if badges else None, **form
            )
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(_("集体资料已保存。"), "success")
            return redirect(url_for("works.collective", collective_id=group.id))
    return render_template("works/collective_edit.html", collective=group, form=form)


# ---------------------------------------------------------------------------------------------
# Collective members: my works and the story editor


def _member_collective_id() -> int:
    if not policy.is_member(current_user, current_user.collective_id):
        raise Forbidden(_("只有青年文明号集体的成员可以管理作品。"))
    return current_user.collective_id


@bp.get("/my/works")
@login_required
def my_works():
    collective_id = _member_collective_id()
    works = svc.works_of_collective_for_members(collective_id)
    return render_template(
        "works/my_works.html",
        works=works,
        collective=svc.get_collective(collective_id),
        editable_statuses=svc.EDITABLE_STATUSES,
    )


@bp.route("/my/works/new", methods=["GET", "POST"])
@login_required
def new_story():
    _member_collective_id()
    campaigns = svc.campaigns_open_for_submission()
    form = {"title": "", "summary": "", "body": "", "campaign_id": str(campaigns[0].id) if campaigns else ""}
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in form}
        try:
            work = svc.create_story(current_user, **form)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(_("草稿已保存，现在可以添加图片。"), "success")
            return redirect(url_for("works.edit_story", work_id=work.id))
    return render_template("works/story_form.html", work=None, form=form, campaigns=campaigns)


@bp.route("/works/<int:work_id>/edit", methods=["GET", "POST"])
@login_required
def edit_story(work_id: int):
    work = svc.get_editable_work(work_id, current_user)
    form = {
        "title": work.title,
        "summary": work.summary,
        "body": work.body,
        "campaign_id": str(work.campaign_id),
    }
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in form}
        try:
            svc.update_work(work, current_user, **form)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(_("草稿已保存。"), "success")
            return redirect(url_for("works.edit_story", work_id=work.id))
    campaigns = svc.campaigns_open_for_submission()
    if work.campaign not in campaigns:
        campaigns.insert(0, work.campaign)
    return render_template(
        "works/story_form.html",
        work=work,
        form=form,
        campaigns=campaigns,
        assets=svc.story_images(work),
        editable=work.status in svc.EDITABLE_STATUSES,
        max_images=current_app.config["STORY_MAX_IMAGES"],
    )


@bp.post("/works/<int:work_id>/images")
@login_required
def upload_images(work_id: int):
    work = svc.get_editable_work(work_id, current_user)
    files = _uploads("images")
    if not files:
        flash(_("请选择要上传的图片。"), "error")
    added = 0
    for upload in files:
        try:
            svc.add_story_image(work, current_user, upload.stream)
        except ServiceError as exc:
            flash(_("%(name)s：%(message)s", name=upload.filename, message=exc.message), "error")
            break
        added += 1
    if added:
        flash(_("已添加 %(n)s 张图片。", n=added), "success")
    return redirect(url_for("works.edit_story", work_id=work_id) + "#images")


@bp.post("/works/<int:work_id>/images/<int:asset_id>/delete")
@login_required
def delete_image(work_id: int, asset_id: int):
    work = svc.get_editable_work(work_id, current_user)
    try:
        svc.remove_story_image(work, current_user, asset_id)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(_("图片已删除。"), "success")
    return redirect(url_for("works.edit_story", work_id=work_id) + "#images")


@bp.post("/works/<int:work_id>/submit")
@login_required
def submit_work(work_id: int):
    work = svc.get_editable_work(work_id, current_user)
    try:
        svc.submit_for_review(work, current_user)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("works.edit_story", work_id=work_id))
    flash(_("已提交审核，审核通过后将公开展示。"), "success")
    return redirect(url_for("works.my_works"))
