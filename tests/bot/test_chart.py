"""The /status chart: a real PNG whose bars are drawn to scale.

Bars are found by their colour, not by where the layout happens to put them, so these tests hold when the
chart's spacing changes but fail when a bar stops following its number. No golden images: a font update
would break them without anything being wrong.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw

from bot import fonts
from bot.chart import ALARM, BACKGROUND, BUDGET, PAD, SMALL, SPEND, TRACK, UTIL, VRAM, status_chart
from bot.i18n import Words, words
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
           committed_usd: float = 0.0, generated_at: datetime = datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
           ) -> StatusReport:
    return StatusReport(
        generated_at=generated_at, lanes=lanes, backends=(), queued=3, running=1,
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


# --- Hangul ---------------------------------------------------------------------------------------------

HANGUL_LABEL = "지포스 RTX 5070"
NOTDEF = "\u0378"  # an unassigned code point: what a font draws for it is its missing-glyph box


@pytest.fixture
def fresh_fonts() -> Iterator[None]:
    """The chart's font is looked up once per process: look again, before and after the test."""
    fonts.chart_font.cache_clear()
    yield
    fonts.chart_font.cache_clear()


def korean_font() -> fonts.ChartFont:
    found = fonts.chart_font()
    if not found.draws_hangul:
        pytest.skip("no font with Hangul on this machine (apt-get install fonts-noto-cjk; .ci/run installs it)")
    return found


def png_of_label(label: str) -> bytes:
    return status_chart(report(lane(label=label, util=None)))


def test_hangul_is_drawn_as_real_glyphs_not_missing_glyph_boxes(fresh_fonts: None) -> None:
    """Each syllable of a Korean GPU label, swapped for a code point no font has, changes the picture: it
    was drawn as a glyph of its own, not as the box the font draws for what it lacks. A font without
    Hangul draws the same box for both, and the pictures would be identical."""
    korean_font()
    drawn = png_of_label(HANGUL_LABEL)
    for index, syllable in enumerate("지포스"):
        boxed = HANGUL_LABEL[:index] + NOTDEF + HANGUL_LABEL[index + 1:]
        assert image(png_of_label(boxed)).tobytes() != image(drawn).tobytes(), f"{syllable} is a missing glyph"
    assert len({image(png_of_label(syllable)).tobytes() for syllable in "지포스"}) == 3  # three distinct glyphs


def test_the_chosen_font_draws_hangul_unlike_its_notdef(fresh_fonts: None) -> None:
    """The same, glyph by glyph in the font the chart uses, compared with the font's own .notdef rendering."""
    font = korean_font().sized(SMALL)

    def bitmap(text: str) -> bytes:
        left, top, right, bottom = (int(v) for v in font.getbbox(text))
        img = Image.new("L", (max(1, right - left), max(1, bottom - top)))
        ImageDraw.Draw(img).text((-left, -top), text, font=font, fill=255)
        return bytes(f"{img.size}", "ascii") + img.tobytes()

    notdef = bitmap(NOTDEF)
    for syllable in "지포스상태예산":
        assert bitmap(syllable) != notdef, f"{syllable} draws as the missing-glyph box"


def test_without_a_korean_font_the_chart_is_still_drawn_and_one_warning_says_what_to_install(
    fresh_fonts: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fonts, "_candidates", lambda: iter(()))
    with caplog.at_level(logging.WARNING, logger="bot.fonts"):
        first = image(status_chart(report(lane(label=HANGUL_LABEL), spend=(SpendLine("로컬", 0, 1.0, 0),))))
        second = image(status_chart(report(lane(label=HANGUL_LABEL))))
    assert first.width == second.width == 800
    assert bars(first, SPEND) and bars(second, UTIL)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "fonts-noto-cjk" in warning and "CHART_FONT" in warning


def test_chart_font_names_the_file_to_draw_with(fresh_fonts: None) -> None:
    found = korean_font()
    assert fonts.chart_font(found.path) == found


def test_a_chart_font_without_hangul_is_passed_over_with_a_warning(
    fresh_fonts: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bogus = tmp_path / "latin.ttf"
    bogus.write_bytes(b"not a font at all")
    with caplog.at_level(logging.WARNING, logger="bot.fonts"):
        chosen = fonts.chart_font(str(bogus))
    assert chosen.path != str(bogus)
    assert any(str(bogus) in r.getMessage() for r in caplog.records)
    assert image(status_chart(report(lane(label=HANGUL_LABEL)), font=str(bogus))).width == 800


def label_and_bar(img: Image.Image) -> tuple[int, int]:
    """In the first spend row: the right end of the label's ink, and the left end of the bar's track."""
    pixels = img.load()
    assert pixels is not None
    rows = [y for y in range(img.height) if any(pixels[x, y] == SPEND for x in range(img.width))]
    top, bottom = rows[0], next(y for i, y in enumerate(rows) if i + 1 == len(rows) or rows[i + 1] != y + 1)
    bar_left = min(x for y in range(top, bottom + 1) for x in range(img.width) if pixels[x, y] in (SPEND, TRACK))
    ink = [x for y in range(top - 6, bottom + 7) for x in range(bar_left) if pixels[x, y] != BACKGROUND]
    return max(ink), bar_left


@pytest.mark.parametrize("label", ["로컬 GPU 서버", "클라우드 제공자"])
def test_a_korean_label_widens_its_column_and_is_shown_whole(fresh_fonts: None, label: str) -> None:
    """Measured in the font: the bars start after the widest label, which is drawn whole, not cut."""
    short = image(status_chart(report(spend=(SpendLine("fal", 0, 2.0, 0),))))
    long = image(status_chart(report(spend=(SpendLine(label, 0, 2.0, 0), SpendLine("fal", 0, 1.0, 0)))))
    label_right, bar_left = label_and_bar(long)
    assert bar_left > label_and_bar(short)[1]
    assert label_right < bar_left  # no overlap
    width = fonts.chart_font().sized(SMALL).getlength(label)
    assert label_right - PAD >= width - 3  # the whole label: not cut with "…"


def test_the_stamp_is_the_reports_own_local_time(fresh_fonts: None) -> None:
    """generated_at comes on the community's clock (TIMEZONE): 09:30 UTC is 18:30 KST, and the stamp differs
    from the same instant in UTC."""
    at = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    seoul = image(status_chart(report(generated_at=at.astimezone(ZoneInfo("Asia/Seoul")))))
    utc = image(status_chart(report(generated_at=at)))
    assert seoul.tobytes() != utc.tobytes()


class BoxedKorean(Words):
    """Korean words with every Hangul syllable swapped for a code point no font has."""

    def _(self, template: str, /, **args: object) -> str:
        return "".join(NOTDEF if "가" <= char <= "힣" else char for char in super()._(template, **args))


def test_the_chart_speaks_the_readers_language_in_real_hangul(fresh_fonts: None) -> None:
    """Titles, labels and states come from the catalog: the Korean chart differs from the English one, and
    from the same Korean chart drawn with missing-glyph boxes."""
    korean_font()
    full = report(lane(current_job="abc12345", busy_s=200), lane("gpu1", util=None, broken="CUDA error"),
                  spend=(SpendLine("replicate", 1.0, 12.5, 0.0),), budget_usd=50.0, committed_usd=12.5)
    korean = image(status_chart(full, words=words("ko"))).tobytes()
    assert korean != image(status_chart(full)).tobytes()
    assert korean != image(status_chart(full, words=BoxedKorean("ko"))).tobytes()
    assert words("ko")._("Spend this month") == "이번 달 지출"  # the catalog has the chart's words
