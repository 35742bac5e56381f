"""A chat front end in distributed mode: the Discord reply follows a job that a separate worker process runs
(progress over NOTIFY) and ends with the video from the shared data folder."""

from __future__ import annotations

from tests.bot.discord.conftest import GUILD, Bot
from tests.fakes.discord_api import FakeDiscord


async def test_discord_reply_follows_a_job_run_by_a_worker_process(workers, cluster_env, tmp_path) -> None:
    fake = FakeDiscord()
    fake.guild(GUILD)
    await fake.start()
    bot = None
    try:
        worker = workers("--gpu", "0", simulated_seconds=1.0, simulated_steps=10)
        bot = await Bot(fake, tmp_path, gpus=0, **cluster_env).start()
        inter = fake.slash("video", fake.user(1001, "ann"), guild_id=GUILD, options={"prompt": "a red kite"})
        done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m, timeout=60)
        assert "✅ Done in" in done.content and "on local (zeroscope)" in done.content
        assert any("Running on local" in v and "%" in v for v in done.versions)  # progress crossed processes
        report = await bot.service.report()
        assert [w.name for w in report.workers] == [worker.name]
        assert fake.spec_errors == []
    finally:
        if bot is not None:
            await bot.stop()
        await fake.stop()
