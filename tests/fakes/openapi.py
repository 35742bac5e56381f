"""Check a request against an OpenAPI 3.1 document: the path and method exist, the JSON body fits its schema,
multipart forms carry their required fields. What a fake server uses to hold a client to the published API."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SPECS = Path(__file__).parent / "specs"


@cache
def load(name: str) -> dict[str, Any]:
    return json.loads((SPECS / name).read_text())


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


def check(spec: dict[str, Any], base_path: str, method: str, path: str, body: bytes,
          content_type: str, form: Mapping[str, bytes] | None = None) -> list[str]:
    """Problems with one request, as sentences; empty when the published API accepts it.

    ``form`` holds a multipart request's fields; a ``payload_json`` field (Discord's way to send JSON beside
    files) is checked against the operation's JSON schema."""
    if not path.startswith(base_path):
        return [f"{method} {path} is outside the API ({base_path})"]
    local = path[len(base_path):] or "/"
    operation = None
    for template, item in spec["paths"].items():
        if _pattern(template).match(local) and method.lower() in item:
            operation = item[method.lower()]
            break
    if operation is None:
        return [f"{method} {local} is not in the published API"]
    request_body = operation.get("requestBody")
    if request_body is None:
        return []
    media = request_body.get("content", {})
    kind = content_type.split(";")[0].strip()
    if kind not in media:
        return [f"{method} {local} sent {kind or 'no body'}; the API takes {', '.join(media)}"]
    schema = media[kind].get("schema", {})
    if kind == "application/json":
        return _json_problems(spec, schema, body, f"{method} {local}")
    if kind == "multipart/form-data":
        fields = form or {}
        missing = set(schema.get("required", [])) - set(fields)
        problems = [f"{method} {local}: multipart field {name!r} is missing" for name in sorted(missing)]
        if "payload_json" in fields and "application/json" in media:
            problems += _json_problems(spec, media["application/json"].get("schema", {}), fields["payload_json"],
                                       f"{method} {local} payload_json")
        return problems
    return []


def schema_problems(spec: dict[str, Any], schema: dict[str, Any], data: Any, where: str) -> list[str]:
    """Problems of an already parsed value against a schema of the spec (a fake's own answers).

    The spec writes OpenAPI 3.0's ``nullable: true``, which JSON Schema does not know: it is read as "or null";
    its ``oneOf``s describe alternatives that overlap (``version``: any string, or "hidden"), read as ``anyOf``.
    """
    spec = _nullable(json.dumps(spec, sort_keys=True))
    schema = _with_null(schema)
    return [f"{where}: {e.message} at {list(e.absolute_path)}" for e in _validator(spec, schema).iter_errors(data)]


@cache
def _nullable(spec_json: str) -> dict[str, Any]:
    result: dict[str, Any] = _with_null(json.loads(spec_json))
    return result


def _with_null(node: Any) -> Any:
    if isinstance(node, list):
        return [_with_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {("anyOf" if key == "oneOf" else key): _with_null(value) for key, value in node.items()}
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _json_problems(spec: dict[str, Any], schema: dict[str, Any], body: bytes, where: str) -> list[str]:
    try:
        data = json.loads(body or b"null")
    except json.JSONDecodeError:
        return [f"{where}: the body is not JSON"]
    return [f"{where}: {e.message} at {list(e.absolute_path)}" for e in _validator(spec, schema).iter_errors(data)]


_VALIDATORS: dict[tuple[int, str], jsonschema.protocols.Validator] = {}


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    key = (id(spec), json.dumps(schema, sort_keys=True))
    if key not in _VALIDATORS:
        _VALIDATORS[key] = jsonschema.Draft202012Validator({**schema, "components": spec["components"]})
    return _VALIDATORS[key]
