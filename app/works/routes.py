"""The collective members' pages: their collective's profile, their works and the story editor.

Views stay thin: parse the form, call app.works.services, render or redirect. A refusal from a
service on a form page is flashed and the form shown again with what the person typed. The
public pages (home, a work, a collective) are in app/pages/works.py.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.catalog import collectives
from app.catalog.campaigns import campaigns_open_for_submission
from app.errors import Forbidden, ServiceError
from app.models import WorkKind
from app.stored_files import media_url
from app.works import bp
from app.works import services as svc
from app.works.serialise import work_cover

# Helpers every page's template may call.
bp.add_app_template_global(work_cover)
bp.add_app_template_global(media_url)
bp.add_app_template_global(collectives.badge_url)


def _uploads(name: str):
    return [f for f in request.files.getlist(name) if f and f.filename]


@bp.route("/collectives/<int:collective_id>/edit", methods=["GET", "POST"])
@login_required
def edit_collective(collective_id: int):
    group = collectives.get_collective(collective_id)
    if not policy.can_manage_collective(current_user, group):
        raise Forbidden(_("只有本集体的成员可以修改集体资料。"))
    form = {"promise": group.promise, "supervision_channel": group.supervision_channel}
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in form}
        badges = _uploads("badge")
        try:
            collectives.update_collective_profile(
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
        collective=collectives.get_collective(collective_id),
        submittable=svc.submittable,
    )


@bp.route("/my/works/new", methods=["GET", "POST"])
@login_required
def new_story():
    _member_collective_id()
    campaigns = campaigns_open_for_submission()
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
    campaigns = campaigns_open_for_submission()
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
        if work.kind == WorkKind.STORY:
            return redirect(url_for("works.edit_story", work_id=work_id))
        return redirect(url_for("media.upload_media", work_id=work_id))
    flash(_("已提交审核，审核通过后将公开展示。"), "success")
    return redirect(url_for("works.my_works"))
