"""The generated spec keeps the v1 contract frozen in tests/fixtures/openapi-v1.json.

The frozen file is the document GET /api/v1/openapi.json served before the spec was generated
from schemas. Other clients were written against it (DESIGN.md: extend, never rename), so every
path, method, parameter, request body, response status, response field and the error shape in it
must still be in the generated one, with the same types, enums and required-ness. Additions are
allowed: new paths, methods, optional parameters, optional request fields, statuses, response
fields, an enum on a response field that had none, and null taken where a request field is
optional.

Schemas are compared by what they accept or promise, not by how they are written: references,
``allOf`` and ``oneOf``/``anyOf`` with null are resolved into one shape per schema first.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.api.openapi import build_spec

FROZEN = json.loads((Path(__file__).parent / "fixtures" / "openapi-v1.json").read_text(encoding="utf-8"))
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass
class Shape:
    """What a JSON schema says about a value, whatever the way it is written."""

    types: frozenset[str] | None = None  # None: any type
    enum: frozenset | None = None
    format: str | None = None
    bounds: dict[str, Any] = field(default_factory=dict)  # minimum, maximum
    properties: dict[str, Shape] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    items: Shape | None = None
    additional: Shape | None = None
    recursive: str | None = None  # a reference met again inside itself (Comment.replies)


def _merge(a: Shape, b: Shape) -> Shape:
    """Both at once (allOf)."""
    types = a.types if b.types is None else b.types if a.types is None else a.types & b.types
    return Shape(
        types=types,
        enum=a.enum if b.enum is None else b.enum if a.enum is None else a.enum & b.enum,
        format=a.format or b.format,
        bounds={**a.bounds, **b.bounds},
        properties={**a.properties, **b.properties},
        required=a.required | b.required,
        items=a.items or b.items,
        additional=a.additional or b.additional,
        recursive=a.recursive or b.recursive,
    )


def _either(a: Shape, b: Shape) -> Shape:
    """One or the other (oneOf, anyOf): the object's fields with null among the types, say."""
    merged = _merge(a, b)
    merged.types = None if a.types is None or b.types is None else a.types | b.types
    merged.enum = None if a.enum is None or b.enum is None else a.enum | b.enum
    merged.required = a.required & b.required if a.properties and b.properties else merged.required
    return merged


def shape(schema: dict[str, Any], spec: dict[str, Any], seen: tuple[str, ...] = ()) -> Shape:
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            return Shape(recursive=ref.rsplit("/", 1)[-1])
        target = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return shape(target, spec, (*seen, ref))
    result = Shape()
    if "type" in schema:
        types = schema["type"]
        result.types = frozenset([types] if isinstance(types, str) else types)
        if schema.get("nullable"):
            result.types |= {"null"}
    if "enum" in schema:
        result.enum = frozenset(value for value in schema["enum"] if value is not None)
        if result.types is not None and None in schema["enum"]:
            result.types |= {"null"}
    result.format = schema.get("format")
    result.bounds = {k: schema[k] for k in ("minimum", "maximum") if k in schema}
    result.properties = {name: shape(sub, spec, seen) for name, sub in schema.get("properties", {}).items()}
    result.required = frozenset(schema.get("required", ()))
    if "items" in schema:
        result.items = shape(schema["items"], spec, seen)
    if isinstance(schema.get("additionalProperties"), dict):
        result.additional = shape(schema["additionalProperties"], spec, seen)
    for part in schema.get("allOf", ()):
        result = _merge(result, shape(part, spec, seen))
    for key in ("oneOf", "anyOf"):
        if key in schema:
            alternatives = [shape(part, spec, seen) for part in schema[key]]
            either = alternatives[0]
            for other in alternatives[1:]:
                either = _either(either, other)
            result = _merge(result, either) if result.types is None else _either(result, either)
    return result


def differences(old: Shape, new: Shape, where: str, sent: bool) -> list[str]:
    """What `new` breaks of `old`. `sent`: a request the client sends (the server may accept more,
    ask for less); else an answer the client reads (the server may promise more)."""
    found = []
    if old.recursive or new.recursive:
        return (
            []
            if old.recursive == new.recursive
            else [f"{where}: recursion {old.recursive} → {new.recursive}"]
        )
    # A request may take more types than before (null for "not given"); an answer may promise fewer.
    if old.types is not None and not (
        (new.types is None or new.types >= old.types) if sent else (new.types and new.types <= old.types)
    ):
        found.append(f"{where}: type {sorted(old.types)} → {sorted(new.types or ['any'])}")
    if (
        old.enum is not None
        and new.enum != old.enum
        and not (sent and new.enum is not None and new.enum > old.enum)
    ):
        found.append(f"{where}: enum {sorted(old.enum)} → {sorted(new.enum or ['any'])}")
    if old.enum is None and new.enum is not None and sent:
        found.append(f"{where}: a sent value is now limited to {sorted(new.enum)}")
    if old.format and new.format != old.format:
        found.append(f"{where}: format {old.format} → {new.format}")
    for bound, value in old.bounds.items():
        if new.bounds.get(bound) != value:
            found.append(f"{where}: {bound} {value} → {new.bounds.get(bound)}")
    for name, sub in old.properties.items():
        if name not in new.properties:
            found.append(f"{where}.{name}: gone")
        else:
            found += differences(sub, new.properties[name], f"{where}.{name}", sent)
    if sent:
        if new.required - old.required:
            found.append(f"{where}: newly required {sorted(new.required - old.required)}")
    elif old.required - new.required:
        found.append(f"{where}: no longer always there {sorted(old.required - new.required)}")
    if old.items is not None:
        if new.items is None:
            found.append(f"{where}[]: item schema gone")
        else:
            found += differences(old.items, new.items, f"{where}[]", sent)
    if old.additional is not None:
        if new.additional is None:
            found.append(f"{where}{{}}: value schema gone")
        else:
            found += differences(old.additional, new.additional, f"{where}{{}}", sent)
    return found


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each operation, with the parameters its path declares for all of its operations."""
    found = {}
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method in HTTP_METHODS:
                own = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
                inherited = [p for p in shared if (p["name"], p["in"]) not in own]
                found[(path, method)] = {
                    **operation,
                    "parameters": [*operation.get("parameters", []), *inherited],
                }
    return found


def _resolve(obj: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A response or request body given by reference (#/components/responses/…)."""
    while "$ref" in obj:
        target = spec
        for part in obj["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        obj = target
    return obj


def operation_differences(old: dict, new: dict, old_spec: dict, new_spec: dict, where: str) -> list[str]:
    found = []
    new_params = {(p["name"], p["in"]): p for p in new.get("parameters", [])}
    for param in old.get("parameters", []):
        key = (param["name"], param["in"])
        at = f"{where} {param['in']} parameter {param['name']}"
        if key not in new_params:
            found.append(f"{at}: gone")
            continue
        if bool(param.get("required")) != bool(new_params[key].get("required")):
            found.append(f"{at}: required {param.get('required')} → {new_params[key].get('required')}")
        found += differences(
            shape(param["schema"], old_spec),
            shape(new_params[key].get("schema", {}), new_spec),
            at,
            sent=True,
        )
    for key, param in new_params.items():
        if key not in {(p["name"], p["in"]) for p in old.get("parameters", [])} and param.get("required"):
            found.append(f"{where} {key[1]} parameter {key[0]}: new and required")
    old_body, new_body = old.get("requestBody"), new.get("requestBody")
    if old_body is not None:
        old_body, new_body = _resolve(old_body, old_spec), _resolve(new_body or {}, new_spec)
        if not new_body:
            found.append(f"{where} request body: gone")
        else:
            if bool(new_body.get("required")) and not old_body.get("required"):
                found.append(f"{where} request body: now required")
            for content_type, media in old_body["content"].items():
                if content_type not in new_body.get("content", {}):
                    found.append(f"{where} request body {content_type}: no longer taken")
                    continue
                found += differences(
                    shape(media["schema"], old_spec),
                    shape(new_body["content"][content_type].get("schema", {}), new_spec),
                    f"{where} request body",
                    sent=True,
                )
    elif new_body is not None and _resolve(new_body, new_spec).get("required"):
        found.append(f"{where} request body: new and required")
    for status, old_response in old["responses"].items():
        at = f"{where} → {status}"
        if status not in new["responses"]:
            found.append(f"{at}: gone")
            continue
        old_response = _resolve(old_response, old_spec)
        new_response = _resolve(new["responses"][status], new_spec)
        for content_type, media in old_response.get("content", {}).items():
            if content_type not in new_response.get("content", {}):
                found.append(f"{at} {content_type}: gone")
                continue
            found += differences(
                shape(media["schema"], old_spec),
                shape(new_response["content"][content_type].get("schema", {}), new_spec),
                at,
                sent=False,
            )
    if old.get("security") != new.get("security"):
        found.append(f"{where}: security {old.get('security')} → {new.get('security')}")
    return found


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_spec()


def test_the_spec_is_still_openapi_3_1_served_under_api_v1(spec):
    assert spec["openapi"].startswith("3.1")
    assert spec["servers"] == FROZEN["servers"]
    assert spec["components"]["securitySchemes"] == FROZEN["components"]["securitySchemes"]


def test_every_frozen_operation_is_still_there(spec):
    assert set(_operations(FROZEN)) - set(_operations(spec)) == set()


@pytest.mark.parametrize("operation", sorted(_operations(FROZEN)), ids=lambda op: f"{op[1].upper()} {op[0]}")
def test_every_frozen_operation_keeps_its_parameters_bodies_statuses_and_fields(spec, operation):
    old, new = _operations(FROZEN)[operation], _operations(spec)[operation]
    where = f"{operation[1].upper()} {operation[0]}"
    assert operation_differences(old, new, FROZEN, spec, where) == []


@pytest.mark.parametrize("name", sorted(FROZEN["components"]["schemas"]))
def test_every_frozen_named_schema_keeps_its_fields(spec, name):
    # tests/contract.py and other clients check answers against these names.
    assert name in spec["components"]["schemas"]
    old = shape({"$ref": f"#/components/schemas/{name}"}, FROZEN)
    new = shape({"$ref": f"#/components/schemas/{name}"}, spec)
    assert differences(old, new, name, sent=False) == []


def test_every_error_answer_keeps_the_error_shape(spec):
    error = shape(FROZEN["components"]["schemas"]["Error"], FROZEN)
    for (path, method), operation in _operations(spec).items():
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            content = _resolve(response, spec).get("content", {})
            assert set(content) == {"application/json"}, (method, path, status)
            schema = shape(content["application/json"]["schema"], spec)
            assert differences(error, schema, f"{method.upper()} {path} → {status}", sent=False) == []
            # No other shape beside ours (webargs' {"errors"}, flask-smorest's {"code", "status"}).
            assert set(schema.properties) == {"error"}, (method, path, status)


# The comparison itself, on small cases: it must see a change wherever a client would.


def _diff(old: dict, new: dict, sent: bool = False) -> list[str]:
    return differences(shape(old, {}), shape(new, {}), "x", sent)


def test_the_comparison_sees_a_field_gone_a_type_changed_and_a_field_no_longer_required():
    old = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
    }
    assert _diff(old, {"type": "object", "properties": {"a": {"type": "integer"}}}) == [
        "x.b: gone",
        "x: no longer always there ['a']",
    ]
    changed = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
    }
    assert _diff(old, changed) == ["x.a: type ['integer'] → ['string']"]


def test_the_comparison_allows_additions_and_reads_nullable_references_as_one_shape():
    old = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}
    new = {
        "type": "object",
        "required": ["a", "c"],
        "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "c": {"type": "integer"}},
    }
    assert _diff(old, new) == []


def test_the_comparison_refuses_new_demands_on_what_clients_send():
    old = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
    }
    new = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {"a": {"type": "string"}, "b": {"type": "string", "enum": ["x"]}},
    }
    assert _diff(old, new, sent=True) == [
        "x.b: a sent value is now limited to ['x']",
        "x: newly required ['b']",
    ]


def test_the_schemas_read_only_the_models_the_limits_the_errors_and_the_range_checks():
    # So the capabilities under the API can be moved without touching its declarations.
    tree = ast.parse((Path(__file__).parent.parent / "app/api/schemas.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert {name for name in imported if name.split(".")[0] == "app"} <= {
        "app.models",
        "app.field_limits",
        "app.errors",
        "app.ids",
    }
