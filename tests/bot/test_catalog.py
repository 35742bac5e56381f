"""The catalogs: every word a person reads has a Korean translation that keeps its placeholders, and no
message for people is built in a way the catalogs cannot see."""

from __future__ import annotations

import ast
import logging
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n import LOCALE_DIR, Words, languages, pick, supported
from engine import errors
from engine.words import N_, Seconds, Text

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}


def extracted() -> dict[str, str]:
    """Every message id in the code, as `pybabel extract -F babel.cfg` finds it: id -> where."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@pytest.fixture(scope="module")
def messages() -> dict[str, str]:
    return extracted()


@pytest.mark.parametrize("lang", [lang for lang in languages() if lang != "en"])
def test_every_message_is_translated_and_keeps_its_placeholders(messages: dict[str, str], lang: str) -> None:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "reelbot.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    assert len(messages) > 100  # the extraction found the code's messages (not an empty walk)
    missing, broken, fuzzy = [], [], []
    for msgid, where in sorted(messages.items(), key=lambda item: item[1]):
        entry = catalog.get(msgid)
        if entry is None:
            entry = next((m for m in catalog if isinstance(m.id, tuple) and msgid in m.id), None)  # a plural form
        strings = [s for s in (entry.string if isinstance(entry.string, tuple) else (entry.string,))] if entry else []
        if not entry or not all(strings):
            missing.append(f"{where}: {msgid!r}")
        elif entry.fuzzy:
            fuzzy.append(f"{where}: {msgid!r}")
        elif any(placeholders(s) != placeholders(msgid) for s in strings):
            broken.append(f"{where}: {msgid!r} -> {strings!r}")
    assert not missing, f"{len(missing)} messages have no {lang} translation:\n" + "\n".join(missing)
    assert not fuzzy, f"{len(fuzzy)} {lang} translations are marked fuzzy (check them):\n" + "\n".join(fuzzy)
    assert not broken, f"{len(broken)} {lang} translations change the placeholders:\n" + "\n".join(broken)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _literal_text(node: ast.expr) -> bool:
    """A message written in place: a string or an f-string (which no catalog can hold)."""
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def sources() -> list[Path]:
    return [p for top in ("engine", "bot", "reelbot") for p in sorted((ROOT / top).rglob("*.py"))]


def test_messages_are_literal_templates_the_extractor_can_see() -> None:
    """`w._(f"...")` or `N_(variable)` would reach users untranslated: the catalog key must be a literal."""
    wrong = []
    for path in sources():
        for call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            if _name(call) in ("_", "N_") and call.args:
                first = call.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    if path.name != "__init__.py" or path.parent.name != "i18n":  # Words' own plumbing
                        wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not wrong, "messages that are not a literal template: " + ", ".join(wrong)


ERRORS = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}
MESSAGE_AT = {"InvalidInput": 1, "QuotaExceeded": 1}  # the message's position among the arguments (the field or limit first)


def test_errors_people_read_are_said_through_the_catalog() -> None:
    """An error raised with a message in plain English would reach a Korean user in English: every engine,
    bot and CLI error says its message and hint with N_(...)."""
    wrong = []
    for path in sources():
        for call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            name = _name(call)
            if name not in ERRORS:
                continue
            position = MESSAGE_AT.get(name, 0)
            said = [call.args[position]] if len(call.args) > position else []
            said += [k.value for k in call.keywords if k.arg in ("message", "hint")]
            if any(_literal_text(node) for node in said):
                wrong.append(f"{path.relative_to(ROOT)}:{call.lineno} {name}")
    assert not wrong, f"{len(wrong)} errors say words outside the catalog:\n" + "\n".join(wrong)


def test_korean_words_come_from_the_compiled_catalog() -> None:
    ko = Words("ko")
    assert ko._("Cancelled.") != "Cancelled." and ko._("Cancelled.")
    queued = N_("The queue is full ({size} jobs waiting).", size=12)
    assert "12" in ko.text(queued) and ko.text(queued) != str(queued)
    assert ko.duration(200) == "3분 20초" and ko.duration(45) == "45초"
    assert ko.text(N_("Try again in {wait}.", wait=Seconds(90))).count("1분 30초") == 1
    assert ko.money(0.25) == "$0.25" and Words("en").money(0.004) == "$0.004"


def test_a_message_no_catalog_has_is_shown_in_english() -> None:
    assert Words("ko").text(Text("made up {n}", {"n": 3})) == "made up 3"
    assert Words("ko").text("plain words") == "plain words"


def test_a_translation_that_does_not_fit_its_values_falls_back_to_english(caplog) -> None:
    ko = Words("ko")
    ko._catalog = type("Bad", (), {"gettext": staticmethod(lambda template: "{nope}개")})()  # a broken catalog
    with caplog.at_level(logging.ERROR):
        assert ko._("Queued #{position}", position=3) == "Queued #3"
    assert "does not fit" in caplog.text


def test_languages_are_picked_from_what_the_platforms_say() -> None:
    assert supported("ko") == supported("ko-KR") == supported("ko_KR.UTF-8") == supported("Korean_Korea.949") == "ko"
    assert supported("en-US") == "en" and supported("C") is None and supported("ja") is None
    assert pick(None, "ja", "ko-KR", "en-US") == "ko"  # the first one reelbot speaks
    assert pick("fr", default="ko") == "ko"
