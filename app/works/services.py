"""Collectives, campaigns, works and micro-stories: the rules pages and API both go through.

Refusals are :class:`~app.errors.ServiceError` subclasses with a Chinese sentence; the pages flash
them and the API answers them in the contract's error shape.

Decisions worth knowing:

* A closed window (submission or voting) is **409 Conflict**: the request is well-formed and the
  person may do it, but not in the campaign's current state. 403 stays reserved for "you may not",
  so clients can tell "not now" from "not you".
* An unknown campaign named in a request body is **422** ``unknown_campaign`` (a bad field value).
* A work that is not visible to the viewer is **404**, never 403, so drafts do not leak.
* Provincial moderators see unpublished works of their own province only; national moderators
  and admins see all of them.
* Likes, comments and views come through :func:`engagement_counts`, the single function pages and
  the API read them from: Redis counters, with SQL as the fallback when Redis is down.
* The voting window is checked in one place, ``app.engagement.services.ensure_voting_open``
  (likes are what it gates); this module re-exports it for campaign pages and tests.
* ``sort=likes|hot`` read the Redis rankings (:func:`list_published_works` says how filters the
  rankings have no set for are applied).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import gettext as _
from flask_babel import to_user_timezone

from app.catalog import INDUSTRIES, PROVINCES, status_label
from app.engagement import services as engagement
from app.engagement.counters import Ranking, WorkCounts
from app.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed
from app.extensions import db
from app.field_limits import BODY_MAX, CHANNEL_MAX, PROMISE_MAX, SUMMARY_MAX, TITLE_MAX
from app.ids import ID_MAX, invalid_parameter, parse_id, parse_int, query_id
from app.models import (
    AssetRole,
    AssetStatus,
    Campaign,
    Collective,
    Level,
    MediaAsset,
    Role,
    Work,
    WorkKind,
    WorkStatus,
    utcnow,
)
from app.policy import can_edit_work, can_manage_collective, can_view_work, signed_in
from app.sql_locks import lock
from app.storage import delete_quietly, get_storage
from app.works.images import ProcessedImage, process_image
from app.works.markdown import render_markdown

log = logging.getLogger(__name__)

BADGE_SIDE = 512
PAGE_SIZE = 20
PAGE_SIZE_MAX = 50
SORTS = ("new", "likes", "hot")
EDITABLE_STATUSES = (WorkStatus.DRAFT, WorkStatus.REJECTED)
_MP4_ROLES = {AssetRole.MP4_360: "360", AssetRole.MP4_720: "720", AssetRole.MP4_1080: "1080"}


# --------------------------------------------------------------------------------------------
# Storage keys: every path this capability writes is built here.


def story_image_keys(work_id: int, ext: str) -> tuple[str, str]:
    """Keys of a new story image and its thumbnail; the random token makes URLs unguessable."""
    # 128 random bits: a draft's pictures must not be found by guessing (docs/security.md).
    token = secrets.token_urlsafe(16)
    return f"works/{work_id}/images/{token}.{ext}", f"works/{work_id}/images/{token}-thumb.{ext}"


def badge_key(collective_id: int, ext: str) -> str:
    return f"collectives/{collective_id}/badge-{secrets.token_hex(8)}.{ext}"


def _store_then_commit(files: list[tuple[str, bytes, str]]) -> None:
    """Write files, then commit the session; on any failure roll back and delete what was written.

    Nothing is left half-way: either the rows and the files exist, or neither does.
    """
    storage = get_storage()
    written: list[str] = []
    try:
        for key, data, mime in files:
            storage.put(key, data, mime)
            written.append(key)
        db.session.commit()
    except Exception:
        db.session.rollback()
        delete_quietly(written)
        raise


# --------------------------------------------------------------------------------------------
# Campaigns.


def _local(value: datetime) -> str:
    return to_user_timezone(value).strftime("%Y-%m-%d %H:%M")


def _in_window(opens: datetime, closes: datetime, now: datetime | None) -> bool:
    now = now or utcnow()
    return opens <= now < closes


def submission_is_open(campaign: Campaign, now: datetime | None = None) -> bool:
    return _in_window(campaign.submission_opens, campaign.submission_closes, now)


def ensure_submission_open(campaign: Campaign, now: datetime | None = None) -> None:
    """Refuse (409 ``submission_closed``) outside the campaign's submission window."""
    if not submission_is_open(campaign, now):
        raise ServiceError(
            _(
                "本次活动的作品征集时间为 %(opens)s 至 %(closes)s，现在不在征集期内。",
                opens=_local(campaign.submission_opens),
                closes=_local(campaign.submission_closes),
            ),
            code="submission_closed",
            status=409,
        )


# One window check and one message for voting (see app.engagement.services).
voting_is_open = engagement.voting_is_open
ensure_voting_open = engagement.ensure_voting_open


def get_campaign(campaign_id: Any) -> Campaign:
    """The campaign a request names, or 422 ``unknown_campaign``."""
    campaign_id = parse_id(campaign_id)
    campaign = db.session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        message = _("活动不存在。")
        raise ValidationFailed(message, code="unknown_campaign", fields={"campaign_id": message})
    return campaign


def list_campaigns() -> list[Campaign]:
    return list(db.session.scalars(sa.select(Campaign).order_by(Campaign.submission_opens.desc())))


def campaigns_open_for_submission(now: datetime | None = None) -> list[Campaign]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            sa.select(Campaign)
            .where(Campaign.submission_opens <= now, Campaign.submission_closes > now)
            .order_by(Campaign.submission_closes)
        )
    )


def create_campaign(
    title: str,
    *,
    submission_opens: datetime,
    submission_closes: datetime,
    voting_opens: datetime,
    voting_closes: datetime,
    description: str = "",
) -> Campaign:
    if not title.strip():
        raise ValidationFailed(_("请填写活动名称。"), fields={"title": _("必填")})
    if submission_opens >= submission_closes or voting_opens >= voting_closes:
        raise ValidationFailed(_("活动的开始时间必须早于结束时间。"))
    campaign = Campaign(
        title=title.strip(),
        description=description,
        submission_opens=submission_opens,
        submission_closes=submission_closes,
        voting_opens=voting_opens,
        voting_closes=voting_closes,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def campaign_to_dict(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "title": campaign.title,
        "submission_opens": campaign.submission_opens.isoformat(),
        "submission_closes": campaign.submission_closes.isoformat(),
        "voting_opens": campaign.voting_opens.isoformat(),
        "voting_closes": campaign.voting_closes.isoformat(),
    }


# --------------------------------------------------------------------------------------------
# Collectives.


def get_collective(collective_id: int) -> Collective:
    collective = db.session.get(Collective, collective_id)
    if collective is None:
        raise NotFound(_("该集体不存在。"))
    return collective


def create_collective(
    name: str,
    *,
    industry: str,
    province: str,
    level: Level | str = Level.PROVINCIAL,
    promise: str = "",
    supervision_channel: str = "",
    verified: bool = False,
) -> Collective:
    name = name.strip()
    errors: dict[str, str] = {}
    if not name or len(name) > 120:
        errors["name"] = _("集体名称为 1 至 120 个字。")
    if industry not in INDUSTRIES:
        errors["industry"] = _("请选择行业。")
    if province not in PROVINCES:
        errors["province"] = _("请选择省份。")
    try:
        level = Level(level)
    except ValueError:
        errors["level"] = _("请选择级别。")
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    if db.session.scalar(sa.select(Collective.id).where(Collective.name == name)) is not None:
        raise Conflict(_("名为“%(name)s”的集体已存在。", name=name), code="collective_exists")
    collective = Collective(
        name=name,
        industry=industry,
        province=province,
        level=level,
        promise=promise.strip(),
        supervision_channel=supervision_channel.strip(),
        verified=verified,
    )
    db.session.add(collective)
    db.session.commit()
    return collective


def update_collective_profile(
    collective: Collective,
    actor: Any,
    *,
    promise: str,
    supervision_channel: str,
    badge: BinaryIO | bytes | None = None,
) -> Collective:
    """Members (and admins) edit 亮标识 (badge), 亮承诺 (promise) and the supervision channel."""
    if not can_manage_collective(actor, collective):
        raise Forbidden(_("只有本集体的成员可以修改集体资料。"))
    promise = (promise or "").strip()
    supervision_channel = (supervision_channel or "").strip()
    errors: dict[str, str] = {}
    if len(promise) > PROMISE_MAX:
        errors["promise"] = _("承诺最多 %(n)s 个字。", n=PROMISE_MAX)
    if len(supervision_channel) > CHANNEL_MAX:
        errors["supervision_channel"] = _("监督渠道最多 %(n)s 个字。", n=CHANNEL_MAX)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)

    files: list[tuple[str, bytes, str]] = []
    old_badge = collective.badge_key
    if badge is not None:
        image = _process(badge, max_side=BADGE_SIDE)
        key = badge_key(collective.id, image.ext)
        files.append((key, image.data, image.mime))
        collective.badge_key = key
    collective.promise = promise
    collective.supervision_channel = supervision_channel
    _store_then_commit(files)
    if files and old_badge:
        delete_quietly([old_badge])
    return collective


def set_collective_badge(collective: Collective, actor: Any, badge: BinaryIO | bytes) -> Collective:
    return update_collective_profile(
        collective,
        actor,
        promise=collective.promise,
        supervision_channel=collective.supervision_channel,
        badge=badge,
    )


def media_url(key: str) -> str:
    """The URL a browser fetches a stored file from (local route, CDN or presigned S3)."""
    return get_storage().url(key)


def badge_url(collective: Collective) -> str | None:
    return media_url(collective.badge_key) if collective.badge_key else None


def collective_to_dict(collective: Collective) -> dict[str, Any]:
    return {
        "id": collective.id,
        "name": collective.name,
        "industry": collective.industry,
        "province": collective.province,
        "level": str(collective.level),
        "badge": badge_url(collective),
        "promise": collective.promise,
        "supervision_channel": collective.supervision_channel,
    }


def collective_works(collective: Collective, viewer: Any, limit: int = 60) -> list[Work]:
    """Published works of a collective; its own members also see their unpublished ones."""
    query = _work_query().where(Work.collective_id == collective.id)
    if not can_manage_collective(viewer, collective):
        query = query.where(Work.status == WorkStatus.PUBLISHED)
    query = query.order_by(Work.published_at.desc().nulls_last(), Work.id.desc()).limit(limit)
    return list(db.session.scalars(query))


# --------------------------------------------------------------------------------------------
# Works and micro-stories.


def _process(stream: BinaryIO | bytes, **kwargs: Any) -> ProcessedImage:
    config = current_app.config
    return process_image(
        stream, max_bytes=config["MAX_IMAGE_BYTES"], max_pixels=config["MAX_IMAGE_PIXELS"], **kwargs
    )


def _work_query() -> sa.Select:
    return sa.select(Work).options(so.joinedload(Work.collective), so.selectinload(Work.assets))


def _work_by_id(media: bool) -> sa.Select:
    query = (
        _work_query()
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
    image = _process(stream)  # the slow part, done before any lock is taken

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
    _store_then_commit([(key, image.data, image.mime), (thumb_key, image.thumb, image.mime)])
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


def submit_for_review(work: Work, actor: Any) -> Work:
    """draft/rejected → pending_review; needs a title and a body and an open window."""
    _ensure_writable(work, actor)
    if work.kind != WorkKind.STORY:
        raise ValidationFailed(_("微电影和微视频在视频上传并处理完成后自动提交审核。"))
    _lock_writable(work, actor)  # what is checked below is what goes to review
    errors: dict[str, str] = {}
    if not work.title.strip():
        errors["title"] = _("请填写标题。")
    if not work.body.strip():
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
    query = _work_query().where(Work.collective_id == collective_id).order_by(Work.created_at.desc())
    return list(db.session.scalars(query))


# --------------------------------------------------------------------------------------------
# Listing published works.


@dataclass(frozen=True)
class WorkFilters:
    kind: WorkKind | None = None
    industry: str | None = None
    province: str | None = None
    campaign_id: int | None = None


def parse_work_filters(args: Mapping[str, Any]) -> tuple[WorkFilters, str]:
    """Filters and sort from query parameters; unknown values are 400 ``invalid_parameter``."""
    kind = args.get("kind") or None
    if kind is not None and kind not in {k.value for k in WorkKind}:
        raise invalid_parameter("kind", kind)
    industry = args.get("industry") or None
    if industry is not None and industry not in INDUSTRIES:
        raise invalid_parameter("industry", industry)
    province = args.get("province") or None
    if province is not None and province not in PROVINCES:
        raise invalid_parameter("province", province)
    campaign_id = query_id("campaign_id", args)
    sort = args.get("sort") or "new"
    if sort not in SORTS:
        raise invalid_parameter("sort", sort)
    filters = WorkFilters(
        kind=WorkKind(kind) if kind else None, industry=industry, province=province, campaign_id=campaign_id
    )
    return filters, sort


def _invalid_cursor() -> ServiceError:
    return ServiceError(_("分页游标无效。"), code="invalid_cursor")


def apply_work_filters(
    query: sa.Select, filters: WorkFilters, *, collective_joined: bool = False
) -> sa.Select:
    """``query`` (of works) narrowed to the filters: the one place every listing, the wall, the
    search and the review queues apply kind, campaign, industry and province. The collective is
    joined only when a filter needs it, unless the query has joined it already."""
    if filters.kind:
        query = query.where(Work.kind == filters.kind)
    if filters.campaign_id:
        query = query.where(Work.campaign_id == filters.campaign_id)
    if filters.industry or filters.province:
        if not collective_joined:
            query = query.join(Collective, Work.collective_id == Collective.id)
        if filters.industry:
            query = query.where(Collective.industry == filters.industry)
        if filters.province:
            query = query.where(Collective.province == filters.province)
    return query


def _published_works(filters: WorkFilters) -> sa.Select:
    query = _work_query().where(Work.status == WorkStatus.PUBLISHED, Work.published_at.is_not(None))
    return apply_work_filters(query, filters)


def ranking_for(filters: WorkFilters, sort: str) -> Ranking:
    """The Redis ranking a ``likes``/``hot`` listing reads: the one for its filter when it has
    one, else the narrowest that holds every match (a province, then an industry, then a
    campaign, else the overall one), post-filtered by :func:`list_published_works`."""
    if filters.province:
        return Ranking.of(sort, province=filters.province)
    if filters.industry:
        return Ranking.of(sort, industry=filters.industry)
    if filters.campaign_id:
        return Ranking.of(sort, campaign_id=filters.campaign_id)
    return Ranking.of(sort)


def list_published_works(
    filters: WorkFilters | None = None,
    *,
    sort: str = "new",
    after: Mapping[str, Any] | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Work], dict[str, Any] | None]:
    """One page of published works and the position after it (None on the last page).

    ``new`` orders by (published_at, id) descending in SQL, a stable keyset.

    ``likes`` and ``hot`` read the Redis rankings (SQL computes the same order when Redis is
    away). A ranking exists per campaign, industry and province, so a request with one of those
    filters reads its own ranking. With several filters, or ``kind`` (no ranking per kind), it
    reads the narrowest ranking that holds every match and keeps the works matching all the
    filters (one SQL query per batch, at most ``engagement.SCAN_LIMIT`` ranked works per page):
    the order is still the live ranking's and no like is ever counted in SQL to sort. A page may
    then be shorter than ``limit`` with more to come; only a missing next position means the end.
    Counts move between two pages, so a work may appear twice or be skipped; the cursor (the last
    work's score and id) never loops.
    """
    filters = filters or WorkFilters()
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    query = _published_works(filters)
    if after is not None and after.get("s") != sort:
        raise _invalid_cursor()
    if sort != "new":
        return _ranked_works(query, ranking_for(filters, sort), after, limit)
    if after is not None:
        try:
            at = datetime.fromisoformat(after["t"])
            last_id = parse_int(after["i"], minimum=-ID_MAX, maximum=ID_MAX)
        except (KeyError, TypeError, ValueError):
            raise _invalid_cursor() from None
        if last_id is None:
            raise _invalid_cursor()
        query = query.where(
            sa.or_(Work.published_at < at, sa.and_(Work.published_at == at, Work.id < last_id))
        )
    query = query.order_by(Work.published_at.desc(), Work.id.desc())
    rows = list(db.session.scalars(query.limit(limit + 1)))
    works = rows[:limit]
    if len(rows) <= limit:
        return works, None
    last = works[-1]
    return works, {"s": sort, "t": last.published_at.isoformat(), "i": last.id}


def _ranked_works(
    query: sa.Select, ranking: Ranking, after: Mapping[str, Any] | None, limit: int
) -> tuple[list[Work], dict[str, Any] | None]:
    cursor = None
    if after is not None:
        cursor = after.get("r")
        if not isinstance(cursor, str):
            raise _invalid_cursor()
    loaded: dict[int, Work] = {}

    def keep(work_ids: list[int]) -> Container[int]:
        # Also drops a work unpublished since it was ranked (reconcile removes it from Redis).
        if work_ids:
            loaded.update((work.id, work) for work in db.session.scalars(query.where(Work.id.in_(work_ids))))
        return loaded

    page = engagement.top_works(ranking, cursor=cursor, limit=limit, keep=keep)
    works = [loaded[work_id] for work_id in page.work_ids]
    return works, ({"s": ranking.metric, "r": page.next_cursor} if page.next_cursor else None)


# --------------------------------------------------------------------------------------------
# Engagement numbers and serialisation.

# The counts pages and the API show: likes, visible comments, views.
EngagementCounts = WorkCounts


def engagement_counts(work_ids: Iterable[int]) -> dict[int, EngagementCounts]:
    """Likes, visible comments and views per work: the one place pages and the API get them.

    Redis counters (exact, see docs/counters.md), or SQL when Redis is down (views then count
    the flushed ones only).
    """
    return engagement.counts_for(work_ids)


def liked_work_ids(viewer: Any, work_ids: Iterable[int]) -> set[int]:
    """Which of these works the viewer likes (SQL, the truth)."""
    return engagement.liked_by(viewer, work_ids)


def work_media(work: Work) -> dict[str, Any]:
    """URLs of a work's ready media: poster, HLS master playlist, MP4 renditions, story images."""
    storage = get_storage()
    media: dict[str, Any] = {"poster": None, "hls": None, "mp4": {}, "images": []}
    for asset in work.assets:
        if asset.status != AssetStatus.READY:
            continue
        if asset.role == AssetRole.POSTER:
            media["poster"] = storage.url(asset.storage_key)
        elif asset.role == AssetRole.HLS:
            media["hls"] = storage.url(asset.storage_key)
        elif asset.role in _MP4_ROLES:
            media["mp4"][_MP4_ROLES[asset.role]] = storage.url(asset.storage_key)
        elif asset.role == AssetRole.IMAGE:
            media["images"].append(
                {
                    "url": storage.url(asset.storage_key),
                    "thumbnail": storage.url(asset.thumbnail_key or asset.storage_key),
                    "width": asset.width,
                    "height": asset.height,
                }
            )
    return media


def work_cover(work: Work) -> str | None:
    """The picture a card shows: the poster, else the first story image's thumbnail."""
    storage = get_storage()
    images = []
    for asset in work.assets:
        if asset.status != AssetStatus.READY:
            continue
        if asset.role == AssetRole.POSTER:
            return storage.url(asset.storage_key)
        if asset.role == AssetRole.IMAGE:
            images.append(asset)
    if images:
        first = images[0]
        return storage.url(first.thumbnail_key or first.storage_key)
    return None


def work_to_dict(
    work: Work,
    viewer: Any,
    *,
    counts: EngagementCounts | None = None,
    liked: bool | None = None,
) -> dict[str, Any]:
    """The API v1 representation of a work (DESIGN.md, field names are a contract)."""
    if counts is None:
        counts = engagement_counts([work.id]).get(work.id, EngagementCounts())
    if liked is None:
        liked = work.id in liked_work_ids(viewer, [work.id])
    collective = work.collective
    return {
        "id": work.id,
        "kind": str(work.kind),
        "title": work.title,
        "summary": work.summary,
        "body_html": work.body_html,
        "status": str(work.status),
        "collective": {
            "id": collective.id,
            "name": collective.name,
            "industry": collective.industry,
            "province": collective.province,
        },
        "campaign_id": work.campaign_id,
        "likes": counts.likes,
        "comments": counts.comments,
        "views": counts.views,
        "liked_by_me": liked,
        "media": work_media(work),
        "created_at": work.created_at.isoformat(),
        "published_at": work.published_at.isoformat() if work.published_at else None,
    }


def works_to_dicts(works: list[Work], viewer: Any) -> list[dict[str, Any]]:
    """Serialise a page of works with two bulk queries instead of two per work."""
    ids = [work.id for work in works]
    counts = engagement_counts(ids)
    liked = liked_work_ids(viewer, ids)
    return [
        work_to_dict(work, viewer, counts=counts.get(work.id, EngagementCounts()), liked=work.id in liked)
        for work in works
    ]
