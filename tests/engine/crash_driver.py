"""A real reelbot engine process for the crash test: `submit` queues jobs and runs until killed;
`resume` starts again on the same data folder, with the front end present, and exits when all is done."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from engine.types import JobView, Options, Origin, SubmitRequest, UserRef
from reelbot.app import App
from reelbot.settings import Settings


class FileLogDeliverer:
    def __init__(self, log: Path) -> None:
        self.log = log

    async def deliver(self, job: JobView) -> None:
        with self.log.open("a") as fh:
            fh.write(f"{job.id} {job.state.value}\n")


async def main(data_dir: Path, mode: str) -> None:
    settings = Settings(
        _env_file=None, data_dir=data_dir, local_backend="simulated", simulated_gpus=1,
        simulated_seconds=1.0, simulated_steps=10, max_queued_per_user=10,
    )
    deliverers = {"test": FileLogDeliverer(data_dir / "delivered.log")} if mode == "resume" else {}
    app = await App.launch(settings, deliverers=deliverers)
    if mode == "submit":
        ids = []
        for i in range(4):
            view = await app.service.submit(
                SubmitRequest(UserRef("test", f"user{i}"), f"a cat #{i}", Origin("test"), Options(frames=6))
            )
            ids.append(view.id)
        print("submitted", " ".join(ids), flush=True)
        await asyncio.Event().wait()  # until SIGKILL
    while app.service.runner.active:
        await asyncio.wait([j.task for j in app.service.runner.active.values() if j.task])
    await app.service.outbox.idle()
    await app.close()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
