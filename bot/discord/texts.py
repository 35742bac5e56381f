"""Discord's own arrangement of the shared words: the help text and the /status embed."""

from __future__ import annotations

import discord

from bot.core import lines as job_lines
from bot.parse import flags_help
from bot.render import changes_told, duration, money, status_sections
from engine.status import StatusReport
from engine.types import JobView

HELP = (
    "**/video** `prompt:` what to show — makes a video from words. Attach a picture with `image:` to animate it.\n"
    "Right-click a message with a picture → Apps → **Animate image** does the same for that picture.\n"
    "**/usage** shows what you have left, **/cancel** stops your latest job, **/job** looks one up.\n\n"
    "Options, as command options or in the prompt:\n"
) + flags_help()

FIELD_LIMIT = 1024


def status_embed(report: StatusReport) -> discord.Embed:
    """/status at a glance: one field per section, the chart below (attached as status.png)."""
    embed = discord.Embed(
        title="reelbot status",
        description=f"Jobs: {report.queued} queued, {report.running} running",
        colour=discord.Colour.red() if any(lane.broken for lane in report.lanes) else discord.Colour.blurple(),
        timestamp=report.generated_at,
    )
    for title, lines in status_sections(report):
        value = "\n".join(line.strip() for line in lines) or "—"
        if len(value) > FIELD_LIMIT:
            value = value[: FIELD_LIMIT - 1] + "…"
        embed.add_field(name=title, value=value, inline=False)
    return embed


def last_line(job: JobView) -> str:
    """What a job's reply says once the job is over (with the video attached to it when there is one)."""
    return job_lines.last_line(job, _done)


def _done(job: JobView) -> str:
    parts = [f"Done in {duration(job.seconds_taken)}"]
    if job.backend:
        parts.append(f"on {job.backend}" + (f" ({job.model})" if job.model else ""))
    parts += [f"seed {job.seed}", money(job.charged_usd)]
    return " · ".join(parts) + "".join(f"\n{line}" for line in changes_told(job))
