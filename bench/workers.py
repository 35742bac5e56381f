"""Distributed mode on the local PostgreSQL: jobs per second through 4 workers, and how long a killed
worker's job takes to run elsewhere. Prints one JSON line.

    python bench/workers.py [--jobs 400] [--workers 4] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

- ``jobs_per_s``: from the first submit to the last job succeeded, with an instant simulated GPU on each
  worker (so it measures the queue: admission, procrastinate, NOTIFY, settlement).
- ``rerun_after_kill_s``: a worker is SIGKILLed while it runs a job; seconds until that job runs on another
  worker (heartbeat every ``WORKER_HEARTBEAT_S``, presumed dead after ``WORKER_STALLED_S``: defaults 5 and 30).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.types import JobState, Options, Origin, SubmitRequest, UserRef  # noqa: E402
from reelbot.app import App  # noqa: E402
from reelbot.settings import Settings  # noqa: E402


def start_worker(env: dict[str, str], gpu: int, **extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "reelbot.cli", "worker", "--gpu", str(gpu)], cwd=ROOT,
                            env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "is running" in line:
            return proc
    raise RuntimeError("worker did not start")


async def until_state(app: App, job_id: str, *states: JobState, wait_s: float = 300) -> float:
    started = time.monotonic()
    for _ in range(int(wait_s / 0.05)):
        if (await app.service.get(job_id)).state in states:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise TimeoutError(job_id)


def stop_all(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    procs.clear()


async def main(jobs: int, workers: int, admin_url: str, stalled_s: float = 30.0,
               heartbeat_s: float = 5.0) -> dict[str, float | int]:
    name = f"reelbot_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    procs: list[subprocess.Popen[str]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            common = {"DATABASE_URL": url, "QUEUE": "procrastinate", "DATA_DIR": folder, "LOG_LEVEL": "WARNING",
                      "LOCAL_BACKEND": "simulated", "SIMULATED_SECONDS": "0", "SIMULATED_STEPS": "1",
                      "SIMULATED_FRAMES": "false", "WORKER_STALLED_S": str(stalled_s),
                      "WORKER_HEARTBEAT_S": str(heartbeat_s)}
            env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "TELEGRAM_TOKEN")}
            env.update(common)
            settings = Settings(_env_file=None, database_url=url, queue="procrastinate", data_dir=Path(folder),
                                local_backend="simulated", max_queued_per_user=jobs, max_jobs_per_day=jobs,
                                max_queue=jobs * 2, rate_limit_per_minute=0, log_level="WARNING",
                                worker_stalled_s=stalled_s,
                                worker_heartbeat_s=heartbeat_s)
            app = await App.launch(settings)
            try:
                procs += [start_worker(env, i) for i in range(workers)]
                began = time.monotonic()
                ids = [(await app.service.submit(SubmitRequest(UserRef("bench", f"u{i % 20}"), "a cat",
                                                               Origin("bench", "c"), Options()))).id
                       for i in range(jobs)]
                for job_id in ids:
                    await until_state(app, job_id, JobState.SUCCEEDED, JobState.FAILED)
                elapsed = time.monotonic() - began
                states = [(await app.service.get(j)).state for j in ids]
                failed = sum(1 for state in states if state is not JobState.SUCCEEDED)

                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(30)
                procs.clear()
                slow = start_worker(env, 0, SIMULATED_SECONDS="600", SIMULATED_STEPS="600")
                procs.append(slow)
                victim = (await app.service.submit(SubmitRequest(UserRef("bench", "victim"), "a slow cat",
                                                                 Origin("bench", "c"), Options()))).id
                await until_state(app, victim, JobState.RUNNING)
                procs.append(start_worker(env, 1))
                slow.send_signal(signal.SIGKILL)
                killed = time.monotonic()
                slow.wait(10)
                await until_state(app, victim, JobState.QUEUED)  # the watchdog noticed
                await until_state(app, victim, JobState.RUNNING, JobState.SUCCEEDED)  # another worker took it
                killed_to_rerun = time.monotonic() - killed
            finally:
                await app.close()
                stop_all(procs)  # the workers write under the folder: they end before it is removed
    finally:
        stop_all(procs)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"jobs": jobs, "workers": workers, "failed": failed, "jobs_per_s": round(jobs / elapsed, 1),
            "rerun_after_kill_s": round(killed_to_rerun, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--stalled-s", type=float, default=30.0, help="WORKER_STALLED_S")
    parser.add_argument("--heartbeat-s", type=float, default=5.0, help="WORKER_HEARTBEAT_S")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.jobs, args.workers, args.postgres, args.stalled_s, args.heartbeat_s))))
