"""200 /video interactions arriving at once: is every one acknowledged within Discord's 3 seconds?

    python bench/interactions.py [--interactions 200] [--users 200]

The real discord.py client and the engine (simulated instant GPU, SQLite) run against the local Discord of
the tests (tests/fakes/discord_api.py); all INTERACTION_CREATE events are sent on the gateway together.
Prints one JSON line: ``ack_p50_ms`` / ``ack_p99_ms`` / ``ack_max_ms`` from the event leaving the gateway to
the bot's callback request arriving, ``late`` (acknowledged after 3 s, or never), and ``done`` (jobs whose
reply ended with the video within the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelbot.app import App  # noqa: E402
from reelbot.settings import Settings  # noqa: E402
from tests.fakes.discord_api import FakeDiscord  # noqa: E402

GUILD = 700000000000000001
DEADLINE_S = 3.0


async def main(count: int, users: int) -> dict[str, float | int]:
    fake = FakeDiscord()
    fake.guild(GUILD)
    await fake.start()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            _env_file=None, data_dir=Path(folder), local_backend="simulated", simulated_seconds=0.0,
            simulated_steps=1, simulated_frames=False, max_queued_per_user=count, max_jobs_per_day=count,
            max_queue=count * 2, discord_token=fake.token, discord_api_base_url=fake.api_url,
            discord_gateway_url=fake.gateway_url, discord_command_guilds=str(GUILD), log_level="WARNING",
            web_enabled=False,  # the Discord burst alone (bench/web.py measures the console)
        )
        app = await App.launch(settings, lock=False, frontends=True)
        try:
            people = [fake.user(10_000 + i, f"user{i}") for i in range(users)]
            inters = [fake.slash("video", people[i % users], guild_id=GUILD, options={"prompt": f"cat {i}"})
                      for i in range(count)]
            started = time.monotonic()
            try:
                await fake.wait_for(lambda: all(i.acked_at for i in inters), timeout=30)
                await fake.wait_for(lambda: all((m := fake.original(i)) and m.files for i in inters), timeout=120)
            except AssertionError:
                pass  # reported below as late or not done
            wall = time.monotonic() - started
        finally:
            await app.close()
            await fake.stop()
    acks = sorted((i.acked_at - i.dispatched_at) * 1000 for i in inters if i.acked_at)
    done = sum(1 for i in inters if (m := fake.original(i)) and m.files)
    return {
        "interactions": count,
        "ack_p50_ms": round(statistics.median(acks), 1) if acks else -1,
        "ack_p99_ms": round(acks[min(len(acks) - 1, int(len(acks) * 0.99))], 1) if acks else -1,
        "ack_max_ms": round(acks[-1], 1) if acks else -1,
        "late": count - sum(1 for a in acks if a <= DEADLINE_S * 1000),
        "done": done,
        "wall_s": round(wall, 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=200)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.interactions, args.users))))
