"""Make a video, follow it, act on it: the web console's twin of ``/video`` and its buttons.

A web user is a user like any other: the request goes through ``Service.submit`` (quotas, ledger, picture
checks), the buttons through ``bot.core.actions.perform`` (owner checks in the engine), and the job's
progress comes from the engine's events (:mod:`bot.web.live`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.core import actions
from bot.core.lines import last_line
from bot.core.models import model_line
from bot.i18n import Words
from bot.render import describe_error, outcome_text, preview_line, result_caption
from bot.web.auth import WEB, signed_in
from bot.web.console import Console, signed_in_only
from bot.web.live import snapshot
from engine.controls import ASPECTS
from engine.errors import InvalidInput, ReelbotError
from engine.types import JobKind, JobState, JobView, Options, Origin, SubmitRequest, UserRef
from engine.words import N_

NUMBERS = {"frames": N_("Frames"), "fps": N_("Frames per second"), "seed": N_("Seed"),
           "motion": N_("Motion (1–10)")}  # as the form labels them
ASPECT_NAMES = {"16:9": N_("16:9 (wide)"), "9:16": N_("9:16 (tall)"), "1:1": N_("1:1 (square)"),
                "4:5": N_("4:5 (a little tall)"), "21:9": N_("21:9 (cinema)")}
QUALITY_NAMES = (("", N_("Normal")), ("fast", N_("Fast (fewer steps)")), ("best", N_("Best (more steps)")))


def routes(console: Console) -> list[Route]:
    service = console.service
    limits = service.config.input_limits

    async def make_page(request: Request, w: Words, form: dict[str, Any], message: str | None = None,
                        status_code: int = 200) -> Response:
        text_models = service.model_choices(JobKind.TEXT_TO_VIDEO)
        image_models = service.model_choices(JobKind.IMAGE_TO_VIDEO)
        names = sorted({name for name, _ in text_models} | {name for name, _ in image_models})
        texts = {name: preview_line(w, preview) for name, preview in image_models + text_models}
        image_names = w.join(name for name, _ in image_models) or w._("none")
        return await console.page(
            request, "make.html", status_code=status_code, nav="make", w=w, form=form, message=message,
            models=[(name, texts[name]) for name in names],
            auto_text=preview_line(w, service.preview(JobKind.TEXT_TO_VIDEO)),
            image_text=w._("Models that can animate a picture: {models}.", models=image_names),
            max_prompt=limits.max_prompt_chars, max_frames=limits.max_frames, max_fps=limits.max_fps,
            aspects=[(value, w.text(ASPECT_NAMES.get(value, value))) for value in ASPECTS],
            qualities=[(value, w.text(name)) for value, name in QUALITY_NAMES],
            model_lines=[model_line(w, choice) for choice in service.models_now()],
        )

    @signed_in_only(console)
    async def home(request: Request) -> Response:
        user = signed_in(request)
        return await make_page(request, await console.words(request, user), {})

    @signed_in_only(console)
    async def make(request: Request) -> Response:
        user = signed_in(request)
        assert user is not None
        w = await console.words(request, user)
        form = await request.form()
        kept = {k: v for k, v in form.items() if isinstance(v, str)}
        wants_json = "application/json" in request.headers.get("accept", "")
        try:
            view = await service.submit(await _request(form, user, w))
        except ReelbotError as exc:
            message = describe_error(w, exc)
            if wants_json:
                return JSONResponse({"error": message}, status_code=400)
            return await make_page(request, w, kept, message, 400)
        if wants_json:
            return JSONResponse({"job": view.id, "url": f"/jobs/{view.id}"})
        return RedirectResponse(f"/jobs/{view.id}", status_code=303)

    @signed_in_only(console)
    async def job_page(request: Request) -> Response:
        user = signed_in(request)
        assert user is not None
        view = await service.job_for(user, request.path_params["job_id"])
        w = await console.words(request, user)
        offer = service.cloud_offer(view.id) if view.state is JobState.QUEUED else None
        cloud = w._("Run on cloud now ({backend} ≈ {cost})", backend=offer.backend, cost=w.money(offer.cost_usd)) \
            if offer else None
        return await console.page(request, "job.html", w=w, job=view, cloud=cloud,
                                  **job_context(console, w, view, user))

    @signed_in_only(console)
    async def job_events(request: Request) -> Response:
        user = signed_in(request)
        assert user is not None
        w = await console.words(request, user)
        stream = console.live.follow(w, user, request.path_params["job_id"])
        first = await anext(stream)  # the job now, if it is theirs (or they are an admin); else refused here
        return StreamingResponse(_then(first, stream), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @signed_in_only(console)
    async def act(request: Request) -> Response:
        user = signed_in(request)
        assert user is not None
        action = request.path_params["action"]
        if action not in actions.ACTIONS:
            return Response(status_code=404)
        w = await console.words(request, user)
        outcome = await actions.perform(service, user, action, request.path_params["job_id"])
        if action == actions.CLOUD and outcome.moved_to is None:
            return await console.page(request, "error.html", status_code=409, w=w, message=outcome_text(w, outcome))
        if outcome.deleted is not None:
            return RedirectResponse("/videos", status_code=303)
        if outcome.again is None:
            return RedirectResponse(f"/jobs/{outcome.job_id}", status_code=303)
        again = outcome.again
        view = await service.submit(SubmitRequest(user, again.prompt, _origin(w), again.options, again.image))
        return RedirectResponse(f"/jobs/{view.id}", status_code=303)

    return [
        Route("/", home, methods=["GET"]),
        Route("/make", make, methods=["POST"]),
        Route("/jobs/{job_id:str}", job_page, methods=["GET"]),
        Route("/jobs/{job_id:str}/events", job_events, methods=["GET"]),
        Route("/jobs/{job_id:str}/{action:str}", act, methods=["POST"]),
    ]


def job_context(console: Console, w: Words, view: JobView, user: UserRef) -> dict[str, Any]:
    playable = view.state is JobState.SUCCEEDED and view.result_path is not None and view.result_path.exists()
    if view.deleted:
        last = w._("This video was deleted.")
    elif view.state.terminal:
        last = result_caption(w, view) if playable else last_line(w, view, lambda w, job: "")
    else:
        last = ""
    now = snapshot(w, view)
    return {
        "playable": playable, "last": last, "mine": view.user.key == user.key,
        "can_delete": view.state.terminal and not view.deleted and (
            view.user.key == user.key or console.service.is_admin(user)),
        "line": now.get("line", ""), "progress": (now.get("step", 0), now.get("total", 0)),
        "meta": w.join([kind_word(w, view.kind), w._("seed {seed}", seed=view.seed), console.when(view.created_at)]),
    }


def kind_word(w: Words, kind: JobKind) -> str:
    return w._("from a picture") if kind is JobKind.IMAGE_TO_VIDEO else w._("from words")


async def _then(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for chunk in rest:
        yield chunk


def _origin(w: Words) -> Origin:
    return Origin(WEB, language=w.lang)


async def _request(form: FormData, user: UserRef, w: Words) -> SubmitRequest:
    """The form as the engine's request; the engine checks every value (once, for every front end)."""
    numbers: dict[str, int | None] = {}
    for name, label in NUMBERS.items():
        raw = form.get(name)
        raw = raw.strip() if isinstance(raw, str) else ""
        if not raw:
            numbers[name] = None
            continue
        try:
            numbers[name] = int(raw)
        except ValueError:
            raise InvalidInput(name, N_("{name} must be a whole number, not {value}.", name=label,
                                        value=repr(raw[:20]))) from None
    prompt, negative, model, aspect, quality = (
        _text(form, key) for key in ("prompt", "negative", "model", "aspect", "quality"))
    options = Options(frames=numbers["frames"], fps=numbers["fps"], seed=numbers["seed"],
                      portrait=form.get("portrait") == "1", negative_prompt=negative or None, model=model or None,
                      aspect=aspect or None, motion=numbers["motion"], quality=quality or None)
    image = None
    upload = form.get("image")
    if isinstance(upload, UploadFile) and upload.filename:
        image = await upload.read()
        if not image:
            image = None
    return SubmitRequest(user, prompt, _origin(w), options, image)


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""
