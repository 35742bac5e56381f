from __future__ import annotations

import sys
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.i18n import ENGLISH, words
from reelbot.doctor import CHECKS, Check, HubUnreachable, hub_access, render_checks, run_checks
from reelbot.settings import Settings

SVD_XT = "stabilityai/stable-video-diffusion-img2vid-xt-1-1"
ZEROSCOPE = "cerspense/zeroscope_v2_576w"
GIB = 1024**3
DiskUsage = namedtuple("DiskUsage", "total used free")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting, token or hub mode of the machine running the tests leaks in."""
    for field in Settings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
    for name in ("HUGGINGFACE_HUB_TOKEN", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def plenty_of_disk(_folder: Path) -> DiskUsage:
    return DiskUsage(500 * GIB, 400 * GIB, 100 * GIB)


def doctor_checks(settings: Settings, **probes: Any) -> list[Check]:
    """``run_checks`` on a Linux machine whose NVIDIA driver sees no GPU, with a disk with 100 GiB free,
    unless the test brings its own ``find_nvidia``, ``os_name`` or ``disk_usage``."""
    probes.setdefault("disk_usage", plenty_of_disk)
    probes.setdefault("find_nvidia", lambda: None)
    probes.setdefault("os_name", lambda: "Linux")
    return run_checks(settings, **probes)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", "local_backend": "simulated"}
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    return make


def english(check: Check) -> Check:
    """A check as the operator reads it in English."""
    return Check(str(check.name), check.ok, str(check.detail), str(check.fix))


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {str(check.name): english(check) for check in checks}


def torch_with(*gpus: tuple[str, float, float]) -> Callable[[], Any]:
    """``import_torch`` for a machine with these CUDA GPUs, (name, free GiB, total GiB) each: a torch-like
    module answering as torch does there. No GPUs: a CPU-only build of torch."""
    cuda = SimpleNamespace(
        is_available=lambda: bool(gpus),
        device_count=lambda: len(gpus),
        get_device_name=lambda i: gpus[i][0],
        mem_get_info=lambda i: (int(gpus[i][1] * GIB), int(gpus[i][2] * GIB)),
    )
    build = "12.4" if gpus else None
    torch = SimpleNamespace(
        __version__=f"2.5.1+{'cu124' if gpus else 'cpu'}", version=SimpleNamespace(cuda=build), cuda=cuda
    )
    return lambda: torch


NO_GPU = torch_with()


# --- a working install ----------------------------------------------------------------------------------


def test_working_sqlite_install_passes_database_encoder_and_data_folder(make_settings, tmp_path) -> None:
    settings = make_settings()
    checks = doctor_checks(settings)
    found = by_name(checks)

    for name in ("Database", "Video encoder", "Data folder"):
        assert found[name].ok is True, found[name]
    assert "SQLite" in found["Database"].detail
    assert str((tmp_path / "data" / "reelbot.db").resolve()) in found["Database"].detail
    assert "libx264 via PyAV" in found["Video encoder"].detail
    assert "100.0 GiB free" in found["Data folder"].detail
    assert found["Python"].ok is True

    text = render_checks(ENGLISH, checks)
    lines = text.splitlines()
    assert any(line.startswith("✓ Database: SQLite at ") for line in lines)
    assert any(line.startswith("✓ Video encoder: libx264 via PyAV") for line in lines)
    assert any(line.startswith("✓ Data folder: ") for line in lines)
    problems = [check for check in checks if check.ok is False]
    assert lines[-1] == (
        "All good." if not problems else f"{len(problems)} problem{'s' * (len(problems) != 1)}"
    )


def test_checks_come_in_the_documented_order(make_settings) -> None:
    names = [str(check.name) for check in doctor_checks(make_settings(discord_token="abc.def.ghi"))]
    order = [
        "Python",
        "torch",
        "CUDA",
        "diffusers",
        "Hugging Face token",
        "Model access: zeroscope",
        "Model access: svd-xt",
        "Prompt translation",
        "replicate key",
        "Discord token",
        "Telegram token",
        "Chart font",
        "Web console",
        "Languages",
        "Database",
        "Video encoder",
        "Data folder",
    ]
    assert [name for name in names if name in order] == order


def test_unset_optional_things_are_skipped_not_problems(make_settings) -> None:
    found = by_name(doctor_checks(make_settings()))

    assert found["Hugging Face token"].ok is None
    assert "gated models need it" in found["Hugging Face token"].detail
    assert "https://huggingface.co/settings/tokens" in found["Hugging Face token"].fix
    assert found["replicate key"] == Check(
        "replicate key",
        None,
        "not set (provider left out of the chain)",
        fix="Set REPLICATE_API_TOKEN in .env to use replicate.",
    )
    assert found["Discord token"].ok is None
    assert "front end will not start" in found["Discord token"].detail
    assert found["Telegram token"].ok is None
    # Simulated local backend: no model is downloaded, so none is checked.
    assert found["Model access: svd-xt"].ok is None


# --- database -------------------------------------------------------------------------------------------


def test_postgres_on_a_closed_port_is_a_problem_with_a_fix_and_the_rest_still_runs(make_settings) -> None:
    checks = doctor_checks(make_settings(database_url="postgresql://postgres@127.0.0.1:1/x"), timeout_s=2)
    found = by_name(checks)

    assert found["Database"].ok is False
    assert "PostgreSQL at 127.0.0.1:1/x" in found["Database"].detail
    assert "DATABASE_URL" in found["Database"].fix
    assert "running" in found["Database"].fix
    assert found["Video encoder"].ok is True
    assert found["Data folder"].ok is True

    text = render_checks(ENGLISH, checks)
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("✗ Database: PostgreSQL"))
    assert lines[at + 1].startswith("    fix: Check DATABASE_URL")
    assert "✓ Video encoder" in text
    assert lines[-1].endswith(("problem", "problems"))


def test_a_postgres_password_is_not_shown(make_settings) -> None:
    url = "postgresql://postgres:pgSecretPw99@127.0.0.1:1/x"
    text = render_checks(ENGLISH, doctor_checks(make_settings(database_url=url), timeout_s=2))
    assert "pgSecretPw99" not in text
    assert "✗ Database: PostgreSQL at 127.0.0.1:1/x" in text


def test_a_heroku_style_postgres_url_gets_told_the_right_scheme(make_settings) -> None:
    found = by_name(doctor_checks(make_settings(database_url="postgres://u:p@localhost/x")))
    assert found["Database"].ok is False
    assert "postgresql://" in found["Database"].fix


# --- secrets --------------------------------------------------------------------------------------------


def test_secrets_never_appear_in_the_report(make_settings) -> None:
    secrets = {
        "replicate_api_token": "r8_supersecret123",
        "hf_token": "hf_topsecret",
        "discord_token": "abc.def.ghi",
        "telegram_token": "123456:telegramSecretXYZ",
        "fal_key": "fal-secret-key",
    }

    def leaky_hub_check(repo: str, token: str | None) -> str | None:
        raise RuntimeError(f"401 for {repo} with token {token}")  # an error message that carries the token

    def leaky_key_check(settings: Settings) -> dict:
        return {"replicate": RuntimeError("401 with token r8_supersecret123"), "fal": "key fal-secret-key ok"}

    checks = doctor_checks(make_settings(local_backend="diffusers", **secrets), hub_check=leaky_hub_check,
                           key_check=leaky_key_check)
    text = render_checks(ENGLISH, checks) + render_checks(words("ko"), checks)
    for value in secrets.values():
        assert value not in text
    for check in checks:
        for value in secrets.values():
            assert value not in str(check.detail) + str(check.fix)
    found = by_name(checks)
    assert found["Hugging Face token"] == Check("Hugging Face token", True, "set (12 characters)")
    assert found["replicate key"].detail.startswith("set; could not check it now")
    assert found["Discord token"].ok is True
    assert found["Telegram token"].ok is True


def test_malformed_front_end_tokens_are_flagged(make_settings) -> None:
    settings = make_settings(discord_token="Bot abc.def.ghi", telegram_token="not-a-token")
    found = by_name(doctor_checks(settings))
    assert found["Discord token"].ok is False
    assert "without 'Bot '" in found["Discord token"].fix
    assert found["Telegram token"].ok is False
    assert "BotFather" in found["Telegram token"].fix


# --- model access ---------------------------------------------------------------------------------------


def test_gated_model_without_access_is_a_problem_with_the_access_url(make_settings) -> None:
    asked: list[tuple[str, str | None]] = []

    def hub_check(repo: str, token: str | None) -> str | None:
        asked.append((repo, token))
        if repo == SVD_XT:
            return f"no access: request access on https://huggingface.co/{repo} and set HF_TOKEN"
        return None

    settings = make_settings(local_backend="diffusers", hf_token="hf_abcdefgh")
    checks = doctor_checks(settings, hub_check=hub_check, import_torch=NO_GPU)
    found = by_name(checks)

    assert sorted(asked) == sorted([(SVD_XT, "hf_abcdefgh"), (ZEROSCOPE, "hf_abcdefgh")])
    assert found["Model access: svd-xt"].ok is False
    assert f"https://huggingface.co/{SVD_XT}" in found["Model access: svd-xt"].fix
    assert "HF_TOKEN" in found["Model access: svd-xt"].fix
    assert found["Model access: zeroscope"].ok is True
    assert ZEROSCOPE in found["Model access: zeroscope"].detail

    text = render_checks(ENGLISH, checks)
    assert f"✗ Model access: svd-xt: {SVD_XT}: no access" in text
    assert f"✓ Model access: zeroscope: {ZEROSCOPE}: accessible" in text


def test_a_hub_check_that_raises_is_a_problem_not_a_crash(make_settings) -> None:
    def broken(repo: str, token: str | None) -> str | None:
        raise ValueError("boom")

    checks = doctor_checks(make_settings(local_backend="diffusers"), hub_check=broken, import_torch=NO_GPU)
    found = by_name(checks)
    assert found["Model access: svd-xt"].ok is False
    assert "boom" in found["Model access: svd-xt"].detail
    assert found["Database"].ok is True
    assert found["Data folder"].ok is True


def test_an_unreachable_hub_is_skipped(make_settings) -> None:
    def offline(repo: str, token: str | None) -> str | None:
        raise HubUnreachable("could not reach the Hugging Face Hub (offline?)")

    settings = make_settings(local_backend="diffusers")
    found = by_name(doctor_checks(settings, hub_check=offline, import_torch=NO_GPU))
    assert found["Model access: svd-xt"].ok is None
    assert "could not reach the Hugging Face Hub" in found["Model access: svd-xt"].detail


def test_hf_hub_offline_skips_the_hub_without_asking(make_settings) -> None:
    def must_not_be_called(repo: str, token: str | None) -> str | None:
        raise AssertionError("asked the hub in offline mode")

    found = by_name(
        doctor_checks(
            make_settings(local_backend="diffusers"),
            hub_check=must_not_be_called,
            import_torch=NO_GPU,
            environ={"HF_HUB_OFFLINE": "1"},
        )
    )
    assert found["Model access: svd-xt"].ok is None
    assert "HF_HUB_OFFLINE" in found["Model access: svd-xt"].detail


def test_the_prompt_translation_model_is_checked_on_this_machine_without_the_hub(make_settings, tmp_path) -> None:
    def translation(environ: dict[str, str] | None = None, **settings: Any) -> Check:
        settings.setdefault("hf_home", tmp_path / "hf")  # an empty cache, whatever this machine holds
        return by_name(doctor_checks(make_settings(**settings), environ=environ or {}))["Prompt translation"]

    assert translation(prompt_translation="off").ok is None
    assert "every model gets prompts as written" in translation(prompt_translation="off").detail
    # the default: not downloaded yet, fetched for the first prompt that needs it
    first_use = translation()
    assert first_use.ok is None and "Helsinki-NLP/opus-mt-ko-en: not downloaded yet" in first_use.detail
    assert first_use.fix == "Run `huggingface-cli download Helsinki-NLP/opus-mt-ko-en` to fetch it now."
    for offline in ({"hf_hub_offline": True}, {"environ": {"HF_HUB_OFFLINE": "1"}}):
        found = translation(**offline)  # type: ignore[arg-type]
        assert found.ok is False and "not downloaded and HF_HUB_OFFLINE is set" in found.detail
        assert "huggingface-cli download Helsinki-NLP/opus-mt-ko-en" in found.fix
    repo = tmp_path / "hf" / "hub" / "models--Helsinki-NLP--opus-mt-ko-en"  # the Hub cache's own layout
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
    downloaded = translation(environ={"HF_HUB_OFFLINE": "1"})
    assert downloaded.ok is True and "Helsinki-NLP/opus-mt-ko-en: downloaded" in downloaded.detail
    folder = tmp_path / "opus-mt-ko-en"
    missing = translation(prompt_translation_model=str(folder))
    assert missing.ok is False and f"the folder {folder} does not exist" in missing.detail
    assert "PROMPT_TRANSLATION_MODEL" in missing.fix
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert translation(prompt_translation_model=str(folder)).ok is True


def test_local_model_folders_need_model_index_json(make_settings, tmp_path) -> None:
    good, bad = tmp_path / "good-model", tmp_path / "bad-model"
    good.mkdir()
    bad.mkdir()
    (good / "model_index.json").write_text("{}")
    found = by_name(
        doctor_checks(
            make_settings(
                local_backend="diffusers", default_text_model=str(good), default_image_model=str(bad)
            ),
            hub_check=lambda repo, token: pytest.fail("asked the hub about a local folder"),
            import_torch=NO_GPU,
        )
    )
    assert found[f"Model access: {good}"].ok is True
    assert found[f"Model access: {bad}"].ok is False
    assert "model_index.json" in found[f"Model access: {bad}"].detail
    assert "DEFAULT_IMAGE_MODEL" in found[f"Model access: {bad}"].fix


def test_an_unknown_model_name_is_a_problem(make_settings) -> None:
    found = by_name(
        doctor_checks(
            make_settings(local_backend="diffusers", default_text_model="nosuchmodel"),
            hub_check=lambda repo, token: None,
            import_torch=NO_GPU,
        )
    )
    assert found["Model access: nosuchmodel"].ok is False
    assert "DEFAULT_TEXT_MODEL" in found["Model access: nosuchmodel"].fix


# --- the default hub check ------------------------------------------------------------------------------


def _hub_error(cls: type[Exception], status: int) -> Exception:
    from huggingface_hub.errors import Response

    httpx = sys.modules[Response.__module__.split(".")[0]]
    request = httpx.Request("GET", "https://huggingface.co/api/models/x/y/auth-check")
    return cls("refused", response=Response(status, request=request))


def hub_answering(error: BaseException | None) -> Callable[[str, str | None], None]:
    """An ``auth_check`` that answers as the Hub does: returns when access is granted, raises its error."""

    def auth_check(repo_id: str, token: str | None) -> None:
        if error is not None:
            raise error

    return auth_check


def test_default_hub_check_maps_the_hub_answers() -> None:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    assert hub_access(SVD_XT, "hf_x", timeout_s=5, auth_check=hub_answering(None)) is None

    message = str(hub_access(SVD_XT, None, timeout_s=5, auth_check=hub_answering(_hub_error(GatedRepoError, 403))))
    assert message.startswith("no access")
    assert f"https://huggingface.co/{SVD_XT}" in message

    missing = hub_answering(_hub_error(RepositoryNotFoundError, 404))
    assert str(hub_access("someone/missing", None, timeout_s=5, auth_check=missing)).startswith("not found")

    no_network = hub_answering(OSError("[Errno -2] Name or service not known"))
    with pytest.raises(HubUnreachable, match="offline"):
        hub_access(SVD_XT, None, timeout_s=5, auth_check=no_network)


@pytest.fixture
def hanging_hub() -> Iterator[Callable[[str, str | None], object]]:
    """An ``auth_check`` that never answers (until the test is over)."""
    release = threading.Event()
    yield lambda repo_id, token: release.wait(10)
    release.set()


def test_default_hub_check_gives_up_after_the_timeout(hanging_hub) -> None:
    with pytest.raises(HubUnreachable, match="no answer in 0.2 s"):
        hub_access(SVD_XT, None, timeout_s=0.2, auth_check=hanging_hub)


# --- torch and GPUs -------------------------------------------------------------------------------------


def test_diffusers_backend_without_a_gpu_says_how_to_go_on(make_settings) -> None:
    checks = doctor_checks(
        make_settings(local_backend="diffusers"), hub_check=lambda repo, token: None, import_torch=NO_GPU
    )
    found = by_name(checks)

    assert found["CUDA"].ok is False
    assert found["CUDA"].detail.startswith("no CUDA GPU visible")
    fix = found["CUDA"].fix
    assert "LOCAL_BACKEND" in fix and "cloud" in fix.lower()
    assert "CUDA_VISIBLE_DEVICES" in fix and "GPUS" in fix and "driver" in fix
    assert not any(name.startswith("GPU ") for name in found)
    assert "✗ CUDA: no CUDA GPU visible" in render_checks(ENGLISH, checks)


def test_no_gpu_is_fine_when_simulated_or_cloud_only(make_settings) -> None:
    assert by_name(doctor_checks(make_settings(), import_torch=NO_GPU))["CUDA"].ok is None
    cloud = by_name(doctor_checks(make_settings(local_backend="diffusers", gpus="none"), import_torch=NO_GPU))
    assert cloud["CUDA"].ok is None
    assert cloud["Model access: svd-xt"].ok is None


def test_each_gpu_is_reported_and_one_short_of_memory_is_flagged(make_settings) -> None:
    two_h100s = torch_with(("NVIDIA H100 80GB", 71.2, 79.1), ("NVIDIA H100 80GB", 3.0, 79.1))
    settings = make_settings(local_backend="diffusers")
    found = by_name(doctor_checks(settings, hub_check=lambda repo, token: None, import_torch=two_h100s))

    assert found["CUDA"].ok is True
    assert found["CUDA"].detail.startswith("2 GPUs: 2 × NVIDIA H100 80GB")
    assert found["GPU 0"] == Check("GPU 0", True, "NVIDIA H100 80GB, 79.1 GiB total, 71.2 GiB free")
    assert found["GPU 1"].ok is False
    assert "3.0 GiB free" in found["GPU 1"].detail
    assert "10 GiB" in found["GPU 1"].fix
    assert "GPUS=0" in found["GPU 1"].fix


def test_the_gpus_setting_picks_the_gpus_checked(make_settings) -> None:
    two_gpus = torch_with(("GPU A", 40.0, 48.0), ("GPU B", 20.0, 24.0))
    settings = make_settings(local_backend="diffusers", gpus="1")
    found = by_name(doctor_checks(settings, hub_check=lambda r, t: None, import_torch=two_gpus))
    assert "GPU 0" not in found
    assert found["GPU 1"].ok is True
    assert "GPUS=1 picks 1 of 2 visible" in found["CUDA"].detail

    settings = make_settings(local_backend="diffusers", gpus="5")
    found = by_name(doctor_checks(settings, hub_check=lambda r, t: None, import_torch=two_gpus))
    assert found["CUDA"].ok is False
    assert "GPUS=5" in found["CUDA"].detail


def no_torch() -> Any:
    raise ModuleNotFoundError("No module named 'torch'", name="torch")


def test_missing_torch_is_a_problem_only_when_local_gpus_are_wanted(make_settings) -> None:
    settings = make_settings(local_backend="diffusers")
    found = by_name(doctor_checks(settings, hub_check=lambda r, t: None, import_torch=no_torch))
    assert found["torch"].ok is False
    assert "pip install 'reelbot[local]'" in found["torch"].fix
    assert "cloud-only" in found["torch"].fix
    assert found["CUDA"].ok is None
    assert "diffusers" not in found
    assert found["Database"].ok is True

    assert by_name(doctor_checks(make_settings(), import_torch=no_torch))["torch"].ok is None


def test_a_torch_that_fails_to_import_says_to_reinstall_it(make_settings) -> None:
    def broken_torch() -> Any:
        raise OSError("libcudart.so.12: cannot open shared object file")

    settings = make_settings(local_backend="diffusers")
    found = by_name(doctor_checks(settings, hub_check=lambda r, t: None, import_torch=broken_torch))
    assert found["torch"] == Check(
        "torch",
        False,
        "installed but fails to import: libcudart.so.12: cannot open shared object file",
        fix=(
            "pip install --force-reinstall torch "
            "(the build for your CUDA: https://pytorch.org/get-started/locally/)"
        ),
    )
    assert found["CUDA"].ok is None


# --- data folder and robustness -------------------------------------------------------------------------


def test_low_disk_space_is_a_problem(make_settings) -> None:
    def nearly_full(_folder: Path) -> DiskUsage:
        return DiskUsage(100 * GIB, 98 * GIB, 2 * GIB)

    found = by_name(doctor_checks(make_settings(), disk_usage=nearly_full))
    assert found["Data folder"].ok is False
    assert "2.0 GiB free" in found["Data folder"].detail
    assert "DATA_DIR" in found["Data folder"].fix


def test_a_data_dir_that_is_a_file_is_a_problem(make_settings, tmp_path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    found = by_name(
        doctor_checks(make_settings(data_dir=blocker, database_url=f"sqlite:///{tmp_path / 'db' / 'r.db'}"))
    )
    assert found["Data folder"].ok is False
    assert "DATA_DIR" in found["Data folder"].fix
    assert found["Database"].ok is True


def test_a_crashing_check_becomes_a_problem_line(make_settings) -> None:
    def crash(settings: Settings, probes: Any) -> Check:
        raise RuntimeError("kaboom")

    steps = [replace(step, run=crash) if str(step.name) == "Video encoder" else step for step in CHECKS]
    checks = doctor_checks(make_settings(), checks=steps)
    found = by_name(checks)
    assert found["Video encoder"].ok is False
    assert "kaboom" in found["Video encoder"].detail
    assert found["Data folder"].ok is True
    assert str(checks[-1].name) == "Data folder"


def test_render_marks_fixes_and_summary() -> None:
    text = render_checks(
        ENGLISH,
        [
            Check("A", True, "fine"),
            Check("B", False, "broken", fix="do this"),
            Check("C", None, "skipped", fix="maybe that"),
            Check("D", False, "also\nbroken"),
        ]
    )
    assert text.splitlines() == [
        "✓ A: fine",
        "✗ B: broken",
        "    fix: do this",
        "– C: skipped",
        "    fix: maybe that",
        "✗ D: also broken",
        "2 problems",
    ]
    assert render_checks(ENGLISH, [Check("A", False, "x")]).splitlines()[-1] == "1 problem"
    assert render_checks(ENGLISH, [Check("A", True, "x"), Check("B", None, "y")]).splitlines()[-1] == "All good."


# --- cloud provider keys, asked of the providers themselves (their fakes) --------------------------------


async def test_provider_keys_are_checked_with_the_providers(make_settings) -> None:
    import asyncio

    from tests.fakes.providers.fal import FakeFal
    from tests.fakes.providers.replicate import FakeReplicate
    from tests.fakes.providers.runway import FakeRunway
    from tests.fakes.providers.stability import FakeStability
    from tests.fakes.providers.veo import FakeVeo

    fakes = [await cls().start() for cls in (FakeReplicate, FakeRunway, FakeStability, FakeVeo, FakeFal)]
    replicate, runway, stability, veo, fal = fakes
    try:
        settings = make_settings(
            replicate_api_token=replicate.key, replicate_base_url=replicate.url,
            runwayml_api_secret="key_revoked", runwayml_base_url=runway.url,
            stability_api_key=stability.key, stability_base_url=stability.url,
            gemini_api_key=veo.key, gemini_base_url=veo.url,
            fal_key=fal.key, fal_base_url="http://127.0.0.1:9",  # nothing listens there
        )
        found = by_name(await asyncio.to_thread(doctor_checks, settings, hub_check=lambda repo, token: None,
                                                   timeout_s=5))
    finally:
        for fake in fakes:
            await fake.stop()
    assert found["replicate key"].ok is True
    assert found["replicate key"].detail.startswith("set, works (account reelbot-owner); ")
    assert "text-to-video: zeroscope ≈ $0.043" in found["replicate key"].detail
    assert found["runway key"].ok is False
    assert "refused the API key (HTTP 401" in found["runway key"].detail
    assert "RUNWAYML_API_SECRET" in found["runway key"].fix
    assert found["stability key"].detail.startswith("set, works (42.5 credits left)")
    assert found["veo key"].detail.startswith("set, works (veo-3.0-fast-generate-001 available)")
    assert found["fal key"].ok is True and "no key check" in found["fal key"].detail
    assert "key_revoked" not in render_checks(ENGLISH, list(found.values()))


# --- the /status chart's font ---------------------------------------------------------------------------


@pytest.fixture
def fresh_fonts():
    from bot import fonts

    fonts.chart_font.cache_clear()
    yield fonts
    fonts.chart_font.cache_clear()


def test_the_chart_font_is_named_when_one_with_hangul_is_found(make_settings, fresh_fonts) -> None:
    if fresh_fonts.chart_font().path is None:
        pytest.skip("no font with Hangul on this machine (apt-get install fonts-noto-cjk; .ci/run installs it)")
    found = by_name(doctor_checks(make_settings()))["Chart font"]
    assert found.ok is True and fresh_fonts.chart_font().path in found.detail


def test_no_chart_font_says_what_to_install_without_counting_as_a_problem(make_settings, fresh_fonts,
                                                                          monkeypatch) -> None:
    monkeypatch.setattr(fresh_fonts, "_candidates", lambda: iter(()))
    found = by_name(doctor_checks(make_settings()))["Chart font"]
    assert found.ok is None and "boxes" in found.detail
    assert "apt-get install fonts-noto-cjk" in found.fix and "CHART_FONT" in found.fix


def test_a_chart_font_without_hangul_is_a_problem(make_settings, fresh_fonts, tmp_path) -> None:
    if fresh_fonts.chart_font().path is None:
        pytest.skip("no font with Hangul on this machine to fall back to")
    fresh_fonts.chart_font.cache_clear()
    latin = tmp_path / "latin.ttf"
    latin.write_bytes(b"not a font")
    found = by_name(doctor_checks(make_settings(chart_font=latin)))["Chart font"]
    assert found.ok is False and str(latin) in found.detail and "CHART_FONT" in found.fix


# --- languages --------------------------------------------------------------------------------------------


def test_the_report_is_worded_in_the_operators_language(make_settings) -> None:
    checks = doctor_checks(make_settings(database_url="postgres://u:p@127.0.0.1:1/x"))
    lines = render_checks(words("ko"), checks).splitlines()

    assert "– Discord 토큰: 설정되지 않음 (Discord 프런트엔드는 시작하지 않아요)" in lines
    assert ("    해결 방법: 시작하려면 .env에 DISCORD_TOKEN 값을 설정하세요. 토큰은 "
            "https://discord.com/developers/applications > 내 앱 > Bot > Reset Token에서 받을 수 있어요.") in lines
    assert "✗ 데이터베이스: postgres:// 라는 데이터베이스 종류는 없어요" in lines
    assert "    해결 방법: URL을 postgres://가 아니라 postgresql://...로 써 주세요." in lines
    assert any(line.startswith("✓ 데이터 폴더: ") and line.endswith("(남은 공간 100.0 GiB)") for line in lines)
    assert lines[-1].startswith("문제 ") and lines[-1].endswith("개")
    assert not any("fix:" in line or "not set" in line for line in lines)


def test_the_languages_line_says_what_is_spoken_and_chosen(make_settings) -> None:
    unset = by_name(doctor_checks(make_settings()))["Languages"]
    assert unset.ok is True
    assert unset.detail.startswith("English (en), 한국어 (ko); DEFAULT_LANGUAGE is not set")

    chosen = doctor_checks(make_settings(default_language="ko"))
    assert by_name(chosen)["Languages"].detail.startswith("English (en), 한국어 (ko); DEFAULT_LANGUAGE=ko")
    assert any(line.startswith("✓ 언어: English (en), 한국어 (ko); DEFAULT_LANGUAGE=ko")
               for line in render_checks(words("ko"), chosen).splitlines())


def test_the_languages_line_names_the_time_zone_where_there_is_one() -> None:
    from reelbot.doctor.languages import languages

    check = languages(SimpleNamespace(default_language="ko", timezone="Asia/Seoul"))  # type: ignore[arg-type]
    assert str(check.detail).endswith("; DEFAULT_LANGUAGE=ko; TIMEZONE=Asia/Seoul")


# --- the web console ------------------------------------------------------------------------------------


def test_the_web_console_check_says_who_can_sign_in_and_whether_safely(make_settings) -> None:
    from reelbot.doctor.frontends import web_console

    local = english(web_console(make_settings()))
    assert local.ok is True and local.detail.startswith("http://127.0.0.1:8765, this computer only")
    assert english(web_console(make_settings(web_enabled=False))).ok is None
    nobody = english(web_console(make_settings(web_host="0.0.0.0")))
    assert nobody.ok is False and "nobody can sign in" in nobody.detail and "WEB_PASSWORD" in nobody.fix
    plain = english(web_console(make_settings(web_host="0.0.0.0", web_password="pw")))
    assert plain.ok is False and "without https" in plain.detail and "WEB_PUBLIC_URL=https://" in plain.fix
    proxied = english(web_console(make_settings(web_host="0.0.0.0", web_password="pw",
                                                web_public_url="https://bot.example.com")))
    assert proxied.ok is True and proxied.detail == "https://bot.example.com, sign-in: WEB_PASSWORD"
    half = english(web_console(make_settings(discord_client_id="123")))
    assert half.ok is False and "DISCORD_CLIENT_SECRET" in half.detail


# --- the right torch for the card (reelbot.gpu_fit), at the torch / NVML / nvidia-smi edge ----------------

CU124_ARCHS = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]  # torch 2.5.1+cu124
CU128_ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]  # torch 2.7.0+cu128
RTX_5070 = ("NVIDIA GeForce RTX 5070", (12, 0))
WHL = "--force-reinstall torch --index-url https://download.pytorch.org/whl/"


def torch_build(build: str | None, archs: list[str], *gpus: tuple[str, tuple[int, int]],
                sees_gpus: bool = True) -> Callable[[], Any]:
    """``import_torch`` for a torch built for CUDA ``build`` (None: CPU-only) with kernels for ``archs``, on a
    machine with these GPUs (name, capability), 11 of 12 GiB free each. ``sees_gpus=False``: torch cannot
    use them (a CPU-only build, a driver too old)."""
    seen = gpus if build and sees_gpus else ()
    cuda = SimpleNamespace(
        is_available=lambda: bool(seen),
        device_count=lambda: len(seen),
        get_device_name=lambda i: seen[i][0],
        get_device_capability=lambda i: seen[i][1],
        get_arch_list=lambda: list(archs) if seen else [],  # as torch: [] when CUDA is not available
        mem_get_info=lambda i: (11 * GIB, 12 * GIB),
    )
    tag = "cu" + build.replace(".", "") if build else "cpu"
    torch = SimpleNamespace(__version__=f"2.7.0+{tag}", version=SimpleNamespace(cuda=build), cuda=cuda)
    return lambda: torch


def nvml_seeing(*gpus: tuple[str, tuple[int, int]], driver: str, cuda: int) -> Callable[[], Any]:
    """A ``pynvml`` module (nvidia-ml-py) answering as NVML does on a machine with these GPUs and driver;
    ``cuda`` as nvmlSystemGetCudaDriverVersion gives it (12080 for 12.8)."""
    nvml = SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: len(gpus),
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetName=lambda handle: gpus[handle][0],
        nvmlDeviceGetCudaComputeCapability=lambda handle: gpus[handle][1],
        nvmlSystemGetDriverVersion=lambda: driver,
        nvmlSystemGetCudaDriverVersion=lambda: cuda,
    )
    return lambda: nvml


def no_nvml() -> Any:
    raise ModuleNotFoundError("No module named 'pynvml'", name="pynvml")


def no_nvidia_smi(args: Any) -> str:
    raise FileNotFoundError("nvidia-smi")


def nvidia_smi_seeing(name: str, cap: str, driver: str, cuda: str) -> Callable[[Any], str]:
    """``nvidia-smi`` as it answers with one GPU: -L, the plain table, and --query-gpu=compute_cap."""
    def run(args: Any) -> str:
        if list(args) == ["-L"]:
            return f"GPU 0: {name} (UUID: GPU-5f0c2b0e-1111-2222-3333-444455556666)\n"
        if not args:
            return (f"| NVIDIA-SMI {driver}   Driver Version: {driver}   CUDA Version: {cuda}     |\n"
                    f"|   0  {name}   Off |   00000000:01:00.0  On |   N/A |\n")
        return f"{cap}\n"
    return run


def machine(nvml: Callable[[], Any] = no_nvml, smi: Callable[[Any], str] = no_nvidia_smi) -> Callable[[], Any]:
    from reelbot.gpu_fit import find_nvidia

    return lambda: find_nvidia(load_nvml=nvml, run_smi=smi)


RTX_5070_DESKTOP = machine(nvml_seeing(RTX_5070, driver="581.57", cuda=13000))  # the Windows PC


def torch_line(import_torch: Callable[[], Any], nvidia: Callable[[], Any], os_name: str, **settings: Any) -> Check:
    settings.setdefault("local_backend", "diffusers")
    checks = doctor_checks(Settings(_env_file=None, **settings), hub_check=lambda r, t: None,  # type: ignore[arg-type]
                           key_check=lambda s: {}, import_torch=import_torch, find_nvidia=nvidia,
                           os_name=lambda: os_name, checks=[step for step in CHECKS if str(step.name) == "torch"])
    (check,) = checks
    return check


def test_a_cpu_only_torch_on_a_pc_with_an_rtx_5070_says_which_wheel_to_install(tmp_path) -> None:
    cpu_torch = torch_build(None, [])
    on_windows = torch_line(cpu_torch, RTX_5070_DESKTOP, "Windows", data_dir=tmp_path)
    assert english(on_windows) == Check(
        "torch", False,
        "2.7.0+cpu (CPU-only build); torch 2.7.0+cpu is a CPU-only build, but this computer has an NVIDIA GPU "
        "(NVIDIA GeForce RTX 5070): it goes unused",
        fix=r"Install the CUDA build of torch: .venv\Scripts\python -m pip install " + WHL + "cu128",
    )
    on_linux = torch_line(cpu_torch, RTX_5070_DESKTOP, "Linux", data_dir=tmp_path)
    assert english(on_linux).fix == "Install the CUDA build of torch: .venv/bin/pip install " + WHL + "cu128"

    lines = render_checks(words("ko"), [on_windows]).splitlines()
    assert lines[0].startswith("✗ torch: 2.7.0+cpu (CPU 전용 빌드); torch 2.7.0+cpu는 CPU 전용 빌드인데")
    assert lines[1] == (r"    해결 방법: CUDA 빌드 torch를 설치하세요: .venv\Scripts\python -m pip install " + WHL + "cu128")


def test_nvidia_smi_is_asked_when_nvml_is_not_there_and_an_older_card_gets_a_wheel_its_driver_runs(tmp_path):
    rtx_3060 = machine(smi=nvidia_smi_seeing("NVIDIA GeForce RTX 3060", "8.6", "550.120", "12.4"))
    found = english(torch_line(torch_build(None, []), rtx_3060, "Linux", data_dir=tmp_path))
    assert found.ok is False and "NVIDIA GPU (NVIDIA GeForce RTX 3060)" in found.detail
    assert found.fix == "Install the CUDA build of torch: .venv/bin/pip install " + WHL + "cu124"


def test_a_cu124_build_has_no_kernels_for_sm_120_and_a_cu128_one_does(tmp_path) -> None:
    cu124 = torch_build("12.4", CU124_ARCHS, RTX_5070)
    found = english(torch_line(cu124, RTX_5070_DESKTOP, "Windows", data_dir=tmp_path))
    assert found.ok is False
    assert found.detail == (
        "2.7.0+cu124 (CUDA 12.4 build); torch 2.7.0+cu124 (CUDA 12.4) has no kernels for GPU 0 "
        "NVIDIA GeForce RTX 5070 (sm_120); its build stops at sm_90"
    )
    assert found.fix == (r"Install the build for this card (CUDA 12.8 or newer for RTX 50-series): "
                         r".venv\Scripts\python -m pip install " + WHL + "cu128")
    linux = english(torch_line(cu124, RTX_5070_DESKTOP, "Linux", data_dir=tmp_path))
    assert linux.fix.endswith(": .venv/bin/pip install " + WHL + "cu128")

    gtx_1080 = ("NVIDIA GeForce GTX 1080", (6, 1))  # Pascal: cu128 builds start at sm_75, cu126 has sm_50 up
    pascal = machine(nvml_seeing(gtx_1080, driver="560.94", cuda=12060))
    older = english(torch_line(torch_build("12.8", CU128_ARCHS, gtx_1080), pascal, "Linux", data_dir=tmp_path))
    assert older.ok is False and "GPU 0 NVIDIA GeForce GTX 1080 (sm_61); its build stops at sm_120" in older.detail
    assert older.fix == "Install a build with kernels for this card: .venv/bin/pip install " + WHL + "cu126"

    # The driver is measured against the build to install: an old one is updated first.
    old_driver = machine(nvml_seeing(RTX_5070, driver="551.86", cuda=12040))
    both_fixes = english(torch_line(cu124, old_driver, "Windows", data_dir=tmp_path))
    assert "the NVIDIA driver 551.86 supports CUDA up to 12.4, older than the CUDA 12.8 the build for this card " \
           "needs" in both_fixes.detail
    assert both_fixes.fix.startswith("Update the NVIDIA driver to 570 or newer")
    assert both_fixes.fix.endswith(". Then: Install the build for this card (CUDA 12.8 or newer for RTX 50-series): "
                                   r".venv\Scripts\python -m pip install " + WHL + "cu128")

    good = torch_line(torch_build("12.8", CU128_ARCHS, RTX_5070), RTX_5070_DESKTOP, "Windows", data_dir=tmp_path)
    assert english(good) == Check("torch", True, "2.7.0+cu128 (CUDA 12.8 build)")


def test_which_builds_cover_which_cards() -> None:
    from reelbot.gpu_fit import covers

    assert not covers(CU124_ARCHS, (12, 0))
    assert covers(CU128_ARCHS, (12, 0))
    assert covers(CU124_ARCHS, (8, 9))  # sm_86 machine code runs on 8.x from 8.6 up (an RTX 4090 is 8.9)
    assert not covers(["sm_86"], (9, 0)) and not covers(["sm_86"], (8, 0))
    assert covers(["sm_80", "compute_90"], (12, 0))  # PTX is compiled by the driver for newer cards
    assert not covers(["compute_90"], (8, 6))
    assert covers(["sm_90a"], (9, 0)) and not covers(["sm_90a"], (12, 0))  # arch-specific: that card only


def test_a_driver_older_than_the_build_says_which_driver_to_install(tmp_path) -> None:
    old_driver = machine(nvml_seeing(("NVIDIA GeForce RTX 4070", (8, 9)), driver="535.183.01", cuda=12020))
    cu128_unseen = torch_build("12.8", CU128_ARCHS, ("NVIDIA GeForce RTX 4070", (8, 9)), sees_gpus=False)
    linux = english(torch_line(cu128_unseen, old_driver, "Linux", data_dir=tmp_path))
    assert linux.ok is False
    assert linux.detail.endswith("; the NVIDIA driver 535.183.01 supports CUDA up to 12.2, older than the CUDA 12.8 "
                                 "this torch needs")
    assert linux.fix == ("Update the NVIDIA driver to 570 or newer (R570 is the first with CUDA 12.8): on Ubuntu "
                         "`sudo apt install nvidia-driver-570`, elsewhere https://www.nvidia.com/Download/index.aspx; "
                         "then restart.")
    windows = english(torch_line(cu128_unseen, old_driver, "Windows", data_dir=tmp_path))
    assert windows.fix == ("Update the NVIDIA driver to 570 or newer (R570 is the first with CUDA 12.8): "
                           "https://www.nvidia.com/Download/index.aspx or the NVIDIA app, then restart Windows.")
    assert "sudo" not in windows.fix
    korean = render_checks(words("ko"), [torch_line(cu128_unseen, old_driver, "Linux", data_dir=tmp_path)])
    assert "`sudo apt install nvidia-driver-570`" in korean and "CUDA 12.8" in korean


def test_a_good_setup_and_one_that_needs_no_gpu_are_not_flagged(tmp_path) -> None:
    cpu_torch = torch_build(None, [])
    for settings in ({"gpus": "none"}, {"local_backend": "simulated"}):
        assert torch_line(cpu_torch, RTX_5070_DESKTOP, "Windows", data_dir=tmp_path, **settings).ok is True
    assert torch_line(cpu_torch, machine(), "Linux", data_dir=tmp_path).ok is True  # no NVIDIA GPU: the CUDA line
    ampere = machine(nvml_seeing(("NVIDIA A100-SXM4-80GB", (8, 0)), driver="550.54.15", cuda=12040))
    assert torch_line(torch_build("12.4", CU124_ARCHS, ("NVIDIA A100-SXM4-80GB", (8, 0))), ampere, "Linux",
                      data_dir=tmp_path).ok is True


def test_on_macos_local_gpus_are_not_possible_and_the_cloud_is_the_way(tmp_path) -> None:
    found = english(torch_line(torch_build(None, []), machine(), "Darwin", data_dir=tmp_path))
    assert found.ok is False and "macOS has no CUDA" in found.detail and "MPS" in found.detail
    assert "GPUS=none" in found.fix


def test_reelbot_run_warns_at_start_in_the_consoles_language(tmp_path) -> None:
    import asyncio
    from functools import partial

    from reelbot.app import App
    from reelbot.gpu_fit import startup_warnings

    async def start(import_torch: Callable[[], Any], **settings: Any) -> list[str]:
        settings.setdefault("local_backend", "diffusers")
        app = await App.open(Settings(_env_file=None, data_dir=tmp_path / "data", **settings),  # type: ignore[arg-type]
                             backends={}, lanes=[], lock=False)
        app.gpu_warnings = partial(startup_warnings, import_torch=import_torch, nvidia=RTX_5070_DESKTOP,
                                   system=lambda: "Windows")
        said: list[str] = []
        try:
            await app.start(say=lambda line: said.append(words("ko").text(line)))
        finally:
            await app.close()
        return said

    said = asyncio.run(start(torch_build("12.4", CU124_ARCHS, RTX_5070)))
    assert said == [
        "GPU 경고: torch 2.7.0+cu124 (CUDA 12.4)에는 GPU 0 NVIDIA GeForce RTX 5070 (sm_120)용 커널이 없어요. "
        "이 빌드는 sm_90까지만 지원해요. 해결 방법: 이 카드용 빌드를 설치하세요 (RTX 50 시리즈는 CUDA 12.8 이상): "
        r".venv\Scripts\python -m pip install " + WHL + "cu128"
    ]
    assert asyncio.run(start(torch_build("12.8", CU128_ARCHS, RTX_5070))) == []

    def must_not_import() -> Any:
        raise AssertionError("torch was imported with no local GPU wanted")

    assert asyncio.run(start(must_not_import, gpus="none")) == []
    assert asyncio.run(start(must_not_import, local_backend="simulated")) == []
