"""A person's own defaults (/settings): checked as flags are when set, applied to each job, flags winning
field by field, shown back with whether each one is chosen, and reset."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import words
from bot.render import describe_error
from engine.defaults import NAMES, SETTABLE
from engine.errors import InvalidInput
from engine.types import Options, Origin, SubmitRequest, UserRef
from tests.conftest import RecordingDeliverer

ANN = UserRef("test", "ann", "Ann")


def req(user: UserRef = ANN, **options: Any) -> SubmitRequest:
    return SubmitRequest(user, "a cat surfing", Origin("test", chat_id="chat-1"), Options(**options))


async def test_a_default_applies_to_every_job_and_a_flag_wins_field_by_field(app_factory) -> None:
    deliverer = RecordingDeliverer()
    app = await app_factory(deliverer=deliverer)
    await app.service.set_setting(ANN, "frames", "14")  # as typed in a chat
    await app.service.set_setting(ANN, "fps", 6)
    plain = await app.service.wait((await app.service.submit(req())).id)
    assert (plain.options.frames, plain.options.fps) == (14, 6)
    flagged = await app.service.wait((await app.service.submit(req(frames=25))).id)
    assert (flagged.options.frames, flagged.options.fps) == (25, 6)  # the flag wins; the other default stays
    other = await app.service.wait((await app.service.submit(req(UserRef("test", "bob", "Bob")))).id)
    assert other.options.frames is None  # Bob chose nothing: the model's default


async def test_a_bad_value_is_refused_when_set_naming_it_and_what_to_do(app_factory) -> None:
    app = await app_factory()
    w = words("en")
    with pytest.raises(InvalidInput) as frames:
        await app.service.set_setting(ANN, "frames", "500")
    assert describe_error(w, frames.value) == ("frames must be between 1 and 129; you asked for 500. Choose another "
                                               "value, or default to let each model choose.")
    with pytest.raises(InvalidInput) as words_for_frames:
        await app.service.set_setting(ANN, "frames", "lots")
    assert describe_error(w, words_for_frames.value).startswith("frames must be a whole number, not 'lots'.")
    with pytest.raises(InvalidInput) as model:
        await app.service.set_setting(ANN, "model", "../../etc")
    assert describe_error(w, model.value).startswith("'../../etc' is not a model here. Models: ")
    with pytest.raises(InvalidInput) as delivery:
        await app.service.set_setting(ANN, "delivery", "loudly")
    assert describe_error(w, delivery.value) == "'loudly' is not a way to get results; choose public or private."
    with pytest.raises(InvalidInput) as unknown:
        await app.service.set_setting(ANN, "colour", "blue")
    assert "the settings are: model, frames, fps, aspect, motion, delivery" in describe_error(w, unknown.value)
    shown = await app.service.settings_of(ANN)
    assert all(not s.chosen for s in shown.settings)  # nothing refused was kept


async def test_settings_are_shown_with_whether_they_are_chosen_and_reset(app_factory) -> None:
    app = await app_factory()
    shown = await app.service.settings_of(ANN)
    assert [s.name for s in shown.settings] == list(NAMES) and shown.delivery == "public"
    assert [(s.value, s.chosen) for s in shown.settings] == [(None, False)] * len(SETTABLE) + [("public", False)]
    await app.service.set_setting(ANN, "model", "zeroscope")
    await app.service.set_setting(ANN, "delivery", "Private")
    await app.service.set_language(ANN, "ko")
    shown = await app.service.settings_of(ANN)
    assert (shown.get("model").value, shown.get("model").chosen) == ("zeroscope", True)
    assert shown.delivery == "private" and shown.language == "ko"
    shown = await app.service.set_setting(ANN, "model", None)  # "default": back to the model the job needs
    assert not shown.get("model").chosen and shown.delivery == "private"
    shown = await app.service.reset_settings(ANN)
    assert shown.delivery == "public" and shown.language is None and not any(s.chosen for s in shown.settings)


async def test_private_delivery_is_in_the_jobs_origin_and_a_stale_default_is_left_out(app_factory) -> None:
    app = await app_factory()
    await app.service.set_setting(ANN, "delivery", "private")
    await app.service.set_setting(ANN, "frames", 100)
    view = await app.service.wait((await app.service.submit(req())).id)
    assert view.origin.delivery == "private" and view.options.frames == 100
    app.service.defaults.limits = app.service.config.input_limits.__class__(max_frames=50)  # an admin lowered it
    view = await app.service.wait((await app.service.submit(req())).id)
    assert view.options.frames is None  # the job is not refused for what it did not ask
