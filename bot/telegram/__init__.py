"""The Telegram front end: python-telegram-bot in front of the engine's service.

Send a photo, get a video: one reply message per job is edited as it moves (queued, progress, done), the
result comes back with ``sendVideo``, and inline buttons cancel, retry or move a job to the cloud.
"""

import os

# Opt in to PTB's coming behaviour (durations as timedelta) now, as PTB asks; it warns on every flood
# control otherwise. Set before any PTB object is made.
os.environ.setdefault("PTB_TIMEDELTA", "true")
