"""API v1: sign-up, bearer tokens, and who am I."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user

from app.api import bp
from app.api.helpers import json_body, login_required_api, require_fields
from app.auth.limits import login_limits, register_limits
from app.auth.services import authenticate, client_ip, issue_token, register_user, user_to_dict
from app.errors import ServiceError, ValidationFailed


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
    return jsonify(user=user_to_dict(user)), 201


@bp.post("/auth/token")
@login_limits
def auth_token():
    email, password = _strings(json_body(), "email", "password")
    user = authenticate(email, password)
    if user is None:
        raise ServiceError(_("邮箱或密码不正确。"), code="invalid_credentials", status=401)
    return jsonify(token=issue_token(user), user=user_to_dict(user))


@bp.get("/me")
@login_required_api
def me():
    return jsonify(user=user_to_dict(current_user))
