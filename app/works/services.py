"""Works and micro-stories: create, edit, submit for review, and the story's pictures.

Refusals are :class:`~app.errors.ServiceError` subclasses with a Chinese sentence; the pages flash
them and the API answers them in the contract's error shape.

Decisions worth knowing:

* A work that is not visible to the viewer is **404**, never 403, so drafts do not leak.
* Provincial moderators see unpublished works of their own province only; national moderators
  and admins see all of them (app/policy.py).
* Works are written only inside their campaign's submission window (app/catalog/campaigns.py).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, BinaryIO

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import gettext as _

from app.catalog.campaigns import ensure_submission_open, get_campaign
from app.catalog.lists import status_label
from app.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed
from app.extensions import db
from app.field_limits import BODY_MAX, SUMMARY_MAX, TITLE_MAX
from app.images import process_upload
from app.models import AssetRole, AssetStatus, MediaAsset, Role, Work, WorkKind, WorkStatus
from app.policy import can_edit_work, can_view_work, signed_in
from app.signals import announce, work_edited
from app.sql_locks import lock
from app.storage import delete_quietly
from app.stored_files import media_url, store_then_commit
from app.works.listing import work_query
from app.works.markdown import render_markdown

log = logging.getLogger(__name__)

EDITABLE_STATUSES = (WorkStatus.DRAFT, WorkStatus.REJECTED)


# Storage keys: every path this module writes is built here.


def story_image_keys(work_id: int, ext: str) -> tuple[str, str]:
    """Keys of a new story image and its thumbnail; the random token makes URLs unguessable."""
    # 128 random bits: a draft's pictures must not be found by guessing (docs/security.md).
    token = secrets.token_urlsafe(16)
    return f"works/{work_id}/images/{token}.{ext}", f"works/{work_id}/images/{token}-thumb.{ext}"


def _work_by_id(media: bool) -> sa.Select:
    query = (
        work_query()
        if media
        else sa.select(Work).options(so.joinedload(Work.collective), so.joinedload(Work.campaign))
    )
    return query.where(Work.id == sa.bindparam("work_id"))


# Built once: SQLAlchemy memoises a statement's cache key, so executing the same object with new
# parameters skips rebuilding and re-keying it (a third of an ORM lookup's CPU).
_WORK_BY_ID = {media: _work_by_id(media) for media in (True, False)}


def get_work(work_id: int, *, media: bool = True) -> Work:
    """The work (404 if none). ``media=False`` loads its campaign instead of its media assets, in
    the same query: what a like needs (the voting window), one round trip on the hottest path."""
    work = db.session.scalar(_WORK_BY_ID[media], {"work_id": work_id})
    if work is None:
        raise NotFound(_("您要找的作品不存在或已被删除。"))
    return work


def get_visible_work(work_id: int, viewer: Any, *, media: bool = True) -> Work:
    """The work if `viewer` may see it, else 404 (the same answer as for a missing work)."""
    work = get_work(work_id, media=media)
    if not can_view_work(viewer, work):
        raise NotFound(_("您要找的作品不存在或已被删除。"))
    return work


def get_editable_work(work_id: int, actor: Any) -> Work:
    """The work if `actor` may edit it: 404 when they cannot even see it, 403 when only that."""
    work = get_visible_work(work_id, actor)
    if not can_edit_work(actor, work):
        raise Forbidden(_("只有本集体的成员可以修改这件作品。"))
    return work


def _clean_text_fields(title: Any, summary: Any, body: Any) -> tuple[str, str, str]:
    # Text or nothing: a JSON object or list given as a title is refused, not stored as its repr.
    wrong = {
        name: _("必须是文字。")
        for name, value in (("title", title), ("summary", summary), ("body", body))
        if value is not None and not isinstance(value, str)
    }
    if wrong:
        raise ValidationFailed(_("字段类型不正确：%(names)s", names=", ".join(wrong)), fields=wrong)
    title = (title or "").strip()
    summary = (summary or "").strip()
    body = (body or "").replace("\r\n", "\n")
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("请填写标题。")
    elif len(title) > TITLE_MAX:
        errors["title"] = _("标题最多 %(n)s 个字。", n=TITLE_MAX)
    if len(summary) > SUMMARY_MAX:
        errors["summary"] = _("简介最多 %(n)s 个字。", n=SUMMARY_MAX)
    if len(body) > BODY_MAX:
        errors["body"] = _("正文最多 %(n)s 个字。", n=BODY_MAX)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    return title, summary, body


def _parse_kind(kind: Any) -> WorkKind:
    try:
        return WorkKind(kind)
    except ValueError:
        message = _("作品类型无效，可选：film（微电影）、video（微视频）、story（微故事）。")
        raise ValidationFailed(message, fields={"kind": message}) from None


def create_work(
    author: Any,
    *,
    kind: Any,
    title: Any,
    campaign_id: Any,
    summary: Any = "",
    body: Any = "",
) -> Work:
    """A new draft of `author`'s collective in an open campaign."""
    if not signed_in(author) or author.role != Role.COLLECTIVE or author.collective_id is None:
        raise Forbidden(_("只有青年文明号集体的成员可以发布作品。"))
    kind = _parse_kind(kind)
    title, summary, body = _clean_text_fields(title, summary, body)
    campaign = get_campaign(campaign_id)
    ensure_submission_open(campaign)
    work = Work(
        collective_id=author.collective_id,
        campaign_id=campaign.id,
        author_id=author.id,
        kind=kind,
        title=title,
        summary=summary,
        body=body,
        # A new work has no uploaded images yet, so its story can show none.
        body_html=render_markdown(body),
        status=WorkStatus.DRAFT,
    )
    db.session.add(work)
    db.session.commit()
    return work


def create_story(author: Any, *, title: Any, campaign_id: Any, summary: Any = "", body: Any = "") -> Work:
    return create_work(
        author, kind=WorkKind.STORY, title=title, campaign_id=campaign_id, summary=summary, body=body
    )


def _ensure_writable(work: Work, actor: Any) -> None:
    if not can_edit_work(actor, work):
        raise Forbidden(_("只有本集体的成员可以修改这件作品。"))
    if work.status not in EDITABLE_STATUSES:
        raise Conflict(
            _("作品处于“%(status)s”状态，不能修改。", status=status_label(work.status)),
            code="not_editable",
        )
    ensure_submission_open(work.campaign)


def _lock_writable(work: Work, actor: Any) -> None:
    """Hold the work's row to the commit and check again that it may still be changed: an edit
    checked while the work was a draft must not land after it was submitted (or approved and
    published) from another tab. Slow preparation (rendering, image processing) comes first."""
    lock(sa.select(Work).where(Work.id == work.id))
    try:
        _ensure_writable(work, actor)
    except ServiceError:
        db.session.rollback()  # and the lock with it
        raise


def update_work(
    work: Work,
    actor: Any,
    *,
    title: Any,
    summary: Any = "",
    body: Any = "",
    campaign_id: Any = None,
) -> Work:
    """Edit a draft (or a rejected work): the HTML is rendered and sanitised here, once."""
    _ensure_writable(work, actor)
    title, summary, body = _clean_text_fields(title, summary, body)
    campaign = None
    if campaign_id not in (None, "") and str(campaign_id) != str(work.campaign_id):
        campaign = get_campaign(campaign_id)
        ensure_submission_open(campaign)
    _lock_writable(work, actor)
    if campaign is not None:
        work.campaign_id = campaign.id
    work.title, work.summary, work.body = title, summary, body
    work.body_html = render_markdown(body, story_image_urls(work))
    db.session.commit()
    announce(work_edited, work=work)
    return work


def story_images(work: Work) -> list[MediaAsset]:
    return [asset for asset in work.assets if asset.role == AssetRole.IMAGE]


def story_image_urls(work: Work) -> list[str]:
    """The URLs a story's body may show pictures from: its own uploaded images (and thumbnails)."""
    keys = [key for asset in story_images(work) for key in (asset.storage_key, asset.thumbnail_key) if key]
    return [media_url(key) for key in keys]


def add_story_image(work: Work, actor: Any, stream: BinaryIO | bytes) -> MediaAsset:
    """Re-encode an uploaded picture and attach it to a story (at most STORY_MAX_IMAGES)."""
    _ensure_writable(work, actor)
    if work.kind != WorkKind.STORY:
        raise ValidationFailed(_("只有微故事可以添加图片。"))
    limit = current_app.config["STORY_MAX_IMAGES"]
    if len(story_images(work)) >= limit:
        raise _too_many_images(limit)
    image = process_upload(stream)  # the slow part, done before any lock is taken

    _lock_writable(work, actor)  # two uploads at once cannot both take the last place
    count, last = db.session.execute(
        sa.select(sa.func.count(MediaAsset.id), sa.func.max(MediaAsset.position)).where(
            MediaAsset.work_id == work.id, MediaAsset.role == AssetRole.IMAGE
        )
    ).one()
    if count >= limit:
        db.session.rollback()
        raise _too_many_images(limit)
    key, thumb_key = story_image_keys(work.id, image.ext)
    asset = MediaAsset(
        work_id=work.id,
        role=AssetRole.IMAGE,
        position=(last or 0) + 1,
        storage_key=key,
        thumbnail_key=thumb_key,
        mime=image.mime,
        bytes=len(image.data),
        width=image.width,
        height=image.height,
        status=AssetStatus.READY,
        progress=1.0,
    )
    db.session.add(asset)
    store_then_commit([(key, image.data, image.mime), (thumb_key, image.thumb, image.mime)])
    return asset


def _too_many_images(limit: int) -> ValidationFailed:
    return ValidationFailed(_("每个微故事最多 %(n)s 张图片。", n=limit), code="too_many_images")


def remove_story_image(work: Work, actor: Any, asset_id: int) -> None:
    _lock_writable(work, actor)
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None or asset.work_id != work.id or asset.role != AssetRole.IMAGE:
        db.session.rollback()
        raise NotFound(_("图片不存在。"))
    keys = [asset.storage_key, asset.thumbnail_key]
    db.session.delete(asset)
    db.session.commit()
    # Files go after the commit: a failed commit must not leave a row pointing at nothing.
    delete_quietly(keys)


def submittable(work: Work) -> bool:
    """Whether 提交审核 is offered for ``work`` (我的作品, a film's upload page): editable, and for
    a film or video only once its video is ready (before that it goes to review by itself)."""
    return work.status in EDITABLE_STATUSES and (work.kind == WorkKind.STORY or work.video_ready)


def submit_for_review(work: Work, actor: Any) -> Work:
    """draft/rejected → pending_review, in an open window: a story with a title and a body, a film
    or video whose video is ready. A film or video goes to review by itself once its first video
    is transcoded; this is how a rejected one goes back with the video it has (the reason was its
    captions, say) instead of uploading the same file again."""
    _ensure_writable(work, actor)
    if work.kind != WorkKind.STORY and not work.video_ready:
        raise ValidationFailed(_("微电影和微视频在视频上传并处理完成后自动提交审核。"))
    _lock_writable(work, actor)  # what is checked below is what goes to review
    errors: dict[str, str] = {}
    if not work.title.strip():
        errors["title"] = _("请填写标题。")
    if work.kind == WorkKind.STORY and not work.body.strip():
        errors["body"] = _("请填写正文后再提交审核。")
    if errors:
        db.session.rollback()
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    work.status = WorkStatus.PENDING_REVIEW
    work.reject_reason = None
    db.session.commit()
    return work


def works_of_collective_for_members(collective_id: int) -> list[Work]:
    """Every work of a collective, newest first, for its own "my works" page."""
    query = work_query().where(Work.collective_id == collective_id).order_by(Work.created_at.desc())
    return list(db.session.scalars(query))
