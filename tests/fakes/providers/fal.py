"""fal.ai's queue API, and the same protocol behind Hugging Face's router (``/fal-ai/...?_subdomain=queue``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.providers.base import FakeProvider, RemoteJob


class FakeFal(FakeProvider):
    key = "fal-test-key"
    prefix = ""  # Hugging Face's router puts /fal-ai in front
    scheme = "Key"
    query = ""  # the router wants ?_subdomain=queue

    def routes(self, router: web.UrlDispatcher) -> None:
        p = self.prefix
        router.add_get(p + "/{owner}/{name}/requests/{id}/status", self.status)
        router.add_put(p + "/{owner}/{name}/requests/{id}/cancel", self.cancel)
        router.add_get(p + "/{owner}/{name}/requests/{id}", self.result)
        router.add_post(p + "/{owner}/{app:.+}", self.submit)

    def _guard(self, request: web.Request, step: str) -> web.Response | None:
        if self.query and request.query_string != self.query:
            self.problem(f"{request.method} {request.path} without ?{self.query}")
        if request.headers.get("Authorization") != f"{self.scheme} {self.key}":
            return web.json_response({"detail": "Invalid authentication credentials"}, status=401)
        return self.scripted(step)

    def _job(self, request: web.Request) -> RemoteJob | None:
        job = self.jobs.get(request.match_info["id"])
        app_root = f"{request.match_info['owner']}/{request.match_info['name']}"
        if job is not None and not job.route.startswith(app_root):
            self.problem(f"request {job.id} of {job.route} looked up under {app_root}")
        return job

    async def submit(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "create")) is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"detail": "Body is not JSON", "error_type": "invalid_json"}, status=400)
        route = f"{request.match_info['owner']}/{request.match_info['app']}"
        if not isinstance(body, dict) or (not body.get("prompt") and not body.get("image_url")):
            return web.json_response({"detail": [{"loc": ["body", "prompt"], "msg": "field required",
                                                  "type": "missing"}]}, status=422)
        if "image_url" in body and not str(body["image_url"]).startswith(("data:image/", "https://")):
            self.problem(f"image_url is neither a data URI nor https: {str(body['image_url'])[:40]}")
        job = self.new_job(route, body)
        root = f"{self.url}{self.prefix}/{'/'.join(route.split('/')[:2])}/requests/{job.id}"
        return web.json_response({"request_id": job.id, "response_url": root, "status_url": f"{root}/status",
                                  "cancel_url": f"{root}/cancel", "queue_position": 0})

    async def status(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "status")) is not None:
            return refused
        job = self._job(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        state = self.advance(job)
        if state == "malformed":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if state == "running":
            return web.json_response({"status": "IN_QUEUE" if job.polls == 1 else "IN_PROGRESS",
                                      "queue_position": 0}, status=202)
        if state == "cancelled":
            return web.json_response({"status": "COMPLETED", "error": "Request was cancelled",
                                      "error_type": "request_cancelled"})
        body: dict[str, Any] = {"status": "COMPLETED"}
        if state == "moderated":
            body.update(error="Content policy violation: the prompt was flagged", error_type="content_policy_violation")
        elif state == "failed":
            body.update(error="Internal server error", error_type="internal_error")
        return web.json_response(body)

    async def result(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "result")) is not None:
            return refused
        job = self._job(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        return web.json_response({"video": {"url": self.video_url(job), "content_type": "video/mp4"},
                                  "seed": job.body.get("seed", 0)})

    async def cancel(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "cancel")) is not None:
            return refused
        job = self._job(request)
        if job is None:
            return web.json_response({"detail": "Request not found"}, status=404)
        job.cancelled = True
        return web.json_response({"status": "CANCELLATION_REQUESTED"}, status=202)


class FakeHuggingFace(FakeFal):
    """Hugging Face's router in front of fal-ai: same protocol, ``hf_`` bearer token, ``_subdomain=queue``."""

    key = "hf_test_token"
    prefix = "/fal-ai"
    scheme = "Bearer"
    query = "_subdomain=queue"
