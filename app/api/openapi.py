"""GET /api/v1/openapi.json — the contract, generated from the views and their schemas.

flask-smorest and apispec build the document from what each view declares (app/api/docs.py,
app/api/parsing.py) with the schemas of app/api/schemas.py. tests/test_openapi.py checks that it
lists exactly the calls that exist, and tests/test_openapi_contract.py that it keeps everything
of the v1 contract as frozen in tests/fixtures/openapi-v1.json.

The document is built once per process, on a bare Flask app holding only the API blueprint: it
depends on nothing but the code, tests read it without an app, and its paths are those under
``servers`` (/api/v1), not the full URL rules.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api

from app.api import bp
from app.api.docs import answers
from app.api.schemas import Error

INFO_DESCRIPTION = (
    'Errors: {"error": {"code", "message"}}. Writes with the session cookie need the X-CSRFToken '
    "header; other clients use Authorization: Bearer, and a request carrying a Bearer token is "
    "authenticated by it alone (a bad one is 401 invalid_token whatever cookies come with it)."
)


class SpecOnlyApi(Api):
    """flask-smorest's Api, used to generate the document only: the app's own error handlers
    (app/errors.py) answer every error in the API's shape, so none of smorest's are installed, and
    its default error responses (documented for bodies it parses) have that shape too."""

    ERROR_SCHEMA = Error
    # No catch-all "default" answer: every status a call answers is listed (the fuzz holds it).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        pass


@functools.cache
def _generated() -> dict[str, Any]:
    app = Flask(__name__)
    app.config.update(API_TITLE="网络倡文明 API", API_VERSION="1", OPENAPI_VERSION="3.1.0")
    api = SpecOnlyApi(
        app,
        spec_kwargs={
            "info": {"description": INFO_DESCRIPTION},
            "servers": [{"url": "/api/v1"}],
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                }
            },
        },
    )
    api.register_blueprint(bp)
    spec = api.spec.to_dict()
    for item in spec["paths"].values():
        # Path parameters inside each operation, as the document always had them: a path item
        # then holds only operations, which clients walking it (and our fuzz) rely on.
        shared = item.pop("parameters", [])
        for operation in item.values():
            own = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
            inherited = [p for p in shared if (p["name"], p["in"]) not in own]
            if inherited:
                operation["parameters"] = [*inherited, *operation.get("parameters", [])]
            _tidy(operation)
    return _with_shared_refusals(spec)


def _tidy(operation: dict[str, Any]) -> None:
    """Docstrings wrap at the code's line length; the spec's sentences do not. Tags (one per
    blueprint, and there is one) say nothing."""
    for key in ("summary", "description"):
        if key in operation:
            paragraphs = re.split(r"\n\s*\n", operation[key].strip())
            operation[key] = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    operation.pop("tags", None)


def _with_shared_refusals(spec: dict[str, Any]) -> dict[str, Any]:
    """The refusals any call may meet, added where an operation does not list them itself:
    400 csrf_failed on every write sent with the session cookie but no valid X-CSRFToken (a stale
    cookie left in a browser is enough), 401 invalid_token on every call sent with a Bearer token
    that is wrong, expired or revoked (whatever cookies come with it), 413 on every body past
    MAX_REQUEST_BYTES, and 503 unavailable, with Retry-After, whenever the database or Redis is
    down."""
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for item in spec["paths"].values():
        for method, operation in item.items():
            responses = operation["responses"]
            responses.setdefault("401", copy.deepcopy(error))
            if method != "get":
                responses.setdefault("400", copy.deepcopy(error))
            if "requestBody" in operation:
                responses.setdefault("413", copy.deepcopy(error))
            responses.setdefault("503", copy.deepcopy(error))
            operation["responses"] = dict(sorted(responses.items()))
    spec.pop("tags", None)
    spec["components"]["schemas"].pop("PaginationMetadata", None)  # smorest's, for a feature unused
    return spec


def build_spec() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy: callers may change theirs)."""
    return copy.deepcopy(_generated())


@bp.get("/openapi.json")
@answers(200, {"type": "object"})
def openapi_spec():
    """This document"""
    return jsonify(_generated())
