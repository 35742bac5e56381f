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
