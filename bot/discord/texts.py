"""Discord's own arrangement of the shared words: the help text and the /status embed."""

from __future__ import annotations

import discord

from bot.core import lines as job_lines
from bot.core import previews
from bot.discord.translator import COMMANDS
from bot.i18n import Words
from bot.parse import flags_help
from bot.render import changes_told, jobs_line, status_sections
from engine.status import StatusReport
from engine.types import JobView


def help_text(w: Words) -> str:
    """/help: the commands by the names the reader's Discord shows (the catalog may rename them; Korean keeps "/video"), then the flags."""
    names = {key: w.text(name) for key, name in COMMANDS.items()}
    return "\n".join([
        w._("**{video}** `prompt:` what to show — makes a video from words. Attach a picture with `image:` to "
            "animate it.", video=names["video"]),
        w._("Right-click a message with a picture → Apps → **{animate}** does the same for that picture.",
            animate=names["animate"]),
        w._("**{usage}** shows what you have left, **{cancel}** stops your latest job, **{job}** looks one up.",
            usage=names["usage"], cancel=names["cancel"], job=names["job"]),
        w._("**{settings}** shows your settings; its `model:`, `frames:`, `fps:`, `language:` and `delivery:` "
            "change them for every video (a video's own options still win).", settings=names["settings"]),
        w._("**{models}** lists the models you can use now, with their speed and price; pick one with `model:`.",
            models=names["models"]),
        w._("Admins: **{admin}** ban, unban, limit, block, unblock, blocklist.", admin=names["admin"]),
        previews.help_line(w, f"**{names['preview']}**"),
        w._("**{link}** gives a code to type on Telegram or the web console: one account everywhere; **{unlink}** "
            "separates them.", link=names["link"], unlink=names["unlink"]),
        "",
        w._("Options, as command options or in the prompt:"),
        flags_help(w),
    ])


FIELD_LIMIT = 1024


def status_embed(w: Words, report: StatusReport) -> discord.Embed:
    """/status at a glance: one field per section, the chart below (attached as status.png)."""
    embed = discord.Embed(
        title=w._("reelbot status"),
        description=jobs_line(w, report),
        colour=discord.Colour.red() if any(lane.broken for lane in report.lanes) else discord.Colour.blurple(),
        timestamp=report.generated_at,
    )
    for _key, title, lines in status_sections(w, report):
        value = "\n".join(line.strip() for line in lines) or "—"
        if len(value) > FIELD_LIMIT:
            value = value[: FIELD_LIMIT - 1] + "…"
        embed.add_field(name=title, value=value, inline=False)
    return embed


def last_line(w: Words, job: JobView) -> str:
    """What a job's reply says once the job is over (with the video attached to it when there is one)."""
    return job_lines.last_line(w, job, _done)


def _done(w: Words, job: JobView) -> str:
    parts = [w._("Done in {time}", time=w.duration(job.seconds_taken))]
    if job.backend:
        parts.append(w._("on {backend} ({model})", backend=job.backend, model=job.model) if job.model
                     else w._("on {backend}", backend=job.backend))
    parts += [w._("seed {seed}", seed=job.seed), w.money(job.charged_usd)]
    return " · ".join(parts) + "".join(f"\n{line}" for line in changes_told(w, job))
