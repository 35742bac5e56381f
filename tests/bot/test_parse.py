"""Chat prompts with inline flags: what the user typed, and the prompt and options (or the error) they get."""

from __future__ import annotations

import pytest

from bot.i18n import ENGLISH, words
from bot.parse import ALIASES, Parsed, flags_help, parse_prompt
from bot.render import describe_error
from engine.errors import InvalidInput
from engine.types import Options

# --- what the user gets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prompt", "options"),
    [
        ("a cat surfing", "a cat surfing", Options()),
        (
            'a cat surfing --seed 7 --frames 25 --fps 7 --portrait --neg "blurry, text"',
            "a cat surfing",
            Options(seed=7, frames=25, fps=7, aspect="9:16", negative_prompt="blurry, text"),
        ),
        # flags anywhere; what is left is the prompt, its spacing tidied
        ("--seed 7 a cat   surfing", "a cat surfing", Options(seed=7)),
        ("a cat --steps 30 surfing\nat dusk", "a cat surfing at dusk", Options(steps=30)),
        ("--portrait", "", Options(aspect="9:16")),  # a photo's caption may carry flags alone
        ("", "", Options()),
        # phones: "--" becomes an em or en dash, quotes curl
        ("a cat —seed 7", "a cat", Options(seed=7)),
        ("a cat –seed 7 –portrait", "a cat", Options(seed=7, aspect="9:16")),
        ("a cat —neg “blurry, text”", "a cat", Options(negative_prompt="blurry, text")),
        ("a cat —neg ‘don’t blur, text’ surfing", "a cat surfing", Options(negative_prompt="don’t blur, text")),
        ("a cat --neg 'low quality'", "a cat", Options(negative_prompt="low quality")),
        ("a cat —neg „verschwommen“", "a cat", Options(negative_prompt="verschwommen")),
        # a dash in prose is text
        ("a cat — surfing", "a cat — surfing", Options()),
        ("a cat – surfing", "a cat – surfing", Options()),
        ("a - b", "a - b", Options()),
        ("a well--known cat", "a well--known cat", Options()),
        ("a cat -- surfing", "a cat -- surfing", Options()),
        ("counting —5 to 5", "counting —5 to 5", Options()),
        ("a -cat", "a -cat", Options()),
        # quotes in prose are the prompt's own, kept as typed
        ('a neon sign saying "open" --seed 3', 'a neon sign saying "open"', Options(seed=3)),
        ("a sign saying “--seed 3”", "a sign saying “--seed 3”", Options()),
        ('a 12" pizza in the ’90s', 'a 12" pizza in the ’90s', Options()),
        # every flag
        ("x --frames 49", "x", Options(frames=49)),
        ("x --fps 12", "x", Options(fps=12)),
        ("x --steps 4", "x", Options(steps=4)),
        ("x --negative blurry", "x", Options(negative_prompt="blurry")),
        ("x --model svd-xt", "x", Options(model="svd-xt")),
        ("x --provider replicate", "x", Options(provider="replicate")),
        ("x --size 1024x576", "x", Options(width=1024, height=576)),
        ("x --size 576×1024", "x", Options(width=576, height=1024)),  # a phone's multiplication sign
        ("x --size 512X512", "x", Options(width=512, height=512)),
        ("x --exact-frames", "x", Options(allow_fewer_frames=False)),
        ("서핑하는 고양이 --raw", "서핑하는 고양이", Options(raw_prompt=True)),
        ("서핑하는 고양이 —raw", "서핑하는 고양이", Options(raw_prompt=True)),  # a phone's dash
        ("x --landscape", "x", Options(aspect="16:9")),
        ("x --ar 9:16", "x", Options(aspect="9:16")),
        ("x --ar=21:9", "x", Options(aspect="21:9")),
        ("x --ar 16x9", "x", Options(aspect="16x9")),  # read as typed; the engine knows it is 16:9
        ("x --motion 8", "x", Options(motion=8)),
        ("x --quality fast", "x", Options(quality="fast")),
        ("x --quality best --steps 30", "x", Options(quality="best", steps=30)),
        ("x --seed 0", "x", Options(seed=0)),
        ("x --seed 4294967295", "x", Options(seed=2**32 - 1)),
        # the forms people carry over from command lines
        ("x --seed=7", "x", Options(seed=7)),
        ('x --neg="blurry, text" y', "x y", Options(negative_prompt="blurry, text")),
        ("x --SEED 7 --Portrait --exact_frames", "x", Options(seed=7, aspect="9:16", allow_fewer_frames=False)),
        # a quoted value may look like a flag; it is the value
        ('x --neg "--seed"', "x", Options(negative_prompt="--seed")),
        ('x --neg ""', "x", Options(negative_prompt="")),
    ],
)
def test_the_prompt_and_options_the_user_gets(text: str, prompt: str, options: Options) -> None:
    assert parse_prompt(text) == Parsed(prompt, options)


@pytest.mark.parametrize(
    ("text", "prompt", "options"),
    [
        ("서핑하는 고양이 --시드 7 --프레임 25 --세로", "서핑하는 고양이", Options(seed=7, frames=25, aspect="9:16")),
        ('서핑하는 고양이 --제외 "흐릿함, 글자" --모델 svd-xt', "서핑하는 고양이",
         Options(negative_prompt="흐릿함, 글자", model="svd-xt")),
        ("고양이 --단계 30 --초당프레임 8 --크기 1024x576 --제공자 local --프레임고정", "고양이",
         Options(steps=30, fps=8, width=1024, height=576, provider="local", allow_fewer_frames=False)),
        ("고양이 --가로", "고양이", Options(aspect="16:9")),
        ("고양이 --시드=7", "고양이", Options(seed=7)),
        ("고양이 --비율 4:5 --움직임 3 --품질 빠르게", "고양이", Options(aspect="4:5", motion=3, quality="빠르게")),
        # a phone's dash before a Korean flag, as before an English one
        ("노을 지는 바다 —시드 7", "노을 지는 바다", Options(seed=7)),
        ("노을 지는 바다 –세로 —제외 “흐릿함”", "노을 지는 바다", Options(aspect="9:16", negative_prompt="흐릿함")),
        # English and Korean flags mix
        ("고양이 --seed 7 --세로", "고양이", Options(seed=7, aspect="9:16")),
        # dashes inside Korean words and prose stay the prompt's own
        ("고양이--서핑 하는 장면", "고양이--서핑 하는 장면", Options()),
        ("고양이 -- 서핑", "고양이 -- 서핑", Options()),
        ("노을—바다 위의 고양이", "노을—바다 위의 고양이", Options()),
        ("고양이 — 서핑", "고양이 — 서핑", Options()),
        ("“--시드 3”이라고 쓴 간판", "“--시드 3”이라고 쓴 간판", Options()),
    ],
)
def test_korean_flags_give_the_same_options(text: str, prompt: str, options: Options) -> None:
    assert parse_prompt(text) == Parsed(prompt, options)


def test_every_korean_alias_sets_what_its_english_flag_sets() -> None:
    for alias, name in ALIASES["ko"].items():
        value = {"size": "640x360", "model": "m", "provider": "p", "neg": "x"}.get(name, "5")
        switch = parse_prompt(f"a --{name}").options if name in ("portrait", "landscape", "exact-frames") else None
        if switch is not None:
            assert parse_prompt(f"a --{alias}").options == switch, alias
        else:
            assert parse_prompt(f"a --{alias} {value}").options == parse_prompt(f"a --{name} {value}").options, alias


def test_flags_override_the_front_ends_options_field_by_field() -> None:
    base = Options(seed=1, frames=25, aspect="9:16", model="svd-xt")
    parsed = parse_prompt("a cat --seed 9 --landscape", base=base)
    assert parsed.options == Options(seed=9, frames=25, aspect="16:9", model="svd-xt")


def test_size_overrides_both_sides_of_the_base() -> None:
    parsed = parse_prompt("x --size 640x360", base=Options(width=1024, height=576, fps=8))
    assert parsed.options == Options(width=640, height=360, fps=8)


def test_without_flags_the_base_comes_back_unchanged() -> None:
    base = Options(seed=5, negative_prompt="text")
    assert parse_prompt("a cat", base=base).options == base


def test_range_checks_other_than_the_seed_are_left_to_the_engine() -> None:
    # engine/validation.py says what the limits are; the parser does not guess them
    assert parse_prompt("x --frames 100000 --fps 0 --steps 999").options == Options(frames=100000, fps=0,
                                                                                    steps=999)


# --- what the user is told ------------------------------------------------------------------------------


def error_of(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_prompt(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        # a missing value says what is expected, with an example
        ("a cat --seed", "seed", "--seed needs a whole number after it, like --seed 7."),
        ("a cat --seed --portrait", "seed", "--seed needs a whole number after it, like --seed 7."),
        ("a cat —frames", "frames", "--frames needs a whole number after it, like --frames 25."),
        ("a cat --neg", "negative_prompt", '--neg needs some text after it, like --neg "blurry, text".'),
        ("a cat --model", "model", "--model needs a model name after it, like --model svd-xt."),
        ('a cat --provider ""', "provider", "--provider needs a provider name after it, like --provider local."),
        ("a cat --size", "size", "--size needs width x height in pixels after it, like --size 1024x576."),
        ("a cat --seed=", "seed", "--seed needs a whole number after it, like --seed 7."),
        # a bad value says what was expected and what it got
        ("a cat --seed seven", "seed", "--seed needs a whole number, like --seed 7 (not “seven”)."),
        ("a cat --seed -1", "seed", "--seed needs a whole number, like --seed 7 (not “-1”)."),
        ("a cat --frames 2.5", "frames", "--frames needs a whole number, like --frames 25 (not “2.5”)."),
        ("a cat --fps fast", "fps", "--fps needs a whole number, like --fps 7 (not “fast”)."),
        ("a cat --steps 10k", "steps", "--steps needs a whole number, like --steps 25 (not “10k”)."),
        ("a cat --size big", "size", "--size needs width x height in pixels, like --size 1024x576 (not “big”)."),
        ("a cat --size 1024", "size",
         "--size needs width x height in pixels, like --size 1024x576 (not “1024”)."),
        ("a cat --ar", "aspect", "--ar needs an aspect ratio after it, like --ar 9:16."),
        ("a cat --motion lots", "motion", "--motion needs a whole number, like --motion 5 (not “lots”)."),
        ("a cat --quality", "quality", "--quality needs fast, normal or best after it, like --quality fast."),
        ("a cat --portrait --ar 1:1", "aspect", "--portrait and --ar contradict each other; keep one."),
        ("a cat --seed 4294967296", "seed", "--seed must be between 0 and 4294967295 (not 4294967296)."),
        ("a cat --portrait=yes", "aspect", "--portrait takes no value; write just --portrait."),
        # twice
        ("a cat --seed 1 --seed 2", "seed", "--seed is given twice; keep one."),
        ("a cat --neg a --negative b", "negative_prompt", "--neg and --negative set the same thing; keep one."),
        ("a cat --portrait --landscape", "aspect", "--portrait and --landscape contradict each other; keep one."),
        ("a cat --portrait —portrait", "aspect", "--portrait is given twice; keep one."),
        # quotes
        ('a cat --neg "blurry, text', "negative_prompt", "The quote after --neg is never closed."),
        ("a cat —neg “blurry, text", "negative_prompt", "The quote after --neg is never closed."),
        ('a cat --neg="blurry text', "negative_prompt", "The quote after --neg is never closed."),
    ],
)
def test_what_the_user_is_told_about_a_mistake(text: str, field: str, message: str) -> None:
    error = error_of(text)
    assert error.field == field
    assert error.message == message


@pytest.mark.parametrize(
    ("text", "korean"),
    [
        ("고양이 --시드", "--시드 뒤에 값이 없어요. 예: --시드 7 (정수)"),
        ("고양이 --시드 일곱", "--시드에는 정수만 쓸 수 있어요. 예: --시드 7 (입력한 값: “일곱”)"),
        ("고양이 --seed 4294967296", "--seed 값은 0부터 4294967295까지만 쓸 수 있어요 (입력한 값: 4294967296). "
                                    "비워 두면 무작위로 정해요."),
        ("고양이 --세로=네", "--세로에는 값을 쓰지 않아요. --세로만 써 주세요."),
        ("고양이 --시드 1 --seed 2", "--시드, --seed 둘 다 같은 설정이에요. 하나만 남겨 주세요."),
        ("고양이 --세로 --가로", "--세로, --가로 둘은 서로 반대예요. 하나만 남겨 주세요."),
        ('고양이 --제외 "흐릿함', '--제외 뒤의 따옴표가 닫히지 않았어요. --제외 "흐릿함, 글자"처럼 닫거나 지워 주세요.'),
    ],
)
def test_mistakes_are_told_in_korean(text: str, korean: str) -> None:
    assert describe_error(words("ko"), error_of(text)) == korean


def test_an_unknown_korean_flag_is_named_with_the_closest_one_in_korean() -> None:
    told = describe_error(words("ko"), error_of("고양이 —씨드 7"))
    assert told.startswith("—씨드 옵션은 없어요. 혹시 --시드 옵션을 말씀하신 건가요? 쓸 수 있는 옵션: --ar, --exact-frames, ")
    assert told.endswith("— 기호가 프롬프트의 일부라면 뒤에 한 칸 띄워 주세요.")


def test_a_seed_out_of_range_says_how_to_get_a_random_one() -> None:
    assert error_of("x --seed 99999999999").hint == "Leave it out for a random one."


def test_an_unclosed_quote_shows_how_to_close_it() -> None:
    assert error_of('x --neg "blurry').hint == 'Close it, like --neg "blurry, text", or remove it.'


@pytest.mark.parametrize(
    ("text", "unknown", "suggestion"),
    [
        ("a cat --sed 7", "--sed", "--seed"),
        ("a cat --frame 25", "--frame", "--frames"),
        ("a cat --potrait", "--potrait", "--portrait"),
        ("a cat —negativ blurry", "—negativ", "--negative"),
        ("a cat --seed, 7", "--seed,", "--seed"),
    ],
)
def test_an_unknown_flag_is_named_with_the_closest_known_one(text: str, unknown: str, suggestion: str) -> None:
    error = error_of(text)
    assert error.message == f"I don't know the option {unknown}."
    assert error.hint is not None
    assert error.hint.startswith(f"Did you mean {suggestion}? Known options: ")
    for known in ("--seed", "--frames", "--fps", "--steps", "--portrait", "--landscape", "--neg", "--negative",
                  "--model", "--provider", "--size", "--exact-frames"):
        assert known in error.hint


def test_an_unknown_flag_with_nothing_close_lists_the_known_ones() -> None:
    error = error_of("a cat --zzzz")
    assert error.message == "I don't know the option --zzzz."
    assert error.hint is not None and error.hint.startswith("Known options: --ar, --exact-frames, --fps, ")


def test_a_dash_glued_to_a_word_is_a_flag_and_the_user_learns_how_to_keep_it() -> None:
    # "—surfing" is what a phone makes of "--surfing": a flag, but likely meant as punctuation
    error = error_of("a cat —surfing the waves")
    assert error.message == "I don't know the option —surfing."
    assert error.hint is not None and error.hint.endswith("If the — is part of your prompt, put a space after it.")


# --- /help ----------------------------------------------------------------------------------------------


def test_flags_help_lists_every_flag_once_per_line() -> None:
    lines = flags_help(ENGLISH).splitlines()
    for flag in ("--seed 7", "--frames", "--fps", "--steps", "--portrait", "--landscape", "--size 1024x576",
                 '--neg "blurry, text"', "--model", "--provider", "--exact-frames", "--raw"):
        assert sum(line.startswith(flag) for line in lines) == 1, flag
    assert all(len(line) <= 80 for line in lines)


def test_every_example_in_the_help_parses() -> None:
    """The help shows a value for each flag; each must be accepted as shown, or the help misleads."""
    for line in flags_help(ENGLISH).splitlines():
        usage = line.split(" — ")[0]
        if usage.startswith("--"):
            parse_prompt(f"a cat {usage}")


def test_korean_help_is_in_korean_and_shows_the_korean_flags() -> None:
    lines = flags_help(words("ko")).splitlines()
    assert '--neg "흐릿함, 글자" (또는 --제외) — 영상에 나오지 않았으면 하는 것' in lines
    assert "--seed 7 (또는 --시드) — 시드가 같으면 같은 영상이 나와요" in lines
    for alias, name in ALIASES["ko"].items():
        shown = [line for line in lines if f"(또는 --{alias})" in line]
        assert len(shown) == 1 and shown[0].startswith(f"--{name}"), alias
    assert lines[-1] == "옵션은 프롬프트 어디에 넣어도 돼요. 띄어쓰기가 있는 값은 따옴표로 감싸 주세요."


def test_every_example_in_the_korean_help_parses_under_both_names() -> None:
    for line in flags_help(words("ko")).splitlines():
        usage = line.split(" — ")[0]
        if usage.startswith("--"):
            english, _, alias = usage.partition(" (또는 ")
            value = english.partition(" ")[2]
            expected = parse_prompt(f"고양이 {english}")
            assert parse_prompt(f"고양이 --{alias.removeprefix('--').rstrip(')')} {value}") == expected


# --- the controls users know: --ar, --portrait, --motion, --quality -------------------------------------


def test_portrait_and_landscape_are_aspect_ratios_and_override_the_front_ends_switch() -> None:
    assert parse_prompt("a cat --portrait").options.aspect == "9:16"
    assert parse_prompt("a cat --세로").options.aspect == "9:16"
    assert parse_prompt("a cat --landscape").options.aspect == "16:9"
    # Discord's old portrait switch (or a saved default) gives way to the ratio typed in the prompt
    assert parse_prompt("a cat --ar 1:1", base=Options(portrait=True)).options == Options(aspect="1:1")


def test_the_help_lists_the_new_controls_with_their_korean_names() -> None:
    english = flags_help(ENGLISH).splitlines()
    assert "--ar 9:16 — the shape: 16:9, 9:16, 1:1, 4:5 or 21:9" in english
    assert any(line.startswith("--motion 5 — ") for line in english)
    assert any(line.startswith("--quality fast — ") for line in english)
    korean = flags_help(words("ko"))
    for alias in ("--비율", "--움직임", "--품질"):
        assert f"(또는 {alias})" in korean
