"""The one parser of chat prompts: inline flags like ``--seed 7 --portrait`` out, the prompt left.

Discord and Telegram users type flags into the prompt or a photo's caption, so both front ends share this
parser and a prompt means the same on either. Phones turn ``--`` into an em dash (``—seed``) or an en dash
(``–seed``) and straight quotes into curly ones (“…”, ‘…’), so those count too. A dash inside prose ("a cat —
surfing", "a - b", "well--known", a lone "--") stays text: only a word that starts with ``--``, ``—`` or
``–`` immediately followed by a letter is a flag.

Flags keep their English names everywhere, and each language may add its own names for them (``--시드`` is
``--seed``; :data:`ALIASES`), shown in that language's help. What the parser tells a user about a mistake is
a :class:`~engine.words.Text`, worded in the reader's language by the front end.

Parsing only reads what was typed. Whether 500 frames are too many is the engine's call
(``engine/validation.py``), so that the limits live in one place; only the seed's range is checked here,
because a seed past 32 bits cannot even be stored.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.i18n import Words
from engine.controls import LANDSCAPE, PORTRAIT
from engine.errors import InvalidInput
from engine.types import Options
from engine.validation import MAX_SEED
from engine.words import N_, Text

# A flag starts with "--" or what a phone makes of it (an em or en dash), then a letter.
_FLAG = re.compile(r"^(--|—|–)([^\W\d_][^=]*)(?:=(.*))?$", re.DOTALL)
# Opening quote -> the quotes that close it. Curly quotes close with their partner, but a phone that curls
# only some of them, or a German keyboard („…“), may mix them, so straight ones close curly ones too.
_QUOTES: dict[str, str] = {'"': '"”“', "“": '”"', "„": '“”"', "‘": "’'", "'": "'’"}
_SINGLE = frozenset("‘'")  # these close only where a word ends: ‘don’t stop’ is one value


@dataclass(frozen=True, slots=True)
class Parsed:
    prompt: str
    options: Options


@dataclass(frozen=True, slots=True)
class _Flag:
    field: str  # the Options field it sets ("size" sets width and height)
    read: Callable[[str, str], Any] | None  # (flag as typed, value) -> field value; None: a switch
    switch_value: object = None
    wants: Text | None = None  # what its value is, for messages ("a whole number")
    example: Text | str = ""  # a value it takes (a Text where the reader's language says it better)
    help: Text = Text("")


def _whole(name: str, value: str) -> int:
    flag = _flag(name)
    if not value.isdecimal():
        raise InvalidInput(flag.field, _bad(name, value))
    if len(value) > 12:  # past any limit; and Python refuses to read numbers of over 4,300 digits at all
        raise InvalidInput(flag.field, N_("{flag} {value}… is far too large ({digits:,} digits).", flag=_dashed(name),
                                          value=value[:12], digits=len(value)),
                           hint=N_("Use a small number, like {flag} {example}.", flag=_dashed(name),
                                   example=flag.example))
    return int(value)


def _seed(name: str, value: str) -> int:
    seed = _whole(name, value)
    if seed > MAX_SEED:
        raise InvalidInput("seed", N_("{flag} must be between 0 and {max} (not {value}).", flag=_dashed(name),
                                      max=MAX_SEED, value=value),
                           hint=N_("Leave it out for a random one."))
    return seed


def _text(name: str, value: str) -> str:
    return value.strip()


def _name(name: str, value: str) -> str:
    if not value.strip():
        raise InvalidInput(_flag(name).field, _missing(name))
    return value.strip()


def _size(name: str, value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)\s*[xX×*]\s*(\d+)", value.strip())
    if not match:
        raise InvalidInput("size", _bad(name, value))
    return int(match.group(1)), int(match.group(2))


_NUMBER = N_("a whole number")
_SOME_TEXT = N_("some text")
_NEG_EXAMPLE = N_('"blurry, text"')
_FLAGS: dict[str, _Flag] = {
    "seed": _Flag("seed", _seed, wants=_NUMBER, example="7", help=N_("the same seed makes the same video")),
    "frames": _Flag("frames", _whole, wants=_NUMBER, example="25", help=N_("how many frames")),
    "fps": _Flag("fps", _whole, wants=_NUMBER, example="7", help=N_("frames per second")),
    "steps": _Flag("steps", _whole, wants=_NUMBER, example="25",
                   help=N_("denoising steps (more: slower, finer)")),
    "portrait": _Flag("aspect", None, PORTRAIT, help=N_("a tall video (the same as --ar 9:16)")),
    "landscape": _Flag("aspect", None, LANDSCAPE, help=N_("a wide video (the same as --ar 16:9)")),
    "size": _Flag("size", _size, wants=N_("width x height in pixels"), example="1024x576",
                  help=N_("an exact size in pixels")),
    "neg": _Flag("negative_prompt", _text, wants=_SOME_TEXT, example=_NEG_EXAMPLE,
                 help=N_("what the video should not show")),
    "negative": _Flag("negative_prompt", _text, wants=_SOME_TEXT, example=_NEG_EXAMPLE,
                      help=N_("the same as --neg")),
    "model": _Flag("model", _name, wants=N_("a model name"), example="svd-xt", help=N_("which model makes it")),
    "provider": _Flag("provider", _name, wants=N_("a provider name"), example="local",
                      help=N_("run it only there (a GPU here or a cloud service)")),
    "exact-frames": _Flag("allow_fewer_frames", None, False,
                          help=N_("fail rather than make fewer frames when GPU memory is short")),
    "raw": _Flag("raw_prompt", None, True,
                 help=N_("send the prompt as typed (never translated to English)")),
    # What these values mean (which ratios, how much motion, how many steps) is the engine's: engine/controls.py.
    "ar": _Flag("aspect", _name, wants=N_("an aspect ratio"), example="9:16",
                help=N_("the shape: 16:9, 9:16, 1:1, 4:5 or 21:9")),
    "motion": _Flag("motion", _whole, wants=_NUMBER, example="5",
                    help=N_("how much moves, from 1 (almost still) to 10 (a lot)")),
    "quality": _Flag("quality", _name, wants=N_("fast, normal or best"), example="fast",
                     help=N_("fast, normal or best: fewer or more steps (--steps wins)")),
}
_HELP_ORDER = ("seed", "frames", "fps", "steps", "quality", "ar", "portrait", "landscape", "size", "motion", "neg",
               "model", "provider", "exact-frames", "raw")

# Flags in the words of each language reelbot speaks, accepted from everyone (a Korean alias typed in an
# English chat still works) and shown in that language's help: alias -> the flag it stands for.
ALIASES: dict[str, dict[str, str]] = {
    "ko": {
        "시드": "seed",
        "프레임": "frames",
        "초당프레임": "fps",
        "단계": "steps",
        "세로": "portrait",
        "가로": "landscape",
        "크기": "size",
        "제외": "neg",
        "모델": "model",
        "제공자": "provider",
        "프레임고정": "exact-frames",
        "원문": "raw",
        "비율": "ar",
        "움직임": "motion",
        "품질": "quality",
    },
}
_ALIAS = {alias: name for table in ALIASES.values() for alias, name in table.items()}


def _dashed(name: str) -> str:
    return "--" + name


def _flag(name: str) -> _Flag:
    """The flag a name (as typed, or a language's alias) stands for."""
    return _FLAGS[_ALIAS.get(name, name)]


def flags_help(w: Words) -> str:
    """The flags for /help, in the reader's language: one line each, with the value they take and the
    flag's name in that language where it has one."""
    aliases = {name: alias for alias, name in ALIASES.get(w.lang, {}).items()}
    lines = []
    for name in _HELP_ORDER:
        flag = _FLAGS[name]
        usage = f"--{name}" if flag.read is None else f"--{name} {w.text(flag.example)}"
        if name in aliases:
            usage += " " + w._("(or {alias})", alias=_dashed(aliases[name]))
        lines.append(f"{usage} — {w.text(flag.help)}")
    lines.append(w._("Flags go anywhere in the prompt; put text with spaces in quotes."))
    return "\n".join(lines)


def parse_prompt(text: str, *, base: Options = Options()) -> Parsed:  # noqa: B008 - Options is frozen
    """Split ``text`` into the prompt and its flags; values from flags override ``base`` field by field.

    ``base`` holds what the front end already knows in structured form (Discord's slash-command options), so
    a flag typed into the prompt wins over a field filled in the form: it is the more specific of the two.
    """
    scan = _Scanner(text)
    prompt: list[str] = []
    chosen: dict[str, Any] = {}
    given: dict[str, str] = {}  # field -> the flag that set it, to catch a field set twice
    while (word := scan.word()) is not None:
        match = _FLAG.match(word)
        if match is None:
            prompt.append(word)
            continue
        dash, name, inline = match.group(1), match.group(2).lower().replace("_", "-"), match.group(3)
        if _ALIAS.get(name, name) not in _FLAGS:
            raise InvalidInput("flags", N_("I don't know the option {option}.", option=dash + match.group(2)),
                               hint=_suggest(name, dash))
        flag = _flag(name)
        if flag.field in given:
            raise InvalidInput(flag.field, _twice(given[flag.field], name))
        given[flag.field] = name
        if flag.read is None:
            if inline is not None:
                raise InvalidInput(flag.field, N_("{flag} takes no value; write just {flag}.", flag=_dashed(name)))
            chosen[flag.field] = flag.switch_value
            continue
        value = scan.value(name) if inline is None else _unquote(inline, name)  # --seed 7 or --seed=7
        if value is None:
            raise InvalidInput(flag.field, _missing(name))
        chosen[flag.field] = flag.read(name, value)
    if "size" in chosen:
        chosen["width"], chosen["height"] = chosen.pop("size")
    if "aspect" in chosen:  # --ar, --portrait or --landscape: the base's older portrait switch gives way
        chosen["portrait"] = False
    return Parsed(" ".join(prompt), dataclasses.replace(base, **chosen))


class _Scanner:
    """Reads the text a word at a time. Quotes group words only in a flag's value: in prose they are text
    (a 12" pizza, the ’90s, a sign saying “open”), so the prompt reaches the model as it was typed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def word(self) -> str | None:
        """The next word, or None at the end. A flag's ``="…"`` runs to its closing quote."""
        text, n = self.text, len(self.text)
        while self.at < n and text[self.at].isspace():
            self.at += 1
        if self.at >= n:
            return None
        start = self.at
        while self.at < n and not text[self.at].isspace():
            if text[self.at] in _QUOTES and text[self.at - 1] == "=" and _FLAG.match(text[start : self.at]):
                if (end := _closing(text, self.at)) >= 0:
                    self.at = end + 1
                    continue
            self.at += 1
        return text[start : self.at]

    def value(self, name: str) -> str | None:
        """The value of flag ``name``: the next word, or a quoted stretch without its quotes; None when there
        is none."""
        text, n = self.text, len(self.text)
        at = self.at
        while at < n and text[at].isspace():
            at += 1
        if at < n and text[at] in _QUOTES:
            if (end := _closing(text, at)) < 0:
                raise _unclosed(name)
            self.at = end + 1
            return text[at + 1 : end]
        saved = self.at
        word = self.word()
        if word is None or _FLAG.match(word):
            self.at = saved  # "--seed --portrait": the next word is a flag of its own
            return None
        return word


def _closing(text: str, start: int) -> int:
    """Where the quote opened at ``start`` closes, or -1 if it never does."""
    closers = _QUOTES[text[start]]
    for j in range(start + 1, len(text)):
        if text[j] in closers:
            if text[start] in _SINGLE and j + 1 < len(text) and text[j + 1].isalnum():
                continue  # an apostrophe inside the quote: ‘don’t stop’
            return j
    return -1


def _unquote(value: str, name: str) -> str | None:
    """The value of ``--name=value``, without its quotes if it is quoted."""
    if value and value[0] in _QUOTES:
        end = _closing(value, 0)
        if end < 0:
            raise _unclosed(name)
        if end == len(value) - 1:
            return value[1:-1]
    return value or None


def _unclosed(name: str) -> InvalidInput:
    flag = _flag(name)
    example = flag.example if isinstance(flag.example, Text) or flag.example.startswith('"') else f'"{flag.example}"'
    return InvalidInput(flag.field, N_("The quote after {flag} is never closed.", flag=_dashed(name)),
                        hint=N_("Close it, like {flag} {example}, or remove it.", flag=_dashed(name), example=example))


def _bad(name: str, value: str) -> Text:
    flag = _flag(name)
    shown = value if len(value) <= 30 else value[:29] + "…"
    return N_("{flag} needs {wants}, like {flag} {example} (not “{value}”).", flag=_dashed(name), wants=flag.wants,
              example=flag.example, value=shown)


def _missing(name: str) -> Text:
    flag = _flag(name)
    return N_("{flag} needs {wants} after it, like {flag} {example}.", flag=_dashed(name), wants=flag.wants,
              example=flag.example)


def _twice(first: str, second: str) -> Text:
    if first == second:
        return N_("{flag} is given twice; keep one.", flag=_dashed(first))
    if _flag(first).switch_value != _flag(second).switch_value and _flag(first).read is None:
        return N_("{first} and {second} contradict each other; keep one.", first=_dashed(first), second=_dashed(second))
    return N_("{first} and {second} set the same thing; keep one.", first=_dashed(first), second=_dashed(second))


def _suggest(name: str, dash: str) -> Text:
    """The flags there are, the closest one to what was typed first (a language's alias if that is closer)."""
    # Hangul names are short (two syllables): one syllable off is already half the name.
    close = difflib.get_close_matches(name, [*_FLAGS, *_ALIAS], n=1, cutoff=0.6 if name.isascii() else 0.5)
    hint = N_("Known options: {options}.", options=", ".join(f"--{k}" for k in sorted(_FLAGS)))
    if close:
        hint = N_("Did you mean {flag}? {known}", flag=_dashed(close[0]), known=hint)
    if dash != "--":  # "a cat —surfing": a dash the user meant as punctuation
        hint = N_("{hint} If the {dash} is part of your prompt, put a space after it.", hint=hint, dash=dash)
    return hint
