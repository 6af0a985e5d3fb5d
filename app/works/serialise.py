"""A work as pages and the API v1 show it: its media URLs, its cover, its dictionary (DESIGN.md:
the field names are a contract).

The engagement numbers in the dictionary are given by the caller (app/engagement/work_lists.py
reads them in bulk); this module reads no counter.
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import url_for

from app.models import AssetRole, AssetStatus, Work
from app.storage import get_storage

_MP4_ROLES = {AssetRole.MP4_360: "360", AssetRole.MP4_720: "720", AssetRole.MP4_1080: "1080"}


class Counts(Protocol):
    """Likes, visible comments and views of a work (app.engagement.counters.WorkCounts)."""

    likes: int
    comments: int
    views: int


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
            # With captions, the master playlist comes from the app, which adds the subtitle
            # group to the stored one (app/media/playlists.py); without, the stored file itself.
            media["hls"] = (
                url_for("media.hls_master", work_id=work.id)
                if work.captions
                else storage.url(asset.storage_key)
            )
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


def work_captions(work: Work) -> list[dict[str, str]]:
    """The work's captions, one per language: what <track> and the HLS subtitle group offer."""
    storage = get_storage()
    return [
        {"lang": caption.lang.value, "label": caption.lang.label, "url": storage.url(caption.storage_key)}
        for caption in work.captions
    ]


def work_storyboard(work: Work) -> str | None:
    """The URL of the seek-preview WebVTT index (its cues point into the sprite), or None."""
    for asset in work.assets:
        if asset.role == AssetRole.STORYBOARD and asset.status == AssetStatus.READY:
            return get_storage().url(asset.storage_key)
    return None


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


def work_to_dict(work: Work, *, counts: Counts, liked: bool) -> dict[str, Any]:
    """The API v1 representation of a work."""
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
        "captions": work_captions(work),
        "storyboard": work_storyboard(work),
        "created_at": work.created_at.isoformat(),
        "published_at": work.published_at.isoformat() if work.published_at else None,
    }
