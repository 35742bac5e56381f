"""Telegram's own words: message headers, help, and the last line of a job's message.

What a job's state or an error means is worded once in ``bot/render.py`` for every front end; this module
only arranges those lines for Telegram's messages.
"""

from __future__ import annotations

from bot.parse import flags_help
from bot.render import duration, failure_text, money
from engine.types import JobState, JobView

HELP = (
    "Send me a photo and I turn it into a short video. Add a caption to say what should happen.\n"
    "/video <what to show> makes a video from words alone.\n"
    "/usage shows what you have left, /cancel stops your latest job, /job <id> looks one up.\n\n"
    "Options, in the caption or after /video:\n"
)

COMMANDS = (
    ("video", "Make a video from a text prompt"),
    ("usage", "What you have used and what is left"),
    ("cancel", "Cancel your latest job (or /cancel <id>)"),
    ("job", "Look up a job: /job <id>"),
    ("status", "GPUs, queues and spend (admins)"),
    ("help", "How to use this bot"),
)


def help_text() -> str:
    return HELP + flags_help()


def last_line(job: JobView) -> str:
    """What a job's message says once the job is over (the video itself is sent as its own message)."""
    if job.state is JobState.SUCCEEDED and job.result_path is not None:
        where = f" on {job.backend}" if job.backend else ""
        return f"✅ Done in {duration(job.seconds_taken)}{where} · {money(job.charged_usd)}. The video is below."
    if job.state is JobState.SUCCEEDED:  # made, but no encoding fits Telegram's upload limit
        text = job.error_message or "The video is too large to send here."
        return f"⚠️ {text}" + (f" It cost {money(job.charged_usd)}." if job.charged_usd else "")
    mark = "✖" if job.state is JobState.CANCELLED else "❌"
    return f"{mark} {failure_text(job)}"
