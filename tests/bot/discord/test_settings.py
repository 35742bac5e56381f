"""/settings on Discord: a person's defaults for every video, where results go (the channel or their DMs),
shown with whether each is theirs, refused plainly when a value cannot be, and reset."""

from __future__ import annotations

from pathlib import Path

from engine.video import probe
from tests.bot.discord.conftest import GUILD
from tests.fakes.discord_api import FakeDiscord, Sent


def frames_in(message: Sent, tmp_path: Path) -> int:
    [data] = message.files.values()
    path = tmp_path / f"got-{message.id}.mp4"
    path.write_bytes(data)
    return probe(path).frames


async def settings(fake: FakeDiscord, user: dict, **options: object) -> list[str]:
    """What only ``user`` reads after /settings with these options."""
    inter = fake.slash("settings", user, guild_id=GUILD, options=options)
    return await fake.wait_for(lambda: fake.ephemeral(inter))


async def test_frames_set_once_apply_to_the_next_video_and_a_flag_still_wins(fake: FakeDiscord, make_bot,
                                                                             tmp_path: Path) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    assert await settings(fake, ann, frames=9) == [
        "Saved — frames: 9. Your next videos use it unless a flag says otherwise."]
    plain = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a fox in the snow"})
    done = await fake.wait_for(lambda: (m := fake.original(plain)) and m.files and m)
    assert frames_in(done, tmp_path) == 9
    flagged = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a fox in the snow --frames 25"})
    done = await fake.wait_for(lambda: (m := fake.original(flagged)) and m.files and m)
    assert frames_in(done, tmp_path) == 25  # the flag wins for this video only

    [refused] = await settings(fake, ann, frames=500)
    assert refused == ("frames must be between 1 and 129; you asked for 500. Choose another value, or default to "
                       "let each model choose.")
    [refused] = await settings(fake, ann, model="klingon-xl")
    assert refused.startswith("'klingon-xl' is not a model here. Models: ")

    [shown] = await settings(fake, ann)
    assert shown.splitlines()[:8] == [
        "Your settings:", "• model: automatic (default)", "• frames: 9 (your choice)",
        "• fps: the model's default (default)", "• aspect ratio: the model's default (default)",
        "• motion: the model's default (default)", "• language: English (default)",
        "• delivery: public, in the chat where you asked (default)"]
    assert await settings(fake, ann, reset="frames") == ["Back to the default — frames: the model's default."]
    assert await settings(fake, ann, fps=8, reset="reset") == [
        "All your settings are back to their defaults.\n"
        "Saved — fps: 8. Your next videos use it unless a flag says otherwise."]


async def test_a_korean_user_sees_their_settings_in_korean(fake: FakeDiscord, make_bot) -> None:
    await make_bot()
    min_ = fake.user(1002, "min")
    inter = fake.slash("settings", min_, guild_id=GUILD, options={"frames": 14}, locale="ko")
    assert await fake.wait_for(lambda: fake.ephemeral(inter)) == [
        "저장했어요 — 프레임 수: 14. 옵션으로 따로 정하지 않으면 다음 영상부터 이 값을 써요."]
    inter = fake.slash("settings", min_, guild_id=GUILD, locale="ko")
    [shown] = await fake.wait_for(lambda: fake.ephemeral(inter))
    assert shown.splitlines()[:3] == ["내 설정:", "• 모델: 자동 (기본값)", "• 프레임 수: 14 (직접 고름)"]


async def test_delivery_private_sends_the_video_by_dm_and_the_channel_reply_says_so(fake: FakeDiscord,
                                                                                   make_bot) -> None:
    await make_bot()
    ann = fake.user(1003, "ann")
    [said] = await settings(fake, ann, delivery="private")
    assert said.startswith("Saved — delivery: private, sent to you alone.")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a red kite over the sea"})
    dm = fake.dm_channel(ann["id"])
    [got] = await fake.wait_for(lambda: [m for m in fake.in_channel(dm) if m.files])
    assert got.content.startswith("“a red kite over the sea”") and len(got.files) == 1
    assert [label for label, _ in got.buttons()] == ["Retry (new seed)", "Same seed", "Extend", "Delete"]
    reply = await fake.wait_for(lambda: (m := fake.original(inter)) and "by DM" in m.content and m)
    assert reply.content.splitlines()[-1] == "✅ Done. I sent you the video by DM."
    assert not reply.files and not reply.buttons()  # nothing of it in the channel


async def test_closed_dms_fall_back_to_the_channel_with_a_note(fake: FakeDiscord, make_bot) -> None:
    await make_bot()
    ann = fake.user(1004, "ann")
    await settings(fake, ann, delivery="private")
    dm = fake.dm_channel(ann["id"])
    fake.fail_next.append((f"/channels/{dm}/messages", 403, {"code": 50007,
                                                             "message": "Cannot send messages to this user"}))
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a red kite over the sea"})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)  # the result is not lost
    assert "I could not send it to you by DM (Discord says your DMs are closed to me), so it is here." in done.content
    assert not [m for m in fake.in_channel(dm) if m.files]


async def test_the_model_option_suggests_the_models_that_can_run_here(fake: FakeDiscord, make_bot) -> None:
    await make_bot()
    inter = fake.autocomplete("settings", fake.user(1005, "ann"), focused="model", options={"model": "zero"},
                              guild_id=GUILD)
    await fake.wait_for(lambda: inter.callbacks)
    assert inter.callbacks == [{"type": 8, "data": {"choices": [{"name": "zeroscope", "value": "zeroscope"}]}}]
