"""Keyset cursors and page sizes. Two kinds of cursor, both base64 JSON: an id (the last id
seen; the comment lists and the moderation queues) and a position (a small dict of the last
item's sort keys; the work listings, the search and the notifications). Ids from requests are
checked in app/ids.py.

Ids only grow, so a cursor never repeats or skips an item while new ones arrive or old ones go.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flask_babel import gettext as _

from app.errors import ServiceError
from app.ids import ID_MAX, integers_fit, parse_int

PAGE_SIZE = 20
MAX_PAGE = 50


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))["id"]
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ServiceError(_("分页参数无效，请从第一页重新浏览。"), code="invalid_cursor") from exc
    last_id = parse_int(value, minimum=-ID_MAX, maximum=ID_MAX)
    if last_id is None:
        raise ServiceError(_("分页参数无效，请从第一页重新浏览。"), code="invalid_cursor")
    return last_id


def page_size(limit: Any) -> int:
    number = parse_int(limit, minimum=-(2**63), maximum=2**63 - 1)
    return PAGE_SIZE if number is None else max(1, min(number, MAX_PAGE))


def encode_position(values: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def decode_position(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as exc:
        raise ServiceError(_("分页游标无效。"), code="invalid_cursor") from exc
    # A position holds ids and small counts: nothing past an id column's range (app/ids.py).
    if not isinstance(value, dict) or not integers_fit(value, ID_MAX):
        raise ServiceError(_("分页游标无效。"), code="invalid_cursor")
    return value
