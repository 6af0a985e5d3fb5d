"""API v1: sign-up, bearer tokens (issued, listed, revoked), and who am I."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from app.api import bp
from app.api.helpers import json_body, login_required_api, require_fields
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
from app.errors import ServiceError, ValidationFailed
from app.models import ApiToken


def _strings(data: dict[str, Any], *names: str) -> list[str]:
    require_fields(data, *names)
    wrong = {name: _("必须是字符串") for name in names if not isinstance(data[name], str)}
    if wrong:
        raise ValidationFailed(_("字段类型不正确：%(names)s", names=", ".join(wrong)), fields=wrong)
    return [data[name] for name in names]


@bp.post("/auth/register")
@register_limits
def auth_register():
    email, password, display_name = _strings(json_body(), "email", "password", "display_name")
    user = register_user(email, password, display_name, client_ip())
    send_link_after_sign_up(user)
    return jsonify(user=user_to_dict(user)), 201


@bp.post("/auth/token")
@login_limits
def auth_token():
    email, password = _strings(json_body(), "email", "password")
    user = authenticate(email, password)
    if user is None:
        raise ServiceError(_("邮箱或密码不正确。"), code="invalid_credentials", status=401)
    return jsonify(token=issue_token(user, request.user_agent.string), user=user_to_dict(user))


@bp.delete("/auth/token")
@login_required_api
def revoke_current_token():
    """Sign this client out: the bearer token the request carries stops working at once."""
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
@login_required_api
def list_tokens():
    return {"items": [token_to_dict(token) for token in live_tokens(current_user.id)]}


@bp.delete("/auth/tokens/<int:id>")
@login_required_api
def revoke_listed_token(id: int):
    revoke_token(current_user.id, id)
    return "", 204


@bp.get("/me")
@login_required_api
def me():
    return jsonify(user=user_to_dict(current_user))
