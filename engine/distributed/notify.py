"""Engine events between processes: a worker's events go out with ``pg_notify``, and every front end that
LISTENs gets them on its own event bus, as if its own runner had published them. Progress previews (bytes)
stay behind: a notification carries at most 8 kB."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable

import psycopg

from engine import events as ev
from engine.types import JobState
from engine.words import Text

log = logging.getLogger(__name__)
CHANNEL = "reelbot_events"
_TYPES: dict[str, type[ev.Event]] = {cls.__name__: cls for cls in (
    ev.Queued, ev.Started, ev.Progress, ev.Retrying, ev.Ended, ev.ProviderAlert, ev.ModelAlert, ev.Loading)}


def encode(event: ev.Event) -> str:
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "preview"}
    return json.dumps({"type": type(event).__name__, **data}, default=_plain)


def _plain(value: object) -> object:
    return value.to_json() if isinstance(value, Text) else str(value)


def decode(text: str) -> ev.Event | None:
    try:
        data = json.loads(text)
        cls = _TYPES[data.pop("type")]
        if cls is ev.Ended:
            data["state"] = JobState(data["state"])
        for said in ("message", "reason", "prompt_unused"):  # words for people travel as template and values
            if isinstance(data.get(said), dict):
                data[said] = Text.from_json(data[said])
        return cls(**data)
    except (ValueError, KeyError, TypeError):
        log.warning("ignored a malformed event notification: %.200s", text)
        return None


class Forwarder:
    """A worker's side: every event of its bus goes out on the channel (reconnecting if the link drops)."""

    def __init__(self, conninfo: str, bus: ev.EventBus) -> None:
        self.conninfo = conninfo
        self._conn: psycopg.AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._subscription = bus.subscribe(self.send, maxsize=10_000)

    async def send(self, event: ev.Event) -> None:
        payload = encode(event)
        for attempt in range(3):
            try:
                async with self._lock:
                    if self._conn is None or self._conn.closed:
                        self._conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                    await self._conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                return
            except psycopg.OperationalError as exc:
                self._conn = None
                log.warning("could not send an event to PostgreSQL (try %d): %s", attempt + 1, exc)
                await asyncio.sleep(0.5 * (attempt + 1))

    async def close(self) -> None:
        await self._subscription.close()
        if self._conn is not None:
            await self._conn.close()


class Listener:
    """A front end's side: LISTEN, and hand each event to ``deliver`` (reconnecting if the link drops)."""

    def __init__(self, conninfo: str, deliver: Callable[[ev.Event], Awaitable[None]]) -> None:
        self.conninfo = conninfo
        self.deliver = deliver
        self.connected = asyncio.Event()

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    delay = 0.5
                    async for note in conn.notifies():
                        event = decode(note.payload)
                        if event is not None:
                            await self.deliver(event)
            except psycopg.OperationalError as exc:
                self.connected.clear()
                log.warning("lost PostgreSQL LISTEN connection (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
