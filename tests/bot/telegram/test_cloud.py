"""Telegram with real cloud provider clients behind the engine: what users and admins see."""

from __future__ import annotations

from tests.bot.telegram.stories import replies_to, sent_videos, texts
from tests.fakes.providers.replicate import FakeReplicate
from tests.fakes.providers.runway import FakeRunway
from tests.images import png


async def test_cloud_fallback_shows_its_price_and_admins_hear_of_a_refused_key_once(fake, make_bot) -> None:
    replicate, runway = await FakeReplicate().start(), await FakeRunway().start()
    try:
        await make_bot(
            telegram_admin_ids="2001", simulated_oom_every=1, cloud_poll_interval_s=0.05,
            chain_image_to_video=["local", "replicate", "runway"],
            replicate_api_token="r8_revoked", replicate_base_url=replicate.url,
            runwayml_api_secret=runway.key, runwayml_base_url=runway.url,
        )
        boss, ann = fake.user(2001, "Boss"), fake.user(2002, "Ann")
        fake.private_chat(boss)
        chat = fake.private_chat(ann)
        # Pictures alone: SVD-XT's chain (with words they would go to a model that reads them: test_models.py).
        first = fake.send(chat, ann, photo=png())
        [video] = await sent_videos(fake)
        assert "on runway" in video.params["caption"] and "$0.25" in video.params["caption"]
        [note] = [m for m in replies_to(fake, chat["id"], first["message_id"]) if m.video is None]
        history = texts(fake, chat["id"], note.message_id)
        assert any("Running on runway (gen4_turbo, ≈ $0.25)" in t for t in history), history

        second = fake.send(chat, ann, photo=png(color=(10, 200, 90)))
        await sent_videos(fake, 2)
        alerts = [c for c in fake.calls_to("sendMessage") if c.params["chat_id"] == boss["id"]]
        assert len(alerts) == 1  # once, not once per job
        assert alerts[0].params["text"].startswith("⚠ replicate is out of the fallback chain")
        assert "REPLICATE_API_TOKEN" in alerts[0].params["text"] and "r8_revoked" not in alerts[0].params["text"]
        assert len(replicate.calls("POST", "/predictions")) == 1 and second["message_id"]
    finally:
        await replicate.stop()
        await runway.stop()
