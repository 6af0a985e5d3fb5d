"""API v1: sign-up, bearer tokens (issued, listed, revoked), and who am I."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from app.api import bp
from app.api.docs import BEARER_ONLY, answers
from app.api.helpers import login_required_api
from app.api.parsing import body
from app.api.schemas import ApiTokenList, RegisterBody, TokenAnswer, TokenBody, UserAnswer
from app.auth.limits import login_limits, register_limits
from app.auth.services import (
    authenticate,
    issue_token,
    live_tokens,
    register_user,
    revoke_token,
    user_to_dict,
)
from app.auth.verification import send_link_after_sign_up
from app.clients import client_ip
from app.errors import ServiceError
from app.models import ApiToken


@bp.post("/auth/register")
@answers(201, UserAnswer, refusing=(400, 409, 415, 422, 429))
@register_limits
@body(RegisterBody)
def auth_register(data: dict[str, Any]):
    """Create an account"""
    user = register_user(data["email"], data["password"], data["display_name"], client_ip())
    send_link_after_sign_up(user)
    return jsonify(user=user_to_dict(user)), 201


@bp.post("/auth/token")
@answers(200, TokenAnswer, refusing=(400, 401, 403, 415, 422, 423, 429))
@login_limits
@body(TokenBody)
def auth_token(data: dict[str, Any]):
    """Exchange e-mail and password for a bearer token

    401 invalid_credentials; 403 account_banned; 423 account_locked after LOGIN_LOCKOUT_FAILURES
    wrong passwords (even the right password is refused until the lock ends or the password is
    reset by e-mail); 429 rate_limited.
    """
    user = authenticate(data["email"], data["password"])
    if user is None:
        raise ServiceError(_("邮箱或密码不正确。"), code="invalid_credentials", status=401)
    return jsonify(token=issue_token(user, request.user_agent.string), user=user_to_dict(user))


@bp.delete("/auth/token")
@answers(204, refusing=(400, 401, 404), signed_in=BEARER_ONLY)
@login_required_api
def revoke_current_token():
    """Revoke the bearer token this request carries: it stops working at once (400
    no_bearer_token without one)

    At once on the web process that answers, and for likes everywhere; other web processes,
    which remember a token's account for TOKEN_CACHE_SECONDS (default 5), within that time.
    """
    token_id = g.get("api_token_id")
    if token_id is None:
        raise ServiceError(
            _("请在 Authorization 头中提供要撤销的令牌（Bearer）。"), code="no_bearer_token", status=400
        )
    revoke_token(current_user.id, token_id)
    return "", 204


def token_to_dict(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "label": token.label,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat(),
        "current": token.id == g.get("api_token_id"),
    }


@bp.get("/auth/tokens")
@answers(200, ApiTokenList, refusing=(401,), signed_in=True)
@login_required_api
def list_tokens():
    """The caller's API tokens that still work, newest first (never the tokens themselves)"""
    return {"items": [token_to_dict(token) for token in live_tokens(current_user.id)]}


@bp.delete("/auth/tokens/<int:id>")
@answers(204, refusing=(401, 404), signed_in=True)
@login_required_api
def revoke_listed_token(id: int):
    """Revoke one of the caller's API tokens; anyone else's is 404"""
    revoke_token(current_user.id, id)
    return "", 204


@bp.get("/me")
@answers(200, UserAnswer, refusing=(401,), signed_in=True)
@login_required_api
def me():
    """The signed-in account"""
    return jsonify(user=user_to_dict(current_user))
