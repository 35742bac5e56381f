"""The /status chart: a real PNG whose bars are drawn to scale.

Bars are found by their colour, not by where the layout happens to put them, so these tests hold when the
chart's spacing changes but fail when a bar stops following its number. No golden images: a font update
would break them without anything being wrong.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from bot.chart import ALARM, BUDGET, SPEND, UTIL, VRAM, status_chart
from engine.status import GpuStats, LaneStatus, SpendLine, StatusReport

Colour = tuple[int, int, int]


def lane(name: str = "gpu0", util: float | None = 50.0, used_mib: float = 20_480, **changes: object) -> LaneStatus:
    stats = None if util is None else GpuStats(util, used_mib, 81_920, 60)
    values: dict[str, object] = dict(
        name=name, label="NVIDIA H100", device="cuda:0", current_job=None, busy_s=0.0, queued=0, warm_models=(),
        jobs_done=0, broken=None, stats=stats,
    )
    values.update(changes)
    return LaneStatus(**values)  # type: ignore[arg-type]


def report(*lanes: LaneStatus, spend: tuple[SpendLine, ...] = (), budget_usd: float | None = None,
           committed_usd: float = 0.0) -> StatusReport:
    return StatusReport(
        generated_at=datetime(2026, 11, 22, 9, 30, tzinfo=UTC), lanes=lanes, backends=(), queued=3, running=1,
        jobs_by_state={}, spend=spend, budget_usd=budget_usd, committed_usd=committed_usd, top_users=(),
    )


def image(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    img.load()
    return img.convert("RGB")


def bars(img: Image.Image, colour: Colour) -> list[int]:
    """The length in pixels of each bar of ``colour``, top to bottom (a bar: adjacent rows holding it)."""
    found: list[int] = []
    previous = 0
    pixels = img.load()
    assert pixels is not None
    for y in range(img.height):
        length = sum(1 for x in range(img.width) if pixels[x, y] == colour)
        if length and not previous:
            found.append(length)
        elif length:
            found[-1] = max(found[-1], length)
        previous = length
    return found


# --- a PNG of the asked size ----------------------------------------------------------------------------


@pytest.mark.parametrize("width", [800, 480, 1200])
def test_the_chart_is_a_png_of_the_asked_width(width: int) -> None:
    data = status_chart(report(lane(), spend=(SpendLine("replicate", 1.0, 12.5, 0.0),), budget_usd=50.0),
                        width=width)
    assert image(data).width == width


def test_the_default_width_is_800() -> None:
    assert image(status_chart(report(lane()))).width == 800


def test_the_image_grows_with_each_lane_and_each_backend_that_spent() -> None:
    heights = [image(status_chart(report(*[lane(f"gpu{i}") for i in range(n)]))).height for n in (0, 1, 2, 4)]
    assert heights == sorted(set(heights))  # strictly growing
    spent = [SpendLine(name, 0.0, 1.0, 0.0) for name in ("replicate", "fal", "runway")]
    one = image(status_chart(report(spend=tuple(spent[:1])))).height
    three = image(status_chart(report(spend=tuple(spent)))).height
    assert three > one


# --- bars to scale --------------------------------------------------------------------------------------


def test_a_busier_gpu_paints_a_longer_utilisation_bar() -> None:
    img = image(status_chart(report(lane("gpu0", util=90.0), lane("gpu1", util=10.0))))
    busy, quiet = bars(img, UTIL)
    assert busy == pytest.approx(9 * quiet, rel=0.1)


def test_utilisation_bars_of_separate_charts_share_one_scale() -> None:
    full = bars(image(status_chart(report(lane(util=100.0)))), UTIL)
    half = bars(image(status_chart(report(lane(util=50.0)))), UTIL)
    assert half[0] == pytest.approx(full[0] / 2, abs=1)
    assert bars(image(status_chart(report(lane(util=0.0)))), UTIL) == []
    assert bars(image(status_chart(report(lane(util=130.0)))), UTIL) == full  # a wild reading stays in its track


def test_vram_bars_follow_used_of_total() -> None:
    img = image(status_chart(report(lane("gpu0", used_mib=61_440), lane("gpu1", used_mib=20_480))))
    three_quarters, a_quarter = bars(img, VRAM)
    assert three_quarters == pytest.approx(3 * a_quarter, rel=0.05)


def test_a_lane_without_readings_draws_no_bars() -> None:
    img = image(status_chart(report(lane(util=None, broken="CUDA error: an illegal memory access " * 5))))
    assert bars(img, UTIL) == [] and bars(img, VRAM) == []


def test_spend_bars_compare_the_backends_and_the_budget_bar_shows_what_is_committed() -> None:
    spend = (SpendLine("replicate", 1.0, 12.0, 0.0), SpendLine("fal", 0.5, 3.0, 0.0),
             SpendLine("local", 0.0, 0.0, 900.0))  # nothing spent: no bar
    img = image(status_chart(report(spend=spend, budget_usd=48.0, committed_usd=12.0)))
    replicate, fal = bars(img, SPEND)
    assert replicate == pytest.approx(4 * fal, rel=0.05)
    (budget,) = bars(img, BUDGET)
    assert budget == pytest.approx(replicate / 4, rel=0.05)  # $12 of $48, on the same track as the spend


def test_a_budget_nearly_spent_turns_red() -> None:
    img = image(status_chart(report(budget_usd=50.0, committed_usd=49.0)))
    assert bars(img, BUDGET) == []
    assert len(bars(img, ALARM)) == 1


# --- nothing to show ------------------------------------------------------------------------------------


def test_the_empty_report_renders_without_any_bar() -> None:
    img = image(status_chart(report()))
    assert img.width == 800 and img.height > 100
    for colour in (UTIL, VRAM, SPEND, BUDGET, ALARM):
        assert bars(img, colour) == []


@pytest.mark.parametrize("width", [120, 320])
def test_a_narrow_chart_still_renders(width: int) -> None:
    busy = lane(current_job="abc12345", busy_s=4000.0, queued=12, label="NVIDIA GeForce RTX 4090 " * 4)
    img = image(status_chart(report(busy, spend=(SpendLine("replicate", 1.0, 1234.5, 0.0),), budget_usd=5000.0,
                                    committed_usd=1234.5), width=width))
    assert img.width == width
