"""Captions of films and videos: add, replace and remove one language's WebVTT (docs/captions.md).

The order of a change is what keeps storage and the database consistent on any failure:

1. who may (the work's collective, app/policy.py through ``get_editable_work``), which language,
   the kind of work, the size;
2. the file checked and converted in memory (``app.media.caption_format``): a bad file stops
   here, before anything is written;
3. the work's row locked, the caption row written, the WebVTT stored under a new key, then the
   commit (``store_then_commit``: on any failure the row is rolled back and the file deleted);
4. only after the commit, the file the row used to point at is deleted.

A change to a published work's captions sends it back to review: a moderator has not seen the new
text, and captions are shown over the film as if they were part of it. No re-transcode: the MP4
gets the file as a ``<track>``, and the HLS master playlist the player reads is served by the app
with the subtitle group added (``app.media.playlists``).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.errors import Conflict, ServiceError, ValidationFailed
from app.extensions import db
from app.media.caption_format import CaptionError, convert
from app.media.keys import caption_key
from app.models import Caption, CaptionLang, Work, WorkKind, WorkStatus
from app.signals import announce, work_unpublished
from app.sql_locks import lock
from app.storage import StorageError, delete_quietly
from app.stored_files import store_then_commit
from app.works.services import get_editable_work

log = logging.getLogger(__name__)

MAX_BYTES = 1024 * 1024
# What a client may say it sends; the content decides between SRT and WebVTT in the end.
CONTENT_TYPES = ("text/vtt", "application/x-subrip", "text/srt", "application/srt", "text/plain")
CAPTIONED_KINDS = (WorkKind.FILM, WorkKind.VIDEO)


def parse_lang(lang: Any) -> CaptionLang:
    try:
        return CaptionLang(lang)
    except ValueError:
        message = _("不支持这种字幕语言，可选：zh-CN（简体中文）、en（英文）。")
        raise ServiceError(message, code="unsupported_language", status=400) from None


def too_large() -> ServiceError:
    return ServiceError(
        _("字幕文件太大，最大 %(n)s MB。", n=MAX_BYTES // (1024 * 1024)), code="caption_too_large", status=413
    )


def check_content_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in CONTENT_TYPES:
        raise ServiceError(
            _("字幕文件请以 text/vtt（WebVTT）或 application/x-subrip（SRT）上传。"),
            code="unsupported_media_type",
            status=415,
        )


def captionable_work(work_id: int, actor: Any) -> Work:
    """The film or video if ``actor`` may change its captions: 404 when they cannot see it, 403
    when it is not theirs (app/policy.py), 409 for a story."""
    work = get_editable_work(work_id, actor)
    if work.kind not in CAPTIONED_KINDS:
        raise Conflict(_("只有微电影和微视频可以添加字幕。"), code="not_captionable")
    return work


def _caption_of(work: Work, language: CaptionLang) -> Caption | None:
    return db.session.scalar(sa.select(Caption).where(Caption.work_id == work.id, Caption.lang == language))


def _send_back_to_review(work: Work) -> bool:
    """A published work goes back to the review queue; True when it was published."""
    if work.status != WorkStatus.PUBLISHED:
        return False
    work.status = WorkStatus.PENDING_REVIEW
    return True


def put_caption(work_id: int, actor: Any, lang: Any, data: bytes) -> Caption:
    """Add or replace the captions of ``lang``: checked, converted to WebVTT, stored, committed."""
    language = parse_lang(lang)
    work = captionable_work(work_id, actor)
    if len(data) > MAX_BYTES:
        raise too_large()
    try:
        vtt, cues = convert(data)
    except CaptionError as exc:
        fields = {"line": str(exc.line)} if exc.line else {}
        raise ValidationFailed(exc.message, code="invalid_caption", fields=fields) from None
    payload = vtt.encode("utf-8")

    lock(sa.select(Work).where(Work.id == work.id))  # one caption change of a work at a time
    caption = _caption_of(work, language)
    old_key = caption.storage_key if caption is not None else None
    if caption is None:
        caption = Caption(work_id=work.id, lang=language)
        db.session.add(caption)
    caption.storage_key = caption_key(work.id, language.value)
    caption.bytes = len(payload)
    caption.cues = cues
    caption.updated_by_id = actor.id
    was_published = _send_back_to_review(work)
    try:
        store_then_commit([(caption.storage_key, payload, "text/vtt")])
    except StorageError:
        # store_then_commit has rolled the row back and removed what it wrote: nothing changed.
        log.warning("captions of work %s not stored", work.id, exc_info=True)
        message = _("存储服务暂时不可用，字幕没有保存，请稍后重试。")
        raise ServiceError(message, code="storage_unavailable", status=503) from None
    delete_quietly([old_key])
    _announce(work, was_published)
    return caption


def delete_caption(work_id: int, actor: Any, lang: Any) -> None:
    """Remove the captions of ``lang``; removing what is not there changes nothing."""
    language = parse_lang(lang)
    work = captionable_work(work_id, actor)
    lock(sa.select(Work).where(Work.id == work.id))
    caption = _caption_of(work, language)
    if caption is None:
        db.session.rollback()
        return
    key = caption.storage_key
    db.session.delete(caption)
    was_published = _send_back_to_review(work)
    db.session.commit()
    # The file goes after the commit: a failed commit must not leave a row pointing at nothing.
    delete_quietly([key])
    _announce(work, was_published)


def _announce(work: Work, was_published: bool) -> None:
    if was_published:
        log.info("work %s back in review after a caption change", work.id)
        announce(work_unpublished, work=work)
