"""A model's first job downloads it, and a caption is never silently ignored: told to a Telegram user in
English and in Korean.

The download comes from a local server that speaks the Hugging Face Hub's protocol (``tests/bot/conftest.py``):
a tiny SVD-XT under the real repo's name, run by real diffusers on the CPU.
"""

from __future__ import annotations

import json

from tests.bot.conftest import MODEL_SAYS, from_the_hub
from tests.bot.telegram.stories import in_each_language, replies_to, sent_videos, texts
from tests.images import png

SAYS = {lang: {**MODEL_SAYS[lang], "help": help} for lang, help in (
    ("en", "SVD and SVD-XT move the picture without reading words"),
    ("ko", "SVD와 SVD-XT는 글을 읽지 않고 사진만 움직여요"),
)}


@in_each_language
async def test_the_first_photo_shows_the_model_download_then_the_load(fake, make_bot, tmp_path, svd_hub,
                                                                      lang) -> None:
    say = SAYS[lang]
    await make_bot(lane_device="cpu", **from_the_hub(tmp_path))
    ann = fake.user(1001, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, photo=png())

    await sent_videos(fake, timeout=120)
    [note] = [m for m in replies_to(fake, chat["id"], request["message_id"]) if m.video is None]
    await fake.wait_for(lambda: "✅" in fake.messages[(chat["id"], note.message_id)].text, timeout=30)
    history = texts(fake, chat["id"], note.message_id)
    download = next(i for i, t in enumerate(history) if say["downloading"] in t)
    load = next(i for i, t in enumerate(history) if say["loading"] in t)
    assert download < load < len(history) - 1, history
    assert "MB" in history[download] and "%" in history[download]
    assert "img2vid-xt-1-1/unet/diffusion_pytorch_model.safetensors" in " ".join(svd_hub.downloads)


@in_each_language
async def test_a_captioned_photo_goes_to_a_model_that_reads_the_caption(fake, make_bot, lang) -> None:
    bot = await make_bot(simulated_seconds=0.2, simulated_steps=2)
    ann = fake.user(1001, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, photo=png(), caption="a cat surfing")

    [video] = await sent_videos(fake)
    assert "ltx-video" in video.params["caption"] and SAYS[lang]["unused"] not in video.params["caption"]
    [job] = await bot.jobs()
    assert json.loads(job["options"])["model"] == "ltx-video"


@in_each_language
async def test_svd_xt_by_name_is_used_and_the_reply_says_it_does_not_read_the_words(fake, make_bot, lang) -> None:
    say = SAYS[lang]
    await make_bot(simulated_seconds=0.6, simulated_steps=4)
    ann = fake.user(1001, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    request = fake.send(chat, ann, photo=png(), caption="a cat surfing --model svd-xt")

    [video] = await sent_videos(fake)
    caption = video.params["caption"]
    assert "svd-xt" in caption and say["unused"] in caption
    [note] = [m for m in replies_to(fake, chat["id"], request["message_id"]) if m.video is None]
    assert any(say["unused"] in t for t in texts(fake, chat["id"], note.message_id))  # said while it ran


@in_each_language
async def test_help_says_what_a_caption_does(fake, make_bot, lang) -> None:
    await make_bot()
    ann = fake.user(1001, "Ann", language_code=lang)
    chat = fake.private_chat(ann)
    fake.send(chat, ann, text="/help")
    reply = await fake.wait_for(lambda: next((m for m in fake.messages.values()
                                              if m.chat_id == chat["id"] and "--model" in (m.text or "")), None))
    assert SAYS[lang]["help"] in reply.text and "--model ltx-video" in reply.text
