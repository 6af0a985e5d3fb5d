"""Security headers on every response: Content-Security-Policy, framing, sniffing, referrer, HSTS.

The policy allows no inline script at all: every script is a file under /static, and data for
scripts travels in ``<script type="application/json">`` blocks or ``data-`` attributes, which a
browser never executes. Media may come from the store the site is configured with (the S3
endpoint or the CDN in ``S3_PUBLIC_BASE_URL``), the browser PUTs upload parts straight to that
endpoint, and hls.js feeds the ``<video>`` from ``blob:`` URLs built in a ``blob:`` worker.
Story pictures are the work's own uploads (the Markdown sanitiser drops any other), so images
come from the same places as media. docs/security.md.

Framing: every page refuses it (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), except
the embeddable player (:data:`FRAMEABLE_ENDPOINTS`), which partner sites in
``EMBED_ALLOWED_ORIGINS`` may frame (default ``*``: any). X-Frame-Options has no allow-list, so
the player sends none and relies on ``frame-ancestors``, which every current browser obeys.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

HSTS_SECONDS = 365 * 24 * 3600
# Named here rather than marked by the view: the pages package sits beside this module and may
# not import it, and the list of what may be framed belongs with the rule that forbids the rest.
FRAMEABLE_ENDPOINTS = frozenset({"embeds.embed_work"})
_ORIGIN_RE = re.compile(r"^(\*|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?)$")


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def media_origins(app: Flask) -> list[str]:
    """Origins outside this site that media files and presigned upload URLs point at."""
    config = app.config
    origins: list[str] = []
    if config.get("STORAGE_BACKEND") == "s3":
        storage = app.extensions.get("storage")
        client = getattr(storage, "client", None)
        # boto3 resolves the endpoint itself when S3_ENDPOINT_URL is unset (AWS's regional host).
        endpoint = config.get("S3_ENDPOINT_URL") or (client.meta.endpoint_url if client else None)
        origin = _origin(endpoint)
        if origin:
            origins.append(origin)
            if config.get("S3_ADDRESSING_STYLE") == "virtual":
                # Virtual-hosted addressing puts the bucket in front of the endpoint's host name.
                scheme, _, host = origin.partition("://")
                origins.append(f"{scheme}://{config['S3_BUCKET']}.{host}")
    public = _origin(config.get("S3_PUBLIC_BASE_URL"))
    if public:
        origins.append(public)
    return list(dict.fromkeys(origins))


def embed_ancestors(app: Flask) -> str:
    """The ``frame-ancestors`` sources of the embeddable player, from EMBED_ALLOWED_ORIGINS.

    A value that is not ``*`` or an http(s) origin stops the app at start: a typo would otherwise
    either refuse every partner or, worse, be read by browsers as something else.
    """
    origins = [str(origin).strip().rstrip("/") for origin in app.config.get("EMBED_ALLOWED_ORIGINS") or ["*"]]
    bad = [origin for origin in origins if not _ORIGIN_RE.match(origin)]
    if bad or not origins:
        raise RuntimeError(
            f"EMBED_ALLOWED_ORIGINS must be '*' or origins such as https://news.example.cn, not {bad!r}"
        )
    return "*" if "*" in origins else " ".join(dict.fromkeys(origins))


def content_security_policy(app: Flask, frame_ancestors: str = "'none'") -> str:
    media = " ".join(media_origins(app))
    extra = f" {media}" if media else ""
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": f"'self'{extra}",
        "media-src": f"'self' blob:{extra}",
        # hls.js fetches playlists and segments; uploads PUT parts to presigned bucket URLs.
        "connect-src": f"'self'{extra}",
        "worker-src": "'self' blob:",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors,
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _frameable_policy(app: Flask) -> str:
    """The player's policy, built once per value of EMBED_ALLOWED_ORIGINS (read per request, so
    that a setting changed while the app runs, as tests do, takes effect)."""
    origins = tuple(app.config.get("EMBED_ALLOWED_ORIGINS") or ("*",))
    built = app.extensions["csp_frameable"]
    if origins not in built:
        built[origins] = content_security_policy(app, frame_ancestors=embed_ancestors(app))
    return built[origins]


def _add_headers(response: Response) -> Response:
    headers = response.headers
    if request.endpoint in FRAMEABLE_ENDPOINTS:
        headers.setdefault("Content-Security-Policy", _frameable_policy(current_app))
    else:
        headers.setdefault("Content-Security-Policy", current_app.extensions["csp"])
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    # Only over HTTPS (PROXY_HOPS makes a proxy's X-Forwarded-Proto count): a browser ignores
    # HSTS on plain HTTP, and an intranet deployment without TLS must not be told to insist on it.
    if request.is_secure and current_app.config.get("HSTS_ENABLED", False):
        headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    return response


def init_security_headers(app: Flask) -> None:
    # Built once: the storage settings do not change while the process runs.
    app.extensions["csp"] = content_security_policy(app)
    app.extensions["csp_frameable"] = {}
    _frameable_policy(app)  # a malformed EMBED_ALLOWED_ORIGINS stops the app here, at start
    app.after_request(_add_headers)
