"""Check a request against an OpenAPI 3.1 document: the path and method exist, the JSON body fits its schema,
multipart forms carry their required fields. What a fake server uses to hold a client to the published API."""

from __future__ import annotations

import json
import re
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
          content_type: str, form_fields: set[str] | None = None) -> list[str]:
    """Problems with one request, as sentences; empty when the published API accepts it."""
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
        try:
            data = json.loads(body or b"null")
        except json.JSONDecodeError:
            return [f"{method} {local}: the body is not JSON"]
        validator = jsonschema.Draft202012Validator({**schema, "components": spec["components"]})
        return [f"{method} {local}: {e.message} at {list(e.absolute_path)}" for e in validator.iter_errors(data)]
    if kind == "multipart/form-data":
        missing = set(schema.get("required", [])) - (form_fields or set())
        return [f"{method} {local}: multipart field {name!r} is missing" for name in sorted(missing)]
    return []
