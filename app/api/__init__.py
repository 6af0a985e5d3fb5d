"""The /api/v1 blueprint: JSON in and out, bearer tokens or the session cookie + X-CSRFToken."""

from __future__ import annotations

from flask import Blueprint, request

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
    csrf.protect()


from app.api import auth, catalog, openapi, works  # noqa: E402,F401
