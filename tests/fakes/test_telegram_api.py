"""The fake Bot API refuses what Telegram refuses, so the bot's tests can trust a clean run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from telegram.error import BadRequest, RetryAfter

import bot.telegram  # noqa: F401  (opts PTB into timedelta durations, as the bot does)
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeTelegram, telegram.Bot]]:
    fake = FakeTelegram()
    await fake.start()
    client = telegram.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with client:
        yield fake, client
    await fake.stop()


async def test_a_request_outside_the_spec_is_refused_and_listed(served) -> None:
    fake, client = served
    ann = fake.user(1, "Ann")
    fake.private_chat(ann)
    with pytest.raises(BadRequest, match="(?i)callback_data: must be 1-64 bytes"):
        await client.send_message(1, "hi", reply_markup=telegram.InlineKeyboardMarkup(
            [[telegram.InlineKeyboardButton("x", callback_data="y" * 65)]]))
    with pytest.raises(BadRequest, match="(?i)unknown field 'colour'"):
        await client.send_message(1, "hi", api_kwargs={"colour": "red"})
    with pytest.raises(BadRequest, match="(?i)expected a InlineKeyboardMarkup object|matches no kind"):
        await client.send_message(1, "hi", api_kwargs={"reply_markup": "[1, 2]"})
    assert len(fake.spec_errors) == 3
    assert fake.spec_errors[0].startswith("sendMessage: reply_markup.inline_keyboard[0][0].callback_data")


async def test_edits_flood_control_and_downloads_behave_like_telegram(served) -> None:
    fake, client = served
    ann = fake.user(2, "Ann")
    fake.private_chat(ann)
    sent = await client.send_message(2, "queued")
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await client.edit_message_text("queued", chat_id=2, message_id=sent.message_id)
    fake.fail_next("editMessageText", retry_after=3)
    with pytest.raises(RetryAfter) as flood:
        await client.edit_message_text("running", chat_id=2, message_id=sent.message_id)
    assert flood.value.retry_after.total_seconds() == 3
    await client.edit_message_text("running", chat_id=2, message_id=sent.message_id)
    assert fake.messages[(2, sent.message_id)].edits == ["queued", "running"]

    small, big = fake.add_file(b"picture"), fake.add_file(b"x", file_size=21 * 1024 * 1024)
    assert bytes(await (await client.get_file(small)).download_as_bytearray()) == b"picture"
    with pytest.raises(BadRequest, match="(?i)file is too big"):
        await client.get_file(big)
    assert fake.spec_errors == []


async def test_updates_arrive_by_long_polling_and_are_confirmed_by_offset(served) -> None:
    fake, client = served
    ann = fake.user(3, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video a cat")
    [update] = await client.get_updates(timeout=1)
    assert update.message.text == "/video a cat"
    assert update.message.entities[0].type == "bot_command"
    assert await client.get_updates(offset=update.update_id + 1, timeout=0) == ()
