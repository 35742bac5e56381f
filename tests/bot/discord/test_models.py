"""A model's first job downloads it, and a prompt sent with a picture is never silently ignored: told to a
Discord user whose app is in English, and to one whose app is in Korean.

The download comes from a local server that speaks the Hugging Face Hub's protocol (``tests/bot/conftest.py``):
a tiny SVD-XT under the real repo's name, run by real diffusers on the CPU.
"""

from __future__ import annotations

from tests.bot.conftest import MODEL_SAYS, from_the_hub
from tests.bot.discord.conftest import GUILD, Speaker
from tests.fakes.discord_api import FakeDiscord
from tests.images import png

SAYS = {"en-US": MODEL_SAYS["en"], "ko": MODEL_SAYS["ko"]}


async def test_the_first_picture_shows_the_model_download_then_the_load(fake: FakeDiscord, make_bot, tmp_path,
                                                                        svd_hub, speaker: Speaker) -> None:
    say = SAYS[speaker.locale]
    await make_bot(lane_device="cpu", **from_the_hub(tmp_path))
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": ""}, image=("beach.png", png(), "image/png"),
                       locale=speaker.locale)
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m, timeout=120)
    versions = done.versions
    download = next(i for i, v in enumerate(versions) if say["downloading"] in v)
    load = next(i for i, v in enumerate(versions) if say["loading"] in v)
    assert download < load < len(versions) - 1, versions
    assert "MB" in versions[download] and "%" in versions[download]


async def test_a_picture_with_a_prompt_goes_to_a_model_that_reads_it(fake: FakeDiscord, make_bot,
                                                                     speaker: Speaker) -> None:
    await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "waves at sunset"},
                       image=("beach.png", png(), "image/png"), locale=speaker.locale)
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert "(ltx-video)" in done.content and SAYS[speaker.locale]["unused"] not in done.content


async def test_svd_xt_by_name_is_used_and_the_message_says_it_does_not_read_the_words(
        fake: FakeDiscord, make_bot, speaker: Speaker) -> None:
    say = SAYS[speaker.locale]
    await make_bot(simulated_seconds=0.6, simulated_steps=4)
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "waves at sunset --model svd-xt"},
                       image=("beach.png", png(), "image/png"), locale=speaker.locale)
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert "(svd-xt)" in done.content and say["unused"] in done.content
    running = [v for v in done.versions if "%" in v]
    assert running and all(say["unused"] in v for v in running)  # said while it ran, above the bar
