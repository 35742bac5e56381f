"""Send a photo, get a video: the real python-telegram-bot client against the fake Bot API server.

The main stories run twice: for a user whose Telegram app is in English, and for one whose app is in Korean
(``language_code="ko"``), who reads every reply, button and caption in Korean (``stories.SAYS``).
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.video import probe
from engine.video_tags import video_tags
from tests.bot.telegram.conftest import delivery_state
from tests.bot.telegram.stories import SAYS, buttons, in_each_language, replies_to, sent_videos, texts
from tests.images import png


@in_each_language
async def test_photo_with_caption_flags_becomes_a_video_reply(fake, make_bot, tmp_path: Path, lang: str) -> None:
    say = SAYS[lang]
    bot = await make_bot(simulated_seconds=0.6, simulated_steps=6)
    ann = fake.user(1001, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, photo=png(), caption="a cat surfing --seed 7 --frames 8 --fps 4")

    [video] = await sent_videos(fake)
    assert video.params["chat_id"] == chat["id"]
    assert video.params["supports_streaming"] is True
    caption = video.params["caption"]
    assert caption.startswith("“a cat surfing”")
    assert say["seed"].format(seed=7) in caption and say["on"].format(backend="local") in caption
    assert say["free"] in caption
    assert video.params["reply_parameters"]["message_id"] == request["message_id"]
    path = tmp_path / "got.mp4"
    path.write_bytes(video.files["video"])
    info = probe(path)
    assert (info.frames, info.fps) == (8, 4)

    # One reply message followed the job from queued to done.
    [note] = [m for m in replies_to(fake, chat["id"], request["message_id"]) if m.video is None]
    await fake.wait_for(lambda: "✅" in fake.messages[(chat["id"], note.message_id)].text)
    history = texts(fake, chat["id"], note.message_id)
    assert history[0] == say["queuing"]
    assert any(say["running"].format(backend="local") in t and "%" in t for t in history), history
    final = fake.messages[(chat["id"], note.message_id)]
    assert final.text.startswith(f"“a cat surfing” {say['job']}")
    assert say["below"] in final.text
    assert final.reply_markup is None or buttons(final.reply_markup) == []

    [job] = await bot.jobs()
    assert job["state"] == "succeeded" and job["seed"] == 7
    # The caption is read by a model that reads words (SVD-XT would leave it out): LTX-Video's image-to-video.
    assert json.loads(job["options"]) == {"seed": 7, "frames": 8, "fps": 4, "portrait": False,
                                          "allow_fewer_frames": True, "model": "ltx-video"}
    origin = json.loads(job["origin"])
    assert (origin["language"], origin["place_language"]) == (lang, lang)  # a private chat: the asker's
    assert buttons(video.params["reply_markup"]) == [
        (say["retry"], f"retry:{job['id']}"), (say["same"], f"same:{job['id']}"),
        (say["extend"], f"extend:{job['id']}"), (say["delete"], f"delete:{job['id']}")]


async def test_progress_edits_respect_the_chats_pace(fake, make_bot) -> None:
    await make_bot(simulated_seconds=1.5, simulated_steps=30, telegram_edit_interval_private_s=0.4)
    ann = fake.user(1002, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, photo=png(), caption="waves")
    await sent_videos(fake)
    await fake.wait_for(lambda: any("Done" in (m.text or "") for m in fake.messages.values()))

    edits = [c for c in fake.calls_to("editMessageText") if c.params["chat_id"] == chat["id"]]
    gaps = [b.at - a.at for a, b in zip(edits, edits[1:], strict=False)]
    assert edits and min(gaps) >= 0.38, gaps
    # 30 progress steps in 1.5 s, yet only about one edit per 0.4 s reached Telegram.
    assert len(edits) <= 1.5 / 0.4 + 4


async def test_flood_control_retry_after_is_honoured(fake, make_bot) -> None:
    await make_bot(simulated_seconds=0.5, simulated_steps=5)
    fake.fail_next("editMessageText", times=1, error_code=429, retry_after=2)
    ann = fake.user(1003, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, photo=png(), caption="rain")
    await sent_videos(fake)
    await fake.wait_for(lambda: any("Done" in (m.text or "") for m in fake.messages.values()))

    edits = [c for c in fake.calls_to("editMessageText") if c.params["chat_id"] == chat["id"]]
    refused = edits[0]
    assert edits[1].at - refused.at >= 1.95  # waited as long as Telegram said before touching that chat again
    assert "Done" in edits[-1].params["text"]


@in_each_language
async def test_cancel_button_stops_the_job_and_says_nothing_was_charged(fake, make_bot, lang: str) -> None:
    say = SAYS[lang]
    bot = await make_bot(simulated_seconds=30, simulated_steps=30)
    ann = fake.user(1004, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, photo=png(), caption="slow clouds")
    running = say["running"].format(backend="local")
    await fake.wait_for(lambda: any(running in (m.text or "") for m in fake.messages.values()))
    [note] = replies_to(fake, chat["id"], request["message_id"])
    [(label, data)] = buttons(note.reply_markup)
    assert label == say["cancel"]

    query = fake.press(chat, ann, note.message_id, data)
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    assert answer["text"] == f"{say['cancelled']} {say['not charged']}"
    await fake.wait_for(lambda: f"✖ {say['cancelled']}" in fake.messages[(chat["id"], note.message_id)].text)
    assert say["not charged"] in fake.messages[(chat["id"], note.message_id)].text
    assert fake.calls_to("sendVideo") == []
    [job] = await bot.jobs()
    assert job["state"] == "cancelled" and job["charged_micros"] == 0


async def test_someone_else_cannot_cancel_my_job(fake, make_bot) -> None:
    await make_bot(simulated_seconds=30, simulated_steps=30)
    ann, bob = fake.user(1005, "Ann"), fake.user(1006, "Bob")
    group = fake.group_chat(-100500, "Makers")
    request = fake.send(group, ann, photo=png(), caption=f"@{fake.bot_username} a fox")
    await fake.wait_for(lambda: replies_to(fake, group["id"], request["message_id"]))
    [note] = replies_to(fake, group["id"], request["message_id"])
    await fake.wait_for(lambda: buttons(fake.messages[(group["id"], note.message_id)].reply_markup))
    [(_, data)] = buttons(fake.messages[(group["id"], note.message_id)].reply_markup)[:1]

    query = fake.press(group, bob, note.message_id, data)
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    assert answer["show_alert"] is True and "someone else's" in answer["text"]


@in_each_language
async def test_cancel_command_cancels_the_latest_job(fake, make_bot, lang: str) -> None:
    bot = await make_bot(simulated_seconds=30, simulated_steps=30)
    ann = fake.user(1007, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video a long drive at night")
    running = SAYS[lang]["running"].format(backend="local")
    await fake.wait_for(lambda: any(running in (m.text or "") for m in fake.messages.values()))
    command = fake.send(chat, ann, "/cancel")
    await fake.wait_for(lambda: replies_to(fake, chat["id"], command["message_id"]))
    [reply] = replies_to(fake, chat["id"], command["message_id"])
    [job] = await bot.jobs()
    assert reply.text == SAYS[lang]["cancelled job"].format(job_id=job["id"])
    assert job["state"] == "cancelled"


async def test_text_video_command_makes_a_text_to_video_job(fake, make_bot, tmp_path: Path) -> None:
    bot = await make_bot()
    ann = fake.user(1008, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video a lighthouse in a storm —frames 6 —fps 3")
    [video] = await sent_videos(fake)
    path = tmp_path / "t.mp4"
    path.write_bytes(video.files["video"])
    assert (probe(path).frames, probe(path).fps) == (6, 3)
    [job] = await bot.jobs()
    assert (job["kind"], job["prompt"]) == ("text-to-video", "a lighthouse in a storm")


async def test_bad_flag_is_explained_and_nothing_is_queued(fake, make_bot) -> None:
    bot = await make_bot()
    ann = fake.user(1009, "Ann")
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, photo=png(), caption="a dog --sed 7")
    await fake.wait_for(lambda: replies_to(fake, chat["id"], request["message_id"]))
    [reply] = replies_to(fake, chat["id"], request["message_id"])
    assert "--sed" in reply.text and "--seed" in reply.text
    assert await bot.jobs() == []
    assert fake.calls_to("getFile") == []


async def test_picture_too_big_for_bots_gets_a_clear_message(fake, make_bot) -> None:
    bot = await make_bot()
    ann = fake.user(1010, "Ann")
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, document=(png(), "image/png", "huge.png"), document_size=25 * 1024 * 1024,
                        caption="make it move")
    await fake.wait_for(lambda: replies_to(fake, chat["id"], request["message_id"]))
    [reply] = replies_to(fake, chat["id"], request["message_id"])
    assert "That picture is 25 MB; Telegram lets bots download at most 20 MB." in reply.text
    assert "Send it as a photo" in reply.text
    assert await bot.jobs() == []
    assert fake.calls_to("getFile") == []


async def test_a_file_that_is_not_a_picture_is_refused(fake, make_bot) -> None:
    bot = await make_bot()
    ann = fake.user(1011, "Ann")
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, document=(b"%PDF-1.4", "application/pdf", "cv.pdf"))
    await fake.wait_for(lambda: replies_to(fake, chat["id"], request["message_id"]))
    [reply] = replies_to(fake, chat["id"], request["message_id"])
    assert reply.text.startswith("That file is not a picture I can animate.")
    assert await bot.jobs() == []


async def test_in_groups_the_bot_answers_only_when_addressed(fake, make_bot) -> None:
    bot = await make_bot()
    ann = fake.user(1012, "Ann")
    group = fake.group_chat(-100600, "Makers")
    ignored = fake.send(group, ann, photo=png(), caption="my holiday")
    addressed = fake.send(group, ann, photo=png(), caption=f"@{fake.bot_username} make the sea move")
    await sent_videos(fake)
    assert replies_to(fake, group["id"], ignored["message_id"]) == []
    [job] = await bot.jobs()
    assert job["prompt"] == "make the sea move"
    assert fake.calls_to("sendVideo")[0].params["chat_id"] == group["id"]
    assert addressed["message_id"] in {m.reply_to_message_id for m in fake.messages.values()}


@in_each_language
async def test_help_and_the_private_chat_hint(fake, make_bot, lang: str) -> None:
    await make_bot()
    ann = fake.user(1019, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    asked = [fake.send(chat, ann, text) for text in ("/help", "/start", "hello there")]
    await fake.wait_for(lambda: all(replies_to(fake, chat["id"], m["message_id"]) for m in asked))
    helped, started, hinted = (replies_to(fake, chat["id"], m["message_id"])[0].text for m in asked)
    assert helped == started and helped.startswith(SAYS[lang]["help"])
    settings = {"en": "/settings frames 14", "ko": "/settings 프레임 14"}[lang]  # each reader's own setting names
    assert settings in helped and "--seed" in helped
    assert hinted.startswith(SAYS[lang]["hint"])


async def test_status_is_for_admins_only(fake, make_bot) -> None:
    await make_bot(telegram_admin_ids="2001")
    boss, ann = fake.user(2001, "Boss"), fake.user(2002, "Ann")
    asked = fake.send(fake.private_chat(ann), ann, "/status")
    await fake.wait_for(lambda: replies_to(fake, ann["id"], asked["message_id"]))
    [refusal] = replies_to(fake, ann["id"], asked["message_id"])
    assert refusal.text.startswith("Only the bot's admins can see /status.")
    assert fake.calls_to("sendPhoto") == []

    fake.send(fake.private_chat(boss), boss, "/status")
    await fake.wait_for(lambda: fake.calls_to("sendPhoto"))
    [photo] = fake.calls_to("sendPhoto")
    assert photo.params["chat_id"] == boss["id"]
    assert photo.files["photo"].startswith(b"\x89PNG")
    assert "Jobs: 0 queued, 0 running" in photo.params["caption"]
    assert "gpu0" in photo.params["caption"]


@in_each_language
async def test_usage_and_job_lookup(fake, make_bot, lang: str) -> None:
    say = SAYS[lang]
    bot = await make_bot(max_jobs_per_day=5)
    ann, bob = fake.user(1013, "Ann", language_code=lang), fake.user(1014, "Bob", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video a kite")
    await sent_videos(fake)
    [job] = await bot.jobs()
    usage = fake.send(chat, ann, "/usage")
    lookup = fake.send(chat, ann, f"/job {job['id']}")
    other = fake.send(fake.private_chat(bob), bob, f"/job {job['id']}")
    await fake.wait_for(lambda: all(replies_to(fake, m["chat"]["id"], m["message_id"]) for m in (usage, lookup, other)))
    assert replies_to(fake, chat["id"], usage["message_id"])[0].text.startswith(say["today"])
    found = replies_to(fake, chat["id"], lookup["message_id"])[0].text
    seed = say["seed"].format(seed=job["seed"])
    assert found.startswith(f"“a kite” {say['job']}{job['id']}\n“a kite”\n{seed}")
    assert replies_to(fake, bob["id"], other["message_id"])[0].text.startswith(say["someone else's"])


async def test_retry_and_same_seed_buttons_queue_new_jobs(fake, make_bot) -> None:
    bot = await make_bot()
    ann = fake.user(1015, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, photo=png(), caption="a boat --seed 42")
    [video] = await sent_videos(fake)
    [first] = await bot.jobs()
    video_message = next(m for m in fake.messages.values() if m.video is not None)

    same = fake.press(chat, ann, video_message.message_id, f"same:{first['id']}")
    await fake.wait_for(lambda: fake.answered.get(same))
    assert fake.answered[same]["text"] == "Queued again with seed 42."
    await sent_videos(fake, 2)
    retry = fake.press(chat, ann, video_message.message_id, f"retry:{first['id']}")
    await fake.wait_for(lambda: fake.answered.get(retry))
    assert fake.answered[retry]["text"] == "Queued again with a new seed."
    await sent_videos(fake, 3)

    jobs = await bot.jobs()
    assert [j["kind"] for j in jobs] == ["image-to-video"] * 3
    assert [j["prompt"] for j in jobs] == ["a boat"] * 3
    assert jobs[1]["seed"] == 42 and jobs[2]["seed"] != 42
    assert all(j["state"] == "succeeded" for j in jobs)


@in_each_language
async def test_quota_refusal_says_what_to_do(fake, make_bot, lang: str) -> None:
    bot = await make_bot(max_queued_per_user=1, simulated_seconds=30, simulated_steps=30)
    ann = fake.user(1016, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video first")
    running = SAYS[lang]["running"].format(backend="local")
    await fake.wait_for(lambda: any(running in (m.text or "") for m in fake.messages.values()))
    second = fake.send(chat, ann, "/video second")
    await fake.wait_for(lambda: any("/cancel" in (m.text or "") for m in replies_to(fake, chat["id"],
                                                                                      second["message_id"])))
    [reply] = replies_to(fake, chat["id"], second["message_id"])
    assert reply.text == SAYS[lang]["one at a time"]
    assert len(await bot.jobs()) == 1


async def test_oversized_result_is_re_encoded_to_fit_the_upload_limit(fake, make_bot, tmp_path: Path) -> None:
    cap = 40_000
    await make_bot(telegram_max_upload_mb=cap / 1024 / 1024)
    fake.max_upload_bytes = cap  # the fake refuses anything bigger, as Telegram refuses over 50 MB
    ann = fake.user(1017, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video noisy static --frames 48 --size 512x512")
    [video] = await sent_videos(fake, timeout=60)
    assert len(video.files["video"]) <= cap
    path = tmp_path / "fit.mp4"
    path.write_bytes(video.files["video"])
    assert probe(path).frames == 48


async def test_blocked_user_is_not_retried(fake, make_bot) -> None:
    bot = await make_bot()
    fake.fail_next("sendVideo", times=5, error_code=403, description="Forbidden: bot was blocked by the user")
    ann = fake.user(1018, "Ann")
    chat = fake.private_chat(ann)
    fake.send(chat, ann, "/video a cow")
    await sent_videos(fake)
    [job] = await bot.jobs()
    assert await delivery_state(bot, job["id"], "failed") == ("failed", 1)
    assert len(fake.calls_to("sendVideo")) == 1


async def test_a_caption_naming_a_server_folder_gets_a_clear_refusal(fake, make_bot) -> None:
    bot = await make_bot()
    eve = fake.user(1013, "Eve")
    chat = fake.private_chat(eve)
    request = fake.send(chat, eve, photo=png(), caption="make it move --model /etc")
    await fake.wait_for(lambda: any("not a model here" in (m.text or "")
                                    for m in replies_to(fake, chat["id"], request["message_id"])))
    [reply] = replies_to(fake, chat["id"], request["message_id"])
    assert "'/etc' is not a model here." in reply.text and "svd-xt" in reply.text
    assert "Queuing" not in reply.text
    assert await bot.jobs() == []


@in_each_language
async def test_a_failed_job_says_why_with_retry_buttons(fake, make_bot, lang: str) -> None:
    from engine.backends.simulated import SimulatedBackend
    from engine.errors import TransientError

    local = SimulatedBackend("local", seconds=0.05, steps=2, failure=lambda n, job: TransientError("the GPU fell over."))
    bot = await make_bot(backends={"local": local})
    ann = fake.user(1020, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, "/video doomed")
    await fake.wait_for(lambda: replies_to(fake, chat["id"], request["message_id"]))
    [note] = replies_to(fake, chat["id"], request["message_id"])
    final = await fake.wait_for(lambda: (m := fake.messages[(chat["id"], note.message_id)]) and "❌" in m.text and m)
    assert final.text.endswith(f"\n❌ the GPU fell over. {SAYS[lang]['not charged']}")  # the engine's words as said
    [job] = await bot.jobs()
    assert buttons(final.reply_markup) == [(SAYS[lang]["retry"], f"retry:{job['id']}"),
                                           (SAYS[lang]["same"], f"same:{job['id']}"),
                                           (SAYS[lang]["delete"], f"delete:{job['id']}")]
    assert fake.calls_to("sendVideo") == []


async def test_the_cancel_answer_says_what_was_charged(fake, make_bot) -> None:
    """A cloud provider that had started bills the run: the cancel button's answer and the job's message say
    what the user paid (and the job counts toward the day's videos)."""
    from engine.backends.simulated import SimulatedBackend

    runway = SimulatedBackend("runway", local=False, usd_per_run=0.25, billed_usd=0.04, seconds=30, steps=300)
    bot = await make_bot(backends={"runway": runway}, chain_image_to_video=["runway"])
    ann = fake.user(1005, "Ann")
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, photo=png(), caption="slow clouds")
    await fake.wait_for(lambda: any("Running on runway" in (m.text or "") for m in fake.messages.values()))
    [note] = replies_to(fake, chat["id"], request["message_id"])
    [(_, data)] = buttons(note.reply_markup)

    query = fake.press(chat, ann, note.message_id, data)
    answer = await fake.wait_for(lambda: fake.answered.get(query))
    charged = "Cancelled. The cloud provider had already started: $0.040 was charged."
    assert answer["text"] == f"{charged} The rest of the $0.25 held for it was refunded."
    await fake.wait_for(lambda: "✖ Cancelled" in fake.messages[(chat["id"], note.message_id)].text)
    assert f"✖ {charged}" in fake.messages[(chat["id"], note.message_id)].text
    [job] = await bot.jobs()
    assert job["state"] == "cancelled" and job["charged_micros"] == 40_000


async def test_a_korean_prompt_survives_in_the_caption_the_file_and_its_title(fake, make_bot, tmp_path: Path) -> None:
    """Hangul and an emoji in the prompt: the caption carries them whole, the upload has a plain ASCII file
    name, and the video's own title tag is the prompt."""
    await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1001, "Ann")
    chat = fake.private_chat(ann)
    prompt = "서핑하는 고양이 🐱, 노을 지는 바다"
    fake.send(chat, ann, photo=png(), caption=f"{prompt} --frames 4")
    [video] = await sent_videos(fake)
    assert video.params["caption"].startswith(f"“{prompt}”")
    name = video.filenames["video"]
    assert name.isascii() and name.startswith("reelbot-") and name.endswith(".mp4")
    path = tmp_path / "got.mp4"
    path.write_bytes(video.files["video"])
    assert video_tags(path)["title"] == prompt


async def test_a_caption_is_cut_to_telegrams_count_not_pythons(fake, make_bot, monkeypatch) -> None:
    """A caption under 1,024 Python characters but over 1,024 UTF-16 units (emoji are two) is cut to fit, on
    a whole emoji: the video is sent, not refused."""
    from bot.telegram import deliver

    long = "🎬" * 700  # 700 characters, 1,400 units
    monkeypatch.setattr(deliver, "result_caption", lambda w, job: long)
    await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1001, "Ann")
    fake.send(fake.private_chat(ann), ann, "/video a kite --frames 4")
    [video] = await sent_videos(fake)
    caption = video.params["caption"]
    assert caption == "🎬" * 511 + "…"  # 1,022 + 1 units
    assert fake.spec_errors == []
