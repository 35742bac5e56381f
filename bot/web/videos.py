"""My videos (the signed-in person's history, from every front end) and the files behind them.

A video or thumbnail is served only to the job's owner or an admin (``Service.job_for`` checks, whatever
id the browser asks for), only while the file is kept (``KEEP_FILES_DAYS``), and only from the results
folder the engine wrote it to.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from bot.i18n import Words
from bot.web.auth import signed_in
from bot.web.console import Console, signed_in_only
from engine.types import JobState, JobView
from engine.video import write_poster

PAGE_SIZE = 20
MARKS = {JobState.QUEUED: "⏳", JobState.RUNNING: "⚙️", JobState.FAILED: "❌", JobState.CANCELLED: "✖",
         JobState.SUCCEEDED: "⚠️"}


def page_number(request: Request) -> int:
    try:
        return max(1, min(100_000, int(request.query_params.get("page", "1"))))
    except ValueError:
        return 1


def page_context(page: Any, page_no: int, size: int) -> dict[str, Any]:
    return {"page": page, "page_no": page_no, "pages": max(1, math.ceil(page.total / size))}


def state_word(w: Words, state: JobState) -> str:
    return {JobState.QUEUED: w._("waiting"), JobState.RUNNING: w._("running"), JobState.SUCCEEDED: w._("done"),
            JobState.FAILED: w._("failed"), JobState.CANCELLED: w._("cancelled")}[state]


def row(console: Console, w: Words, view: JobView) -> dict[str, Any]:
    """One job in a list: what it showed, what made it, when, what it cost."""
    playable = view.state is JobState.SUCCEEDED and view.result_path is not None
    parts = [view.model or view.backend or "", console.when(view.created_at), w.money(view.charged_usd)]
    if view.state is not JobState.SUCCEEDED:
        parts.insert(0, state_word(w, view.state))
    return {"id": view.id, "prompt": view.prompt or w._("(no words: animating the picture)"),
            "playable": playable, "mark": MARKS.get(view.state, "·"), "meta": w.join(p for p in parts if p),
            "state_key": view.state.value}


def routes(console: Console) -> list[Route]:
    service = console.service
    results = service.config.results_dir.resolve()

    @signed_in_only(console)
    async def my_videos(request: Request) -> Response:
        user = signed_in(request)
        assert user is not None
        w = await console.words(request, user)
        page_no = page_number(request)
        page = await service.history(user, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        return await console.page(request, "videos.html", w=w, nav="videos", rows=[row(console, w, v) for v in page.items],
                                  query="", **page_context(page, page_no, PAGE_SIZE))

    @signed_in_only(console)
    async def video(request: Request) -> Response:
        user = signed_in(request)
        assert user is not None
        if request.path_params["ext"] not in ("mp4", "jpg"):
            return Response(status_code=404)
        view = await service.job_for(user, request.path_params["job_id"])
        path = view.result_path.resolve() if view.result_path is not None else None
        if view.state is not JobState.SUCCEEDED or path is None or not path.is_relative_to(results) \
                or not path.is_file():
            return Response(status_code=404)
        if request.path_params["ext"] == "jpg":
            poster = results / f"{view.id}.jpg"
            if not poster.is_file():
                await asyncio.to_thread(write_poster, path, poster)
            return FileResponse(poster, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
        download = request.query_params.get("download") == "1"
        return FileResponse(path, media_type="video/mp4", filename=f"reelbot-{view.id}.mp4" if download else None,
                            content_disposition_type="attachment" if download else "inline",
                            headers={"Cache-Control": "private, max-age=86400"})

    return [
        Route("/videos", my_videos, methods=["GET"]),
        Route("/videos/{job_id:str}.{ext:str}", video, methods=["GET"]),
    ]
