"""The fallback chain with real provider clients against their fakes, built by the app from Settings.

The app's cloud backends keep time on the fakes' virtual clock (``on``), at each provider's own poll pace."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np
from PIL import Image

from bot.i18n import ENGLISH as EN
from bot.i18n import words
from bot.render import changes_told, failure_text, preview_line
from engine.events import Event, Progress, ProviderAlert, Retrying
from engine.types import JobKind, JobState, Options, Origin, Outcome, SubmitRequest, UserRef
from engine.video import probe
from reelbot.backends import PROVIDER_KEYS, PROVIDER_URLS
from tests.conftest import RecordingDeliverer
from tests.engine.cloud.conftest import on_clock
from tests.fakes.providers.replicate import FakeReplicate
from tests.fakes.providers.runway import FakeRunway


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def req(user: str = "u1", image: bytes | None = None, **options: Any) -> SubmitRequest:
    # A picture alone: words with it would send it to a model that reads them (tests/engine/test_captions.py).
    prompt = "" if image is not None else "a cat surfing"
    return SubmitRequest(UserRef("test", user, user), prompt, Origin("test", "chat"), Options(**options), image)


def provider_settings(*fakes: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {**extra}
    for name, fake in fakes:
        values[PROVIDER_KEYS[name]] = fake.key
        values[PROVIDER_URLS[name]] = fake.url
    return values


def on(app: Any, *fakes: tuple[str, Any]) -> Any:
    """The app's backends for these fakes keep time on the fakes' clock."""
    for name, fake in fakes:
        on_clock(app.backends[name], fake)
    return app


async def test_oom_then_replicate_429_then_runway_three_attempts_one_charge_one_delivery(app_factory, served):
    replicate, runway = await served(FakeReplicate), await served(FakeRunway)
    replicate.fail_next("create", 429, {"title": "Too Many Requests", "status": 429,
                                        "detail": "Request was throttled. Expected available in 20 seconds."})
    deliverer = RecordingDeliverer()
    events: list[Event] = []
    app = on(await app_factory(deliverer=deliverer, settings=provider_settings(
        ("replicate", replicate), ("runway", runway), simulated_oom_every=1,
        chain_image_to_video=["local", "replicate", "runway"])), ("replicate", replicate), ("runway", runway))

    async def record(event: Event) -> None:
        events.append(event)

    app.service.subscribe(record)
    view = await app.service.submit(req(image=_png(), frames=25, fps=7))
    assert view.reserved_usd == 0.25  # Runway's 5 s at $0.05/s: the dearest step the chain may reach
    done = await app.service.wait(view.id)
    assert done.state is JobState.SUCCEEDED and done.backend == "runway" and done.model == "gen4_turbo"
    assert [(a.backend, a.outcome, a.error_code) for a in done.attempts] == [
        ("local", Outcome.FAILED, "out_of_memory"),
        ("replicate", Outcome.FAILED, "transient"),
        ("runway", Outcome.SUCCEEDED, None),
    ]
    assert done.charged_usd == 0.25 and done.attempts[2].cost_usd == 0.25
    assert await app.repo.ledger_balance() == {view.id: 0}
    assert [j.id for j in deliverer.delivered] == [view.id]
    assert probe(done.result_path).codec == "h264"
    assert len(runway.jobs) == 1 and len(replicate.jobs) == 0 and replicate.problems == []
    await app.service.events.drain()
    assert [(e.failed_backend, e.next_backend) for e in events if isinstance(e, Retrying)] == [
        ("local", "replicate"), ("replicate", "runway")]
    report = await app.service.report()
    health = {h.name: h for h in report.backends}
    assert health["replicate"].cooling_s > 15  # its "available in 20 seconds" was honoured
    spend = {line.backend: line.month_usd for line in report.spend}
    assert spend["runway"] == 0.25 and spend.get("replicate", 0.0) == 0.0


async def test_moderation_is_not_tried_elsewhere_and_costs_nothing(app_factory, served):
    replicate, runway = await served(FakeReplicate), await served(FakeRunway)
    replicate.plan("moderated", polls=1)
    app = on(await app_factory(settings=provider_settings(
        ("replicate", replicate), ("runway", runway), chain_text_to_video=["replicate", "runway"])),
        ("replicate", replicate), ("runway", runway))
    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.state is JobState.FAILED and done.error_code == "moderated"
    assert "content rules" in done.error_message
    assert [a.backend for a in done.attempts] == ["replicate"] and runway.jobs == {}
    assert done.charged_usd == 0 and await app.repo.ledger_balance() == {done.id: 0}


async def test_a_providers_refusal_is_stored_for_each_reader_to_read_in_their_language(app_factory, served):
    replicate = await served(FakeReplicate)
    replicate.plan("moderated", polls=1)
    app = on(await app_factory(settings=provider_settings(("replicate", replicate),
                                                          chain_text_to_video=["replicate"])), ("replicate", replicate))
    failed = await app.service.wait((await app.service.submit(req())).id)
    stored = await app.service.get(failed.id)  # as any process reads it back from the database
    provider_said = "NSFW content detected. Try running it again, or try a different prompt."
    assert stored.state is JobState.FAILED and stored.error_code == "moderated"
    # The operator's record is English; the user reads it in their language, the provider's own words as given.
    assert stored.error_message == (f"replicate refused this prompt or picture under its content rules "
                                    f"({provider_said}).")
    assert failure_text(words("ko"), stored) == (
        f"replicate이(가) 콘텐츠 규정에 따라 이 프롬프트나 사진을 거절했어요 ({provider_said}). "
        f"이 작업에 잡아 둔 {words('ko').money(stored.reserved_usd)}는 환불됐어요.")
    assert failure_text(EN, stored).startswith(stored.error_message)


async def test_a_value_the_model_does_not_take_is_told_with_the_video_in_the_readers_language(app_factory, served):
    replicate = await served(FakeReplicate)
    app = on(await app_factory(settings=provider_settings(("replicate", replicate),
                                                          chain_image_to_video=["replicate"])), ("replicate", replicate))
    done = await app.service.wait((await app.service.submit(req(image=_png(), fps=60))).id)
    stored = await app.service.get(done.id)
    assert stored.state is JobState.SUCCEEDED
    assert changes_told(EN, stored) == [
        "Note: replicate: fps 60 → 30: svd-xt (stability-ai/stable-video-diffusion) takes 5–30."]
    assert changes_told(words("ko"), stored) == [
        "참고: replicate: fps 60 → 30: svd-xt (stability-ai/stable-video-diffusion)은(는) 5–30만 받아요."]


async def test_a_refused_key_alerts_admins_once_and_later_jobs_skip_the_provider(app_factory, served):
    replicate, runway = await served(FakeReplicate), await served(FakeRunway)
    settings = provider_settings(("replicate", replicate), ("runway", runway),
                                 chain_text_to_video=["replicate", "runway"])
    settings["replicate_api_token"] = "r8_revoked"
    app = on(await app_factory(settings=settings), ("replicate", replicate), ("runway", runway))
    alerts: list[ProviderAlert] = []

    async def record(event: Event) -> None:
        if isinstance(event, ProviderAlert):
            alerts.append(event)

    app.service.subscribe(record)
    first = await app.service.wait((await app.service.submit(req("u1"))).id)
    second = await app.service.wait((await app.service.submit(req("u2"))).id)
    assert first.state is JobState.SUCCEEDED and second.state is JobState.SUCCEEDED
    assert [a.backend for a in first.attempts] == ["replicate", "runway"]
    assert [a.backend for a in second.attempts] == ["runway"]  # resting for an hour, not tried per job
    await app.service.events.drain()
    assert len(alerts) == 1 and alerts[0].backend == "replicate"
    said = str(alerts[0].message)
    assert "REPLICATE_API_TOKEN" in said and "r8_revoked" not in said
    health = {h.name: h for h in (await app.service.report()).backends}
    assert health["replicate"].cooling_s > 3000 and "refused the API key" in str(health["replicate"].last_error)


async def test_a_provider_that_never_finishes_is_left_for_the_next(app_factory, served):
    replicate, runway = await served(FakeReplicate), await served(FakeRunway)
    replicate.plan("slow")
    app = on(await app_factory(settings=provider_settings(
        ("replicate", replicate), ("runway", runway), cloud_timeout_s=30,
        chain_text_to_video=["replicate", "runway"])), ("replicate", replicate), ("runway", runway))
    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.state is JobState.SUCCEEDED and done.backend == "runway"
    assert [(a.backend, a.outcome) for a in done.attempts] == [("replicate", Outcome.TIMEOUT),
                                                                ("runway", Outcome.SUCCEEDED)]
    assert len(replicate.calls("POST", "/cancel")) == 1


async def test_a_users_cancel_stops_the_remote_job_and_pays_what_runway_billed(app_factory, served):
    runway = await served(FakeRunway)
    runway.plan("slow")
    app = on(await app_factory(settings=provider_settings(("runway", runway), chain_image_to_video=["runway"])),
             ("runway", runway))
    running = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, Progress):  # the backend has seen Runway's answer: the task runs there
            running.set()

    app.service.subscribe(on_event)
    view = await app.service.submit(req(image=_png()))
    await asyncio.wait_for(running.wait(), 10)
    cancelled = await app.service.cancel(UserRef("test", "u1"), view.id)
    # Runway bills a task it started (its catalog entry says so) and the user cancelled it: theirs to pay.
    assert cancelled.state is JobState.CANCELLED and cancelled.charged_usd == 0.25
    assert [(a.outcome, a.cost_usd) for a in cancelled.attempts] == [(Outcome.CANCELLED, 0.25)]
    assert len(runway.calls("DELETE", "/v1/tasks/")) == 1
    assert await app.repo.ledger_balance() == {view.id: 0}


async def test_the_preview_shows_the_gpu_queue_and_the_cloud_price(app_factory, served):
    runway = await served(FakeRunway)
    app = on(await app_factory(settings=provider_settings(
        ("runway", runway), simulated_seconds=5.0, chain_image_to_video=["local", "runway"])), ("runway", runway))
    before = app.service.preview(JobKind.IMAGE_TO_VIDEO)
    assert preview_line(EN, before) == "local: #1 in queue, starts now, free · cloud now: runway ≈ $0.25"
    for user in ("u1", "u2"):
        await app.service.submit(req(user, image=_png()))
    busy = app.service.preview(JobKind.IMAGE_TO_VIDEO)
    assert busy.local_position == 2 and busy.local_wait_s is not None and busy.local_wait_s > 4
    assert preview_line(EN, busy).startswith("local: #2 in queue, starts in ≈ ")
    assert busy.cloud is not None and busy.cloud.backend == "runway"
    for job_id in list(app.service.runner.active):
        await app.service.cancel(UserRef("cli", "admin"), job_id)
