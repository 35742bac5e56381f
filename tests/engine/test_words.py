"""What the engine says to people is kept as a template and its values until someone reads it: the same refusal
reads in Korean for a Korean user and in English for the operator, with the same numbers in both."""

from __future__ import annotations

import pytest

from bot.i18n import words
from bot.render import describe_error
from engine.backends.simulated import SimulatedBackend
from engine.errors import InvalidImage, NoBackend
from engine.router import Router
from engine.types import JobKind, Options, Origin, SubmitRequest, UserRef
from engine.words import N_, Text

KO, EN = words("ko"), words("en")


async def test_a_picture_too_big_is_refused_in_the_readers_language_with_its_numbers(app_factory):
    app = await app_factory(settings={"max_image_bytes": 2_000_000})
    too_big = b"\x89PNG\r\n\x1a\n" + b"\0" * (5_000_000 - 8)
    with pytest.raises(InvalidImage) as caught:
        await app.service.submit(SubmitRequest(UserRef("test", "u1"), "", Origin("test"), Options(), too_big))
    refused = caught.value
    assert describe_error(KO, refused) == (
        "사진이 너무 커요 (5MB). 2MB까지 보낼 수 있어요. 더 작거나 더 압축한 파일로 보내 주세요 (JPEG나 스크린샷이면 돼요).")
    assert describe_error(EN, refused) == (
        "That image is 5 MB; the limit is 2 MB. Send a smaller or more compressed version (a JPEG or a screenshot "
        "of it works).")
    assert refused.message == "That image is 5 MB; the limit is 2 MB."  # the operator's log stays English


async def test_a_number_out_of_range_names_the_field_in_the_readers_language(app_factory):
    app = await app_factory()
    request = SubmitRequest(UserRef("test", "u1"), "a cat", Origin("test"), Options(frames=500))
    with pytest.raises(Exception) as caught:
        await app.service.submit(request)
    assert describe_error(KO, caught.value) == "프레임 수는 1~129 사이여야 해요. 요청한 값: 500."
    assert describe_error(EN, caught.value) == "frames must be between 1 and 129; you asked for 500."


def test_why_no_backend_can_take_a_job_is_said_reason_by_reason_in_the_readers_language():
    pictures_only = SimulatedBackend("local", kinds=frozenset({JobKind.IMAGE_TO_VIDEO}))
    router = Router({"local": pictures_only}, {JobKind.TEXT_TO_VIDEO: ["local", "runway"]},
                    missing={"runway": "RUNWAY_API_KEY is not set"})
    why = router.why_empty(JobKind.TEXT_TO_VIDEO, Options())
    assert isinstance(why, Text)
    refused = NoBackend(N_("Nothing here can make this video right now ({why}).", why=why))
    assert describe_error(EN, refused) == (
        "Nothing here can make this video right now (local: cannot make videos from text; runway: RUNWAY_API_KEY "
        "is not set).")
    # The operator's own setting is named as it is; the rest is Korean.
    assert describe_error(KO, refused) == (
        "지금은 이 영상을 만들 수 있는 곳이 없어요 (local: 글로 영상을 만들 수 없어요; runway: RUNWAY_API_KEY is not set).")
    nothing = Router({}, {}).why_empty(JobKind.IMAGE_TO_VIDEO, Options())
    assert KO.text(nothing) == "사진으로 영상을 만들 백엔드 순서가 설정되지 않았어요"
