"""Linked accounts in the web console: the same ``/link`` and ``/unlink`` as in chat, for the person signed in
with Discord or Telegram (the operator's sign-in is no one's chat account and cannot be linked).

A code is shown on the page only to whoever asked (the page is the signed-in person's own); one typed here
links this sign-in's account with the account on the other platform that got the code.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.core.linking import code_text, linked_text, unlinked_text
from bot.web.auth import signed_in
from bot.web.console import Console, signed_in_only
from engine.linking import identities_text


def routes(console: Console) -> list[Route]:
    service = console.service

    @signed_in_only(console)
    async def link_page(request: Request) -> Response:
        user = signed_in(request)
        assert user is not None
        message = None
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=4)
            typed = str(form.get("code", "")).strip()
            w = await console.words(request, user)
            if form.get("action") == "unlink":
                message = unlinked_text(w, user, await service.unlink(user))
            elif typed:
                message = linked_text(w, await service.link(user, typed))
            else:
                message = code_text(w, await service.link_code(user))
        identities = await service.linking.identities(user)
        w = await console.words(request, user)  # after a link: the account's language
        return await console.page(request, "link.html", w=w, nav="link", message=message,
                                  linked=identities_text(identities) if len(identities) > 1 else None)

    return [Route("/link", link_page, methods=["GET", "POST"])]
