"""Checks an API answer against the schema the published spec gives for it."""

from __future__ import annotations

from typing import Any

import jsonschema

from app.api.openapi import build_spec


def assert_matches_schema(name: str, data: Any) -> None:
    spec = build_spec()
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
