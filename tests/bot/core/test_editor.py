"""The paced editor every front end shares, with an injected edit(): what a chat would receive, and when."""

from __future__ import annotations

import asyncio
import time

from bot.core.editor import MessageGone, PacedEditor, SlowDown, Where


class Chat:
    """A platform's edit call that records what it was asked to show (and can refuse on demand)."""

    def __init__(self, *refusals: Exception) -> None:
        self.edits: list[tuple[str, str, float]] = []  # message, text, when
        self.refusals = list(refusals)

    async def edit(self, message: str, text: str, markup: str | None) -> None:
        self.edits.append((message, text, time.monotonic()))
        if self.refusals:
            raise self.refusals.pop(0)

    async def received(self, count: int, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.edits) < count:
            assert time.monotonic() < deadline, self.edits
            await asyncio.sleep(0.01)  # paced: a poll with a deadline


async def test_a_burst_of_progress_costs_one_edit_and_the_newest_text_wins() -> None:
    chat = Chat()
    editor: PacedEditor[str, str] = PacedEditor(chat.edit)
    editor.track("job1", Where("msg1", "chat", 0.2), "“a cat”")
    for step in range(50):
        editor.show("job1", f"Running {step}/50")
    await chat.received(1)

    assert await editor.finish("job1", "✅ Done")
    assert [text for _, text, _ in chat.edits] == ["“a cat”\nRunning 49/50", "“a cat”\n✅ Done"]
    assert chat.edits[1][2] - chat.edits[0][2] >= 0.19  # the final text waited for the next slot
    assert not editor.tracks("job1")


async def test_jobs_sharing_a_pace_share_its_slots() -> None:
    """Telegram counts edits per chat: two jobs in one group never edit closer than the group's interval."""
    chat = Chat()
    editor: PacedEditor[str, str] = PacedEditor(chat.edit)
    editor.track("job1", Where("msg1", "group", 0.2), "one")
    editor.track("job2", Where("msg2", "group", 0.2), "two")
    editor.show("job1", "queued")
    editor.show("job2", "queued")
    await chat.received(2)

    assert await editor.finish("job1", "done") and await editor.finish("job2", "done")
    times = sorted(at for _, _, at in chat.edits)
    assert len(times) == 4 and min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.19


async def test_a_flood_wait_is_honoured_and_the_same_text_is_not_sent_twice() -> None:
    chat = Chat(SlowDown(0.3))
    editor: PacedEditor[str, str] = PacedEditor(chat.edit)
    editor.track("job1", Where("msg1", "chat", 0.0), "h")
    editor.show("job1", "Queued #2", "buttons")

    assert await editor.finish("job1", "Queued #2", "buttons")  # already shown: no third edit
    [(_, _, refused), (_, text, retried)] = chat.edits
    assert text == "h\nQueued #2" and retried - refused >= 0.29


async def test_a_deleted_message_is_left_alone_and_the_end_says_it_was_not_shown() -> None:
    chat = Chat(MessageGone("deleted"))
    editor: PacedEditor[str, str] = PacedEditor(chat.edit)
    editor.track("job1", Where("msg1", "chat", 0.0), "h")
    editor.show("job1", "Queued #1")
    await chat.received(1)

    assert not await editor.finish("job1", "✅ Done")  # the deliverer sends the news as a new message
    assert [text for _, text, _ in chat.edits] == ["h\nQueued #1"]


async def test_a_platform_that_keeps_failing_is_given_up_after_its_tries() -> None:
    chat = Chat(*(ConnectionError("502") for _ in range(5)))
    editor: PacedEditor[str, str] = PacedEditor(chat.edit, tries=3, backoff_s=0.01)
    editor.track("job1", Where("msg1", "chat", 0.0), "h")

    assert not await editor.finish("job1", "✅ Done")
    assert len(chat.edits) == 3


async def test_a_jobs_preview_goes_out_once_in_its_own_slot_and_never_after_the_final_text() -> None:
    chat = Chat()
    pictures: list[tuple[str, bytes, str]] = []

    async def attach(message: str, picture: bytes, caption: str) -> None:
        pictures.append((message, picture, caption))
        chat.edits.append((message, "<picture>", time.monotonic()))

    editor: PacedEditor[str, str] = PacedEditor(chat.edit, attach=attach)
    editor.track("job1", Where("msg1", "chat", 0.1), "“a lake”")
    editor.show("job1", "Running 5/10")
    editor.attach("job1", b"jpeg", "half-way")
    editor.attach("job1", b"another", "half-way")  # one preview a job
    await chat.received(2)
    assert await editor.finish("job1", "✅ Done")
    assert pictures == [("msg1", b"jpeg", "half-way")]
    assert [text for _, text, _ in chat.edits] == ["<picture>", "“a lake”\nRunning 5/10", "“a lake”\n✅ Done"]
    times = [at for _, _, at in chat.edits]
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.09  # the picture took a slot

    editor.track("job2", Where("msg2", "chat", 0.1), "“late”")
    finishing = asyncio.ensure_future(editor.finish("job2", "✅ Done"))
    editor.attach("job2", b"too late", "half-way")
    assert await finishing and len(pictures) == 1


async def test_a_failed_preview_is_dropped_and_the_text_goes_on() -> None:
    chat = Chat()

    async def attach(message: str, picture: bytes, caption: str) -> None:
        raise ConnectionError("no pictures today")

    editor: PacedEditor[str, str] = PacedEditor(chat.edit, attach=attach)
    editor.track("job1", Where("msg1", "chat", 0.05), "“a lake”")
    editor.attach("job1", b"jpeg", "half-way")
    editor.show("job1", "Running 5/10")
    await chat.received(1)
    assert await editor.finish("job1", "✅ Done")
    assert [text for _, text, _ in chat.edits] == ["“a lake”\nRunning 5/10", "“a lake”\n✅ Done"]
