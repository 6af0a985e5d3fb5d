"""Keyset cursors over ids (the last id seen, base64 JSON), page sizes and ids from requests:
shared by the comment lists and the moderation queues.

Ids only grow, so a cursor never repeats or skips an item while new ones arrive or old ones go.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flask_babel import gettext as _

from app.errors import ServiceError

PAGE_SIZE = 20
MAX_PAGE = 50
# SQL integers are 64-bit at most (SQLite raises OverflowError past it), and ids are PostgreSQL
# `integer`s, 32-bit (it raises "integer out of range"): a larger id from a request is no row,
# and is answered as such instead of reaching the driver.
SQL_INT_MAX = 2**63 - 1
ID_MAX = 2**31 - 1


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        last_id = int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["id"])
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ServiceError(_("分页参数无效，请从第一页重新浏览。"), code="invalid_cursor") from exc
    if abs(last_id) > ID_MAX:
        raise ServiceError(_("分页参数无效，请从第一页重新浏览。"), code="invalid_cursor")
    return last_id


def page_size(limit: Any) -> int:
    try:
        return max(1, min(int(limit), MAX_PAGE))
    except (TypeError, ValueError):
        return PAGE_SIZE


def parse_id(value: Any) -> int | None:
    """A positive database id from a form or JSON value, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= ID_MAX:
        return value
    return None
