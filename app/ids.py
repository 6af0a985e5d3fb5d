"""Integers from requests, range-checked in one place: URL paths, query strings, form fields and
JSON bodies (lists and objects inside them included).

SQL integers are 64-bit at most (SQLite raises OverflowError past it, before any query runs), and
ids are PostgreSQL ``integer``s, 32-bit (it raises "integer out of range"). A number from a client
must therefore be checked before it reaches the driver, whatever part of the request carried it:

- an id in a URL past ``ID_MAX`` is no row: 404 (``refuse_impossible_ids``, every blueprint);
- an id in a query string, a form field or a JSON value goes through ``parse_id`` (a positive
  id that fits, else None: the caller says what is wrong in its own words) or ``query_id``
  (a filter: 400 ``invalid_parameter``);
- any other integer a caller takes (sizes, limits, page numbers) goes through ``parse_int``
  with its own bounds;
- a JSON body holding an integer beyond 64 bits anywhere is refused whole (``check_json_integers``,
  called by ``app.api.helpers.json_body``): 422 ``number_out_of_range``.

Strings count only when they are ASCII digits: ``"²"`` and ``"٣"`` pass ``str.isdigit`` and
then make ``int()`` fail or mean something the person did not type.
"""

from __future__ import annotations

from typing import Any

from flask import abort, request
from flask_babel import gettext as _

from app.errors import ServiceError, ValidationFailed

SQL_INT_MAX = 2**63 - 1
ID_MAX = 2**31 - 1
# Longest digit string worth converting: int() of a 100,000-digit string costs real CPU, and
# nothing here is longer than 19 digits (64 bits), a sign aside.
_MAX_DIGITS = 20


def _ascii_int(value: Any) -> int | None:
    """`value` as an int when it is one (not a bool) or a string of ASCII digits with an optional
    sign; None for anything else (floats, lists, objects, words, digits from other scripts)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    digits = text[1:] if text[:1] in {"-", "+"} else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        # Longer than any 64-bit number: out of range, whatever its value.
        return SQL_INT_MAX + 1 if text[:1] != "-" else -(SQL_INT_MAX + 1)
    return int(text)


def parse_int(value: Any, *, minimum: int, maximum: int) -> int | None:
    """An integer within [minimum, maximum] from a form, query or JSON value, else None."""
    number = _ascii_int(value)
    if number is None or not minimum <= number <= maximum:
        return None
    return number


def parse_id(value: Any) -> int | None:
    """A positive database id that fits its column, from a form, query or JSON value, else None."""
    return parse_int(value, minimum=1, maximum=ID_MAX)


def invalid_parameter(name: str, value: Any) -> ServiceError:
    return ServiceError(
        _("参数 %(name)s 的取值无效：%(value)s", name=name, value=str(value)[:40]), code="invalid_parameter"
    )


def query_id(name: str, args: Any = None) -> int | None:
    """An id filter from the query string: None when absent or empty, 400 when it is no id."""
    args = request.args if args is None else args
    value = args.get(name)
    if value in (None, ""):
        return None
    number = parse_id(value)
    if number is None:
        raise invalid_parameter(name, value)
    return number


def query_int(
    name: str, *, minimum: int, maximum: int, default: int | None = None, args: Any = None
) -> int | None:
    """An integer from the query string within bounds: `default` when absent, 400 when wrong."""
    args = request.args if args is None else args
    value = args.get(name)
    if value in (None, ""):
        return default
    number = parse_int(value, minimum=minimum, maximum=maximum)
    if number is None:
        raise invalid_parameter(name, value)
    return number


def integers_fit(data: Any, bound: int = SQL_INT_MAX) -> bool:
    """No integer anywhere in `data` (a JSON value, however nested) is beyond ±bound."""
    pending = [data]
    while pending:  # iterative: the body's depth is the client's choice
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > bound:
            return False
    return True


def check_json_integers(data: Any) -> None:
    """Refuse a JSON body with an integer no SQL column holds, wherever it sits in the body."""
    if not integers_fit(data, SQL_INT_MAX):
        raise ValidationFailed(_("数值超出范围。"), code="number_out_of_range")


def refuse_impossible_ids(endpoint: str | None, values: dict | None) -> None:
    """URL value preprocessor: an ``<int:…>`` past what an id column holds is no row (404)."""
    if values and any(type(v) is int and v > ID_MAX for v in values.values()):
        abort(404)
