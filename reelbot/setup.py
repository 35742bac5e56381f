"""`reelbot setup`: a first run's look at this PC's GPU, and the `.env` settings that suit its memory.

It proposes, with a reason for each setting, and writes only when asked (``--write``). Writing never takes
a value the operator chose: a setting already in `.env` with a value of their own is kept (and said so);
only settings still at reelbot's default are updated, missing ones are appended, and the old file is kept
as `.env.bak`. The settings it proposes are the ones reelbot reads (:class:`reelbot.settings.Settings`);
the memory savers are those the local backend has: SVD-XT's ``decode_chunk_size`` and frame count through
``LOCAL_MODELS`` (CPU offload is the out-of-memory ladder's own next step, see engine/local/pipelines.py).

The GPU is asked of torch when it can see one, else of NVML, else of ``nvidia-smi`` (a CPU-only torch sees
no GPU the driver knows): each is passed in, so tests bring pretend ones.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.i18n import Words
from engine.local.registry import BUILTIN
from engine.words import N_, Text
from reelbot.settings import Settings

GIB = 2**30
# The smallest card's memory (GiB, as the driver reports it: a "12 GB" card shows about 11.9) picks the tier.
ROOMY_GIB = 19.0  # 20 GB and more: SVD-XT as it comes
MID_GIB = 14.5  # 16 GB: decode 4 frames at a time
SMALL_GIB = 11.0  # 12 GB (RTX 5070, 4070, 3060): decode 2 at a time, still 25 frames at 1024x576
LEAST_GIB = 7.0  # 8 GB: 14 frames, decoded 1 at a time; less: the cloud
CLOUD_KEYS = ("REPLICATE_API_TOKEN", "FAL_KEY", "STABILITY_API_KEY", "RUNWAYML_API_SECRET", "GEMINI_API_KEY")

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True, slots=True)
class Gpu:
    name: str
    total_gib: float

    @property
    def nominal_gb(self) -> int:
        """What the box says (12 for a card the driver reports as 11.9 GiB)."""
        return max(1, round(self.total_gib))


@dataclass(frozen=True, slots=True)
class Scan:
    """The NVIDIA GPUs found, who saw them, and whether the installed torch can use them."""

    gpus: tuple[Gpu, ...]
    seen_by: str = ""  # "torch", "NVML", "nvidia-smi"; "" when none was found
    torch_version: str | None = None  # None: torch is not installed
    torch_cuda: bool = False  # torch itself sees the GPUs (False with a CPU-only build)


# --- finding the GPU ------------------------------------------------------------------------------------


def scan_gpus(torch: Any | None, nvml: Any | None, run: Runner | None) -> Scan:
    """``torch``: the torch module (None if not installed); ``nvml``: pynvml (None if absent); ``run``:
    :func:`subprocess.run` to ask ``nvidia-smi`` (None: do not)."""
    version = str(torch.__version__) if torch is not None else None
    seen = _torch_gpus(torch) if torch is not None else []
    if seen:
        return Scan(tuple(seen), "torch", version, torch_cuda=True)
    for source, find in (("NVML", lambda: _nvml_gpus(nvml) if nvml is not None else []),
                         ("nvidia-smi", lambda: _smi_gpus(run) if run is not None else [])):
        found = find()
        if found:
            return Scan(tuple(found), source, version)
    return Scan((), "", version)


def scan_this_machine() -> Scan:
    """This PC, asked through the real torch, NVML and nvidia-smi, whichever are here."""
    torch, nvml = _module("torch"), _module("pynvml")
    return scan_gpus(torch, nvml, subprocess.run if shutil.which("nvidia-smi") else None)


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except Exception:  # not installed, or broken: the other sources may still see the card
        return None


def _torch_gpus(torch: Any) -> list[Gpu]:
    try:
        if not torch.cuda.is_available():
            return []
        found = []
        for index in range(int(torch.cuda.device_count())):
            props = torch.cuda.get_device_properties(index)
            found.append(Gpu(str(props.name), props.total_memory / GIB))
        return found
    except Exception:  # a driver too old for the build, a card in a bad state: ask the others
        return []


def _nvml_gpus(nvml: Any) -> list[Gpu]:
    try:
        nvml.nvmlInit()
    except Exception:  # no NVIDIA driver
        return []
    try:
        found = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            found.append(Gpu(name.decode() if isinstance(name, bytes) else str(name),
                             nvml.nvmlDeviceGetMemoryInfo(handle).total / GIB))
        return found
    except Exception:
        return []
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def _smi_gpus(run: Runner) -> list[Gpu]:
    try:
        done = run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                   capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    if done.returncode != 0:
        return []
    found = []
    for line in done.stdout.splitlines():
        name, _, mib = line.rpartition(",")
        try:
            found.append(Gpu(name.strip(), float(mib.strip()) / 1024))
        except ValueError:
            continue
    return found


# --- what to propose ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposed:
    key: str
    value: str
    why: Text


@dataclass(frozen=True, slots=True)
class Proposal:
    found: Text  # the GPU in one line
    settings: tuple[Proposed, ...]
    notes: tuple[Text, ...] = field(default=())


def propose(scan: Scan, settings: Settings) -> Proposal:
    """The settings that suit the smallest GPU found (every GPU runs the same model defaults)."""
    notes: list[Text] = []
    if not scan.gpus:
        found = N_("no NVIDIA GPU found")
        if scan.torch_version is not None and not scan.torch_cuda:
            found = N_("{found} (torch {version} sees none either)", found=found, version=scan.torch_version)
        return Proposal(found, _cloud(N_("there is no NVIDIA GPU here to make videos on")),
                        tuple(_cloud_notes(settings)))
    card = min(scan.gpus, key=lambda gpu: gpu.total_gib)
    names = ", ".join(f"{gpu.name} ({gpu.total_gib:.1f} GiB)" for gpu in scan.gpus)
    found = N_("{gpus}, seen by {source}", gpus=names, source=scan.seen_by)
    if len(scan.gpus) > 1:
        notes.append(N_("The defaults below fit the smallest card, {name}: every GPU runs the same models.",
                        name=card.name))
    if scan.seen_by != "torch":
        notes.append(N_("The torch installed here cannot use this GPU yet ({why}): run `reelbot doctor`, which "
                        "says which torch to install for it.",
                        why=N_("torch is not installed") if scan.torch_version is None else
                        N_("torch {version} does not see it", version=scan.torch_version)))
    if card.total_gib < LEAST_GIB:
        notes.extend(_cloud_notes(settings))
        return Proposal(found, _cloud(N_("{name} has {gb} GB, too little for the local video models "
                                                   "(8 GB or more)", name=card.name, gb=card.nominal_gb)),
                        tuple(notes))
    gb = card.nominal_gb
    proposed = [
        Proposed("LOCAL_BACKEND", "diffusers", N_("make videos on this GPU with the real models")),
        Proposed("GPUS", "auto", N_("use every NVIDIA GPU torch sees")),
    ]
    svd = BUILTIN["svd-xt"]
    if card.total_gib >= ROOMY_GIB:
        proposed.append(Proposed("DEFAULT_IMAGE_MODEL", "svd-xt", N_(
            "SVD-XT as it comes: {frames} frames at {width}x{height}, decoded {chunk} frames at a time; {gb} GB "
            "holds it", frames=svd.frames, width=svd.width, height=svd.height,
            chunk=svd.options["decode_chunk_size"], gb=gb)))
    else:
        proposed.append(Proposed("DEFAULT_IMAGE_MODEL", "svd-xt", N_(
            "SVD-XT animates pictures: the best image-to-video model that fits in {gb} GB", gb=gb)))
        if card.total_gib >= SMALL_GIB:
            chunk = 4 if card.total_gib >= MID_GIB else 2
            entry: dict[str, Any] = {"options": {**svd.options, "decode_chunk_size": chunk}}
            why = N_("SVD-XT keeps {frames} frames at {width}x{height} and decodes {chunk} frames at a time instead "
                     "of {usual}, to fit in {gb} GB", frames=svd.frames, width=svd.width, height=svd.height,
                     chunk=chunk, usual=svd.options["decode_chunk_size"], gb=gb)
        else:
            entry = {"frames": 14, "options": {**svd.options, "decode_chunk_size": 1}}
            why = N_("SVD-XT makes {frames} frames instead of {usual} (a 2-second clip) and decodes 1 frame at a "
                     "time, to fit in {gb} GB", frames=14, usual=svd.frames, gb=gb)
        proposed.append(Proposed("LOCAL_MODELS", json.dumps({"svd-xt": entry}), why))
        notes.append(N_("If a video still runs out of GPU memory, reelbot keeps part of the model in main memory "
                        "for that video (slower, same result) on its own."))
    proposed.append(Proposed("DEFAULT_TEXT_MODEL", "zeroscope", N_(
        "zeroscope makes videos from text in 8 GB; wan and ltx-video need 16 GB or more")
        if card.total_gib < MID_GIB else N_("zeroscope makes videos from text quickly; wan and ltx-video also fit "
                                              "here (pick them per video with --model)")))
    if settings.hf_token is None:
        notes.append(N_("SVD-XT's weights are gated: accept its licence on "
                        "https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1 and set HF_TOKEN "
                        "(a read token from https://huggingface.co/settings/tokens)."))
    return Proposal(found, tuple(proposed), tuple(notes))


def _cloud(why: Text) -> tuple[Proposed, ...]:
    return (Proposed("GPUS", "none", N_("{why}: videos are made by cloud providers, or as test patterns by the "
                                        "simulated GPU until a cloud key is set", why=why)),)


def _cloud_notes(settings: Settings) -> list[Text]:
    keys = [key for key in CLOUD_KEYS if getattr(settings, key.lower()) is not None]
    if settings.hf_token is not None and settings.hf_inference:
        keys.append("HF_TOKEN")
    if keys:
        return [N_("Cloud keys set: {keys}. Videos go to those providers.", keys=", ".join(keys))]
    return [N_("For real videos without a GPU, add a cloud provider's key to .env: {keys}, or HF_TOKEN with "
               "HF_INFERENCE=true (see .env.example).", keys=", ".join(CLOUD_KEYS))]


# --- .env -----------------------------------------------------------------------------------------------

LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


@dataclass(slots=True)
class Written:
    """What writing did to each proposed setting."""

    path: Path
    backup: Path | None = None
    created_from: Path | None = None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # (key, theirs, proposed)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def read_env(text: str) -> dict[str, tuple[int, str]]:
    """KEY (upper case, as reelbot reads them) -> (line index of its last assignment, its value)."""
    found: dict[str, tuple[int, str]] = {}
    for index, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("#"):
            continue
        match = LINE.match(line)
        if match:
            found[match[1].upper()] = (index, _unquote(match[2]))
    return found


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        inner = raw[1:-1]
        return inner if raw[0] == "'" else inner.replace('\\"', '"').replace("\\\\", "\\")
    if len(raw) >= 2 and raw[0] in "'\"" and raw[0] in raw[1:]:  # 'value'  # a comment
        return raw[1:raw.index(raw[0], 1)]
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def _quoted(value: str) -> str:
    return f"'{value}'" if re.search(r"[\s#\"'{}]", value) else value


def _is_default(key: str, value: str) -> bool:
    """A value the operator did not choose: empty (reelbot ignores it) or the setting's own default."""
    if not value.strip():
        return True
    info = Settings.model_fields.get(key.lower())
    return info is not None and str(info.default).lower() == value.strip().lower()


def _merged_models(theirs: str, proposed: str) -> str | None:
    """LOCAL_MODELS with the proposed entries under the operator's own (theirs win, field by field and in
    ``options`` key by key); None when theirs is not a JSON object (then it is theirs to fix)."""
    try:
        current = json.loads(theirs)
    except ValueError:
        return None
    if not isinstance(current, dict):
        return None
    merged = dict(current)
    for name, entry in json.loads(proposed).items():
        own = current.get(name)
        if not isinstance(own, dict):
            merged[name] = entry if own is None else own
            continue
        combined = {**entry, **own}
        if isinstance(entry.get("options"), dict) and isinstance(own.get("options"), dict):
            combined["options"] = {**entry["options"], **own["options"]}
        merged[name] = combined
    return json.dumps(merged)


def write_env(path: Path, proposal: Proposal, found: str) -> Written:
    """Put the proposal into the `.env` at ``path`` (see the module's docstring for what is kept)."""
    done = Written(path)
    if path.exists():
        text = path.read_text(encoding="utf-8-sig")
    elif (example := path.with_name(".env.example")).is_file():
        text, done.created_from = example.read_text(encoding="utf-8-sig"), example
    else:
        text = ""
    lines = text.splitlines()
    current = read_env(text)
    appended: list[str] = []
    for item in proposal.settings:
        if item.key not in current:
            appended.append(f"{item.key}={_quoted(item.value)}")
            done.added.append(item.key)
            continue
        index, theirs = current[item.key]
        value = item.value
        if item.key == "LOCAL_MODELS" and theirs.strip():
            merged = _merged_models(theirs, item.value)
            if merged is None:
                done.kept.append((item.key, theirs, item.value))
                continue
            value = merged
        elif not _is_default(item.key, theirs) and theirs != item.value:
            done.kept.append((item.key, theirs, item.value))
            continue
        if theirs == value or (item.key == "LOCAL_MODELS" and _same_json(theirs, value)):
            done.same.append(item.key)
            continue
        lines[index] = f"{item.key}={_quoted(value)}"
        done.updated.append(item.key)
    if not done.changed:
        return done
    if appended:
        if lines and lines[-1].strip():
            lines.append("")
        lines.append(f"# reelbot setup, for this PC: {found}")
        lines.extend(appended)
    if path.exists():
        done.backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, done.backup)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return done


def _same_json(first: str, second: str) -> bool:
    try:
        return bool(json.loads(first) == json.loads(second))
    except ValueError:
        return False


# --- saying it ------------------------------------------------------------------------------------------


def render_proposal(w: Words, proposal: Proposal, env: Path, *, writing: bool) -> str:
    lines = [w._("GPU: {found}", found=w.text(proposal.found)), "",
             w._("Settings for {env} that suit this PC:", env=str(env))]
    for item in proposal.settings:
        lines.append(f"  {item.key}={_quoted(item.value)}")
        lines.append("      " + w.text(item.why))
    for note in proposal.notes:
        lines += ["", w.text(note)]
    if not writing:
        lines += ["", w._("Nothing was written. To put these in {env}: reelbot setup --write (your own values "
                          "there are kept)", env=str(env))]
    return "\n".join(lines)


def render_written(w: Words, done: Written) -> str:
    if not done.changed:
        lines = [w._("{env} already has these settings: nothing to change.", env=str(done.path))]
    elif done.created_from is not None:
        lines = [w._("Wrote {env} (from {example}).", env=str(done.path), example=str(done.created_from))]
    elif done.backup is not None:
        lines = [w._("Wrote {env}; the old one is kept as {backup}.", env=str(done.path), backup=str(done.backup))]
    else:
        lines = [w._("Wrote {env}.", env=str(done.path))]
    if done.added:
        lines.append("  " + w._("added: {keys}", keys=w.join(done.added)))
    if done.updated:
        lines.append("  " + w._("updated: {keys}", keys=w.join(done.updated)))
    for key, theirs, proposed in done.kept:
        lines.append("  " + w._("kept your {key}={value} (proposed: {proposed}); change it by hand if you want "
                                "the proposal", key=key, value=theirs, proposed=proposed))
    return "\n".join(lines)


def setup(settings: Settings, w: Words, env: Path, *, write: bool, scan: Callable[[], Scan] = scan_this_machine,
          say: Callable[[str], None] = print) -> int:
    """`reelbot setup`: look, propose, and write ``env`` if asked. Returns the exit code."""
    proposal = propose(scan(), settings)
    say(render_proposal(w, proposal, env, writing=write))
    if not write:
        return 0
    try:
        done = write_env(env, proposal, str(proposal.found))
    except OSError as exc:
        say(w._("Could not write {env}: {why}", env=str(env), why=exc.strerror or str(exc)))
        return 2
    say("")
    say(render_written(w, done))
    return 0

