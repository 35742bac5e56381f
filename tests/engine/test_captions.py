"""A picture sent with words: the words go to a model that reads them when one can run, within the user's
quota; otherwise (and when the user picked SVD-XT) the user is told plainly that they were not used."""

from __future__ import annotations

import io

from PIL import Image

from engine.backends.simulated import SimulatedBackend
from engine.events import Event, Started
from engine.types import JobKind, JobState, Options, Origin, SubmitRequest, UserRef
from engine.words import Text

I2V = JobKind.IMAGE_TO_VIDEO
UNUSED = "svd-xt animates the picture without using your words"


def picture() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (30, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


def ask(prompt: str, user: str = "u1", **options: object) -> SubmitRequest:
    return SubmitRequest(UserRef("test", user), prompt, Origin("test"), Options(**options), picture())  # type: ignore[arg-type]


def notes(job) -> list[str]:
    """What the user is told about the attempts (Text notes; plain strings are the operator's)."""
    return [str(n) for a in job.attempts for n in a.notes if isinstance(n, Text)]


async def app_with(app_factory, *, local_models: frozenset[str], cloud: bool, **settings: object):
    backends = {"local": SimulatedBackend("local", seconds=0.05, steps=2, models=local_models)}
    chain = ["local"]
    if cloud:  # a provider whose image-to-video model reads the prompt, for $0.02
        backends["fal"] = SimulatedBackend("fal", local=False, seconds=0.05, steps=2, usd_per_run=0.02,
                                           models=frozenset({"ltx-video"}),
                                           default_models={I2V: "ltx-video"})
        chain.append("fal")
    return await app_factory(backends=backends, settings={"chain_image_to_video": chain, **settings})


async def test_words_go_to_the_local_model_that_reads_them(app_factory):
    app = await app_with(app_factory, local_models=frozenset({"svd-xt", "ltx-video"}), cloud=False)
    done = await app.service.wait((await app.service.submit(ask("a cat surfing"))).id)
    assert done.state is JobState.SUCCEEDED and (done.backend, done.model) == ("local", "ltx-video")
    assert notes(done) == []
    silent = await app.service.wait((await app.service.submit(ask(""))).id)  # no words: SVD-XT as before
    assert silent.model == "svd-xt" and notes(silent) == []


async def test_words_go_to_the_cloud_when_the_quota_allows_and_are_said_unused_when_not(app_factory):
    app = await app_with(app_factory, local_models=frozenset({"svd-xt"}), cloud=True, max_usd_per_month=0.05)
    done = await app.service.wait((await app.service.submit(ask("a cat surfing"))).id)
    assert (done.backend, done.model) == ("fal", "ltx-video") and done.charged_usd == 0.02

    broke = await app_with(app_factory, local_models=frozenset({"svd-xt"}), cloud=True, max_usd_per_month=0.01)
    told: list[Event] = []

    async def keep(event: Event) -> None:
        told.append(event)

    broke.service.subscribe(keep)
    poor = await broke.service.wait((await broke.service.submit(ask("a cat surfing", "u2"))).id)
    assert (poor.state, poor.backend, poor.model) == (JobState.SUCCEEDED, "local", "svd-xt")
    assert notes(poor) == [UNUSED + "; to have them used, pick a model that reads them: --model ltx-video"]
    await broke.service.events.drain()
    [started] = [e for e in told if isinstance(e, Started)]
    assert str(started.prompt_unused).startswith(UNUSED)


async def test_a_user_who_picked_svd_xt_gets_it_and_the_plain_note(app_factory):
    app = await app_with(app_factory, local_models=frozenset({"svd-xt", "ltx-video"}), cloud=False)
    done = await app.service.wait((await app.service.submit(ask("a cat surfing", model="svd-xt"))).id)
    assert done.model == "svd-xt"
    assert notes(done) == [UNUSED + "; to have them used, pick a model that reads them: --model ltx-video"]


async def test_with_no_model_that_reads_words_the_note_says_so(app_factory):
    app = await app_with(app_factory, local_models=frozenset({"svd-xt"}), cloud=False)
    done = await app.service.wait((await app.service.submit(ask("a cat surfing"))).id)
    assert done.model == "svd-xt"
    assert notes(done) == [UNUSED + ", and no model here that reads words can animate pictures right now"]
