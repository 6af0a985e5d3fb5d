"""The one cursor codec of every paged list, and page sizes.

A cursor is a small JSON object (the last id seen; a ranking's last score, work id and position;
a listing's sort key) that the client hands back unchanged. It is signed with the app's
``SECRET_KEY`` (itsdangerous, which Flask ships, under a salt of its own, so a cursor is never a
session cookie or the reverse): clients cannot forge one, so a cursor can never ask for a position
or an id the server did not hand out, and what it holds may change between releases without
clients noticing. Anything that is not a cursor this server signed - mangled, forged, from before
the signing (unsigned base64 JSON), or signed with a rotated key - gets the one clear error,
400 ``invalid_cursor``, and the client starts again from the first page.

Keyset cursors over ids (comment lists, moderation queues) use :func:`encode_id_cursor`: ids
only grow, so such a cursor never repeats or skips an item while new ones arrive or old ones go
(ids from requests are checked in app/ids.py).
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeSerializer

from app.errors import ServiceError
from app.ids import ID_MAX, integers_fit, parse_int
from app.secret_keys import signing_keys

PAGE_SIZE = 20
MAX_PAGE = 50
_SALT = "paging.cursor"


def invalid_cursor() -> ServiceError:
    """The answer to a cursor that cannot be used, whatever is wrong with it."""
    return ServiceError(_("分页参数无效，请从第一页重新浏览。"), code="invalid_cursor")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(signing_keys(), salt=_SALT)


def encode_cursor(values: dict[str, Any]) -> str:
    return _serializer().dumps(values)


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The values :func:`encode_cursor` signed; None for no cursor; else ``invalid_cursor``."""
    if not cursor:
        return None
    try:
        value = _serializer().loads(cursor)
    except (BadData, ValueError, TypeError) as exc:
        raise invalid_cursor() from exc
    # A cursor holds ids and small counts: nothing past an id column's range (app/ids.py), even
    # if the signing key leaked.
    if not isinstance(value, dict) or not integers_fit(value, ID_MAX):
        raise invalid_cursor()
    return value


def encode_id_cursor(last_id: int) -> str:
    return encode_cursor({"id": last_id})


def decode_id_cursor(cursor: str | None) -> int | None:
    """The last id seen, from a cursor made by :func:`encode_id_cursor`."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    last_id = parse_int(values.get("id"), minimum=-ID_MAX, maximum=ID_MAX)
    if last_id is None:
        raise invalid_cursor()
    return last_id


def more_url(endpoint: str, values: dict[str, Any] | None) -> str | None:
    """The link to a page listing's next page: this request's query with its cursor replaced by
    one for `values`, or None after the last page."""
    if values is None:
        return None
    args = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return url_for(endpoint, **args, cursor=encode_cursor(values))


def page_size(limit: Any) -> int:
    number = parse_int(limit, minimum=-(2**63), maximum=2**63 - 1)
    return PAGE_SIZE if number is None else max(1, min(number, MAX_PAGE))
