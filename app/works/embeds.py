"""Embedding a public work on partner sites: the player's address, its iframe code and oEmbed 1.0.

Provincial and industry media carry the best works on their own pages (issue 15). They paste
the iframe code from a work's share panel, or their CMS asks ``/oembed`` for it (oEmbed 1.0,
https://oembed.com). Decisions (docs/embeds.md):

* Only published works are embeddable; anything else is 404, as on every public page.
* Every URL in an answer is absolute on ``PUBLIC_BASE_URL`` (app/public_urls.py): a partner's
  page must not point at whatever host the request came through.
* Sizes: films and videos keep their picture's aspect ratio (portrait stays portrait), at most
  :data:`DEFAULT_BOX` unless the consumer asks for less; stories are a 4:3 card. The answer's
  width and height never exceed ``maxwidth``/``maxheight``.
* The thumbnail is the poster (or a story's first picture); as oEmbed requires, it is left out
  when it is larger than the maxima asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from app.errors import NotFound, ServiceError
from app.ids import SQL_INT_MAX, parse_int
from app.models import AssetRole, AssetStatus, Work, WorkKind
from app.public_urls import absolute_url, public_base_url, public_url_for
from app.storage import get_storage
from app.works.sharing import collective_url, get_public_work, work_url

# Width x height a player takes when the consumer sets no maximum (a landscape film 640x360).
DEFAULT_BOX = (640, 640)
STORY_CARD = (480, 360)
# Below this a player's controls no longer fit: smaller maxima are refused, not honoured badly.
MIN_SIDE = 32
MAX_SIDE = 4096
# How long a consumer may keep an answer (oEmbed's cache_age): titles and posters rarely change,
# and a take-down is answered 404 by the player itself at once.
CACHE_AGE = 3600
# The work pages an oEmbed URL may name: the page, its short link, or the player itself.
EMBEDDABLE_ENDPOINTS = frozenset({"works.work_detail", "works.work_short_link", "embeds.embed_work"})


def embed_url(work: Work) -> str:
    return public_url_for("embeds.embed_work", work_id=work.id)


def oembed_url(work: Work) -> str:
    """The discovery link of a work's page (the page's own URL, JSON)."""
    return public_url_for("embeds.oembed", url=work_url(work), format="json")


@dataclass(frozen=True)
class Size:
    width: int
    height: int


def natural_size(work: Work) -> Size:
    """The size the player would like: its largest rendition's picture (a story: its card)."""
    if work.kind == WorkKind.STORY:
        return Size(*STORY_CARD)
    best: tuple[int, int] | None = None
    for asset in work.assets:
        if asset.status != AssetStatus.READY or not asset.width or not asset.height:
            continue
        if asset.role in (AssetRole.MP4_360, AssetRole.MP4_720, AssetRole.MP4_1080, AssetRole.SOURCE):
            if best is None or asset.width * asset.height > best[0] * best[1]:
                best = (asset.width, asset.height)
    return Size(*(best or (16, 9)))


def fit(
    natural: Size, maxwidth: int | None, maxheight: int | None, box: tuple[int, int] = DEFAULT_BOX
) -> Size:
    """`natural` scaled to fill `box` within the maxima, keeping its aspect ratio.

    Rounded down, so neither side ever exceeds its maximum; the ratio is kept to within a pixel.
    """
    box_w = min(box[0], maxwidth or box[0])
    box_h = min(box[1], maxheight or box[1])
    if natural.width * box_h >= natural.height * box_w:  # the width binds
        width = box_w
        height = max(1, natural.height * box_w // natural.width)
    else:
        height = box_h
        width = max(1, natural.width * box_h // natural.height)
    return Size(width, height)


def embed_size(work: Work, maxwidth: int | None = None, maxheight: int | None = None) -> Size:
    """The player's size (a story: its card's, never larger than STORY_CARD)."""
    if work.kind == WorkKind.STORY:
        return fit(Size(*STORY_CARD), maxwidth, maxheight, box=STORY_CARD)
    return fit(natural_size(work), maxwidth, maxheight)


def iframe_code(work: Work, size: Size | None = None) -> Markup:
    """The ``<iframe>`` a partner pastes; every value escaped."""
    size = size or embed_size(work)
    return Markup(
        '<iframe src="{src}" width="{w}" height="{h}" title="{title}" frameborder="0" '
        'allow="fullscreen; picture-in-picture" allowfullscreen loading="lazy"></iframe>'
    ).format(src=embed_url(work), w=size.width, h=size.height, title=work.title)


def _thumbnail(work: Work) -> tuple[str, int, int] | None:
    storage = get_storage()
    images: list[Any] = []
    for asset in work.assets:
        if asset.status != AssetStatus.READY:
            continue
        if asset.role == AssetRole.POSTER and asset.width and asset.height:
            return absolute_url(storage.url(asset.storage_key)), asset.width, asset.height
        if asset.role == AssetRole.IMAGE:
            images.append(asset)
    for image in images:
        # The stored thumbnail's size is not recorded; the original's is, so that is offered.
        if image.width and image.height:
            return absolute_url(storage.url(image.storage_key)), image.width, image.height
    return None


# --------------------------------------------------------------------------------------------
# oEmbed requests.


def _bad(message: str, code: str) -> ServiceError:
    return ServiceError(message, code=code, status=400)


def parse_dimension(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    number = parse_int(value, minimum=1, maximum=SQL_INT_MAX)
    if number is None or number < MIN_SIDE:
        raise _bad(_("%(name)s 必须是不小于 %(min)d 的整数。", name=name, min=MIN_SIDE), "invalid_size")
    return min(number, MAX_SIDE)


def work_id_from_url(url: Any) -> int:
    """The id of the work a URL on this site names; 400 when it is no URL, 404 when not ours."""
    if not isinstance(url, str) or not url.strip():
        raise _bad(_("请提供作品页面的网址（url 参数）。"), "missing_url")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port out of range raises here)
    except ValueError:
        raise _bad(_("url 参数不是有效的网址。"), "invalid_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(_("url 参数不是有效的网址。"), "invalid_url")
    not_ours = NotFound(_("这个网址不是本站可以嵌入的作品。"), code="not_embeddable")
    base = urlsplit(public_base_url())
    # http and https name the same site (a partner may paste either); the host must be ours.
    if parts.netloc.lower() != base.netloc.lower():
        raise not_ours
    path = parts.path
    prefix = base.path.rstrip("/")
    if prefix:
        if not path.startswith(prefix + "/"):
            raise not_ours
        path = path[len(prefix) :]
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, values = adapter.match(path, method="GET")
    except HTTPException:
        raise not_ours from None
    if endpoint not in EMBEDDABLE_ENDPOINTS:
        raise not_ours
    return int(values["work_id"])


def oembed(url: Any, maxwidth: Any = None, maxheight: Any = None, format: Any = None) -> dict[str, Any]:
    """The oEmbed 1.0 answer for a work page's URL (JSON only: ``format=xml`` is 501)."""
    if format not in (None, "", "json"):
        if format == "xml":
            message = _("只提供 JSON 格式（format=json）。")
            raise ServiceError(message, code="format_not_implemented", status=501)
        raise _bad(_("format 只能是 json。"), "invalid_format")
    work_id = work_id_from_url(url)
    max_w = parse_dimension(maxwidth, "maxwidth")
    max_h = parse_dimension(maxheight, "maxheight")
    work = get_public_work(work_id)
    story = work.kind == WorkKind.STORY
    size = embed_size(work, max_w, max_h)
    answer: dict[str, Any] = {
        "version": "1.0",
        "type": "rich" if story else "video",
        "provider_name": _("网络倡文明 · 青年文明号"),
        "provider_url": public_base_url() + "/",
        "title": work.title,
        "author_name": work.collective.name,
        "author_url": collective_url(work.collective),
        "html": str(iframe_code(work, size)),
        "width": size.width,
        "height": size.height,
        "cache_age": CACHE_AGE,
    }
    thumbnail = _thumbnail(work)
    if thumbnail is not None:
        thumb_url, thumb_w, thumb_h = thumbnail
        if (max_w is None or thumb_w <= max_w) and (max_h is None or thumb_h <= max_h):
            answer.update(thumbnail_url=thumb_url, thumbnail_width=thumb_w, thumbnail_height=thumb_h)
    return answer
