"""Sharing a work or a collective outside the site: share cards, short links and QR posters.

Links that leave the site (share cards, printed QR codes) are absolute and built on
`PUBLIC_BASE_URL` (app/public_urls.py), because a poster printed from an internal host name would
send every scan to a machine the public cannot reach, and one built from a request's Host header
could send it anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import segno
from flask_babel import gettext as _
from markupsafe import Markup

from app.catalog.collectives import badge_url
from app.errors import NotFound
from app.models import Collective, Work, WorkKind, WorkStatus
from app.public_urls import absolute_url, public_url_for
from app.works import services as svc
from app.works.serialise import work_cover

# Share cards cut descriptions here: WeChat and most card renderers show two or three lines.
DESCRIPTION_MAX = 120
# A poster has room for a few lines of the promise; the whole text is on the collective's page.
PROMISE_ON_POSTER_MAX = 160
# Level Q survives a quarter of the code worn or covered (tape, glare, a scratch on the print);
# segno raises it further when the short link leaves room at the same size.
QR_ERROR = "q"


@dataclass(frozen=True)
class ShareCard:
    """What the Open Graph / Twitter tags of a page say."""

    title: str
    description: str
    url: str
    short_url: str
    image: str | None
    type: str


def truncate(text: str, limit: int = DESCRIPTION_MAX) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def work_url(work: Work) -> str:
    return public_url_for("works.work_detail", work_id=work.id)


def work_short_url(work: Work) -> str:
    return public_url_for("works.work_short_link", work_id=work.id)


def collective_url(collective: Collective) -> str:
    return public_url_for("works.collective", collective_id=collective.id)


def collective_short_url(collective: Collective) -> str:
    return public_url_for("works.collective_short_link", collective_id=collective.id)


def work_share_card(work: Work) -> ShareCard:
    image = work_cover(work) or badge_url(work.collective)
    description = work.summary or _("%(name)s的青年文明号作品", name=work.collective.name)
    return ShareCard(
        title=work.title,
        description=truncate(description),
        url=work_url(work),
        short_url=work_short_url(work),
        image=absolute_url(image) if image else None,
        type="article" if work.kind == WorkKind.STORY else "video.other",
    )


def collective_share_card(collective: Collective) -> ShareCard:
    badge = badge_url(collective)
    place = {"province": collective.province, "industry": collective.industry}
    description = collective.promise or _("%(province)s · %(industry)s · 青年文明号集体", **place)
    return ShareCard(
        title=collective.name,
        description=truncate(description),
        url=collective_url(collective),
        short_url=collective_short_url(collective),
        image=absolute_url(badge) if badge else None,
        type="website",
    )


def qr_svg(data: str, label: str) -> Markup:
    """`data` as a QR code in inline SVG, drawn here (no script, no outside service).

    The SVG scales to its box (no fixed size) and keeps the four-module quiet zone that
    scanners need; `label` is what screen readers say for it.
    """
    code = segno.make(data, error=QR_ERROR, micro=False)
    svg = code.svg_inline(
        border=4, omitsize=True, dark="#000", light="#fff", svgclass="qr-code", lineclass=None
    )
    # segno writes only its path here, never `data`, so the markup is ours; the label is escaped.
    return Markup('<div class="qr" role="img" aria-label="{}">{}</div>').format(label, Markup(svg))


def get_public_work(work_id: int) -> Work:
    """A published work; anything else is 404 to everyone: posters and embeds show only what the
    public may see, whoever asks (a moderator's preview must not end up on a partner's page)."""
    work = svc.get_work(work_id)
    if work.status != WorkStatus.PUBLISHED:
        raise NotFound(_("您要找的作品不存在或已被删除。"))
    return work


def work_poster(work: Work) -> dict[str, Any]:
    """Everything the printable poster of a published work shows."""
    short_url = work_short_url(work)
    return {
        "work": work,
        "collective": work.collective,
        "cover": work_cover(work),
        "badge": badge_url(work.collective),
        "promise": truncate(work.collective.promise, PROMISE_ON_POSTER_MAX),
        "short_url": short_url,
        "qr": qr_svg(short_url, _("作品二维码：%(url)s", url=short_url)),
    }


def collective_poster(collective: Collective) -> dict[str, Any]:
    """Everything the printable poster of a collective shows."""
    short_url = collective_short_url(collective)
    return {
        "collective": collective,
        "badge": badge_url(collective),
        "promise": truncate(collective.promise, PROMISE_ON_POSTER_MAX),
        "short_url": short_url,
        "qr": qr_svg(short_url, _("集体二维码：%(url)s", url=short_url)),
    }
