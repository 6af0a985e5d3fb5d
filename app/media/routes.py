"""Pages for films and videos: a new draft, the upload page (app/static/js/upload.js), captions.

The bytes never pass through these views: the page's script speaks API v1 (upload sessions,
parts, completion, status); these views only create the draft and render the page.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.catalog.campaigns import campaigns_open_for_submission
from app.errors import Forbidden, ServiceError
from app.media import bp, captions, limits, transcodes, uploads
from app.models import CaptionLang, WorkKind, WorkStatus
from app.works import services as svc

MEDIA_KINDS = (WorkKind.FILM, WorkKind.VIDEO)


def _ensure_member() -> None:
    if not policy.is_member(current_user, current_user.collective_id):
        raise Forbidden(_("只有青年文明号集体的成员可以管理作品。"))


@bp.route("/my/works/new-media", methods=["GET", "POST"])
@login_required
def new_media_work():
    _ensure_member()
    campaigns = campaigns_open_for_submission()
    form = {
        "kind": request.args.get("kind", "video"),
        "title": "",
        "summary": "",
        "campaign_id": str(campaigns[0].id) if campaigns else "",
    }
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in form}
        try:
            if form["kind"] not in MEDIA_KINDS:
                raise ServiceError(_("请选择作品类型：微电影或微视频。"))
            work = svc.create_work(current_user, **form)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(_("草稿已保存，现在可以上传视频文件。"), "success")
            return redirect(url_for("media.upload_media", work_id=work.id))
    return render_template("works/media_form.html", form=form, campaigns=campaigns)


@bp.get("/works/<int:work_id>/upload")
@login_required
def upload_media(work_id: int):
    work = svc.get_editable_work(work_id, current_user)
    if work.kind not in MEDIA_KINDS:
        return redirect(url_for("works.edit_story", work_id=work.id))
    limit = limits.max_bytes(work.kind)
    return render_template(
        "works/upload.html",
        work=work,
        uploadable=work.status in uploads.UPLOADABLE_STATUSES,
        # A rejected work may also go back to review with the video it has.
        resubmittable=svc.submittable(work),
        max_bytes=limit,
        max_mb=limit // (1024 * 1024),
        max_minutes=limits.max_seconds(work.kind) // 60,
        status=transcodes.work_status(work.id, current_user),
    )


@bp.post("/works/<int:work_id>/upload/cancel")
@login_required
def cancel_media_upload(work_id: int):
    """取消上传: every unfinished upload of the work, whichever tab or device began it."""
    work = svc.get_editable_work(work_id, current_user)
    if uploads.cancel_uploads_of(work):
        flash(_("已取消上传，作品恢复为可编辑状态。"), "success")
    else:
        flash(_("这件作品没有进行中的上传。"), "error")
    return redirect(url_for("media.upload_media", work_id=work.id))


@bp.get("/works/<int:work_id>/captions")
@login_required
def caption_page(work_id: int):
    work = captions.captionable_work(work_id, current_user)
    return render_template(
        "works/captions.html",
        work=work,
        languages=list(CaptionLang),
        captions={caption.lang: caption for caption in work.captions},
        max_mb=captions.MAX_BYTES // (1024 * 1024),
        published=work.status == WorkStatus.PUBLISHED,
    )


@bp.post("/works/<int:work_id>/captions")
@login_required
def upload_caption(work_id: int):
    captions.captionable_work(work_id, current_user)  # refused outright (403/404), not flashed
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ServiceError(_("请选择字幕文件（SRT 或 WebVTT）。"))
        data = upload.stream.read(captions.MAX_BYTES + 1)
        caption = captions.put_caption(work_id, current_user, request.form.get("lang"), data)
    except ServiceError as exc:
        flash(exc.message, "error")  # an unusable file's message names its line
    else:
        flash(_("已保存“%(label)s”字幕，共 %(n)s 条。", label=caption.lang.label, n=caption.cues), "success")
    return redirect(url_for("media.caption_page", work_id=work_id))


@bp.post("/works/<int:work_id>/captions/<lang>/delete")
@login_required
def remove_caption(work_id: int, lang: str):
    captions.captionable_work(work_id, current_user)
    try:
        captions.delete_caption(work_id, current_user, lang)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(_("字幕已删除。"), "success")
    return redirect(url_for("media.caption_page", work_id=work_id))
