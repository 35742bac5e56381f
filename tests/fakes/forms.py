"""Multipart forms, parsed from a request body that was already read (the fakes log every body first)."""

from __future__ import annotations

import email
import email.policy

from aiohttp import web


async def form_parts(request: web.Request) -> dict[str, tuple[str | None, bytes]]:
    """A multipart form's fields as name -> (filename, bytes), parsed from the body the log already read."""
    body = await request.read()
    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = email.message_from_bytes(head + body, policy=email.policy.HTTP)
    parts: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return parts
