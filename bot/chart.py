"""The small PNG that /status shows beside its text: the GPUs at a glance, and where the money went.

Drawn with Pillow alone: a bot's install has no plotting library, and one chart does not justify one. Bars are
to scale, so an admin sees "that GPU is at 90 %, that one idles" and "most spend is on replicate" before
reading a number; the numbers stand beside the bars for when they matter. The text of /status
(``bot/render.status_text``) stays the complete account; this picture leaves out what reads better as text
(backend health, top users).

Text is drawn in a font with Hangul (``bot/fonts.py``) and every column is measured in that font, so Korean
labels, about twice as wide per character as Latin ones, widen their column instead of running into a bar.
The time stamp is the report's own, on the community's clock (TIMEZONE).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from PIL import Image, ImageDraw

from bot.fonts import Font, chart_font, drawable
from bot.i18n import ENGLISH, Words
from engine.status import LaneStatus, StatusReport

Colour = tuple[int, int, int]

BACKGROUND: Colour = (24, 26, 32)
TEXT: Colour = (232, 234, 240)
DIM: Colour = (140, 146, 160)
RULE: Colour = (60, 64, 74)
TRACK: Colour = (48, 52, 62)  # the empty part of a bar
UTIL: Colour = (76, 175, 80)
VRAM: Colour = (66, 133, 244)
SPEND: Colour = (255, 167, 38)
BUDGET: Colour = (171, 71, 188)
ALARM: Colour = (229, 57, 53)  # a broken GPU, a budget nearly spent
BUSY: Colour = (255, 213, 79)

PAD = 16
GAP = 12
HEADER = 44
SECTION = 30  # a section's title line
LANE = 66  # a GPU with readings: its name line, then the utilisation and VRAM bars
LANE_BARE = 48  # a GPU without readings: its name line, then "no readings"
LINE = 24  # a spend or budget bar
BAR = 12
BIG, SMALL = 20, 14  # font sizes: the headline, everything else
BUDGET_ALARM = 0.9  # the budget bar turns red from 90 % committed


def status_chart(report: StatusReport, *, words: Words = ENGLISH, width: int = 800, font: str | None = None) -> bytes:
    """The report as a PNG ``width`` pixels wide, worded in the reader's language (``words``); its height grows
    with the GPUs and backends shown. ``font``: CHART_FONT, a font file with Hangul (None: one found on this
    machine, see bot/fonts.py)."""
    w = words
    spend = [line for line in report.spend if line.month_usd > 0]
    lanes = sum(_lane_height(lane) for lane in report.lanes) or LINE + GAP
    bars = max(1, len(spend)) + (report.budget_usd is not None)
    height = PAD + HEADER + SECTION + lanes + SECTION + bars * LINE + PAD
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    face = chart_font(font)
    big, small = face.sized(BIG), face.sized(SMALL)
    layout = _Layout(width, small, report, w)

    stamp = report.generated_at.strftime("%Y-%m-%d %H:%M")
    if report.generated_at.tzinfo is not None:
        stamp += f" {report.generated_at.tzname()}"
    _text(draw, (width - PAD, PAD + 5), stamp, small, DIM, anchor="ra")
    headline = w._("{queued} queued · {running} running", queued=report.queued, running=report.running)
    _text(draw, (PAD, PAD), headline, big, TEXT, room=width - 2 * PAD - _width(small, stamp) - GAP)
    y = PAD + HEADER

    y = _section(draw, y, w._("GPUs"), "", layout)
    if not report.lanes:
        _text(draw, (PAD, y), w._("no GPUs (cloud only)"), small, DIM, room=width - 2 * PAD)
        y += LINE + GAP
    for lane in report.lanes:
        _lane(draw, lane, y, layout)
        y += _lane_height(lane)

    total = w.money(report.spend_month_usd) if spend else ""
    y = _section(draw, y, w._("Spend this month"), total, layout)
    if not spend:
        _text(draw, (PAD, y), w._("no spend this month"), small, DIM, room=width - 2 * PAD)
        y += LINE
    top = max((line.month_usd for line in spend), default=0.0)
    for line in spend:
        layout.row(draw, y, line.backend, line.month_usd / top, SPEND, w.money(line.month_usd))
        y += LINE
    if report.budget_usd is not None:
        budget = report.budget_usd
        share = min(1.0, report.committed_usd / budget) if budget > 0 else 1.0
        layout.row(draw, y, w._("budget"), share, ALARM if share >= BUDGET_ALARM else BUDGET,
                   layout.budget)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class _Layout:
    """Three columns shared by every bar, so bars of one chart line up and compare: a label, the bar, and
    its value. The outer columns are as wide as their longest text, within limits a narrow chart allows."""

    def __init__(self, width: int, font: Font, report: StatusReport, w: Words) -> None:
        self.width, self.font, self.w = width, font, w
        self.budget = "" if report.budget_usd is None else w._(
            "{committed} of {budget}", committed=w.dollars(report.committed_usd), budget=w.dollars(report.budget_usd))
        labels = [w._("util"), "VRAM", w._("budget"), *(line.backend for line in report.spend)]
        values = ["100%", "$0.00", self.budget]
        for lane in report.lanes:
            if lane.stats:
                values.append(_vram(lane.stats.memory_used_mib, lane.stats.memory_total_mib))
        values += [w.money(line.month_usd) for line in report.spend]
        self.label_w = min(_widest(font, labels), width // 4) + GAP
        self.value_w = min(_widest(font, values), width // 3) + GAP
        self.left = PAD + self.label_w
        self.right = max(self.left + 1, width - PAD - self.value_w)

    def row(self, draw: ImageDraw.ImageDraw, y: int, label: str, share: float, colour: Colour, value: str,
            label_colour: Colour = TEXT) -> None:
        """One labelled bar with its value; ``y`` is the top of the line."""
        _text(draw, (PAD, y + 2), label, self.font, label_colour, room=self.label_w - GAP)
        top = y + (LINE - BAR) // 2
        draw.rectangle((self.left, top, self.right, top + BAR - 1), fill=TRACK)
        filled = round((self.right - self.left) * max(0.0, min(1.0, share)))
        if filled > 0:
            draw.rectangle((self.left, top, self.left + filled - 1, top + BAR - 1), fill=colour)
        _text(draw, (self.width - PAD, y + 2), value, self.font, TEXT, anchor="ra", room=self.value_w - GAP)


def _section(draw: ImageDraw.ImageDraw, y: int, title: str, value: str, layout: _Layout) -> int:
    """A rule, the section's title on the left and its total on the right; the title gives way to the total."""
    font, width = layout.font, layout.width
    draw.line((PAD, y + 4, width - PAD, y + 4), fill=RULE)
    value_w = _width(font, value) + GAP if value else 0
    _text(draw, (PAD, y + 10), title, font, DIM, room=width - 2 * PAD - value_w)
    if value:
        _text(draw, (width - PAD, y + 10), value, font, DIM, anchor="ra", room=width - 2 * PAD)
    return y + SECTION


def _lane(draw: ImageDraw.ImageDraw, lane: LaneStatus, y: int, layout: _Layout) -> None:
    font, width, w = layout.font, layout.width, layout.w
    if lane.broken:
        state, colour = w._("BROKEN: {why}", why=lane.broken), ALARM
    elif lane.warming and not lane.current_job:
        state, colour = w._("warming up {model} (compiling; jobs wait for it)", model=lane.warming), BUSY
    elif lane.current_job:
        state, colour = w._("busy with {job_id} for {time}", job_id=lane.current_job,
                            time=w.duration(lane.busy_s)), BUSY
    else:
        state, colour = w._("idle"), DIM
    waiting = " · " + w._("{n} waiting", n=lane.queued)
    name = f"{lane.name} · {lane.label}" if lane.label else lane.name
    if lane.stats is not None:
        name += f" · {lane.stats.temperature_c:.0f}°C"
    # The state and queue get the room they need (up to 60 %); a long error is cut, never the queue length.
    room = int(width * 0.6)
    queue_w = _width(font, waiting)
    state = _fit(state, font, room - queue_w)
    state_w = _width(font, state)
    _text(draw, (width - PAD, y), waiting, font, DIM, anchor="ra")
    _text(draw, (width - PAD - queue_w, y), state, font, colour, anchor="ra")
    _text(draw, (PAD, y), name, font, ALARM if lane.broken else TEXT, room=width - 2 * PAD - queue_w - state_w - GAP)
    if lane.stats is None:
        _text(draw, (PAD, y + LINE), w._("no readings"), font, DIM, room=width - 2 * PAD)
        return
    stats = lane.stats
    layout.row(draw, y + 20, w._("util"), stats.utilization_pct / 100, UTIL, f"{stats.utilization_pct:.0f}%", DIM)
    used = stats.memory_used_mib / stats.memory_total_mib if stats.memory_total_mib > 0 else 0.0
    layout.row(draw, y + 20 + LINE - 4, "VRAM", used, VRAM,
               _vram(stats.memory_used_mib, stats.memory_total_mib), DIM)


def _lane_height(lane: LaneStatus) -> int:
    return LANE if lane.stats is not None else LANE_BARE


def _vram(used_mib: float, total_mib: float) -> str:
    return f"{used_mib / 1024:.1f}/{total_mib / 1024:.0f} GiB"


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font: Font, fill: Colour, *,
          anchor: str = "la", room: int | None = None) -> None:
    """Text cut to ``room`` pixels (with "…") so that a long GPU name or error never runs over a bar."""
    text = drawable(text, font)
    if room is not None:
        text = _fit(text, font, room)
    if text:
        draw.text(xy, text, font=font, fill=fill, anchor=anchor)


def _fit(text: str, font: Font, room: int) -> str:
    """``text`` as long as fits in ``room`` pixels, measured in the font (a Hangul syllable is about twice as
    wide as a Latin letter), cut between characters with "…"."""
    text = drawable(text, font)
    if font.getlength(text) <= room:
        return text
    while text and font.getlength(text + "…") > room:
        text = text[:-1]
    return text.rstrip() + "…" if text else ""


def _width(font: Font, text: str) -> int:
    """The pixels ``text`` takes in ``font``, rounded up."""
    return math.ceil(font.getlength(drawable(text, font)))


def _widest(font: Font, texts: Sequence[str]) -> int:
    return max((_width(font, text) + 1 for text in texts), default=0)
