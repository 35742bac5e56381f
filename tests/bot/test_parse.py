"""Chat prompts with inline flags: what the user typed, and the prompt and options (or the error) they get."""

from __future__ import annotations

import pytest

from bot.parse import Parsed, flags_help, parse_prompt
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
            Options(seed=7, frames=25, fps=7, portrait=True, negative_prompt="blurry, text"),
        ),
        # flags anywhere; what is left is the prompt, its spacing tidied
        ("--seed 7 a cat   surfing", "a cat surfing", Options(seed=7)),
        ("a cat --steps 30 surfing\nat dusk", "a cat surfing at dusk", Options(steps=30)),
        ("--portrait", "", Options(portrait=True)),  # a photo's caption may carry flags alone
        ("", "", Options()),
        # phones: "--" becomes an em or en dash, quotes curl
        ("a cat —seed 7", "a cat", Options(seed=7)),
        ("a cat –seed 7 –portrait", "a cat", Options(seed=7, portrait=True)),
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
        ("x --landscape", "x", Options(portrait=False)),
        ("x --seed 0", "x", Options(seed=0)),
        ("x --seed 4294967295", "x", Options(seed=2**32 - 1)),
        # the forms people carry over from command lines
        ("x --seed=7", "x", Options(seed=7)),
        ('x --neg="blurry, text" y', "x y", Options(negative_prompt="blurry, text")),
        ("x --SEED 7 --Portrait --exact_frames", "x", Options(seed=7, portrait=True, allow_fewer_frames=False)),
        # a quoted value may look like a flag; it is the value
        ('x --neg "--seed"', "x", Options(negative_prompt="--seed")),
        ('x --neg ""', "x", Options(negative_prompt="")),
    ],
)
def test_the_prompt_and_options_the_user_gets(text: str, prompt: str, options: Options) -> None:
    assert parse_prompt(text) == Parsed(prompt, options)


def test_flags_override_the_front_ends_options_field_by_field() -> None:
    base = Options(seed=1, frames=25, portrait=True, model="svd-xt")
    parsed = parse_prompt("a cat --seed 9 --landscape", base=base)
    assert parsed.options == Options(seed=9, frames=25, portrait=False, model="svd-xt")


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
        ("a cat --seed 4294967296", "seed", "--seed must be between 0 and 4294967295 (not 4294967296)."),
        ("a cat --portrait=yes", "portrait", "--portrait takes no value; write just --portrait."),
        # twice
        ("a cat --seed 1 --seed 2", "seed", "--seed is given twice; keep one."),
        ("a cat --neg a --negative b", "negative_prompt", "--neg and --negative set the same thing; keep one."),
        ("a cat --portrait --landscape", "portrait", "--portrait and --landscape contradict each other; keep one."),
        ("a cat --portrait —portrait", "portrait", "--portrait is given twice; keep one."),
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
    assert error.hint is not None and error.hint.startswith("Known options: --exact-frames, --fps, ")


def test_a_dash_glued_to_a_word_is_a_flag_and_the_user_learns_how_to_keep_it() -> None:
    # "—surfing" is what a phone makes of "--surfing": a flag, but likely meant as punctuation
    error = error_of("a cat —surfing the waves")
    assert error.message == "I don't know the option —surfing."
    assert error.hint is not None and error.hint.endswith("If the — is part of your prompt, put a space after it.")


# --- /help ----------------------------------------------------------------------------------------------


def test_flags_help_lists_every_flag_once_per_line() -> None:
    lines = flags_help().splitlines()
    for flag in ("--seed 7", "--frames", "--fps", "--steps", "--portrait", "--landscape", "--size 1024x576",
                 '--neg "blurry, text"', "--model", "--provider", "--exact-frames", "--raw"):
        assert sum(line.startswith(flag) for line in lines) == 1, flag
    assert all(len(line) <= 80 for line in lines)


def test_every_example_in_the_help_parses() -> None:
    """The help shows a value for each flag; each must be accepted as shown, or the help misleads."""
    for line in flags_help().splitlines():
        usage = line.split(" — ")[0]
        if usage.startswith("--"):
            parse_prompt(f"a cat {usage}")
