"""Malformed request bodies get the answers they always got.

tests/fixtures/api-request-errors.json holds the answers of every call that takes a JSON body,
recorded before bodies were parsed with schemas (app/api/parsing.py): to a body that is not JSON,
that does not parse, that is not an object, that is empty, and with each field in turn absent,
null, empty or of a wrong JSON type, and an integer past 64 bits. Every error keeps its status,
code, message and fields. A few calls used to accept a value of the wrong type (a number for a
file name, a list for a reason) and store or ignore it; those are refused now, in the shape of
every other wrong type (TIGHTENED).

The calls run in the recorded order in one world built the same way, so ids match.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.models import Role
from tests.api_world_support import build_api_world
from tests.sign_in_support import bearer

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "api-request-errors.json").read_text("utf-8"))

# What each call is sent when valid; its cases change one field at a time.
BODIES = {
    ("post", "/api/v1/auth/register"): {"email": "s", "password": "s", "display_name": "s"},
    ("post", "/api/v1/auth/token"): {"email": "s", "password": "s"},
    ("post", "/api/v1/works"): {
        "kind": "story",
        "title": "标题",
        "summary": "s",
        "body": "s",
        "campaign_id": 1,
    },
    ("post", "/api/v1/works/3/uploads"): {"filename": "a.mp4", "size": 1048576, "content_type": "video/mp4"},
    ("post", "/api/v1/uploads/UPLOAD/complete"): {"parts": [{"number": 1, "etag": "x"}]},
    ("post", "/api/v1/works/1/comments"): {"body": "说得好", "parent_id": 1},
    ("post", "/api/v1/reports"): {"target_type": "work", "target_id": 1, "reason": "刷票"},
    ("post", "/api/v1/moderation/works/5/reject"): {"reason": "不合适"},
    ("post", "/api/v1/moderation/works/1/recommend"): {"reason": "好"},
    ("post", "/api/v1/moderation/works/bulk"): {"action": "approve", "work_ids": [5], "reason": "r"},
    ("put", "/api/v1/wall"): {"work_ids": [1]},
    ("post", "/api/v1/notifications/read"): {"ids": [1]},
}
CALLER = {("post", "/api/v1/works"): "member", ("post", "/api/v1/works/3/uploads"): "member",
          ("post", "/api/v1/uploads/UPLOAD/complete"): "member"}  # fmt: skip

# Wrong-typed values that used to be taken (201/200) and are refused now (422, "必须是字符串").
TIGHTENED = {
    ("/api/v1/works/3/uploads", "filename"),
    ("/api/v1/moderation/works/1/recommend", "reason"),
    ("/api/v1/moderation/works/bulk", "reason"),
}


def _body(case: str, valid: dict):
    """The body of a recorded case: `name=value` changes one field of the valid body."""
    name, value = case.split("=", 1)
    return {**valid, name: json.loads(value)}


def _world(make_collective, make_user) -> dict:
    """The world the answers were recorded in (ids 1-6 for works, the upload on work 3)."""
    world = build_api_world(make_collective, make_user)
    return {"member": bearer(world.member), "national": bearer(world.national), "upload_id": world.upload_id}


def _send(client, method: str, path: str, case: str, headers: dict, valid: dict):
    call = getattr(client, method)
    if case == "not_json":
        return call(path, data="x=1", content_type="text/plain", headers=headers)
    if case == "invalid_json":
        return call(path, data="{", content_type="application/json", headers=headers)
    if case == "array":
        return call(path, json=[], headers=headers)
    if case == "empty":
        return call(path, json={}, headers=headers)
    return call(path, json=_body(case, valid), headers=headers)


def test_the_recording_covers_every_call_and_case():
    assert {(r["method"], r["path"]) for r in RECORDED} == set(BODIES)
    assert len(RECORDED) == 164


def test_every_malformed_body_gets_the_answer_it_always_got(app, make_collective, make_user):
    app.config.update(
        LOGIN_RATE_LIMIT="100000 per minute",
        LOGIN_IP_RATE_LIMIT="100000 per minute",
        REGISTER_RATE_LIMIT="100000 per minute",
        COMMENT_RATE_LIMIT="100000 per minute",
        REPORT_RATE_LIMIT="100000 per minute",
    )
    world = _world(make_collective, make_user)
    client = app.test_client()
    changed = []
    for recorded in RECORDED:
        method, path, case = recorded["method"], recorded["path"], recorded["case"]
        headers = world[CALLER.get((method, path), "national")] if "/auth/" not in path else {}
        response = _send(
            client, method, path.replace("UPLOAD", world["upload_id"]), case, headers, BODIES[(method, path)]
        )
        error = response.json.get("error", {}) if response.is_json and response.status_code >= 400 else {}
        answer = {"status": response.status_code, "code": error.get("code"), "message": error.get("message")}
        if error.get("fields") is not None:
            answer["fields"] = error["fields"]
        expected = {k: recorded.get(k) for k in ("status", "code", "message")}
        if "fields" in recorded:
            expected["fields"] = recorded["fields"]
        field, _, value = case.partition("=")
        wrong_type = value and not isinstance(json.loads(value), str | None)
        if recorded["status"] < 400 and (path, field) in TIGHTENED and wrong_type:
            expected = {"status": 422, "code": "validation_failed", "message": f"字段类型不正确：{field}"}
            expected["fields"] = {field: "必须是字符串"}
        if answer != expected:
            changed.append((method, path, case, expected, answer))
    assert changed == []


@pytest.mark.parametrize("payload", ["[" * 100_000, '{"a": ' * 100_000])
def test_a_body_nested_deeper_than_the_parser_goes_is_invalid_json(app, make_user, payload):
    user = make_user(Role.VIEWER)
    response = app.test_client().post(
        "/api/v1/reports",
        data=payload,
        content_type="application/json",
        headers=bearer(user),
    )
    assert (response.status_code, response.json["error"]["code"]) == (400, "invalid_json")


def test_an_optional_body_may_be_left_out_whatever_the_content_type(app, make_user):
    user = make_user(Role.VIEWER)
    headers = {**bearer(user), "Content-Type": "application/json"}
    response = app.test_client().post("/api/v1/notifications/read", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json == {"marked": 0, "unread": 0}


def test_unknown_fields_are_ignored_as_they_always_were(app, make_user):
    user = make_user(Role.VIEWER)
    response = app.test_client().post(
        "/api/v1/notifications/read",
        json={"ids": [], "colour": "red", "nested": {"n": 1}},
        headers=bearer(user),
    )
    assert response.status_code == 200, response.json
