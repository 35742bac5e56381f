"""Start, restart and stop: what survives a restart, what a bad token says, and how fast interactions are
acknowledged."""

from __future__ import annotations

import pytest

from bot.discord.frontend import DiscordSetupError
from engine.backends.simulated import SimulatedBackend
from tests.bot.discord.conftest import GUILD, Bot, Speaker
from tests.conftest import make_settings
from tests.fakes.discord_api import FakeDiscord


async def test_a_restart_mid_job_resumes_it_and_its_buttons_keep_working(fake: FakeDiscord, tmp_path) -> None:
    first = await Bot(fake, tmp_path, simulated_seconds=1.5, simulated_steps=15).start()
    ann = fake.user(1001, "ann")
    running = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a long story"})
    waiting = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "the next one"})
    await fake.wait_for(lambda: (m := fake.original(running)) and "Running" in m.content)
    queued = await fake.wait_for(lambda: (m := fake.original(waiting)) and "Queued" in m.content and m)
    await first.stop()

    second = await Bot(fake, tmp_path, simulated_seconds=1.5, simulated_steps=15).start()
    try:
        # The button on the message sent by the first process works in the second one.
        cancel = next(c for label, c in queued.buttons() if label == "Cancel")
        pressed = fake.press(queued, cancel, ann, guild_id=GUILD)
        [text] = await fake.wait_for(lambda: fake.ephemeral(pressed))
        assert "Cancelled" in text
        done = await fake.wait_for(lambda: (m := fake.original(running)) and m.files and m, timeout=20)
        assert "✅ Done" in done.content
        assert fake.identified == 2
    finally:
        await second.stop()


async def test_a_refused_token_stops_start_up_with_what_to_do(fake: FakeDiscord, tmp_path) -> None:
    from reelbot.app import App

    settings = make_settings(tmp_path, discord_token="MTA.wrong", discord_api_base_url=fake.api_url,
                             discord_gateway_url=fake.gateway_url)
    with pytest.raises(DiscordSetupError) as caught:
        await App.launch(settings, lock=False, frontends=True)
    assert "Discord refused DISCORD_TOKEN" in str(caught.value) and "Reset Token" in str(caught.value)
    assert "MTA.wrong" not in str(caught.value)


async def test_run_on_cloud_now_moves_a_waiting_job(fake: FakeDiscord, make_bot, speaker: Speaker) -> None:
    backends = {
        "local": SimulatedBackend("local", seconds=20, steps=200),
        "replicate": SimulatedBackend("replicate", local=False, seconds=0.05, steps=2, usd_per_run=0.08),
    }
    await make_bot(backends=backends, chain_text_to_video="local,replicate")
    ann, bob = fake.user(1001, "ann"), fake.user(1002, "bob")
    fake.slash("video", ann, guild_id=GUILD, options={"prompt": "first"})
    later = fake.slash("video", bob, guild_id=GUILD, options={"prompt": "second"}, locale=speaker.locale)
    queued = await fake.wait_for(lambda: (m := fake.original(later)) and speaker.says("Queued #1") in m.content and m)
    labels = [label for label, _ in queued.buttons()]
    assert labels == [speaker.says("Cancel"), speaker.says("Run on cloud now (replicate ≈ $0.080)")]
    cloud = queued.buttons()[1][1]
    pressed = fake.press(queued, cloud, bob, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(pressed))
    assert text.startswith(speaker.says("Moving job")) and "replicate" in text
    done = await fake.wait_for(lambda: (m := fake.original(later)) and m.files and m)
    assert speaker.says("on replicate") in done.content and "$0.080" in done.content


async def test_a_failed_job_says_why_and_that_it_was_refunded(fake: FakeDiscord, make_bot) -> None:
    from engine.errors import TransientError

    backends = {"local": SimulatedBackend("local", seconds=0.05, steps=2,
                                          failure=lambda n, job: TransientError("the GPU fell over."))}
    await make_bot(backends=backends)
    inter = fake.slash("video", fake.user(1001), guild_id=GUILD, options={"prompt": "doomed"})
    final = await fake.wait_for(lambda: (m := fake.original(inter)) and "❌" in m.content and m)
    assert "❌ the GPU fell over. You were not charged." in final.content
    assert [label for label, _ in final.buttons()] == ["Retry (new seed)", "Same seed", "Delete"]


async def test_admins_get_one_dm_when_a_providers_key_is_refused(fake: FakeDiscord, make_bot) -> None:
    from engine.errors import AuthFailed

    backends = {
        "replicate": SimulatedBackend("replicate", local=False, seconds=0.02, steps=1, failure=lambda n, job: AuthFailed(
            "replicate refused the API key (HTTP 401).", hint="An admin should check REPLICATE_API_TOKEN.")),
        "runway": SimulatedBackend("runway", local=False, seconds=0.02, steps=1, usd_per_run=0.25),
    }
    await make_bot(backends=backends, chain_text_to_video="replicate,runway", discord_admin_ids="2001")
    for n in range(2):
        inter = fake.slash("video", fake.user(1001 + n), guild_id=GUILD, options={"prompt": f"job {n}"})
        await fake.wait_for(lambda inter=inter: (m := fake.original(inter)) and m.files)
    dms = [m.content for m in fake.in_channel(fake.dm_channel("2001"))]
    assert dms == ["⚠ replicate is out of the fallback chain: replicate refused the API key (HTTP 401). "
                   "An admin should check REPLICATE_API_TOKEN."]
