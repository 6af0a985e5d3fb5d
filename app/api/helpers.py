"""Small helpers every API module shares: JSON bodies, auth guards, cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import ServiceError, ValidationFailed
from app.ids import ID_MAX, check_json_integers, integers_fit


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a clear 400/415 error."""
    if not request.is_json:
        raise ServiceError(
            _("请以 JSON 格式提交（Content-Type: application/json）。"),
            code="unsupported_media_type",
            status=415,
        )
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nesting deeper than the parser goes: not a body any call takes
        data = None
    if not isinstance(data, dict):
        raise ServiceError(_("请求内容不是有效的 JSON 对象。"), code="invalid_json")
    # Past 64 bits no column holds it, and SQLite raises OverflowError instead of finding nothing.
    check_json_integers(data)
    return data


def require_fields(data: dict[str, Any], *names: str) -> None:
    missing = {name: _("必填") for name in names if data.get(name) in (None, "")}
    if missing:
        raise ValidationFailed(_("缺少必填字段：%(names)s", names=", ".join(missing)), fields=missing)


def login_required_api(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            raise ServiceError(_("请先登录。"), code="unauthorized", status=401)
        return view(*args, **kwargs)

    return wrapper


def encode_cursor(values: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as exc:
        raise ServiceError(_("分页游标无效。"), code="invalid_cursor") from exc
    # A cursor holds ids and small counts: nothing past an id column's range (app/ids.py).
    if not isinstance(value, dict) or not integers_fit(value, ID_MAX):
        raise ServiceError(_("分页游标无效。"), code="invalid_cursor")
    return value
