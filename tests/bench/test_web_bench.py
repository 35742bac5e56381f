"""bench/web.py runs end to end (a short history, a few followers) and prints the figures it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.browser import require_chromium

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"make", "videos_cold", "videos", "admin_jobs", "admin_status"}


def test_the_web_console_benchmark_prints_its_figures() -> None:
    require_chromium()  # skipped without a browser, except in CI
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "web.py"), "--history", "45", "--loads", "2",
                           "--jobs", "30", "--followers", "3", "--rounds", "1", "--seconds", "0.02"],
                          capture_output=True, text=True, timeout=110, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])

    # First paint: every page loaded in the browser, signed in, and painted.
    assert figures["history"] == 45 and set(figures["pages"]) == PAGES and figures["no_paint"] == 0
    for name, page in figures["pages"].items():
        assert page["loads"] == 2, name
        assert 0 < page["fcp_p50_ms"] <= page["fcp_max_ms"] <= figures["fcp_max_ms"], name
        assert 0 < page["ttfb_p50_ms"] <= page["ttfb_max_ms"], name
    for name in ("videos_cold", "videos"):  # a page of My videos: 20 thumbnails, all made and shown
        page = figures["pages"][name]
        assert page["images"] == 20 and page["broken_images"] == 0 and page["thumbs_max_ms"] > 0, name
    assert isinstance(figures["fcp_ok"], bool) and figures["fcp_goal_ms"] == 1000

    # Followers: both configurations ran, and the followers saw every job through, progress and all.
    assert figures["followers"] == 3 and figures["jobs"] == 30
    assert figures["jobs_per_s_alone"] > 0 and figures["jobs_per_s_followed"] > 0
    assert len(figures["runs_alone"]) == len(figures["runs_followed"]) == 1
    assert figures["follows"] == 30 and figures["errors"] == 0
    assert figures["events"] >= 2 * 30 and figures["progress_events"] > 0
    assert figures["cpu_ms_per_job_alone"] > 0 and figures["cpu_ms_per_job_followed"] > 0
    assert isinstance(figures["slowdown_pct"], float) and isinstance(figures["slowdown_ok"], bool)
