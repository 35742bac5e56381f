"""What the Telegram stories share: reading what the bot said in the fake's chats, and what each story
expects to read in each language of a user's app (``SAYS``; ``in_each_language`` runs a story once per
language)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.telegram_api import FakeTelegram

# What the stories read, per language of the user's app: the same story, worded in each language.
SAYS: dict[str, dict[str, str]] = {
    "en": {
        "queuing": "⏳ Queuing…",
        "job": "· job ",
        "seed": "seed {seed}",
        "on": "on {backend}",
        "free": "free",
        "running": "Running on {backend}",
        "below": "The video is below.",
        "retry": "🔁 Retry (new seed)",
        "same": "🎯 Same seed",
        "delete": "🗑 Delete",
        "extend": "⏩ Extend",
        "cancel": "✖ Cancel",
        "cancelled": "Cancelled.",
        "not charged": "You were not charged.",
        "cancelled job": "Job {job_id}: Cancelled. You were not charged.",
        "today": "Today: 1 of 5 videos.",
        "someone else's": "That job is someone else's",
        "one at a time": "You already have 1 videos waiting or in progress; the limit is 1 at a time. "
                         "Wait for one to finish, or cancel one with /cancel.",
        "help": "Send me a photo and I turn it into a short video.",
        "hint": "To make a video from words, use /video followed by what to show.",
        "admins only": "Only the bot's admins can see /status.",
        "sent privately": "I sent you /status in our private chat.",
        "only privately": "I can only send /status privately: open a chat with me, press Start",
        "spend": "Spend today",
        "jobs": "Jobs: 0 queued, 0 running",
        "next": "Queued #1 (you're next, starts in ≈ ",
        "cloud": "☁ Run on cloud now ({backend} ≈ {cost})",
        "moving": "Moving it to {backend} now.",
    },
    "ko": {
        "queuing": "⏳ 대기열에 넣는 중…",
        "job": "· 작업 ",
        "seed": "시드 {seed}",
        "on": "{backend}에서",
        "free": "무료",
        "running": "{backend}에서 만드는 중",
        "below": "영상은 아래에 있어요.",
        "retry": "🔁 다시 만들기 (새 시드)",
        "same": "🎯 같은 시드로",
        "delete": "🗑 삭제",
        "extend": "⏩ 이어서 만들기",
        "cancel": "✖ 취소",
        "cancelled": "취소됐어요.",
        "not charged": "비용은 청구되지 않았어요.",
        "cancelled job": "작업 {job_id}: 취소됐어요. 비용은 청구되지 않았어요.",
        "today": "오늘: 영상 1 / 5개.",
        "someone else's": "다른 사람의 작업이에요.",
        "one at a time": "이미 대기 중이거나 만드는 중인 영상이 1개 있어요. 한 번에 1개까지 만들 수 있어요. "
                         "하나가 끝날 때까지 기다리거나 /cancel로 하나를 취소해 주세요.",
        "help": "사진을 보내 주시면 짧은 영상으로 만들어 드려요.",
        "hint": "글로 영상을 만들려면 /video 뒤에 보여 줄 장면을 적어 주세요.",
        "admins only": "/status는 봇 관리자만 볼 수 있어요.",
        "sent privately": "/status를 개인 채팅으로 보냈어요.",
        "only privately": "/status는 개인 채팅으로만 보낼 수 있어요. 저와 채팅을 열어 시작을 누른 뒤",
        "spend": "오늘 지출",
        "jobs": "작업: 대기 중 0개, 만드는 중 0개",
        "next": "대기 중 (1번째, 다음 차례예요, 약 ",
        "cloud": "☁ 지금 클라우드에서 실행 ({backend} 약 {cost})",
        "moving": "지금 {backend}(으)로 옮기고 있어요.",
    },
}
in_each_language = pytest.mark.parametrize("lang", list(SAYS))


def texts(fake: FakeTelegram, chat_id: int, message_id: int) -> list[str]:
    """Everything a message said, in order: what it was sent with, then each edit."""
    return fake.messages[(chat_id, message_id)].edits


def replies_to(fake: FakeTelegram, chat_id: int, request_id: int) -> list[Any]:
    return [m for m in fake.messages.values() if m.chat_id == chat_id and m.reply_to_message_id == request_id]


def buttons(markup: dict | None) -> list[tuple[str, str]]:
    if not markup:
        return []
    return [(b["text"], b.get("callback_data", "")) for row in markup["inline_keyboard"] for b in row]


async def sent_videos(fake: FakeTelegram, count: int = 1, timeout: float = 20.0) -> list[Any]:  # noqa: ASYNC109
    await fake.wait_for(lambda: len(fake.calls_to("sendVideo")) >= count, timeout=timeout)
    return fake.calls_to("sendVideo")
