"""bench/workers.py runs end to end on the local PostgreSQL (a small run) and prints its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_the_workers_benchmark_prints_its_figures() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "workers.py"), "--jobs", "20", "--workers", "2",
                           "--stalled-s", "2", "--heartbeat-s", "0.5"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == {"jobs", "workers", "failed", "jobs_per_s", "rerun_after_kill_s"}
    assert figures["jobs"] == 20 and figures["failed"] == 0
    assert figures["jobs_per_s"] > 0 and figures["rerun_after_kill_s"] > 0
