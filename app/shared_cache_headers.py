"""Cache-Control that lets a shared cache in front (nginx's micro-cache, a CDN) hold a public body.

A stop-gap, deliberately small: the anonymous public work reads of the API (``GET /api/v1/works``,
``/works/<id>``) say ``public, max-age=0, s-maxage=SHARED_CACHE_SECONDS`` (default 2): browsers
revalidate every time, a shared cache may serve the body for those seconds. Pages are not marked:
today they give every anonymous visitor a CSRF token in a session cookie, which is personal.
Everything else says nothing here, and nginx (deploy/nginx/) caches only what says it may. The
page cache of issue 14 (ETag, stale-while-revalidate, the per-person state call) replaces this
module with its own policy.

Only when nothing personal can be in the body or around it: a GET or HEAD answered 200, with no
Authorization header, no session or remember-me cookie, no Set-Cookie on the answer and the
session untouched. The language is chosen by ``?lang=`` (in the URL), the ``lang`` cookie (nginx's
cache key holds it) or Accept-Language (``Vary``).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request, session

# Endpoints whose anonymous answer is the same for every anonymous caller.
PUBLIC_ENDPOINTS = frozenset({"api.list_works", "api.get_work"})


def _anonymous_request() -> bool:
    cookies = {
        current_app.config["SESSION_COOKIE_NAME"],
        current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    }
    return "Authorization" not in request.headers and not any(name in request.cookies for name in cookies)


def _add_headers(response: Response) -> Response:
    seconds = current_app.config.get("SHARED_CACHE_SECONDS", 0)
    if (
        seconds > 0
        and request.method in ("GET", "HEAD")
        and response.status_code == 200
        and request.endpoint in PUBLIC_ENDPOINTS
        and "Cache-Control" not in response.headers
        and "Set-Cookie" not in response.headers
        and not session.modified
        and _anonymous_request()
    ):
        response.headers["Cache-Control"] = f"public, max-age=0, s-maxage={int(seconds)}"
        response.vary.add("Accept-Language")
    return response


def init_shared_cache_headers(app: Flask) -> None:
    app.after_request(_add_headers)
