"""A Korean prompt survives into the video file itself: the MP4 title tag, UTF-8, whether reelbot encoded the
frames or a provider sent its own MP4 (tagged without a re-encode)."""

from __future__ import annotations

from typing import Any

from engine.backends.base import Output, RunContext
from engine.backends.simulated import SimulatedBackend
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef
from engine.video import encode_frames, probe
from engine.video_tags import video_tags

PROMPT = "서핑하는 고양이 🐱, 노을 지는 바다"


class ProviderMp4(SimulatedBackend):
    """A cloud provider's result: an MP4 of its own, which the runner keeps as it came (no re-encode)."""

    async def run(self, ctx: RunContext) -> Output:
        made = await super().run(ctx)
        assert made.frames is not None
        path = ctx.workdir / "provider.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        encode_frames(made.frames, made.fps, path)
        return Output(fps=made.fps, video_path=path, cost_usd=made.cost_usd, model=made.model)


def req() -> SubmitRequest:
    return SubmitRequest(UserRef("test", "u1", "u1"), PROMPT, Origin("test", chat_id="c"), Options(frames=6), None)


async def finished(app: Any) -> Any:
    view = await app.service.submit(req())
    done = await app.service.wait(view.id)
    assert done.state is JobState.SUCCEEDED
    return done


async def test_frames_encoded_here_carry_the_prompt_as_their_title(app_factory) -> None:
    app = await app_factory()
    done = await finished(app)
    assert video_tags(done.result_path) == {"title": PROMPT, "comment": f"reelbot job {done.id}, seed {done.seed}"}
    assert PROMPT.encode("utf-8") in done.result_path.read_bytes()  # UTF-8 in the file, not escaped


async def test_a_providers_mp4_is_tagged_without_re_encoding(app_factory) -> None:
    provider = ProviderMp4("runway", local=False, usd_per_run=0.1, seconds=0.02, steps=2)
    app = await app_factory(backends={"runway": provider}, settings={"chain_text_to_video": ["runway"]})
    done = await finished(app)
    assert video_tags(done.result_path)["title"] == PROMPT
    info = probe(done.result_path)
    assert (info.codec, info.frames) == ("h264", 6)
