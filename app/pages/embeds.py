"""The embeddable player partner sites frame, and the oEmbed endpoint that hands out its code.

``/embed/works/<id>`` is a page of its own, not the work page in a frame: no site header, no
session, no CSRF token, no visitor cookie, so it plays in a partner's page without a cookie
(browsers block third-party cookies, and a partner's readers never signed in here). It is the
one page that may be framed (app/security_headers.py, EMBED_ALLOWED_ORIGINS). Liking needs an
account, so the like count links to the work on our site in a new tab. The rules (which works,
which sizes, which URLs) are app/works/embeds.py; docs/embeds.md has the decisions.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, render_template, request

from app.clients import client_ip
from app.engagement.work_lists import engagement_counts
from app.extensions import limiter
from app.works import embeds
from app.works.serialise import work_cover, work_media
from app.works.sharing import collective_url, get_public_work, work_url

bp = Blueprint("embeds", __name__)


@bp.get("/embed/works/<int:work_id>")
def embed_work(work_id: int):
    # Read before anything could touch the session: the answer sets no cookie (also ?lang=).
    g.cookieless = True
    work = get_public_work(work_id)
    return render_template(
        "embeds/work.html",
        work=work,
        media=work_media(work),
        cover=work_cover(work),
        likes=engagement_counts([work.id])[work.id].likes,
        work_url=work_url(work),
        collective_url=collective_url(work.collective),
        embed_url=embeds.embed_url(work),
    )


# A lookup per partner page view at most (consumers cache for cache_age), so the same generous
# per-IP budget as the other public reads that bots hammer (search): offices share one IP.
@bp.get("/oembed")
@limiter.limit(lambda: current_app.config["OEMBED_IP_RATE_LIMIT"], key_func=client_ip)
def oembed():
    g.cookieless = True
    args = request.args
    answer = embeds.oembed(args.get("url"), args.get("maxwidth"), args.get("maxheight"), args.get("format"))
    response = jsonify(answer)
    response.headers["Cache-Control"] = f"public, max-age={answer['cache_age']}"
    # Consumers' pages may ask from the browser, too (oEmbed is public data).
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.app_template_global()
def work_oembed_url(work) -> str:
    return embeds.oembed_url(work)


@bp.app_template_global()
def work_embed_code(work) -> str:
    return str(embeds.iframe_code(work))
