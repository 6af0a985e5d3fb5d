"""The /api/v1 blueprint: JSON in and out, bearer tokens or the session cookie + X-CSRFToken.

A flask-smorest Blueprint: its views declare their bodies and answers with the schemas of
app/api/schemas.py, from which /api/v1/openapi.json is generated (app/api/openapi.py).
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_smorest import Blueprint

from app.auth.services import authenticate_token, bearer_token
from app.errors import error_response
from app.extensions import csrf

bp = Blueprint("api", __name__)
# CSRF is checked below only for cookie-authenticated writes; a bearer token is something a forged
# cross-site request cannot carry.
csrf.exempt(bp)


@bp.before_request
def authenticate_api_request():
    """A Bearer header means token authentication and nothing else: a bad token is 401 whatever
    cookies come with it (it never falls back to the cookie's account, which would let the header
    switch the CSRF check off). Without one, writes carrying a login cookie need X-CSRFToken."""
    token = bearer_token(request)
    if token is not None:
        found = authenticate_token(token)
        if found is None:
            response = current_app.make_response(
                error_response(401, "invalid_token", _("令牌无效、已过期或已撤销，请重新获取。"))
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="api", error="invalid_token"'
            return response
        g._login_user, g.api_token_id = found
        return None
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return None
    if not _carries_login_cookie():
        # No session or remember-me cookie: nothing a forged request could ride on, and API
        # clients must be able to call auth/register and auth/token before they hold a token.
        return None
    csrf.protect()
    return None


def _carries_login_cookie() -> bool:
    names = {
        current_app.config["SESSION_COOKIE_NAME"],
        current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    }
    return any(name in request.cookies for name in names)


from app.api import (  # noqa: E402,F401
    auth,
    captions,
    catalog,
    engagement,
    likes,
    moderation,
    notifications,
    openapi,
    reports,
    state,
    uploads,
    wall,
    works,
)
