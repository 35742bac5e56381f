"""The event bus: every subscriber gets every state change; a full queue drops progress, not outcomes."""

from __future__ import annotations

import asyncio

from engine.events import Ended, Event, EventBus, Progress, Started
from engine.types import JobState


async def test_each_subscriber_gets_every_event_in_order():
    bus = EventBus()
    seen: dict[str, list[Event]] = {"a": [], "b": []}
    for name in seen:
        bus.subscribe(lambda e, name=name: _append(seen[name], e))
    events = [Started("j1", "test", "local", "zeroscope", "gpu0"), Progress("j1", "test", 1, 2),
              Ended("j1", "test", JobState.SUCCEEDED)]
    for event in events:
        bus.publish(event)
    await bus.drain()
    assert seen["a"] == events and seen["b"] == events
    await bus.close()


async def test_a_stuck_subscriber_loses_progress_but_never_the_outcome():
    bus = EventBus()
    gate = asyncio.Event()
    got: list[Event] = []

    async def stuck(event: Event) -> None:
        await gate.wait()
        got.append(event)

    sub = bus.subscribe(stuck, maxsize=5)
    bus.publish(Started("j1", "test", "local", None, None))
    await asyncio.sleep(0)  # the handler takes the first event and blocks on it
    for step in range(1, 101):
        bus.publish(Progress("j1", "test", step, 100))  # publish never waits
    bus.publish(Ended("j1", "test", JobState.SUCCEEDED))
    gate.set()
    await bus.drain()
    assert isinstance(got[0], Started) and isinstance(got[-1], Ended)
    assert len(got) <= 7 and sub.dropped >= 95
    await bus.close()


async def test_a_subscriber_that_raises_keeps_receiving():
    bus = EventBus()
    got: list[int] = []

    async def flaky(event: Event) -> None:
        got.append(event.step)  # type: ignore[attr-defined]
        if event.step == 1:  # type: ignore[attr-defined]
            raise RuntimeError("front end bug")

    bus.subscribe(flaky)
    bus.publish(Progress("j1", "test", 1, 2))
    bus.publish(Progress("j1", "test", 2, 2))
    await bus.drain()
    assert got == [1, 2]
    await bus.close()


async def _append(target: list[Event], event: Event) -> None:
    target.append(event)
