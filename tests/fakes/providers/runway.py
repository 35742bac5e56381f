"""Runway's API: camelCase task creation, /v1/tasks/{id} polling, DELETE to cancel.

Requests are held to the official SDK's own typed params (``runwayml.types``): for the model named in the
body, every required field must be there, no unknown field may be, and each ``Literal`` (``ratio`` above
all: gen4.5's text-to-video takes only ``1280:720`` and ``720:1280``) must match. ``promptText`` is at most
1000 UTF-16 code units. Tasks answer with every field the SDK's ``TaskRetrieveResponse`` requires, including
``estimatedCost`` while waiting or running and ``cost`` once ended: a task cancelled while it ran keeps its
charge in this fake (one cancelled while pending, or failed, is refunded: 0). Looks at one task faster than
the SDK's lowest wait (6 s - 1.5 s jitter) are answered 429 (with a clock set).
"""

from __future__ import annotations

import math
import typing
import uuid
from functools import cache
from typing import Any

import typing_extensions as te
from aiohttp import web

from tests.fakes.providers.base import FakeProvider, RemoteJob

VERSION = "2024-11-06"
CREDITS_PER_SECOND = {"gen4_turbo": 5, "gen4.5": 12}
MAX_PROMPT_UTF16 = 1000


@cache
def sdk_fields(route: str, model: str) -> dict[str, tuple[bool, tuple[Any, ...] | None]] | None:
    """The SDK's params for ``model`` on ``route``: camelCase name -> (required, allowed literals or None)."""
    from runwayml._utils import PropertyInfo
    from runwayml.types import image_to_video_create_params, text_to_video_create_params

    module = image_to_video_create_params if route == "image_to_video" else text_to_video_create_params
    for cls in vars(module).values():
        if not (isinstance(cls, type) and hasattr(cls, "__annotations__") and issubclass(cls, dict)):
            continue
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
        except Exception:  # noqa: BLE001 - a helper type of the module, not a model's params
            continue
        fields: dict[str, tuple[bool, tuple[Any, ...] | None]] = {}
        for name, hint in hints.items():
            required = False
            while typing.get_origin(hint) in (te.Required, te.NotRequired, typing.Required, typing.NotRequired):
                required = typing.get_origin(hint) in (te.Required, typing.Required)
                hint = typing.get_args(hint)[0]
            alias = name
            for meta in getattr(hint, "__metadata__", ()):
                if isinstance(meta, PropertyInfo) and meta.alias:
                    alias = meta.alias
            inner = typing.get_args(hint)[0] if hasattr(hint, "__metadata__") else hint
            literals = typing.get_args(inner) if typing.get_origin(inner) is typing.Literal else None
            fields[alias] = (required, literals)
        if fields.get("model", (False, None))[1] == (model,):
            return fields
    return None


class FakeRunway(FakeProvider):
    key = "key_runway_test"
    pace_s = 4.5
    failure_code: str | None = None  # the failureCode of planned failures (else SAFETY.INPUT.IMAGE / INTERNAL)

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/image_to_video", self.image_to_video)
        router.add_post("/v1/text_to_video", self.text_to_video)
        router.add_get("/v1/tasks/{id}", self.task)
        router.add_delete("/v1/tasks/{id}", self.delete)
        router.add_get("/v1/organization", self.organization)

    def _guard(self, request: web.Request, step: str) -> web.Response | None:
        if request.headers.get("X-Runway-Version") != VERSION:
            return web.json_response({"error": "X-Runway-Version header is required"}, status=400)
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return web.json_response({"error": "Invalid API key"}, status=401)
        return self.scripted(step)

    def throttle(self, wait: float) -> web.Response:
        return web.json_response({"error": "Too many requests: slow down polling"}, status=429,
                                 headers={"Retry-After": str(math.ceil(wait))})

    async def _create(self, request: web.Request, route: str) -> web.Response:
        if (refused := self._guard(request, "create")) is not None:
            return refused
        body: dict[str, Any] = await request.json()
        errors = self.invalid(route, body)
        if errors:
            return web.json_response({"error": "; ".join(errors)}, status=400)
        job = self.new_job(route, body, str(uuid.uuid4()))
        return web.json_response({"id": job.id})

    def invalid(self, route: str, body: dict[str, Any]) -> list[str]:
        fields = sdk_fields(route, str(body.get("model")))
        if fields is None:
            return [f"model {body.get('model')!r} is not available on /v1/{route}"]
        errors = [f"{name} is required" for name, (required, _) in fields.items() if required and name not in body]
        errors += [f"unknown field {name}" for name in sorted(set(body) - set(fields))]
        for name, (_, literals) in fields.items():
            if literals is not None and name in body and body[name] not in literals:
                errors.append(f"{name} {body[name]!r} is not one of {', '.join(map(str, literals))}")
        image = str(body.get("promptImage", ""))
        if "promptImage" in body and not image.startswith(("data:image/", "https://")):
            errors.append("promptImage must be an https URL or a data URI")
        if len(image) > 5 * 1024 * 1024:
            errors.append("promptImage data URI is over 5 MB")
        if "promptText" in body:
            text = body["promptText"]
            if not isinstance(text, str) or not text:
                errors.append("promptText must be a non-empty string")
            elif len(text.encode("utf-16-le")) // 2 > MAX_PROMPT_UTF16:
                errors.append("promptText is over 1000 characters (UTF-16 code units)")
        duration = body.get("duration")
        allowed = range(2, 11) if body.get("model") == "gen4.5" else (5, 10)
        if "duration" in body and duration not in allowed:
            errors.append(f"duration {duration!r} is not allowed for {body.get('model')}")
        seed = body.get("seed")
        if seed is not None and not (isinstance(seed, int) and 0 <= seed <= 4294967295):
            errors.append("seed must be an integer from 0 to 4294967295")
        return errors

    async def image_to_video(self, request: web.Request) -> web.Response:
        return await self._create(request, "image_to_video")

    async def text_to_video(self, request: web.Request) -> web.Response:
        return await self._create(request, "text_to_video")

    def credits(self, job: RemoteJob) -> int:
        return CREDITS_PER_SECOND.get(str(job.body.get("model")), 10) * int(job.body.get("duration") or 5)

    def charged(self, job: RemoteJob, state: str) -> int:
        """The final charge: the full price for a finished task or one cancelled while running, else 0."""
        if state == "cancelled":
            return self.credits(job) if job.data.get("cancelled_running") else 0
        return 0 if state in ("failed", "moderated") else self.credits(job)

    async def task(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "task")) is not None:
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"error": "Task not found"}, status=404)
        if (wait := self.too_fast(job)) is not None:
            return self.throttle(wait)
        state = self.advance(job)
        out: dict[str, Any] = {"id": job.id, "createdAt": "2026-11-30T00:00:00Z"}
        if state == "running":
            running = job.polls > 1
            job.data["running"] = running
            out.update(status="RUNNING" if running else "PENDING",
                       estimatedCost={"credits": self.credits(job)}, **({"progress": 0.5} if running else {}))
            return web.json_response(out)
        if state == "malformed":
            return web.Response(text="{'status': SUCCEEDED", content_type="application/json")
        out["cost"] = {"credits": self.charged(job, state)}
        if state == "cancelled":
            out.update(status="CANCELLED")
        elif state == "moderated":
            out.update(status="FAILED", failure="Input image flagged by content moderation",
                       failureCode=self.failure_code or "SAFETY.INPUT.IMAGE")
        elif state == "failed":
            out.update(status="FAILED", failure="An unexpected error occurred",
                       failureCode=self.failure_code or "INTERNAL")
        else:
            out.update(status="SUCCEEDED", output=[self.video_url(job)])
        return web.json_response(out)

    async def organization(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "organization")) is not None:
            return refused
        return web.json_response({"creditBalance": 1200, "tier": {"maxMonthlyCreditSpend": 10000, "models": {}},
                                  "usage": {"models": {}}})

    async def delete(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "delete")) is not None:
            return refused
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"error": "Task not found"}, status=404)
        if not job.cancelled and job.ran_s is None:
            job.data["cancelled_running"] = bool(job.data.get("running"))
            job.cancelled = True
            self.finish(job)
        return web.Response(status=204)
