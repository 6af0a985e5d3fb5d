"""Request bodies, parsed with their schemas (app/api/schemas.py) by webargs, as flask-smorest
does, and refused in the API's own words and shape.

Every refusal is the API's one error shape, ``{"error": {"code", "message", "fields"?}}``
(app/errors.py), with the statuses and codes clients have always had:

- a body that is not declared JSON: 415 ``unsupported_media_type``;
- one that does not parse, or is not a JSON object: 400 ``invalid_json``;
- an integer anywhere in it beyond 64 bits, which no SQL column holds: 422 ``number_out_of_range``;
- text anywhere in it that no database stores (NUL, a lone surrogate): 422 ``invalid_characters``
  naming the fields (app/text_input.py);
- fields missing (absent, null or ""): 422 ``validation_failed``, "缺少必填字段：…", each "必填";
- fields of the wrong JSON type: 422 ``validation_failed``, "字段类型不正确：…", each saying
  what it must be; a few fields refuse in words of their own (``IntList(refusal=…)``).

webargs' own error answers ({"errors": …}, 422 for everything) never reach a client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from flask import Request, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser

from app.api import bp
from app.api.schemas import MISSING, NOT_A_LIST, NOT_A_STRING, NOT_AN_INTEGER, Body
from app.errors import ServiceError, ValidationFailed
from app.ids import check_json_integers
from app.text_input import check_json_text


def _type_messages() -> dict[str, str]:
    return {NOT_A_STRING: _("必须是字符串"), NOT_AN_INTEGER: _("必须是整数"), NOT_A_LIST: _("必须是列表")}


class ApiParser(FlaskParser):
    """webargs' Flask parser reading JSON bodies the way this API always has."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        if getattr(schema, "OPTIONAL", False) and not req.content_length:
            return core.missing  # no body at all (whatever its Content-Type): every field absent
        if not req.is_json:
            raise ServiceError(
                _("请以 JSON 格式提交（Content-Type: application/json）。"),
                code="unsupported_media_type",
                status=415,
            )
        try:
            data = req.get_json(silent=True)
        except RecursionError:  # nesting deeper than the parser goes: not a body any call takes
            data = None
        if not isinstance(data, dict):
            raise ServiceError(_("请求内容不是有效的 JSON 对象。"), code="invalid_json")
        # Past 64 bits no column holds it, and SQLite raises OverflowError instead of finding
        # nothing: refused whole, wherever it sits (unknown fields included).
        check_json_integers(data)
        check_json_text(data)
        return data

    def handle_error(self, error: ValidationError, req: Request, schema: Schema, **kwargs: Any) -> NoReturn:
        raise refusal(error.messages.get("json", error.messages), schema, req)


def refusal(messages: dict[str, Any], schema: Schema, req: Request) -> ServiceError:
    """The answer to a body its schema refused: `messages` are marshmallow's, per field."""
    names = [name for name in schema.fields if _key(schema, name) in messages]
    names += [key for key in messages if key not in {_key(schema, n) for n in names}]
    for name in names:
        own: Callable[[Any], ServiceError] | None = getattr(schema.fields.get(name), "refusal", None)
        if own is not None:
            body = req.get_json(silent=True) or {}
            return own(body.get(_key(schema, name)))
    missing = [name for name in names if _is_missing(messages[_key(schema, name)])]
    if missing:
        listed = ", ".join(_key(schema, name) for name in missing)
        return ValidationFailed(
            _("缺少必填字段：%(names)s", names=listed),
            fields={_key(schema, name): _("必填") for name in missing},
        )
    wrong = {}
    for name in names:
        key = _key(schema, name)
        kinds = _flat(messages[key])
        # An error inside a list is the list's: it must be a list of the right items.
        wrong[key] = _type_messages().get(
            kinds[0] if isinstance(messages[key], list) else NOT_A_LIST, kinds[0]
        )
    return ValidationFailed(_("字段类型不正确：%(names)s", names=", ".join(wrong)), fields=wrong)


def _key(schema: Schema, name: str) -> str:
    field = schema.fields.get(name)
    return (field.data_key or name) if field is not None else name


def _flat(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flat(value)]
    return [str(m) for m in messages]


# unknown=None: each schema says what to do with keys it does not know (Shape: ignore them).
parser = ApiParser(unknown=None)
bp.ARGUMENTS_PARSER = parser


def body(schema: type[Body]) -> Callable:
    """Decorator: the view takes the body `schema` loads (its first argument), and the spec
    declares it. Put it under the checks that must answer first (sign-in, role)."""
    return bp.arguments(schema, location="json", required=not schema.OPTIONAL)


def declared_body(schema: type[Body]) -> Callable:
    """Decorator: the spec declares the body `schema`; the view loads it with ``parse_body``
    itself, for calls that must answer something else first (a 404 for a work it cannot see)."""
    return bp.doc(
        requestBody={"required": not schema.OPTIONAL, "content": {"application/json": {"schema": schema}}}
    )


def parse_body(schema: type[Body]) -> dict[str, Any]:
    return parser.parse(schema, request, location="json")


def _is_missing(messages: Any) -> bool:
    # Only the field itself: an item missing inside a list makes the list wrong, not missing.
    return isinstance(messages, list) and MISSING in messages
