"""/video and friends: the real discord.py client against the local Discord."""

from __future__ import annotations

from pathlib import Path

from engine.video import probe
from tests.bot.discord.conftest import GUILD, png
from tests.fakes.discord_api import FakeDiscord


async def test_video_command_defers_then_shows_progress_and_ends_with_the_mp4(fake: FakeDiscord, make_bot,
                                                                               tmp_path: Path) -> None:
    bot = await make_bot(simulated_seconds=0.8, simulated_steps=8)
    assert bot.started_line.startswith("Discord: running as reelbot")
    assert sorted(c["name"] for c in fake.commands[str(GUILD)]) == [
        "Animate image", "cancel", "help", "job", "status", "usage", "video"]
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a cat surfing --frames 8", "fps": 4,
                                                             "seed": 7})
    await fake.wait_for(lambda: inter.callbacks)
    assert inter.callbacks[0]["type"] == 5  # deferred at once: "reelbot is thinking…"
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert done.content.startswith("“a cat surfing” · job ")
    assert "✅ Done in" in done.content and "on local (zeroscope)" in done.content and "seed 7" in done.content
    assert any("Running on local" in v and "%" in v for v in done.versions), done.versions
    [(name, data)] = done.files.items()
    path = tmp_path / name
    path.write_bytes(data)
    info = probe(path)
    assert (info.frames, info.fps) == (8, 4)
    labels = [label for label, _ in done.buttons()]
    assert labels == ["Retry (new seed)", "Same seed"]
