"""A real engine process killed with SIGKILL mid-job, then restarted: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def driver(data_dir: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.engine.crash_driver", str(data_dir), mode],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def db(data_dir: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(data_dir / "reelbot.db", timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_sigkill_mid_job_then_restart_loses_nothing_and_delivers_once(tmp_path):
    data = tmp_path / "data"
    proc = driver(data, "submit")
    try:
        ids = proc.stdout.readline().split()[1:]
        assert len(ids) == 4, proc.stderr.read()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill once one job is done and the next is half-way
            states = dict(db(data, "SELECT id, state FROM jobs"))
            if list(states.values()).count("succeeded") == 1 and "running" in states.values():
                running = next(j for j, s in states.items() if s == "running")
                if db(data, f"SELECT count(*) FROM attempts WHERE job_id='{running}'") == [(1,)]:
                    time.sleep(0.3)  # paced: let the next job get half-way before the kill
                    break
            time.sleep(0.05)  # paced: a poll with a deadline
        else:
            raise AssertionError("the first job never finished")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    killed_during = running
    assert db(data, f"SELECT state FROM jobs WHERE id='{killed_during}'") == [("running",)]

    resumed = driver(data, "resume")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0 and "done" in out, err

    assert dict(db(data, "SELECT id, state FROM jobs")) == {i: "succeeded" for i in ids}
    outcomes = db(data, f"SELECT outcome FROM attempts WHERE job_id='{killed_during}' ORDER BY id")
    assert outcomes == [("interrupted",), ("succeeded",)]
    delivered = (data / "delivered.log").read_text().split("\n")
    assert sorted(filter(None, delivered)) == sorted(f"{i} succeeded" for i in ids)
    balance = db(data, """SELECT job_id, SUM(CASE kind WHEN 'reserve' THEN amount_micros ELSE -amount_micros END)
                          FROM ledger GROUP BY job_id""")
    assert sorted(balance) == sorted((i, 0) for i in ids)
    for i in ids:
        assert (data / "results" / f"{i}.mp4").stat().st_size > 0

    again = driver(data, "resume")  # a second restart sends nothing again
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert (data / "delivered.log").read_text().split("\n") == delivered
