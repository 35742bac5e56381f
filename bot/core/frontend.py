"""What a front end is to the composition root: something to prepare, start and stop, with a deliverer.

``reelbot/app.py`` drives every front end through this order, so results and progress are never lost:

1. :meth:`FrontEnd.prepare` before the engine starts: check the credentials (raise a ``ReelbotError`` that
   says what to fix, after cleaning up what was opened) and follow the engine's events; then the root
   registers :attr:`FrontEnd.deliverer`, so results finished while the bot was down are delivered at once;
2. :meth:`FrontEnd.start` once the engine has resumed its jobs: take requests; it returns one line for the
   console ("Telegram: running as @reelbot (polling)."), in the console's language when it is a ``Text``;
3. :meth:`FrontEnd.stop`, in reverse order, before the engine stops.
"""

from __future__ import annotations

from typing import Protocol

from engine.outbox import Deliverer
from engine.words import Text


class FrontEnd(Protocol):
    @property
    def platform(self) -> str: ...  # the origin platform of the jobs it makes, and the deliverer's key

    @property
    def deliverer(self) -> Deliverer: ...  # how finished jobs reach their users

    @property
    def max_video_bytes(self) -> int | None: ...  # videos are fitted under this before delivery (None: no cap)

    async def prepare(self) -> None: ...

    async def start(self) -> Text | str: ...

    async def stop(self) -> None: ...
