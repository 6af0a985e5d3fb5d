"""What the spec says of a call beyond its body: what it answers, what it may refuse, whether it
wants a signed-in caller and which query parameters it reads; one decorator per view.

Its summary and description are the view's docstring (first paragraph, then the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from marshmallow import Schema

from app.api import bp
from app.api.schemas import Error

# Bearer tokens for other clients; the site's own pages call with the session cookie.
SIGNED_IN = [{"bearer": []}, {"session": []}]
# Calls about the bearer token itself.
BEARER_ONLY = [{"bearer": []}]


def _json(schema: type[Schema] | dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def answers(
    status: int,
    schema: type[Schema] | dict | None = None,
    *,
    refusing: tuple[int, ...] = (),
    signed_in: bool | list[dict] = False,
    query: type[Schema] | None = None,
) -> Callable:
    """Decorator (right under the route): the call answers `status` with `schema` (None: no
    body), may refuse with `refusing` in the API's error shape, needs a signed-in caller when
    `signed_in` (SIGNED_IN, or the security requirements given), and reads the query parameters
    of `query`.

    Declared only: the view builds its answer itself (schemas.py says why)."""
    phrase = HTTPStatus(status).phrase
    responses = {str(status): _json(schema, phrase) if schema is not None else {"description": phrase}}
    responses |= {str(code): _json(Error, "Error") for code in refusing}
    doc: dict = {"responses": responses}
    if signed_in:
        doc["security"] = SIGNED_IN if signed_in is True else signed_in
    if query is not None:
        doc["parameters"] = [{"in": "query", "schema": query}]
    return bp.doc(**doc)
