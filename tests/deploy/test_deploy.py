"""deploy/ as an operator uses it: the compose file, the Dockerfiles and the systemd units must name only
real settings and commands, give every GPU its own worker, and share the files workers and front end need."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from reelbot.cli import _parser
from reelbot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS = {name.upper() for name in Settings.model_fields} | {"HUGGINGFACE_HUB_TOKEN"}
ENV_EXAMPLE = (ROOT / ".env.example").read_text()


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_runs_postgres_a_front_end_and_one_worker_per_gpu() -> None:
    services = compose()["services"]
    workers = {name: svc for name, svc in services.items() if name.startswith("worker")}
    assert {"postgres", "frontend"} <= set(services) and len(workers) >= 2
    gpus = []
    for svc in workers.values():
        [device] = svc["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
        gpus += device["device_ids"]
        args = _parser().parse_args(svc["command"][1:])
        assert args.command == "worker"
        assert "data:/data" in svc["volumes"] and "models:/models" in svc["volumes"]
    assert len(gpus) == len(set(gpus)), "two workers share a GPU"
    assert "data:/data" in services["frontend"]["volumes"]  # uploads and results: one share for all
    assert services["frontend"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_sets_only_real_settings_and_documents_what_it_reads() -> None:
    services = compose()["services"]
    for name in ("frontend", *[n for n in services if n.startswith("worker")]):
        unknown = set(services[name]["environment"]) - SETTINGS
        assert unknown == set(), f"{name} sets {unknown}, which reelbot does not read"
        assert services[name]["environment"]["QUEUE"] == "procrastinate"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://")
    text = (DEPLOY / "compose.yaml").read_text()
    for var in set(re.findall(r"\$\{(\w+)", text)):
        assert var in SETTINGS or var in ENV_EXAMPLE, f"{var} is not documented in .env.example"


def test_dockerfiles_copy_what_exists_and_run_real_commands() -> None:
    for name in ("Dockerfile", "Dockerfile.worker"):
        text = (DEPLOY / name).read_text()
        for line in re.findall(r"^COPY (.+)$", text, re.M):
            for source in line.split()[:-1]:
                assert (ROOT / source).exists(), f"{name} copies {source}, which does not exist"
        cmd = re.search(r'^CMD (\[.*\])$', text, re.M)
        assert cmd is not None
        argv = yaml.safe_load(cmd.group(1))
        assert argv[0] == "reelbot" and _parser().parse_args(argv[1:]).command in ("run", "worker")
        for env in re.findall(r"^ENV (.+)$", text, re.M):
            for key in re.findall(r"(\w+)=", env):
                assert key in SETTINGS | {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "DEBIAN_FRONTEND", "PATH"}
    assert "torch" not in (DEPLOY / "Dockerfile").read_text()  # the front end stays small


def test_systemd_units_start_real_commands() -> None:
    for unit in ("reelbot.service", "reelbot-worker@.service"):
        text = (DEPLOY / unit).read_text()
        [exec_start] = re.findall(r"^ExecStart=(.+)$", text, re.M)
        argv = shlex.split(exec_start.replace("%i", "0"))
        assert argv[0].endswith("/reelbot")
        assert _parser().parse_args(argv[1:]).command in ("run", "worker")
        assert "KillSignal=SIGTERM" in text


def test_both_images_have_a_font_with_hangul_for_the_status_chart() -> None:
    """bot/fonts.py looks for Noto Sans CJK; without it the chart's Korean would be boxes."""
    for name in ("Dockerfile", "Dockerfile.worker"):
        installs = " ".join(re.findall(r"apt-get install ([^&]+)", (DEPLOY / name).read_text().replace("\\\n", " ")))
        assert "fonts-noto-cjk" in installs.split(), f"{name} installs no CJK font"


def test_the_worker_image_can_compile_and_keeps_the_compiled_kernels_on_its_volume() -> None:
    """LOCAL_COMPILE is on by default: Triton needs a C compiler and the Python headers in the image, and the
    kernels' cache must outlive the container (MODEL_CACHE_DIR on the /models volume)."""
    text = (DEPLOY / "Dockerfile.worker").read_text().replace("\\\n", " ")
    installs = " ".join(re.findall(r"apt-get install ([^&]+)", text)).split()
    base = re.search(r"^FROM (\S+)", text, re.M)
    assert base is not None
    assert "-devel" in base.group(1) or ({"gcc", "python3.11-dev"} <= set(installs)) or "build-essential" in installs
    cache = re.search(r"\bMODEL_CACHE_DIR=(\S+)", text)
    assert cache is not None
    volumes = yaml.safe_load(re.search(r"^VOLUME (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert any(Path(cache.group(1)).is_relative_to(v) for v in volumes)
    for name, svc in compose()["services"].items():
        if name.startswith("worker"):
            mounts = {v.split(":")[1] for v in svc["volumes"] if not v.startswith("data:")}
            assert any(Path(svc["environment"]["MODEL_CACHE_DIR"]).is_relative_to(m) for m in mounts), name


def test_systemd_units_keep_the_compiled_kernels_across_restarts() -> None:
    for unit in ("reelbot.service", "reelbot-worker@.service"):
        text = (DEPLOY / unit).read_text()
        [cache_dir] = re.findall(r"^CacheDirectory=(\S+)$", text, re.M)
        assert f"Environment=MODEL_CACHE_DIR=/var/cache/{cache_dir}" in text.splitlines()
