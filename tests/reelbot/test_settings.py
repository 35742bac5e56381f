"""Settings as an operator writes them: environment variables and a `.env` file documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import AliasChoices, ValidationError

from reelbot.app import engine_config
from reelbot.frontends import discord_config, telegram_config
from reelbot.settings import Settings
from storage.repo import Calendar

ENV_EXAMPLE = Path(__file__).parents[2] / ".env.example"


def env_names(name: str) -> set[str]:
    """Every environment variable name that sets the field ``name``."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return {str(choice).upper() for choice in alias.choices}
    if isinstance(alias, str):
        return {alias.upper()}
    return {name.upper()}


ALL_NAMES = {env for name in Settings.model_fields for env in env_names(name)}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the developer's shell or a .env in the working folder may leak into these tests."""
    import os

    for key in list(os.environ):
        if key.upper() in ALL_NAMES:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def documented_names() -> list[str]:
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), flags=re.MULTILINE)


# --- .env.example -----------------------------------------------------------------------------------------


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(documented_names())
    undocumented = [name for name in Settings.model_fields if not env_names(name) & documented]
    assert undocumented == [], f"add these to .env.example: {undocumented}"


def test_env_example_names_only_real_settings_once_each() -> None:
    names = documented_names()
    assert sorted(set(names) - ALL_NAMES) == [], "these lines of .env.example set nothing"
    assert len(names) == len(set(names)), "a setting appears twice in .env.example"


def test_env_example_as_dot_env_gives_the_documented_defaults() -> None:
    """Copying .env.example to .env changes nothing: its values are the code's defaults, empty ones unset."""
    from_example = Settings(_env_file=ENV_EXAMPLE)
    defaults = Settings(_env_file=None)
    assert from_example.model_dump() == defaults.model_dump()


# --- parsing ----------------------------------------------------------------------------------------------


def test_comma_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAIN_TEXT_TO_VIDEO", "local, replicate")
    monkeypatch.setenv("DISCORD_ADMIN_IDS", "1,2")
    monkeypatch.setenv("TELEGRAM_ADMIN_IDS", " 99 ,, ")
    settings = Settings(_env_file=None)
    assert settings.chain_text_to_video == ["local", "replicate"]
    assert settings.discord_admin_ids == ["1", "2"]
    assert settings.telegram_admin_ids == ["99"]
    assert settings.admin_ids("discord") == frozenset({"1", "2"})
    assert settings.admin_ids("matrix") == frozenset()


def test_comma_lists_passed_directly() -> None:
    settings = Settings(_env_file=None, chain_image_to_video="replicate,local", discord_admin_ids=["5"])
    assert settings.chain_image_to_video == ["replicate", "local"]
    assert settings.discord_admin_ids == ["5"]


def test_numbers_and_flags_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_FRAMES", "48")
    monkeypatch.setenv("SIMULATED_FRAMES", "false")
    monkeypatch.setenv("data_dir", "/srv/reelbot")  # names are not case-sensitive
    settings = Settings(_env_file=None)
    assert settings.max_frames == 48
    assert settings.simulated_frames is False
    assert settings.data_dir == Path("/srv/reelbot")


@pytest.mark.parametrize("name", ["HF_TOKEN", "HUGGINGFACE_HUB_TOKEN"])
def test_hugging_face_token_under_either_name(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "hf_secret")
    token = Settings(_env_file=None).hf_token
    assert token is not None and token.get_secret_value() == "hf_secret"


def test_empty_values_in_dot_env_mean_unset(tmp_path: Path) -> None:
    env_file = tmp_path / "my.env"
    env_file.write_text("DISCORD_TOKEN=\nTELEGRAM_TOKEN=tg-token\nDATABASE_URL=\nMAX_FRAMES=\nGPUS=\n")
    settings = Settings(_env_file=env_file)
    assert settings.discord_token is None
    assert settings.telegram_token is not None and settings.telegram_token.get_secret_value() == "tg-token"
    assert settings.max_frames == 129
    assert settings.gpus == "auto"
    assert settings.database_url == f"sqlite:///{Path('data', 'reelbot.db').as_posix()}"


def test_empty_environment_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "")
    monkeypatch.setenv("LOCAL_BACKEND", "")
    settings = Settings(_env_file=None)
    assert settings.discord_token is None
    assert settings.local_backend == "diffusers"


def test_environment_overrides_dot_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MAX_FPS=24\nLOG_LEVEL=DEBUG\n")
    monkeypatch.setenv("MAX_FPS", "30")
    settings = Settings(_env_file=env_file)
    assert settings.max_fps == 30
    assert settings.log_level == "DEBUG"


def test_dot_env_in_the_working_folder_is_read_by_default(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MAX_QUEUE=7\n")
    assert Settings().max_queue == 7


# --- secrets ----------------------------------------------------------------------------------------------


def test_secrets_never_show_in_repr_or_str() -> None:
    settings = Settings(
        _env_file=None, discord_token="abc-discord", telegram_token="abc-telegram",
        replicate_api_token="abc-replicate", hf_token="abc-hf", fal_key="abc-fal",
    )
    for text in (repr(settings), str(settings)):
        assert "abc" not in text
    assert settings.discord_token is not None and settings.discord_token.get_secret_value() == "abc-discord"


# --- defaults and refusals --------------------------------------------------------------------------------


def test_database_defaults_to_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "d")
    assert settings.database_url == f"sqlite:///{(tmp_path / 'd' / 'reelbot.db').as_posix()}"
    assert settings.results_dir == tmp_path / "d" / "results"
    assert settings.uploads_dir == tmp_path / "d" / "uploads"


def test_explicit_database_url_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://reelbot:pw@db:5432/reelbot")
    assert Settings(_env_file=None).database_url == "postgresql://reelbot:pw@db:5432/reelbot"


def test_unknown_local_backend_is_refused_naming_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_BACKEND", "foo")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    (error,) = caught.value.errors()
    assert error["loc"] == ("local_backend",)
    assert "diffusers" in error["msg"] and "simulated" in error["msg"]


def test_prompt_translation_is_auto_or_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).prompt_translation == "auto"
    monkeypatch.setenv("PROMPT_TRANSLATION", "OFF")
    assert Settings(_env_file=None).prompt_translation == "off"
    monkeypatch.setenv("PROMPT_TRANSLATION", "korean")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    (error,) = caught.value.errors()
    assert error["loc"] == ("prompt_translation",) and "'auto'" in error["msg"] and "'off'" in error["msg"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("MAX_FRAMES", "abc"), ("MAX_FRAMES", "0"), ("COOLDOWN_S", "-1"), ("MAX_VIDEO_PIXELS", "100")],
)
def test_out_of_range_numbers_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert [err["loc"] for err in caught.value.errors()] == [(name.lower(),)]


@pytest.mark.parametrize("value", ["Seoul", "KST", "Asia", "Asia/Seul"])
def test_an_unknown_timezone_is_refused_naming_it_with_an_example(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TIMEZONE", value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    (error,) = caught.value.errors()
    assert error["loc"] == ("timezone",)
    assert f"TIMEZONE='{value}'" in error["msg"] and "Asia/Seoul" in error["msg"]


def test_timezone_reaches_the_engine_and_storage_as_one_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).zone == ZoneInfo("UTC")
    monkeypatch.setenv("TIMEZONE", "Asia/Seoul")
    settings = Settings(_env_file=None)
    assert engine_config(settings).calendar == Calendar(ZoneInfo("Asia/Seoul"))



def test_chart_font_must_be_a_file_and_reaches_both_front_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHART_FONT", str(tmp_path / "missing.ttc"))
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert "CHART_FONT=" in caught.value.errors()[0]["msg"]
    font = tmp_path / "font.ttc"
    font.write_bytes(b"")
    monkeypatch.setenv("CHART_FONT", str(font))
    settings = Settings(_env_file=None, discord_token="d", telegram_token="t")
    assert discord_config(settings).chart_font == telegram_config(settings).chart_font == str(font)  # type: ignore[union-attr]
