"""The /api/v1 blueprint: JSON in and out, bearer tokens or the session cookie + X-CSRFToken."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from app.extensions import csrf

bp = Blueprint("api", __name__)
# CSRF is checked below only for cookie-authenticated writes; bearer-token clients send no cookie
# that a forged cross-site request could ride on.
csrf.exempt(bp)


@bp.before_request
def protect_cookie_writes() -> None:
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    if not _carries_login_cookie():
        # No session or remember-me cookie: nothing a forged request could ride on, and API
        # clients must be able to call auth/register and auth/token before they hold a token.
        return
    csrf.protect()


def _carries_login_cookie() -> bool:
    names = {
        current_app.config["SESSION_COOKIE_NAME"],
        current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    }
    return any(name in request.cookies for name in names)


from app.api import (  # noqa: E402,F401
    auth,
    catalog,
    engagement,
    likes,
    moderation,
    notifications,
    openapi,
    reports,
    uploads,
    wall,
    works,
)
