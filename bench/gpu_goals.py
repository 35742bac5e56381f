"""Issue 17's goals for ``bench/gpu.py``, set next to what a run measured: one summary record per family and a
table for people.

A goal is ``met`` True or False only for full-size models on a GPU; on the tiny models it is None, with why
(a CPU timing of a tiny model says nothing about a GPU). The seconds goals hold on an H100/H200 only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Records = dict[str, dict[str, Any]]  # record name ("reelbot", "card-12", ...) -> that record


@dataclass(frozen=True)
class Goal:
    name: str
    target: str
    measure: Callable[[Records], Any]  # the measured value, or None when not measured
    met: Callable[[Any], bool]
    hopper_only: bool = False  # a seconds goal set for an H100/H200


def _get(record: str, key: str) -> Callable[[Records], Any]:
    return lambda records: records.get(record, {}).get(key)


def _frames_vs_eager(records: Records) -> Any:
    versus = records.get("plan-vs-plain", {})
    if versus.get("bit_identical"):
        return "bit-identical"
    return versus.get("psnr_db")


def _card(name: str) -> Callable[[Records], Any]:
    def measure(records: Records) -> Any:
        card = records.get(name)
        if not card or "first_try_ok" not in card:
            return None
        return {"first_try_ok": card["first_try_ok"], "frames_made": card.get("frames_made"),
                "tries": card.get("tries")}

    return measure


def _card_met(frames: int) -> Callable[[Any], bool]:
    return lambda value: bool(value["first_try_ok"]) and value["frames_made"] == frames


def _at_least(limit: float) -> Callable[[Any], bool]:
    return lambda value: float(value) >= limit


def _at_most(limit: float) -> Callable[[Any], bool]:
    return lambda value: float(value) <= limit


def _psnr_met(value: Any) -> bool:
    return value == "bit-identical" or float(value) >= 40.0


COMMON = (
    Goal("compile cold, per model", "<= 90 s", _get("compile-cold", "compile_s"), _at_most(90)),
    Goal("compile with a warm cache, per model", "<= 15 s", _get("compile-warm", "compile_s"), _at_most(15)),
    Goal("frames vs eager, same seed", "bit-identical, or PSNR >= 40 dB", _frames_vs_eager, _psnr_met),
)
GOALS: dict[str, tuple[Goal, ...]] = {
    "svd-xt": (
        Goal("speedup over plain diffusers, warm", ">= 2x", _get("plan-vs-plain", "speedup"), _at_least(2.0)),
        Goal("warm run, 25 frames 1024x576, 25 steps", "<= 12 s on an H100/H200", _get("reelbot", "reelbot_s"),
             _at_most(12.0), hopper_only=True),
        *COMMON,
        Goal("12 GB card: 25 frames", "first try, no OOM rung", _card("card-12"), _card_met(25)),
        Goal("8 GB card: 14 frames", "first try, no OOM rung", _card("card-8"), _card_met(14)),
    ),
    "zeroscope": (
        Goal("warm run, 24 frames 576x320, 40 steps", "<= 5 s on an H100/H200", _get("reelbot", "reelbot_s"),
             _at_most(5.0), hopper_only=True),
        *COMMON,
    ),
}


def summarize(family: str, records: Records, *, tiny: bool, gpu_name: str | None) -> dict[str, Any]:
    """The family's summary record: each goal with its measured value and whether it was met."""
    hopper = bool(gpu_name) and any(chip in str(gpu_name) for chip in ("H100", "H200"))
    goals = []
    for goal in GOALS.get(family, COMMON):
        value = goal.measure(records)
        row: dict[str, Any] = {"goal": goal.name, "target": goal.target, "measured": value, "met": None}
        if value is None:
            failed = [name for name, r in records.items() if r.get("error")]
            said = [note for r in records.values() if r.get("method") == "none" for note in r.get("warm_up_notes", ())]
            row["why"] = ("not measured: " + "; ".join(f"{n}: {records[n]['error']}" for n in failed)
                          if failed else "not measured" + (f": {said[0]}" if said and "compile" in goal.name else ""))
        elif tiny:
            row["why"] = "tiny models: not a GPU figure"
        elif goal.hopper_only and not hopper:
            row["why"] = f"the goal is for an H100/H200; this is {gpu_name or 'a CPU'}"
        else:
            row["met"] = goal.met(value)
        goals.append(row)
    speedup = records.get("plan-vs-plain", {}).get("speedup")
    return {"stage": "summary", "family": family, "gpu_name": gpu_name, "tiny": tiny, "speedup": speedup,
            "goals": goals, "records": sorted(records)}


def table(summaries: list[dict[str, Any]]) -> str:
    """The goals next to the figures, for a terminal."""
    lines = []
    for summary in summaries:
        where = summary["gpu_name"] or "CPU"
        lines.append(f"{summary['family']} on {where}{' (tiny models)' if summary['tiny'] else ''}:")
        for row in summary["goals"]:
            verdict = {True: "MET", False: "MISSED", None: row.get("why", "")}[row["met"]]
            lines.append(f"  {row['goal']:<42} {row['target']:<34} {_show(row['measured']):<28} {verdict}")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return f"{value['frames_made']} frames, {'first try' if value['first_try_ok'] else 'OOM rung'}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
