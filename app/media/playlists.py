"""The HLS master playlist of a work with captions, served by the app with the subtitle group added.

The master playlist is written by the worker at transcode time (media_worker/hls.py); captions
come and go later, without a re-transcode. Rather than rewriting the stored file on every caption
change (two writers of one file, and a CDN holding the old one), the app serves the stored master
with its variant URIs made absolute and, per caption, an ``#EXT-X-MEDIA:TYPE=SUBTITLES`` entry whose
media playlist (also served here) lists the caption's WebVTT as its one segment. hls.js and
Safari's native HLS both read that group. A work without captions keeps the stored master's URL
(app/works/serialise.py chooses).

Both answers are small and computed from the work's rows and one storage read; a published work's
are cacheable for a minute, so a caption change is seen within a minute.
"""

from __future__ import annotations

import math
import posixpath

from flask import Response, abort, url_for
from flask_login import current_user

from app.media import bp
from app.models import AssetRole, AssetStatus, CaptionLang, MediaAsset, Work, WorkStatus
from app.storage import get_storage
from app.works.services import get_visible_work

MPEGURL = "application/vnd.apple.mpegurl"
GROUP = "subs"
PUBLIC_MAX_AGE = 60


def _hls_asset(work: Work) -> MediaAsset:
    for asset in work.assets:
        if asset.role == AssetRole.HLS and asset.status == AssetStatus.READY:
            return asset
    abort(404)


def _answer(work: Work, text: str) -> Response:
    response = Response(text, mimetype=MPEGURL)
    if work.status == WorkStatus.PUBLISHED:
        response.cache_control.public = True
        response.cache_control.max_age = PUBLIC_MAX_AGE
    else:
        response.cache_control.private = True
        response.cache_control.no_cache = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def master_with_subtitles(stored: str, base_key: str, work: Work) -> str:
    """The stored master's text with absolute variant URIs and the subtitle group of ``work``."""
    storage = get_storage()
    media = []
    for caption in work.captions:
        uri = url_for("media.subtitle_playlist", work_id=work.id, lang=caption.lang.value)
        default = "YES" if caption.lang == CaptionLang.ZH_CN else "NO"
        media.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{GROUP}",NAME="{caption.lang.label}",'
            f'LANGUAGE="{caption.lang.value}",DEFAULT={default},AUTOSELECT=YES,URI="{uri}"'
        )
    lines: list[str] = []
    for line in stored.splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            if media:
                lines += media
                media = []
            lines.append(f'{line},SUBTITLES="{GROUP}"' if work.captions else line)
        elif line and not line.startswith("#"):
            lines.append(storage.url(posixpath.normpath(posixpath.join(base_key, line))))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


@bp.get("/works/<int:work_id>/hls/master.m3u8")
def hls_master(work_id: int):
    work = get_visible_work(work_id, current_user)
    asset = _hls_asset(work)
    stored = get_storage().get(asset.storage_key).decode("utf-8")
    return _answer(work, master_with_subtitles(stored, posixpath.dirname(asset.storage_key), work))


@bp.get("/works/<int:work_id>/hls/subtitles/<lang>.m3u8")
def subtitle_playlist(work_id: int, lang: str):
    """One caption's media playlist: its WebVTT as the one segment spanning the whole video."""
    work = get_visible_work(work_id, current_user)
    caption = next((c for c in work.captions if c.lang.value == lang), None)
    if caption is None:
        abort(404)
    duration = _hls_asset(work).duration or 0.0
    text = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{max(1, math.ceil(duration))}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            f"#EXTINF:{duration:.3f},",
            get_storage().url(caption.storage_key),
            "#EXT-X-ENDLIST",
            "",
        ]
    )
    return _answer(work, text)
