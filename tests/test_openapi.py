"""The published spec lists exactly the /api/v1 calls that exist, no more and no fewer."""

import re

from app.api.openapi import build_spec

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((path, method.lower()))
    return found


def _spec_operations() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in build_spec()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_route_is_in_the_spec(app):
    assert _routes(app) - _spec_operations() == set()


def test_every_spec_operation_has_a_route(app):
    assert _spec_operations() - _routes(app) == set()


def test_spec_is_served_as_json(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.")


def test_every_schema_reference_resolves():
    spec = build_spec()
    text = str(spec)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in spec["components"]["schemas"], name


def test_the_caption_upload_declares_every_type_it_takes(app):
    from app.media.captions import CONTENT_TYPES

    body = build_spec()["paths"]["/works/{id}/captions/{lang}"]["put"]["requestBody"]
    assert set(body["content"]) == set(CONTENT_TYPES)  # text/plain and text/srt were taken, not said
