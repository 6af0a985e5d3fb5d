"""GET /api/v1/openapi.json — the contract, listing exactly the calls that exist.

The spec is plain data built here; tests/test_openapi.py checks it against the routes registered
on the blueprint, so a call cannot be added or removed without the spec following.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from app.api import bp
from app.moderation.queues import ACTIONS, QUEUES

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
_SEARCH_SORT = {"type": "string", "enum": ["hot", "new", "likes", "relevance"]}
_ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": _INT}
_BEARER = [{"bearer": []}, {"session": []}]
_UPLOAD_ID_PARAM = {"name": "upload_id", "in": "path", "required": True, "schema": _STR}
_PART_NUMBER_PARAM = {"name": "number", "in": "path", "required": True, "schema": _INT}
_UPLOAD_RECEIVED = _obj(["number", "etag", "size"], number=_INT, etag=_STR, size=_INT)
_UPLOAD_PART = _obj(
    ["number", "url", "method"], number=_INT, url=_STR, method={"type": "string", "enum": ["PUT"]}
)

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
    # Top-level comments in a list carry `replies` (the first few, oldest first) and
    # `reply_count`; replies carry neither. `body` is plain text: escape it when showing it.
    "Comment": _obj(
        ["id", "work_id", "parent_id", "body", "status", "created_at", "user"],
        id=_INT,
        work_id=_INT,
        parent_id={"type": ["integer", "null"]},
        body=_STR,
        status={"type": "string", "enum": ["visible", "pending"]},
        created_at=_DT,
        user=_obj(["id", "display_name"], id=_INT, display_name=_STR),
        can_delete={"type": "boolean"},
        replies={"type": "array", "items": {"$ref": "#/components/schemas/Comment"}},
        reply_count=_INT,
    ),
    # A work as moderators see it: the public shape plus the review fields.
    "ReviewedWork": {"allOf": [{"$ref": "#/components/schemas/Work"}, _obj(
        ["reject_reason", "recommended", "recommended_at"],
        reject_reason=_NULLABLE_STR, recommended={"type": "boolean"},
        recommended_at={"type": ["string", "null"], "format": "date-time"})]},
    # One of the caller's API tokens (the token itself is shown once, by POST /auth/token):
    # `label` is the User-Agent of the client that asked for it; `current` marks the one in use.
    "ApiToken": _obj(["id", "label", "created_at", "expires_at", "current"], id=_INT, label=_NULLABLE_STR,
                     created_at=_DT, expires_at=_DT, current={"type": "boolean"}),
    # The answer to a like or an unlike: whether the caller now likes the work, and its count.
    "LikeState": _obj(["liked", "likes"], liked={"type": "boolean"}, likes=_INT),
    # A report (举报) as its reporter sees it; `reason` is plain text: escape it when showing it.
    "Report": _obj(
        ["id", "target_type", "target_id", "reason", "status", "created_at"],
        id=_INT,
        target_type={"type": "string", "enum": ["work", "comment"]},
        target_id=_INT,
        reason=_STR,
        status={"type": "string", "enum": ["open", "resolved", "dismissed"]},
        created_at=_DT,
    ),
    # A work on the featured wall: the public shape plus the curator's note (plain text: escape
    # it) and its 0-based place on the wall (the order PUT /wall sets).
    # Search hits (GET /works?q=): escaped text with the matched terms in <mark>, ready to be put
    # in a page as HTML. `body` is an excerpt of the story around the first match ("" if none).
    "WorkHighlight": _obj(["title", "collective", "summary", "body"], title=_STR, collective=_STR,
                          summary=_STR, body=_STR),
    "FeaturedWork": {"allOf": [{"$ref": "#/components/schemas/Work"}, _obj(
        ["note", "position"], note=_STR, position={"type": "integer", "minimum": 0})]},
    # One of the caller's notifications; `message` is the sentence the site shows (plain text:
    # escape it), `details` what it quotes (`reason` of a rejection, `excerpt` of a reply).
    "Notification": _obj(
        ["id", "kind", "work_id", "work_title", "comment_id", "actor", "details", "message",
         "created_at", "read_at"],
        id=_INT,
        kind={"type": "string", "enum": ["approved", "rejected", "recommended", "featured", "reply"]},
        work_id=_INT, work_title=_STR, comment_id={"type": ["integer", "null"]}, actor=_NULLABLE_STR,
        details={"type": "object"}, message=_STR, created_at=_DT,
        read_at={"type": ["string", "null"], "format": "date-time"},
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
            "description": "401 invalid_credentials; 403 account_banned; 423 account_locked after "
                           "LOGIN_LOCKOUT_FAILURES wrong passwords (even the right password is refused "
                           "until the lock ends or the password is reset by e-mail); 429 rate_limited.",
            "requestBody": _body(_obj(["email", "password"], email=_STR, password=_STR)),
            "responses": {"200": _json(_obj(["token", "user"], token=_STR, user=_ref("User"))),
                          **_errors(400, 401, 403, 415, 422, 423, 429)},
        },
        "delete": {
            "summary": "Revoke the bearer token this request carries: it stops working at once "
                       "(400 no_bearer_token without one)",
            "security": [{"bearer": []}],
            "responses": {"204": {"description": "Revoked"}, **_errors(400, 401, 404)},
        },
    },
    "/auth/tokens": {
        "get": {
            "summary": "The caller's API tokens that still work, newest first (never the tokens "
                       "themselves)",
            "security": _BEARER,
            "responses": {"200": _json(_obj(["items"], items={"type": "array", "items": _ref("ApiToken")})),
                          **_errors(401)},
        }
    },
    "/auth/tokens/{id}": {
        "delete": {
            "summary": "Revoke one of the caller's API tokens; anyone else's is 404",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "responses": {"204": {"description": "Revoked"}, **_errors(401, 404)},
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
            "description": "sort=new (default) is newest first; likes and hot read the live rankings "
                           "(hot: likes decayed by age). With several filters, or kind, a ranking page "
                           "may hold fewer items than usual, even none, and still have a next_cursor: "
                           "only next_cursor null means the end. A cursor belongs to its sort. "
                           "q searches published works' titles, summaries, story text and collective "
                           "names (every term, as a substring: Chinese needs no spaces); it adds "
                           "sort=relevance (the default with q) and a highlight per item. A q of only "
                           "symbols matches nothing; likes and hot with q order the best 1,000 matches.",
            "parameters": [
                {"name": "kind", "in": "query", "schema": _KIND},
                {"name": "industry", "in": "query", "schema": _STR},
                {"name": "province", "in": "query", "schema": _STR},
                {"name": "campaign_id", "in": "query", "schema": _INT},
                {"name": "sort", "in": "query", "schema": _SEARCH_SORT},
                {"name": "cursor", "in": "query", "schema": _STR},
                {"name": "q", "in": "query", "schema": _STR,
                 "description": "search terms; only the first 100 characters count"},
            ],
            "responses": {
                "200": _json(_obj(["items", "next_cursor"], items={"type": "array", "items": {"allOf": [
                    _ref("Work"), {"type": "object", "properties": {"highlight": _ref("WorkHighlight")}}]}},
                                  next_cursor=_NULLABLE_STR)),
                **_errors(400, 429),
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
    "/works/{id}/comments": {
        "get": {
            "summary": "Comments on a work: top-level newest first with their first replies; "
                       "with parent_id, every reply of that comment oldest first",
            "parameters": [
                _ID_PARAM,
                {"name": "cursor", "in": "query", "schema": _STR},
                {"name": "parent_id", "in": "query", "schema": _INT},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
            ],
            "responses": {
                "200": _json(_obj(["items", "next_cursor"], items={"type": "array", "items": _ref("Comment")},
                                  next_cursor=_NULLABLE_STR)),
                **_errors(400, 404),
            },
        },
        "post": {
            "summary": "Comment on a published work, or reply (parent_id); pending when the word "
                       "filter holds it for review, with a message saying so",
            "description": "403 email_unverified as for likes.",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "requestBody": _body(_obj(["body"], body=_STR, parent_id={"type": ["integer", "null"]})),
            "responses": {"201": _json(_obj(["comment"], comment=_ref("Comment"), message=_STR), "Created"),
                          **_errors(400, 401, 403, 404, 409, 415, 422, 429, 503)},
        },
    },
    "/comments/{id}": {
        "delete": {
            "summary": "Delete a comment (its author; moderators of the work's province; admins); "
                       "a top-level comment takes its replies with it",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "responses": {"204": {"description": "Deleted"}, **_errors(400, 401, 403, 404, 503)},
        },
    },
    "/works/{id}/like": {
        "put": {
            "summary": "Like a published work in its voting window; repeating it changes nothing",
            "description": "403 email_unverified while the account has not confirmed its e-mail "
                           "address and the site requires it (REQUIRE_VERIFIED_EMAIL).",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "responses": {"200": _json(_ref("LikeState")), **_errors(400, 401, 403, 404, 409, 429, 503)},
        },
        "delete": {
            "summary": "Take a like back (in the voting window); repeating it changes nothing",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "responses": {"200": _json(_ref("LikeState")), **_errors(400, 401, 404, 409, 429, 503)},
        },
    },
    "/works/{id}/uploads": {
        "post": {
            "summary": "Open a resumable upload of a film's or video's source (its collective); "
                       "parts go to presigned bucket URLs (S3) or to PUT /uploads/{upload_id}/parts/{number}",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "requestBody": _body(_obj(["filename", "size", "content_type"],
                                      filename=_STR, size=_INT, content_type=_STR)),
            "responses": {"201": _json(_obj(["upload_id", "part_size", "parts"], upload_id=_STR,
                                            part_size=_INT, parts={"type": "array", "items": _UPLOAD_PART}),
                                       "Created"),
                          **_errors(400, 401, 404, 409, 413, 415, 422)},
        }
    },
    "/uploads/{upload_id}": {
        "get": {
            "summary": "An upload's state for resuming: the parts received and where every part goes",
            "security": _BEARER,
            "parameters": [_UPLOAD_ID_PARAM],
            "responses": {
                "200": _json(_obj(["upload_id", "status", "size", "part_size", "received", "parts"],
                                  upload_id=_STR, work_id=_INT, filename=_STR, size=_INT, part_size=_INT,
                                  status={"type": "string", "enum": ["open", "completed", "aborted"]},
                                  received={"type": "array", "items": _UPLOAD_RECEIVED},
                                  parts={"type": "array", "items": _UPLOAD_PART})),
                **_errors(401, 404),
            },
        }
    },
    "/uploads/{upload_id}/parts/{number}": {
        "put": {
            "summary": "One part of an upload (local storage): the raw bytes; sending it again replaces it",
            "security": _BEARER,
            "parameters": [_UPLOAD_ID_PARAM, _PART_NUMBER_PARAM],
            "requestBody": {"required": True,
                            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                               "format": "binary"}}}},
            "responses": {"200": _json(_obj(["number", "etag"], number=_INT, etag=_STR)),
                          **_errors(400, 401, 404, 409, 413, 507)},
        }
    },
    "/uploads/{upload_id}/complete": {
        "post": {
            "summary": "Complete an upload: the type is sniffed from the bytes, the work goes to "
                       "processing and one transcode job is queued",
            "security": _BEARER,
            "parameters": [_UPLOAD_ID_PARAM],
            "requestBody": _body(_obj(["parts"], parts={"type": "array", "items": _obj(
                ["number", "etag"], number=_INT, etag=_STR)})),
            "responses": {"202": _json(_obj(["work"], work=_ref("Work")), "Accepted"),
                          **_errors(400, 401, 404, 409, 415, 422, 507)},
        }
    },
    "/works/{id}/status": {
        "get": {
            "summary": "Media processing status of a work (its collective, moderators)",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "responses": {"200": _json(_obj(["status", "progress", "error"], status=_STR,
                                            progress={"type": "number", "minimum": 0, "maximum": 1},
                                            error=_NULLABLE_STR)),
                          **_errors(401, 404)},
        }
    },
    "/moderation/queue": {
        "get": {
            "summary": "A review queue in the moderator's scope (provincial moderators: their province). "
                       "kind=works (default): works of one queue (pending oldest first; recommended, "
                       "published and rejected newest first) with counts per queue; kind=comments: "
                       "comments waiting for review or reported",
            "security": _BEARER,
            "parameters": [
                {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["works", "comments"]}},
                {"name": "queue", "in": "query", "schema": {"type": "string", "enum": list(QUEUES)}},
                {"name": "work_kind", "in": "query", "schema": _KIND},
                {"name": "industry", "in": "query", "schema": _STR},
                {"name": "province", "in": "query", "schema": _STR},
                {"name": "campaign_id", "in": "query", "schema": _INT},
                {"name": "cursor", "in": "query", "schema": _STR},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
            ],
            "responses": {
                "200": _json(_obj(["items", "next_cursor"],
                                  items={"type": "array", "items": {"type": "object"}},
                                  next_cursor=_NULLABLE_STR,
                                  counts={"type": "object", "additionalProperties": _INT})),
                **_errors(400, 401, 403),
            },
        }
    },
    "/moderation/works/{id}/approve": {
        "post": {
            "summary": "Approve a work waiting for review: it is published",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "responses": {"200": _json(_obj(["work"], work=_ref("ReviewedWork"))),
                          **_errors(401, 403, 404, 409)},
        }
    },
    "/moderation/works/{id}/reject": {
        "post": {
            "summary": "Reject a work waiting for review (or take a published one down) with a reason "
                       "its collective reads",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "requestBody": _body(_obj(["reason"], reason=_STR)),
            "responses": {"200": _json(_obj(["work"], work=_ref("ReviewedWork"))),
                          **_errors(400, 401, 403, 404, 409, 415, 422)},
        }
    },
    "/moderation/works/{id}/recommend": {
        "post": {
            "summary": "Recommend (推报) a published work to the national committee; repeating it "
                       "changes nothing",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "requestBody": {"required": False,
                            "content": {"application/json": {"schema": _obj([], reason=_STR)}}},
            "responses": {"200": _json(_obj(["work"], work=_ref("ReviewedWork"))),
                          **_errors(400, 401, 403, 404, 409, 415, 422)},
        }
    },
    "/moderation/works/{id}/unrecommend": {
        "post": {
            "summary": "Withdraw a recommendation; repeating it changes nothing",
            "security": _BEARER,
            "parameters": [_ID_PARAM],
            "responses": {"200": _json(_obj(["work"], work=_ref("ReviewedWork"))),
                          **_errors(401, 403, 404)},
        }
    },
    "/moderation/works/bulk": {
        "post": {
            "summary": "One review action on many works (at most 100), each on its own",
            "security": _BEARER,
            "requestBody": _body(_obj(["action", "work_ids"],
                                      action={"type": "string", "enum": list(ACTIONS)},
                                      work_ids={"type": "array", "items": _INT}, reason=_STR)),
            "responses": {"200": _json(_obj(["done", "failed"], done={"type": "array", "items": _INT},
                                            failed={"type": "array", "items": _obj(
                                                ["id", "message"], id=_INT, message=_STR)})),
                          **_errors(400, 401, 403, 415, 422)},
        }
    },
    "/wall": {
        "get": {
            "summary": "The featured wall: curated works in order (at most 48, published only), then "
                       "the top hot and most-liked works; filters apply to every section",
            "parameters": [
                {"name": "campaign_id", "in": "query", "schema": _INT},
                {"name": "industry", "in": "query", "schema": _STR},
                {"name": "province", "in": "query", "schema": _STR},
            ],
            "responses": {
                "200": _json(_obj(["featured", "hot", "likes"],
                                  featured={"type": "array", "items": _ref("FeaturedWork")},
                                  hot={"type": "array", "items": _ref("Work")},
                                  likes={"type": "array", "items": _ref("Work")})),
                **_errors(400),
            },
        },
        "put": {
            "summary": "Replace the wall's order (national moderators): works left out are removed, new "
                       "ones added at their place; each must be a distinct published work (else 422 "
                       "naming them, nothing changed); at most 48 (409 wall_full)",
            "security": _BEARER,
            "requestBody": _body(_obj(["work_ids"], work_ids={"type": "array", "items": _INT})),
            "responses": {
                "200": _json(_obj(["featured"], featured={"type": "array", "items": _ref("FeaturedWork")})),
                **_errors(400, 401, 403, 409, 415, 422),
            },
        },
    },
    "/reports": {
        "post": {
            "summary": "Report a work or a comment the caller can see, with a reason (at most 500 "
                       "characters); while the caller's earlier report on it is open, that report "
                       "is answered again instead of a new one",
            "security": _BEARER,
            "requestBody": _body(_obj(["target_type", "target_id", "reason"],
                                      target_type={"type": "string", "enum": ["work", "comment"]},
                                      target_id=_INT, reason=_STR)),
            "responses": {"201": _json(_obj(["report"], report=_ref("Report")), "Created"),
                          **_errors(400, 401, 404, 415, 422, 429)},
        }
    },
    "/notifications": {
        "get": {
            "summary": "The caller's notifications, newest first, and how many are unread; listing "
                       "marks nothing read",
            "security": _BEARER,
            "parameters": [{"name": "cursor", "in": "query", "schema": _STR},
                           {"name": "limit", "in": "query", "schema": _INT}],
            "responses": {"200": _json(_obj(["items", "next_cursor", "unread"],
                                            items={"type": "array", "items": _ref("Notification")},
                                            next_cursor=_NULLABLE_STR, unread=_INT)),
                          **_errors(400, 401)},
        }
    },
    "/notifications/read": {
        "post": {
            "summary": "Mark the caller's notifications read: those in `ids`, or all without a body",
            "security": _BEARER,
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": _obj([], ids={"type": "array", "items": _INT})}}},
            "responses": {"200": _json(_obj(["marked", "unread"], marked=_INT, unread=_INT)),
                          **_errors(400, 401, 415, 422)},
        }
    },
    "/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}
    },
}  # fmt: skip


def _with_shared_refusals(paths: dict[str, Any]) -> dict[str, Any]:
    """The refusals any call may meet, added where an operation does not list them itself:
    400 csrf_failed on every write sent with the session cookie but no valid X-CSRFToken (a stale
    cookie left in a browser is enough), 401 invalid_token on every call sent with a Bearer token
    that is wrong, expired or revoked (whatever cookies come with it), 413 on every body past
    MAX_REQUEST_BYTES, and 503 unavailable, with Retry-After, whenever the database or Redis is
    down."""
    for item in paths.values():
        for method, operation in item.items():
            responses = operation["responses"]
            responses.setdefault("401", _json(_ERROR, "Error"))
            if method != "get":
                responses.setdefault("400", _json(_ERROR, "Error"))
            if "requestBody" in operation:
                responses.setdefault("413", _json(_ERROR, "Error"))
            responses.setdefault("503", _json(_ERROR, "Error"))
    return paths


def build_spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "网络倡文明 API",
            "version": "1",
            "description": 'Errors: {"error": {"code", "message"}}. Writes with the session '
            "cookie need the X-CSRFToken header; other clients use Authorization: Bearer, and a "
            "request carrying a Bearer token is authenticated by it alone (a bad one is 401 "
            "invalid_token whatever cookies come with it).",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": _with_shared_refusals(PATHS),
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
