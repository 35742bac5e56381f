"""bench/interactions.py runs end to end (a small burst) and prints the figures it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_interaction_burst_benchmark_prints_its_figures() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "interactions.py"), "--interactions", "20",
                           "--users", "5"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == {"interactions", "ack_p50_ms", "ack_p99_ms", "ack_max_ms", "late", "done", "wall_s"}
    assert figures["interactions"] == 20 and figures["done"] == 20
    assert 0 < figures["ack_p50_ms"] <= figures["ack_p99_ms"] <= figures["ack_max_ms"]
