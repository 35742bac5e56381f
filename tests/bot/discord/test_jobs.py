"""/video and friends: the real discord.py client against the local Discord."""

from __future__ import annotations

from pathlib import Path

from engine.video import probe
from engine.video_tags import video_tags
from tests.bot.discord.conftest import GUILD, Speaker
from tests.fakes.discord_api import FakeDiscord
from tests.images import png


async def test_video_command_defers_then_shows_progress_and_ends_with_the_mp4(fake: FakeDiscord, make_bot,
                                                                               tmp_path: Path,
                                                                               speaker: Speaker) -> None:
    bot = await make_bot(simulated_seconds=0.8, simulated_steps=8)
    assert bot.started_line.startswith("Discord: running as reelbot")
    assert sorted(c["name"] for c in fake.commands[str(GUILD)]) == [
        "Animate image", "admin", "cancel", "help", "job", "link", "models", "preview", "settings", "status", "unlink",
        "usage", "video"]
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a cat surfing --frames 8", "fps": 4,
                                                             "seed": 7}, locale=speaker.locale)
    await fake.wait_for(lambda: inter.callbacks)
    assert inter.callbacks[0]["type"] == 5  # deferred at once: "reelbot is thinking…"
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert done.content.startswith("“a cat surfing” " + speaker.says("· job "))
    last = done.content.splitlines()[-1]
    assert last.startswith("✅ ") and speaker.says("✅ Done in") in last
    assert speaker.says("on local (zeroscope)") in last and speaker.says("seed 7") in last
    assert any(speaker.says("Running on local") in v and "%" in v for v in done.versions), done.versions
    [(name, data)] = done.files.items()
    path = tmp_path / name
    path.write_bytes(data)
    info = probe(path)
    assert (info.frames, info.fps) == (8, 4)
    labels = [label for label, _ in done.buttons()]
    assert labels == [speaker.says("Retry (new seed)"), speaker.says("Same seed"), speaker.says("Extend"),
                      speaker.says("Delete")]


def _button(message, label: str) -> str:
    return next(custom_id for text, custom_id in message.buttons() if text.startswith(label))


async def test_image_attachment_makes_an_image_to_video_job(fake: FakeDiscord, make_bot) -> None:
    bot = await make_bot()
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "waves --portrait"},
                       image=("beach.png", png(), "image/png"))
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert "(ltx-video)" in done.content  # the prompt is read: not SVD-XT, which takes no words
    [job] = [await bot.service.get(done.content.split("job ")[1].split()[0])]
    assert job.kind == "image-to-video" and job.options.aspect == "9:16"


async def test_animate_image_context_menu(fake: FakeDiscord, make_bot, speaker: Speaker) -> None:
    await make_bot()
    ann, bob = fake.user(1001, "ann"), fake.user(1002, "bob")
    channel = fake.guilds[str(GUILD)]["channels"][0]["id"]
    posted = fake.post(bob, channel, "a sunset over the sea", files={"sunset.png": png()})
    inter = fake.context_menu("Animate image", ann, posted, guild_id=GUILD, locale=speaker.locale)
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert done.content.startswith("“a sunset over the sea” " + speaker.says("· job ")) and "(ltx-video)" in done.content

    words = fake.post(bob, channel, "no picture here")
    refused = fake.context_menu("Animate image", ann, words, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(refused))
    assert text.startswith(speaker.says("That message has no picture to animate."))


async def test_cancel_button_stops_the_job_and_only_the_owner_may_press_it(fake: FakeDiscord, make_bot,
                                                                              speaker: Speaker) -> None:
    await make_bot(simulated_seconds=30, simulated_steps=300)
    ann, eve = fake.user(1001, "ann"), fake.user(1003, "eve")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a slow cat"}, locale=speaker.locale)
    running = await fake.wait_for(lambda: (m := fake.original(inter)) and speaker.says("Running") in m.content and m)
    cancel = _button(running, speaker.says("Cancel"))
    assert cancel.startswith("reelbot:cancel:")

    sneaky = fake.press(running, cancel, eve, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(sneaky))
    assert speaker.says("someone else's") in text

    pressed = fake.press(running, cancel, ann, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(pressed))
    assert text.endswith(speaker.says("Cancelled. You were not charged."))
    final = await fake.wait_for(lambda: (m := fake.original(inter)) and "✖" in m.content and m)
    assert "✖ " + speaker.says("Cancelled. You were not charged.") in final.content and not final.files


async def test_retry_and_same_seed_queue_new_jobs_in_new_replies(fake: FakeDiscord, make_bot,
                                                                     speaker: Speaker) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a fox", "seed": 42}, locale=speaker.locale)
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)

    same = fake.press(done, _button(done, speaker.says("Same seed")), ann, guild_id=GUILD, locale=speaker.locale)
    again = await fake.wait_for(lambda: (m := fake.original(same)) and m.files and m)
    assert speaker.says("· seed 42 ·") in again.content and again.id != done.id

    retry = fake.press(done, _button(done, speaker.says("Retry (new seed)")), ann, guild_id=GUILD,
                       locale=speaker.locale)
    other = await fake.wait_for(lambda: (m := fake.original(retry)) and m.files and m)
    assert speaker.says("· seed 42 ·") not in other.content and speaker.says("· seed ") in other.content


async def test_status_is_for_admins_only_and_managers_see_just_their_server(fake: FakeDiscord, make_bot,
                                                                              speaker: Speaker) -> None:
    await make_bot(discord_admin_ids="2001")
    boss, ann, mod = fake.user(2001, "boss"), fake.user(1001, "ann"), fake.user(1004, "mod")
    refused = fake.slash("status", ann, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(refused))
    assert text.startswith(speaker.says("Only the bot's admins"))

    asked = fake.slash("status", boss, guild_id=GUILD, locale=speaker.locale)
    shown = await fake.wait_for(lambda: [m for m in fake.messages.values()
                                         if m.interaction_token == asked.token and m.embeds])
    embed = shown[-1].embeds[0]
    assert embed["title"] == speaker.says("reelbot status")
    assert embed["description"] == speaker.says("Jobs: 0 queued, 0 running")
    assert [f["name"] for f in embed["fields"]][:3] == [speaker.says(t) for t in ("GPUs", "Backends", "Spend")]
    assert embed["image"]["url"] == "attachment://status.png"
    assert shown[-1].files["status.png"].startswith(b"\x89PNG") and shown[-1].ephemeral

    managed = fake.slash("status", mod, guild_id=GUILD, manage_guild=True, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(managed))
    assert text.startswith(speaker.says("This server: 0 waiting, 0 running; today 0 made, 0 failed."))
    assert "$" not in text and not [m for m in fake.messages.values() if m.interaction_token == managed.token
                                    and m.embeds]


async def test_quota_refusal_is_ephemeral_says_when_and_removes_the_public_reply(fake: FakeDiscord,
                                                                                  make_bot, speaker: Speaker) -> None:
    await make_bot(max_jobs_per_day=1)
    ann = fake.user(1001, "ann")
    first = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "one"}, locale=speaker.locale)
    await fake.wait_for(lambda: (m := fake.original(first)) and m.files)
    second = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "two"}, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(second))
    assert speaker.says("You have made 1 videos today; the limit is 1 a day.") in text
    assert speaker.says("You can make more in") in text
    await fake.wait_for(lambda: second.original in fake.deleted)


async def test_bad_flags_are_explained_and_nothing_is_queued(fake: FakeDiscord, make_bot) -> None:
    bot = await make_bot()
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a cat --frames lots"})
    [text] = await fake.wait_for(lambda: fake.ephemeral(inter))
    assert "--frames" in text
    assert (await bot.service.report()).jobs_by_state == {}


async def test_dms_work(fake: FakeDiscord, make_bot) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, options={"prompt": "a quiet lake"})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert done.channel_id == fake.dm_channel(ann["id"])


async def test_a_job_that_ends_after_the_token_expired_is_posted_in_the_channel(fake: FakeDiscord,
                                                                                 make_bot) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "an old request"}, age_s=14.8 * 60)
    channel = fake.guilds[str(GUILD)]["channels"][0]["id"]
    posted = await fake.wait_for(lambda: [m for m in fake.in_channel(channel) if m.files])
    assert posted[0].content.startswith("<@1001> “an old request” · job ")
    assert posted[0].interaction_token is None  # a channel message, not an edit of the expired reply
    assert fake.original(inter).files == {}  # type: ignore[union-attr]


async def test_a_channel_the_bot_cannot_post_in_gets_the_result_by_dm(fake: FakeDiscord, make_bot) -> None:
    await make_bot()
    ann = fake.user(1001, "ann")
    channel = fake.guilds[str(GUILD)]["channels"][0]["id"]
    fake.fail_next.append((f"/channels/{channel}/messages", 403, {"code": 50013, "message": "Missing Permissions"}))
    fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a private result"}, age_s=14.8 * 60)
    dm = await fake.wait_for(lambda: [m for m in fake.in_channel(fake.dm_channel(ann["id"])) if m.files])
    assert dm[0].content.startswith("“a private result” · job ")



async def test_a_result_over_the_servers_upload_limit_is_re_encoded_to_fit(fake: FakeDiscord, make_bot,
                                                                            tmp_path: Path) -> None:
    await make_bot()
    fake.filesize_limit = 60_000  # this server's limit, as the interaction reports it
    inter = fake.slash("video", fake.user(1001), guild_id=GUILD,
                       options={"prompt": "big --frames 60 --size 640x360", "fps": 12})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m, timeout=30)
    [(name, data)] = done.files.items()
    assert len(data) <= 60_000
    path = tmp_path / name
    path.write_bytes(data)
    assert probe(path).frames == 60


async def test_progress_edits_keep_to_the_edit_interval(fake: FakeDiscord, make_bot) -> None:
    await make_bot(simulated_seconds=2.0, simulated_steps=40, discord_edit_interval_s=0.5)
    inter = fake.slash("video", fake.user(1001), guild_id=GUILD, options={"prompt": "steady"})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    edits = [(when, body) for (m, p, body), when in zip(fake.requests, fake.request_times, strict=True)
             if m == "PATCH" and inter.token in p]
    progress = [when for when, body in edits if isinstance(body, dict) and "%" in (body.get("content") or "")]
    # 40 progress steps in 2 s: the progress edits come at most one per 0.5 s (the final one, with the video,
    # goes out at once)
    assert len(progress) >= 2 and any("%" in v for v in done.versions)
    gaps = [later - earlier for earlier, later in zip(progress, progress[1:], strict=False)]
    assert min(gaps) >= 0.45, gaps


async def test_usage_job_and_cancel_commands_answer_the_user_alone(fake: FakeDiscord, make_bot,
                                                                     speaker: Speaker) -> None:
    await make_bot(simulated_seconds=30, simulated_steps=300, max_jobs_per_day=5)
    ann, eve = fake.user(1001, "ann"), fake.user(1003, "eve")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a long walk"}, locale=speaker.locale)
    running = await fake.wait_for(lambda: (m := fake.original(inter)) and speaker.says("Running") in m.content and m)
    job_id = running.content.split(speaker.says("· job "))[1].split()[0]

    usage = fake.slash("usage", ann, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(usage))
    assert text.startswith(speaker.says("Today: 1 of 5 videos.")) and speaker.says("In progress: 1 of 50.") in text

    looked = fake.slash("job", ann, guild_id=GUILD, options={"job": job_id}, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(looked))
    assert text.startswith(f"“a long walk” {speaker.says('· job ')}{job_id}\n{speaker.says('Running on local')}")
    nosy = fake.slash("job", eve, guild_id=GUILD, options={"job": job_id}, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(nosy))
    assert speaker.says("someone else's") in text

    cancel = fake.slash("cancel", ann, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(cancel))
    assert text == f"{speaker.says('Job ')}{job_id}: {speaker.says('Cancelled. You were not charged.')}"
    assert fake.heartbeats >= 1  # the gateway connection is kept alive the way Discord asks


async def test_nothing_to_show_and_files_that_are_not_pictures_are_explained(fake: FakeDiscord, make_bot,
                                                                               speaker: Speaker) -> None:
    bot = await make_bot()
    ann = fake.user(1001, "ann")
    empty = fake.slash("video", ann, guild_id=GUILD, locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(empty))
    assert text.startswith(speaker.says("Tell me what to show")) and speaker.says("attach a picture") in text
    document = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "animate this"},
                          image=("notes.pdf", b"%PDF-1.4", "application/pdf"), locale=speaker.locale)
    [text] = await fake.wait_for(lambda: fake.ephemeral(document))
    assert text.startswith(speaker.says("notes.pdf is not a picture I can animate."))
    assert (await bot.service.report()).jobs_by_state == {}


async def test_retry_of_an_image_job_animates_the_same_picture_again(fake: FakeDiscord, make_bot) -> None:
    bot = await make_bot()
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "waves"},
                       image=("beach.png", png(color=(10, 90, 200)), "image/png"))
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    retry = fake.press(done, _button(done, "Retry"), ann, guild_id=GUILD)
    again = await fake.wait_for(lambda: (m := fake.original(retry)) and m.files and m)
    first_id, second_id = (m.content.split("job ")[1].split()[0] for m in (done, again))
    first, second = await bot.service.get(first_id), await bot.service.get(second_id)
    assert second.kind == "image-to-video" and second.seed != first.seed
    assert second.image_path.read_bytes() == first.image_path.read_bytes()


async def test_the_cancel_answer_says_what_was_charged(fake: FakeDiscord, make_bot) -> None:
    """/cancel of a job a cloud provider had started: the answer and the job's message say what was paid."""
    from engine.backends.simulated import SimulatedBackend

    runway = SimulatedBackend("runway", local=False, usd_per_run=0.25, billed_usd=0.04, seconds=30, steps=300)
    bot = await make_bot(backends={"runway": runway}, chain_text_to_video=["runway"])
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "a slow cat"})
    running = await fake.wait_for(lambda: (m := fake.original(inter)) and "Running on runway" in m.content and m)
    job_id = running.content.split("job ")[1].split()[0]

    cancel = fake.slash("cancel", ann, guild_id=GUILD)
    [text] = await fake.wait_for(lambda: fake.ephemeral(cancel))
    charged = "Cancelled. The cloud provider had already started: $0.040 was charged."
    assert text == f"Job {job_id}: {charged} The rest of the $0.25 held for it was refunded."
    final = await fake.wait_for(lambda: (m := fake.original(inter)) and "✖" in m.content and m)
    assert f"✖ {charged}" in final.content and not final.files
    assert (await bot.service.get(job_id)).charged_usd == 0.04


async def test_a_korean_prompt_stays_in_the_message_and_the_attachment_name_is_plain_ascii(
    fake: FakeDiscord, make_bot, tmp_path: Path
) -> None:
    """Some Discord clients drop non-ASCII characters from attachment names (a Korean name can arrive as
    ".mp4"): the file is reelbot-<job>.mp4, and the prompt is in the message and in the video's title."""
    await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1001, "ann")
    prompt = "서핑하는 고양이 🐱, 노을 지는 바다"
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": f"{prompt} --frames 4"})
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert done.content.startswith(f"“{prompt}” · job ")
    job_id = done.content.split("job ")[1].split()[0]
    [(name, data)] = done.files.items()
    assert name == f"reelbot-{job_id}.mp4" and name.isascii()
    path = tmp_path / name
    path.write_bytes(data)
    assert video_tags(path)["title"] == prompt


async def test_a_picture_with_a_korean_file_name_is_animated(fake: FakeDiscord, make_bot) -> None:
    await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1001, "ann")
    inter = fake.slash("video", ann, guild_id=GUILD, options={"prompt": "파도가 치는 바다 --frames 4"},
                       image=("바닷가 사진.png", png(), "image/png"))
    done = await fake.wait_for(lambda: (m := fake.original(inter)) and m.files and m)
    assert done.content.startswith("“파도가 치는 바다” · job ") and "(ltx-video)" in done.content
