"""Resumable uploads of film and video sources, and the hand-over to the media worker.

The flow (DESIGN.md "Media pipeline", API v1):

1. :func:`create_upload` opens a multipart upload on the storage backend and an
   :class:`~app.models.UploadSession` row, and answers where each fixed-size part goes: presigned
   PUT URLs straight to the bucket on S3, the app's own part URL with local storage.
2. Parts arrive in any order, any part again (it replaces the earlier one); :func:`upload_state`
   says which arrived so a client resumes with the rest.
3. :func:`complete_upload` assembles the parts, sniffs the type from the first bytes (never the
   name), records the source :class:`~app.models.MediaAsset`, moves the work to ``processing`` and
   enqueues one transcode job keyed by the asset id (:func:`enqueue_transcode`).

Decisions worth knowing:

* ``upload_id`` is the session row's random token; the backend's multipart id stays server-side.
* Someone else's session is 404 (as for any unseen object), never 403.
* A file that is not a video by its bytes is refused at completion (422); the stored object is
  deleted and the work goes back to ``draft`` so the uploader can try again. What only ffprobe
  can tell (truncated, audio only, too long) is decided by the worker: the work ends ``failed``
  with the reason on the source asset.
* Keys and job ids are built in :mod:`app.media.keys`, limits read in :mod:`app.media.limits`,
  and the jobs watched in :mod:`app.media.transcodes`.
"""

from __future__ import annotations

import errno
import logging
import math
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, BinaryIO

import redis
import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _

from app.catalog.campaigns import ensure_submission_open
from app.catalog.lists import status_label
from app.errors import Conflict, NotFound, ServiceError, ValidationFailed
from app.extensions import db, redis_client
from app.ids import SQL_INT_MAX, parse_int
from app.media.keys import key_token, output_prefix, source_key
from app.media.limits import human_size, max_bytes
from app.media.transcodes import enqueue_transcode, source_asset
from app.models import (
    AssetRole,
    AssetStatus,
    MediaAsset,
    UploadSession,
    UploadStatus,
    Work,
    WorkKind,
    WorkStatus,
    utcnow,
)
from app.observability.shared import record_cleanup
from app.policy import can_edit_work, can_view_work
from app.redis_keys import orphan_uploads_key
from app.sql_locks import lock
from app.storage import MAX_PART_NUMBER, MultipartError, delete_quietly, get_storage
from app.works.services import get_work

log = logging.getLogger(__name__)

# Presigned part URLs last as long as their session, at most a week (SigV4's limit).
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
# A rejected film or video may replace its video: the new one goes to review once transcoded.
UPLOADABLE_STATUSES = (WorkStatus.DRAFT, WorkStatus.FAILED, WorkStatus.UPLOADING, WorkStatus.REJECTED)
VIDEO_ROLES = (
    AssetRole.SOURCE,
    AssetRole.MP4_360,
    AssetRole.MP4_720,
    AssetRole.MP4_1080,
    AssetRole.HLS,
    AssetRole.POSTER,
    AssetRole.STORYBOARD,
)


# --------------------------------------------------------------------------------------------
# Type sniffing.


# QuickTime files from before ftyp (optional there) begin with a small atom, followed inside the
# bytes read by another atom we know; or with the movie atom, whose first child is its header.
# Both are checked, so text that happens to hold "free" or "wide" at offset 4 is no video.
_QUICKTIME_LEADING = frozenset({b"wide", b"free", b"skip", b"pnot"})
_QUICKTIME_ATOMS = _QUICKTIME_LEADING | {b"ftyp", b"moov", b"mdat", b"uuid"}


def _old_quicktime(head: bytes) -> bool:
    if head[4:8] == b"moov":
        return head[12:16] in (b"mvhd", b"cmov")
    if head[4:8] not in _QUICKTIME_LEADING:
        return False
    size = int.from_bytes(head[:4], "big")
    return 8 <= size <= len(head) - 8 and head[size + 4 : size + 8] in _QUICKTIME_ATOMS


# ASF (WMV, what Windows Movie Maker and many phones of a decade ago export): its header object's GUID.
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _ts_packets(head: bytes, size: int, offset: int) -> bool:
    """Two MPEG-TS sync bytes ``size`` apart from ``offset``: one stray "G" is no video."""
    return len(head) > offset + size and head[offset] == head[offset + size] == 0x47


def sniff_video_type(head: bytes) -> str | None:
    """The container type of a file from its first bytes, or None when it is no video we take.

    Every container the worker opens (media_worker.probe.SOURCE_FORMATS) and only those: MP4/MOV
    (an ``ftyp`` box, or for old QuickTime files one of the atoms that may come first),
    Matroska/WebM (EBML), AVI (RIFF…AVI), MPEG-TS in 188-byte packets and in
    the 192-byte ones of AVCHD camcorders (.MTS/.M2TS), ASF (.WMV), MPEG program streams (.MPG,
    DVD .VOB) and FLV. The worker probes the whole file after this.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if _old_quicktime(head):
        return "video/quicktime"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/x-matroska"
    if head[:4] == b"RIFF" and head[8:11] == b"AVI":
        return "video/x-msvideo"
    if _ts_packets(head, 188, 0) or _ts_packets(head, 192, 4):
        return "video/mp2t"
    if head[:16] == _ASF_HEADER:
        return "video/x-ms-asf"
    if head[:4] == b"\x00\x00\x01\xba":
        return "video/mpeg"
    if head[:4] == b"FLV\x01":
        return "video/x-flv"
    return None


SNIFF_BYTES = 512


# --------------------------------------------------------------------------------------------
# Sessions.


def _parse_int(value: Any) -> int | None:
    return parse_int(value, minimum=-SQL_INT_MAX, maximum=SQL_INT_MAX)


def part_count(session: UploadSession) -> int:
    return max(1, math.ceil(session.size / session.part_size))


def part_targets(session: UploadSession) -> list[dict[str, Any]]:
    """Where each part goes: presigned bucket URLs (S3) or the app's part URL (local)."""
    storage = get_storage()
    targets = []
    for number in range(1, part_count(session) + 1):
        if storage.direct_upload:
            url = storage.presign_part(
                session.storage_key, session.storage_upload_id, number, expires=_presign_seconds()
            )
        else:
            url = url_for("api.put_upload_part", upload_id=session.id, number=number)
        targets.append({"number": number, "url": url, "method": "PUT"})
    return targets


def abandon_after() -> timedelta:
    """How long an upload session may stay unfinished (UPLOAD_ABANDON_SECONDS)."""
    return timedelta(seconds=int(current_app.config["UPLOAD_ABANDON_SECONDS"]))


def _presign_seconds() -> int:
    return min(int(abandon_after().total_seconds()), MAX_PRESIGN_SECONDS)


def create_upload(work_id: int, actor: Any, *, filename: Any, size: Any, content_type: Any) -> UploadSession:
    """Open an upload of a film's or video's source file for `actor` (a member of its collective)."""
    work = get_work(work_id)
    if not can_view_work(actor, work) or not can_edit_work(actor, work):
        raise NotFound(_("您要找的作品不存在或已被删除。"))
    if work.kind not in (WorkKind.FILM, WorkKind.VIDEO):
        raise Conflict(_("只有微电影和微视频可以上传视频文件。"), code="not_a_video_work")
    _ensure_uploadable(work)
    ensure_submission_open(work.campaign)

    filename = str(filename or "").strip()[:255]
    content_type = str(content_type or "").strip().lower()
    size = _parse_int(size)
    if not filename:
        raise ValidationFailed(_("请提供文件名。"), fields={"filename": _("必填")})
    # No real video type is longer than its column (100); a longer one is not a video either.
    if not content_type.startswith("video/") or len(content_type) > 100:
        message = _("只能上传视频文件（如 MP4、MOV、MKV、WebM）。")
        raise ValidationFailed(message, code="unsupported_type", fields={"content_type": message})
    if size is None or size <= 0:
        message = _("文件是空的（0 字节），请选择要上传的视频文件。")
        raise ValidationFailed(message, code="empty_file", fields={"size": message})
    limit = max_bytes(work.kind)
    if size > limit:
        raise ServiceError(
            _("文件太大：%(kind)s最大 %(limit)s。", kind=_kind_label(work.kind), limit=human_size(limit)),
            code="file_too_large",
            status=413,
        )
    part_size = int(current_app.config["UPLOAD_PART_SIZE"])
    if math.ceil(size / part_size) > MAX_PART_NUMBER:
        raise ServiceError(_("文件太大，无法分片上传。"), code="file_too_large", status=413)

    # A completion of the earlier upload may be committing right now: the work's row decides
    # which of the two goes first, and the status is checked again once it is ours.
    _lock_work(work.id)
    try:
        _ensure_uploadable(work)
    except Conflict:
        db.session.rollback()
        raise
    _abort_open_sessions(work)
    storage = get_storage()
    token = secrets.token_urlsafe(24)
    key = source_key(work.id, key_token())
    storage_upload_id = storage.create_multipart(key, content_type)
    now = utcnow()
    session = UploadSession(
        id=token,
        work_id=work.id,
        user_id=actor.id,
        storage_key=key,
        storage_upload_id=storage_upload_id,
        filename=filename,
        size=size,
        content_type=content_type,
        part_size=part_size,
        status=UploadStatus.OPEN,
        created_at=now,
        expires_at=now + abandon_after(),
    )
    db.session.add(session)
    work.status = WorkStatus.UPLOADING
    db.session.commit()
    log.info("upload %s opened for work %s (%d bytes, %d parts)", token, work.id, size, part_count(session))
    return session


def _ensure_uploadable(work: Work) -> None:
    if work.status not in UPLOADABLE_STATUSES:
        raise Conflict(
            _("作品处于“%(status)s”状态，不能再上传视频。", status=status_label(work.status)),
            code="not_uploadable",
        )


def _lock_work(work_id: int) -> None:
    """Hold the work's row to the commit (and reload it): opening and completing its uploads
    take it, so they happen one at a time per work."""
    lock(sa.select(Work).where(Work.id == work_id))


def _kind_label(kind: WorkKind) -> str:
    return _("微电影") if kind == WorkKind.FILM else _("微视频")


def _abort_open_sessions(work: Work) -> None:
    """A new upload replaces any earlier unfinished one of the same work."""
    storage = get_storage()
    for old in db.session.scalars(
        sa.select(UploadSession).where(
            UploadSession.work_id == work.id, UploadSession.status == UploadStatus.OPEN
        )
    ):
        try:
            storage.abort_multipart(old.storage_key, old.storage_upload_id)
        except Exception:  # an orphaned multipart upload only costs space until it expires
            log.warning("could not abort upload %s", old.id, exc_info=True)
        old.status = UploadStatus.ABORTED


def get_upload_session(upload_id: str, actor: Any) -> UploadSession:
    """The session if `actor` may use it; 404 for anyone else's, as for a missing one."""
    session = db.session.get(UploadSession, str(upload_id)) if upload_id else None
    if session is None or not can_edit_work(actor, session.work):
        raise NotFound(_("上传任务不存在或已失效，请重新选择文件上传。"), code="no_such_upload")
    return session


def _ensure_open(session: UploadSession) -> None:
    if session.status != UploadStatus.OPEN:
        raise Conflict(_("这次上传已经结束，请重新选择文件上传。"), code="upload_closed")
    if session.expires_at <= utcnow():
        raise Conflict(_("上传任务已过期，请重新选择文件上传。"), code="upload_expired")


def _multipart_error(exc: MultipartError) -> ServiceError:
    messages = {
        "no_such_upload": _("上传任务不存在或已失效，请重新选择文件上传。"),
        "invalid_part": _("有分片没有上传成功，请重新上传缺少的分片。"),
        "part_too_small": _("分片大小不正确，请重新上传。"),
        "invalid_part_number": _("分片编号无效。"),
        "part_too_large": _("分片超过了允许的大小。"),
        "no_parts": _("没有可以合并的分片。"),
    }
    status = 413 if exc.code == "part_too_large" else 400
    return ServiceError(messages.get(exc.code, _("上传失败，请重试。")), code=exc.code, status=status)


def _storage_full(exc: OSError) -> ServiceError | None:
    """The refusal for a full disk (507: the client may resume once space is freed), else None."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    log.error("media storage is full: %s", exc)
    return ServiceError(
        _("存储空间不足，暂时无法保存上传的内容，请稍后继续上传。"), code="storage_full", status=507
    )


def put_part(session: UploadSession, number: Any, stream: BinaryIO) -> str:
    """Store part `number` (local storage); sending a part again replaces it. Returns its ETag."""
    _ensure_open(session)
    number = _parse_int(number)
    if number is None or not 1 <= number <= part_count(session):
        raise ServiceError(_("分片编号无效。"), code="invalid_part_number")
    try:
        return get_storage().write_part(
            session.storage_key, session.storage_upload_id, number, stream, max_size=session.part_size
        )
    except MultipartError as exc:
        raise _multipart_error(exc) from exc
    except OSError as exc:
        full = _storage_full(exc)
        if full is None:
            raise
        raise full from exc


def upload_state(session: UploadSession) -> dict[str, Any]:
    """What a resuming client needs: the parts that arrived and where every part goes."""
    received: list[dict[str, Any]] = []
    if session.status == UploadStatus.OPEN:
        try:
            received = [
                dict(part)
                for part in get_storage().list_parts(session.storage_key, session.storage_upload_id)
            ]
        except MultipartError:
            received = []
    return {
        "upload_id": session.id,
        "work_id": session.work_id,
        "status": str(session.status),
        "filename": session.filename,
        "size": session.size,
        "part_size": session.part_size,
        "received": received,
        "parts": part_targets(session) if session.status == UploadStatus.OPEN else [],
    }


def _wanted_parts(session: UploadSession, parts: Any) -> list[dict[str, Any]]:
    if not isinstance(parts, list) or not parts:
        raise ServiceError(_("请列出已上传的分片。"), code="no_parts")
    wanted: dict[int, str] = {}
    for item in parts:
        number = _parse_int(item.get("number")) if isinstance(item, Mapping) else None
        etag = item.get("etag") if isinstance(item, Mapping) else None
        if number is None or not isinstance(etag, str) or not etag:
            raise ServiceError(_("分片列表格式不正确：每项需要 number 和 etag。"), code="invalid_parts")
        wanted[number] = etag
    expected = set(range(1, part_count(session) + 1))
    missing = sorted(expected - set(wanted))
    if missing:
        raise ServiceError(
            _("还有分片没有上传：第 %(numbers)s 片。", numbers="、".join(map(str, missing[:20]))),
            code="missing_parts",
        )
    if set(wanted) - expected:
        raise ServiceError(_("分片编号无效。"), code="invalid_part_number")
    return [{"number": n, "etag": etag} for n, etag in sorted(wanted.items())]


def complete_upload(session: UploadSession, actor: Any, parts: Any) -> Work:
    """Assemble the parts, check the bytes are a video, and hand the source to the worker."""
    _lock_for_completion(session)
    work = session.work
    if session.status == UploadStatus.COMPLETED and work.status != WorkStatus.UPLOADING:
        return work  # a repeated completion (a retry after a lost answer) changes nothing
    _ensure_open(session)
    wanted = _wanted_parts(session, parts)
    storage = get_storage()
    try:
        storage.complete_multipart(session.storage_key, session.storage_upload_id, wanted)
    except MultipartError as exc:
        raise _multipart_error(exc) from exc
    except OSError as exc:
        full = _storage_full(exc)
        if full is None:
            raise
        raise full from exc

    actual = storage.size(session.storage_key)
    mime = sniff_video_type(storage.read_range(session.storage_key, 0, SNIFF_BYTES))
    problem: ServiceError | None = None
    if actual != session.size:
        problem = ServiceError(
            _("收到的文件大小与声明的不一致，请重新上传。"), code="size_mismatch", status=400
        )
    elif mime is None:
        problem = ValidationFailed(
            _(
                "文件内容不是可识别的视频格式（支持 MP4、MOV、MKV、WebM、AVI、TS/MTS、WMV、MPG、FLV），"
                "请检查后重新上传。"
            ),
            code="unsupported_format",
        )
    if problem is not None:
        session.status = UploadStatus.ABORTED
        work.status = _without_new_video(work)
        db.session.commit()
        delete_quietly([session.storage_key])
        raise problem

    _remove_previous_video(work)
    asset = MediaAsset(
        work_id=work.id,
        role=AssetRole.SOURCE,
        storage_key=session.storage_key,
        mime=mime,
        bytes=actual,
        status=AssetStatus.PENDING,
    )
    db.session.add(asset)
    session.status = UploadStatus.COMPLETED
    work.status = WorkStatus.PROCESSING
    db.session.commit()
    log.info("upload %s completed: asset %s of work %s", session.id, asset.id, work.id)
    try:
        enqueue_transcode(asset.id, work.kind)
    except redis.RedisError:
        # The work is recorded as processing; requeue_stuck_works() enqueues it once Redis is back.
        log.error("could not enqueue the transcode of asset %s", asset.id, exc_info=True)
    return work


def _lock_for_completion(session: UploadSession) -> None:
    """Completions of one work's uploads run one at a time, whichever web process takes them.

    A client that retries a completion whose answer it lost, or a page and a script completing
    together, would otherwise both find the session open: both assemble the parts, both add a
    source asset and enqueue a job, and the second deletes the first one's asset under its
    worker. A new upload opened meanwhile would set the work back to uploading under a
    completed source. The work's row lock (SQLite: its writer lock) is held to the commit; the
    second completion then reads the session as completed and answers with the work, changing
    nothing, and a new upload finds the work processing.
    """
    _lock_work(session.work_id)
    db.session.refresh(session)


def expire_abandoned_uploads(now: datetime | None = None) -> list[str]:
    """Close the uploads left open past their ``expires_at`` (a scheduled job, app.schedule).

    A session expires UPLOAD_ABANDON_SECONDS after it was opened. Its parts are dropped from
    storage (local part files, or the bucket's multipart upload, which S3 bills until aborted)
    and a work still ``uploading`` goes back to ``draft``, as after a refused file, so its page
    stops saying an upload is under way. Then multipart uploads that no open session
    knows (a session whose commit failed after the store opened its upload; parts a
    crash left) are aborted too, UPLOAD_ABANDON_SECONDS after a run first finds them. Both are
    counted in the metrics. Returns the session ids.
    """
    now = now or utcnow()
    expired = db.session.scalars(
        sa.select(UploadSession.id)
        .where(UploadSession.status == UploadStatus.OPEN, UploadSession.expires_at <= now)
        .order_by(UploadSession.expires_at)
    ).all()
    db.session.rollback()
    closed: list[str] = []
    storage = get_storage()
    for upload_id in expired:
        session = db.session.get(UploadSession, upload_id)
        if _close_unfinished(session, storage):
            closed.append(upload_id)
            log.info("upload %s of work %s expired unfinished; closed", upload_id, session.work_id)
    record_cleanup("uploads_aborted", len(closed))
    record_cleanup("parts_orphaned", _abort_orphaned_multiparts(now))
    return closed


def cancel_upload(session: UploadSession) -> None:
    """The uploader gives up (a wrong file, no time): the parts go and the work is free again,
    as a day later the scheduled clean-up would have made it. Cancelling twice changes nothing;
    a completed upload cannot be cancelled (its video is being processed)."""
    if not _close_unfinished(session, get_storage()) and session.status == UploadStatus.COMPLETED:
        raise Conflict(_("这次上传已经完成，视频正在处理，不能取消。"), code="upload_completed")
    log.info("upload %s of work %s cancelled", session.id, session.work_id)


def cancel_uploads_of(work: Work) -> int:
    """Cancel every unfinished upload of ``work`` (its page's 取消上传, whichever tab began it)."""
    storage = get_storage()
    sessions = db.session.scalars(
        sa.select(UploadSession).where(
            UploadSession.work_id == work.id, UploadSession.status == UploadStatus.OPEN
        )
    ).all()
    return sum(_close_unfinished(session, storage) for session in sessions)


def _close_unfinished(session: UploadSession, storage: Any) -> bool:
    """Abort ``session`` if it is still open, and give its work back the status it had before
    (``_without_new_video``) unless another upload of it is open. False when it was not open."""
    # The work's row lock orders this with a completion or a new upload of the same work.
    _lock_work(session.work_id)
    db.session.refresh(session)
    if session.status != UploadStatus.OPEN:
        db.session.rollback()
        return False
    session.status = UploadStatus.ABORTED
    others_open = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(UploadSession)
        .where(
            UploadSession.work_id == session.work_id,
            UploadSession.status == UploadStatus.OPEN,
            UploadSession.id != session.id,
        )
    )
    if session.work.status == WorkStatus.UPLOADING and not others_open:
        session.work.status = _without_new_video(session.work)
    db.session.commit()
    try:
        storage.abort_multipart(session.storage_key, session.storage_upload_id)
    except Exception:  # an orphaned multipart upload only costs space until it expires
        log.warning("could not abort upload %s", session.id, exc_info=True)
    return True


def _without_new_video(work: Work) -> WorkStatus:
    """Where a work goes when an upload ends without a new video (refused, cancelled, abandoned):
    what it was before the upload, read from what it holds. With its video: back to its
    rejection while that is unanswered (it may go back to review with that video), else a
    draft. With a source the worker failed on: failed, its reason shown again. Else a draft."""
    if work.video_ready:
        return WorkStatus.REJECTED if work.reject_reason else WorkStatus.DRAFT
    source = source_asset(work)
    if source is not None and source.status == AssetStatus.FAILED:
        return WorkStatus.FAILED
    return WorkStatus.DRAFT


def _abort_orphaned_multiparts(now: datetime) -> int:
    """Abort the store's multipart uploads that no open session has held for UPLOAD_ABANDON_SECONDS.

    An upload is an orphan when no open session names it (the session's commit failed after the
    store opened it, or a crash left it). The store's own start times are not trusted (moto and
    some S3-compatible stores report made-up ones), and an upload whose session is committing
    right now has none yet: so an orphan is first noted in Redis, and aborted by a run at least
    UPLOAD_ABANDON_SECONDS after the run that first saw it. Returns how many were aborted.
    """
    storage = get_storage()
    try:
        listed = storage.list_multiparts()
    except Exception:  # the store is down: the next run looks again
        log.warning("could not list the store's multipart uploads", exc_info=True)
        return 0
    open_ids = set(
        db.session.scalars(
            sa.select(UploadSession.storage_upload_id).where(UploadSession.status == UploadStatus.OPEN)
        )
    )
    db.session.rollback()
    orphans = {upload_id: key for key, upload_id in listed if upload_id not in open_ids}
    try:
        return _abort_noted(orphans, now)
    except redis.RedisError as exc:  # without the notes nothing is known to be old: next run
        log.warning("orphaned uploads not looked at: %s", exc)
        return 0


def _abort_noted(orphans: dict[str, str], now: datetime) -> int:
    storage = get_storage()
    client = redis_client.client
    noted_key = orphan_uploads_key()
    noted = {k.decode(): float(v) for k, v in client.hgetall(noted_key).items()}
    gone = [upload_id for upload_id in noted if upload_id not in orphans]
    if gone:
        client.hdel(noted_key, *gone)
    new = {upload_id: now.timestamp() for upload_id in orphans if upload_id not in noted}
    if new:
        client.hset(noted_key, mapping=new)
    cutoff = (now - abandon_after()).timestamp()
    aborted = 0
    for upload_id, first_seen in noted.items():
        if upload_id not in orphans or first_seen > cutoff:
            continue
        try:
            storage.abort_multipart(orphans[upload_id], upload_id)
        except Exception:
            log.warning("could not abort the orphaned upload %s", upload_id, exc_info=True)
            continue
        client.hdel(noted_key, upload_id)
        aborted += 1
        log.info("aborted the orphaned multipart upload %s of %s", upload_id, orphans[upload_id])
    return aborted


def _remove_previous_video(work: Work) -> None:
    """A new source replaces an earlier failed attempt: its rows and stored files go."""
    old = [asset for asset in work.assets if asset.role in VIDEO_ROLES]
    keys = [asset.storage_key for asset in old if asset.role == AssetRole.SOURCE]
    prefixes = [
        output_prefix(work.id, asset.id, asset.storage_key) for asset in old if asset.role == AssetRole.SOURCE
    ]
    for asset in old:
        work.assets.remove(asset)
    delete_quietly(keys)
    storage = get_storage()
    for prefix in prefixes:
        try:
            storage.delete_prefix(prefix)
        except Exception:
            log.warning("could not delete %s", prefix, exc_info=True)
