"""GET /api/v1/openapi.json — the contract, listing exactly the calls that exist.

The spec is plain data built here; tests/test_openapi.py checks it against the routes registered
on the blueprint, so a call cannot be added or removed without the spec following.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from app.api import bp

_ERROR = {"$ref": "#/components/schemas/Error"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _json(_ERROR, "Error") for status in statuses}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_DT = {"type": "string", "format": "date-time"}
_NULLABLE_STR = {"type": ["string", "null"]}
_KIND = {"type": "string", "enum": ["film", "video", "story"]}
_SORT = {"type": "string", "enum": ["hot", "new", "likes"]}
_ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": _INT}
_BEARER = [{"bearer": []}, {"session": []}]

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        ["error"],
        error=_obj(["code", "message"], code=_STR, message=_STR, fields={"type": "object"}),
    ),
    "User": _obj(
        ["id", "email", "display_name", "role", "collective", "province"],
        id=_INT,
        email=_STR,
        display_name=_STR,
        role={"type": "string", "enum": ["viewer", "collective", "moderator", "admin"]},
        collective={"oneOf": [{"type": "null"}, _obj(["id", "name"], id=_INT, name=_STR)]},
        province=_NULLABLE_STR,
    ),
    "Campaign": _obj(
        ["id", "title", "submission_opens", "submission_closes", "voting_opens", "voting_closes"],
        id=_INT,
        title=_STR,
        submission_opens=_DT,
        submission_closes=_DT,
        voting_opens=_DT,
        voting_closes=_DT,
    ),
    "Collective": _obj(
        ["id", "name", "industry", "province", "level", "badge", "promise", "supervision_channel"],
        id=_INT,
        name=_STR,
        industry=_STR,
        province=_STR,
        level={"type": "string", "enum": ["national", "provincial", "city"]},
        badge=_NULLABLE_STR,
        promise=_STR,
        supervision_channel=_STR,
    ),
    "Work": _obj(
        ["id", "kind", "title", "summary", "body_html", "status", "collective", "likes", "comments",
         "views", "liked_by_me", "media"],
        id=_INT,
        kind=_KIND,
        title=_STR,
        summary=_STR,
        body_html=_STR,
        status=_STR,
        collective=_obj(["id", "name"], id=_INT, name=_STR, industry=_STR, province=_STR),
        campaign_id=_INT,
        likes=_INT,
        comments=_INT,
        views=_INT,
        liked_by_me={"type": "boolean"},
        media=_obj(
            ["poster", "hls", "mp4"],
            poster=_NULLABLE_STR,
            hls=_NULLABLE_STR,
            mp4={"type": "object", "additionalProperties": _STR},
            images={"type": "array", "items": {"type": "object"}},
        ),
        created_at=_DT,
        published_at={"type": ["string", "null"], "format": "date-time"},
    ),
}  # fmt: skip

PATHS: dict[str, Any] = {
    "/auth/register": {
        "post": {
            "summary": "Create an account",
            "requestBody": _body(
                _obj(["email", "password", "display_name"], email=_STR, password=_STR, display_name=_STR)
            ),
            "responses": {"201": _json(_obj(["user"], user=_ref("User")), "Created"),
                          **_errors(400, 409, 415, 422, 429)},
        }
    },
    "/auth/token": {
        "post": {
            "summary": "Exchange e-mail and password for a bearer token",
            "requestBody": _body(_obj(["email", "password"], email=_STR, password=_STR)),
            "responses": {"200": _json(_obj(["token", "user"], token=_STR, user=_ref("User"))),
                          **_errors(400, 401, 415, 422, 429)},
        }
    },
    "/me": {
        "get": {
            "summary": "The signed-in account",
            "security": _BEARER,
            "responses": {"200": _json(_obj(["user"], user=_ref("User"))), **_errors(401)},
        }
    },
    "/campaigns": {
        "get": {
            "summary": "Campaigns with their submission and voting windows",
            "responses": {
                "200": _json(_obj(["items"], items={"type": "array", "items": _ref("Campaign")}))
            },
        }
    },
    "/collectives/{id}": {
        "get": {
            "summary": "A collective's public profile",
            "parameters": [_ID_PARAM],
            "responses": {"200": _json(_ref("Collective")), **_errors(404)},
        }
    },
    "/works": {
        "get": {
            "summary": "Published works, filtered and sorted, with cursor pagination",
            "parameters": [
                {"name": "kind", "in": "query", "schema": _KIND},
                {"name": "industry", "in": "query", "schema": _STR},
                {"name": "province", "in": "query", "schema": _STR},
                {"name": "campaign_id", "in": "query", "schema": _INT},
                {"name": "sort", "in": "query", "schema": _SORT},
                {"name": "cursor", "in": "query", "schema": _STR},
            ],
            "responses": {
                "200": _json(_obj(["items", "next_cursor"], items={"type": "array", "items": _ref("Work")},
                                  next_cursor=_NULLABLE_STR)),
                **_errors(400),
            },
        },
        "post": {
            "summary": "Create a draft work (collective members)",
            "security": _BEARER,
            "requestBody": _body(
                _obj(["kind", "title", "campaign_id"],
                     kind=_KIND,
                     title=_STR, summary=_STR, body=_STR, campaign_id=_INT)
            ),
            "responses": {"201": _json(_obj(["work"], work=_ref("Work")), "Created"),
                          **_errors(400, 401, 403, 404, 409, 415, 422)},
        },
    },
    "/works/{id}": {
        "get": {
            "summary": "One work (drafts only for their collective and moderators)",
            "parameters": [_ID_PARAM],
            "responses": {"200": _json(_ref("Work")), **_errors(404)},
        }
    },
    "/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}
    },
}  # fmt: skip


def build_spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "网络倡文明 API",
            "version": "1",
            "description": 'Errors: {"error": {"code", "message"}}. Writes with the session '
            "cookie need the X-CSRFToken header; other clients use Authorization: Bearer.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_spec():
    return jsonify(build_spec())
