"""Small helpers every API module shares: auth guards, cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask_babel import gettext as _
from flask_login import current_user

from app.errors import ServiceError
from app.ids import ID_MAX, integers_fit


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
