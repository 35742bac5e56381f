"""`reelbot`: run the bot, make one video, check the set-up, show the status.

Everything it tells the operator is in the terminal's language (``reelbot.languages.terminal_words``:
DEFAULT_LANGUAGE if set, else LANG); its --help stays English, as the options themselves are.

Exit codes: 0 done, 1 the job failed, 2 the request or set-up was refused (bad input, quota, no backend),
130 interrupted (the job was cancelled and nothing charged).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import signal
import socket
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import cli as cli_frontend
from bot.i18n import Words
from bot.render import progress_bar, status_text
from engine.errors import ReelbotError
from engine.events import Queued
from engine.router import BackendHealth
from engine.status import GpuStats, LaneStatus, StatusReport
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef
from engine.words import Text
from reelbot.app import App
from reelbot.languages import terminal_words, unsettled_words
from reelbot.logs import redact_secrets
from reelbot.metrics import serve_metrics
from reelbot.settings import Settings

log = logging.getLogger("reelbot")
SNAPSHOT = "status.json"
SNAPSHOT_EVERY_S = 5.0


def main(argv: list[str] | None = None) -> int:
    utf8_console()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        settings = Settings()
    except ValidationError as exc:
        print(_settings_error(unsettled_words(), exc), file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL, bot token included
    redact_secrets(settings)
    w = terminal_words(settings)
    try:
        return asyncio.run(args.handler(settings, args, w))
    except ReelbotError as exc:
        print("reelbot: " + cli_frontend.error_line(w, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelbot", description="Self-hosted AI video bot.")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run the engine and every front end whose token is set")
    run.set_defaults(handler=cmd_run)

    gen = sub.add_parser("generate", help="make one video from the terminal")
    gen.add_argument("--prompt", default="", help="what the video shows (optional with --image)")
    gen.add_argument("--image", type=Path, help="animate this picture (image-to-video)")
    gen.add_argument("--frames", type=int)
    gen.add_argument("--fps", type=int)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--steps", type=int)
    gen.add_argument("--portrait", action="store_true", help="tall video (e.g. 576x1024)")
    gen.add_argument("--width", type=int)
    gen.add_argument("--height", type=int)
    gen.add_argument("--negative", help="what the video should not show")
    gen.add_argument("--ar", help="aspect ratio: 16:9, 9:16, 1:1, 4:5 or 21:9")
    gen.add_argument("--motion", type=int, help="how much moves, 1 (almost still) to 10 (a lot); SVD only")
    gen.add_argument("--quality", help="fast, normal or best: the model's steps preset (--steps wins)")
    gen.add_argument("--model", help="model name or local folder")
    gen.add_argument("--provider", help="run on this backend only (e.g. local, replicate)")
    gen.add_argument("--out", type=Path, default=None,
                     help="where to write the mp4 (default: reelbot-<date>-<time>.mp4 here)")
    gen.set_defaults(handler=cmd_generate)

    worker = sub.add_parser("worker", help="distributed mode: run jobs from PostgreSQL on one GPU (or the cloud)")
    worker.add_argument("--gpu", default="0", help="CUDA index of the GPU to use (or cpu); default 0")
    worker.add_argument("--models", default="", help="comma list of the models it serves (default: all)")
    worker.add_argument("--cloud", action="store_true", help="a cloud-only worker: jobs with no local step")
    worker.add_argument("--concurrency", type=int, default=0, help="jobs at once (GPU: 1; cloud: 8)")
    worker.set_defaults(handler=cmd_worker)

    status = sub.add_parser("status", help="what /status shows: GPUs, queues, providers, spend")
    status.set_defaults(handler=cmd_status)

    doctor = sub.add_parser("doctor", help="check the set-up and say how to fix what is missing")
    doctor.set_defaults(handler=cmd_doctor)

    setup = sub.add_parser("setup", help="first run: find the GPU and propose the .env settings that suit it")
    setup.add_argument("--write", action="store_true",
                       help="write the proposal into the .env file (your own values there are kept; a backup "
                            "goes to .env.bak)")
    setup.add_argument("--env", type=Path, default=Path(".env"), help="the settings file (default: .env here)")
    setup.set_defaults(handler=cmd_setup)

    models = sub.add_parser("models", help="local model tools")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    tiny = models_sub.add_parser(
        "make-tiny", help="write tiny random-weight versions of every model family (for tests, no GPU)"
    )
    tiny.add_argument("dir", type=Path, help="one folder per model is written here: DIR/svd-xt, ...")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.set_defaults(handler=cmd_make_tiny)
    listed = models_sub.add_parser("list", help="each local model: what it makes, whether it reads the prompt, "
                                                "whether its weights are downloaded and their size")
    listed.set_defaults(handler=cmd_models_list)
    pull = models_sub.add_parser("pull", help="download a model's weights ahead of its first job (checks the free "
                                              "disk space first)")
    pull.add_argument("name", help="a model name, as `reelbot models list` shows it (e.g. svd-xt)")
    pull.set_defaults(handler=cmd_models_pull)
    return parser


# --- run ------------------------------------------------------------------------------------------------


async def cmd_run(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    app = await App.launch(settings, frontends=True, metrics=True, demo=True,
                           deliverers={cli_frontend.PLATFORM: cli_frontend.FileDeliverer()},
                           say=lambda line: print(w.text(line), flush=True))
    try:
        return await _serve(app, w)
    finally:
        await app.close()


async def _serve(app: App, w: Words) -> int:
    lanes = w.join(f"{lane.name} ({lane.label})" for lane in app.lanes) or w._("none")
    # flush: under systemd, docker or a pipe stdout is block-buffered and these lines would wait for the exit.
    print(w._("reelbot is running: GPUs: {gpus}; database: {database}. Ctrl-C stops it.", gpus=lanes,
              database=app.db.url.render_as_string(hide_password=True)), flush=True)
    snapshots = asyncio.get_running_loop().create_task(_write_snapshots(app))
    try:
        await until_signalled()
    finally:
        snapshots.cancel()
        await asyncio.gather(snapshots, return_exceptions=True)
        # A stopped bot's snapshot would make `reelbot status` show it as running for a while.
        with contextlib.suppress(OSError):  # on Windows, `reelbot status` may be reading it this moment
            (app.settings.data_dir / SNAPSHOT).unlink(missing_ok=True)
        print(w._("Stopping: running jobs will be resumed at the next start."), flush=True)
    return 0


async def until_signalled() -> None:
    """Wait for Ctrl-C (SIGINT), SIGTERM (systemd, docker stop) or, on Windows, Ctrl-Break (SIGBREAK): the
    one place signals are wired. Where the event loop cannot watch signals (Windows' ProactorEventLoop raises
    NotImplementedError), plain ``signal.signal`` handlers wake the loop thread-safely instead."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    by_loop: list[int] = []
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(stop.set)

    try:
        for sig in stop_signals():
            try:
                loop.add_signal_handler(sig, stop.set)
                by_loop.append(sig)
            except NotImplementedError:
                previous[sig] = signal.signal(sig, on_signal)
        await stop.wait()
    finally:
        for sig in by_loop:
            loop.remove_signal_handler(sig)
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def stop_signals() -> list[int]:
    """The signals that stop `reelbot run` and `reelbot worker` cleanly, on this platform."""
    found: list[int] = [signal.SIGINT, signal.SIGTERM]
    brk = getattr(signal, "SIGBREAK", None)  # Windows only: Ctrl-Break
    if brk is not None:
        found.append(brk)
    return found


def utf8_console() -> None:
    """Hangul and the progress bar must print on any console: where stdout or stderr cannot encode them
    (a Windows console or pipe in cp1252, an old locale), they are switched to UTF-8, replacing what still
    cannot be written rather than failing. Only real streams (those with ``reconfigure``) are touched."""
    sample = "한국어 " + progress_bar(1, 2)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            sample.encode(getattr(stream, "encoding", None) or "ascii")
        except (LookupError, UnicodeEncodeError):
            with contextlib.suppress(ValueError, OSError):
                reconfigure(encoding="utf-8", errors="replace")


async def _write_snapshots(app: App) -> None:
    """Keep data/status.json fresh so `reelbot status` in another shell can show live GPUs."""
    path = app.settings.data_dir / SNAPSHOT
    while True:
        try:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(snapshot(await app.service.report()))
            tmp.replace(path)
        except Exception:
            log.exception("could not write the status snapshot")
        await asyncio.sleep(SNAPSHOT_EVERY_S)


# --- generate -------------------------------------------------------------------------------------------


async def cmd_generate(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    image = None
    if args.image is not None:
        try:
            image = args.image.read_bytes()
        except OSError as exc:
            print("reelbot: " + w._("cannot read {path}: {why}.", path=args.image, why=exc.strerror), file=sys.stderr)
            return 2
    options = Options(
        frames=args.frames, fps=args.fps, seed=args.seed, steps=args.steps, portrait=args.portrait,
        width=args.width, height=args.height, negative_prompt=args.negative, model=args.model,
        provider=args.provider, aspect=args.ar, motion=args.motion, quality=args.quality,
    )
    app = await App.launch(settings, deliverers={cli_frontend.PLATFORM: cli_frontend.FileDeliverer()})
    try:
        out = (args.out or Path(f"reelbot-{time.strftime('%Y%m%d-%H%M%S')}.mp4")).resolve()
        operator = operator_name()
        request = SubmitRequest(
            user=UserRef(cli_frontend.PLATFORM, operator, operator),  # the operator: an admin
            prompt=args.prompt,
            origin=Origin(cli_frontend.PLATFORM, data={"out": str(out)}),
            options=options,
            image=image,
        )
        job = await app.service.submit(request)
        printer = cli_frontend.ProgressPrinter(job.id, words=w)
        app.service.subscribe(printer)
        await printer(Queued(job.id, cli_frontend.PLATFORM, job.position or 1, job.eta_s or 0.0))
        try:
            done = await app.service.wait(job.id)
        except asyncio.CancelledError:
            done = await app.service.cancel(request.user, job.id)
            print(cli_frontend.summary(w, done, out), file=sys.stderr)
            return 130
        print(cli_frontend.summary(w, done, out))
        return 0 if done.state is JobState.SUCCEEDED else 1
    finally:
        await app.close()


def operator_name() -> str:
    """Who runs the terminal (USER, LOGNAME or, on Windows, USERNAME); where none is set, the password
    database on POSIX; on a machine with neither, "operator"."""
    try:
        return getpass.getuser()
    except (ImportError, KeyError, OSError):  # Python < 3.13 raises ImportError (no pwd) on Windows
        return "operator"


# --- status and doctor ----------------------------------------------------------------------------------


async def cmd_worker(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    """One GPU (or cloud) worker of distributed mode, until SIGTERM or Ctrl-C."""
    from engine.distributed.queue import CLOUD_QUEUE, queue_for
    from engine.local.registry import load_registry
    from engine.warmup import WarmUps
    from reelbot.app import build_lanes, build_worker

    if not settings.distributed:
        print("reelbot: " + w._("`reelbot worker` is for distributed mode: set QUEUE=procrastinate and "
                                "DATABASE_URL to a PostgreSQL server every host can reach (one process needs no "
                                "workers: `reelbot run`)."), file=sys.stderr)
        return 2
    host = socket.gethostname()
    models = [m.strip() for m in args.models.split(",") if m.strip()] or sorted(load_registry(settings.local_models))
    if args.cloud:
        lanes, gpu, queues, concurrency = [], "cloud", [CLOUD_QUEUE], args.concurrency or 8
        name = f"{host}:cloud"
    else:
        index = 0 if args.gpu == "cpu" else int(args.gpu)
        lanes = build_lanes(settings, gpu=args.gpu, models=frozenset(models))
        if not lanes:
            print("reelbot: " + w._("there is no CUDA GPU {index} here (check --gpu and CUDA_VISIBLE_DEVICES).",
                                    index=index), file=sys.stderr)
            return 2
        [lane] = lanes
        name = f"{host}:gpu{index}"
        lane.name = name
        gpu, queues, concurrency = lane.label, [queue_for(m) for m in models], 1
    app = await App.open(settings, lanes=lanes, worker=True)
    worker = build_worker(app, name=name, host=host, gpu=gpu, models=models, queues=queues,
                          concurrency=concurrency)
    stop = asyncio.Event()
    signalled = asyncio.get_running_loop().create_task(until_signalled())
    signalled.add_done_callback(lambda _: stop.set())
    metrics = None
    if settings.metrics_port:
        metrics = await serve_metrics(app.service, settings)
    # Its GPU warms up (models loaded, default sizes compiled) before the worker takes its first job.
    warming = WarmUps(app.lanes, app.backends.values(), say=lambda line: print(line, flush=True))
    warming.start()
    try:
        warmed = asyncio.ensure_future(warming.wait())
        await asyncio.wait({warmed, signalled}, return_when=asyncio.FIRST_COMPLETED)
        warmed.cancel()
        if not stop.is_set():
            print(w._("reelbot worker {name} is running: {gpu}; queues: {queues}. Ctrl-C stops it.", name=name,
                      gpu=gpu, queues=w.join(queues)), flush=True)
            await worker.serve(stop)
    finally:
        await warming.stop()
        signalled.cancel()
        await asyncio.gather(signalled, return_exceptions=True)
        if metrics is not None:
            await metrics.close()
        await app.close()
    print(w._("Worker stopped: its job, if any, is queued again."), flush=True)
    return 0


async def cmd_status(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    app = await App.open(settings, lock=False)
    try:
        report = await app.service.report()
    finally:
        await app.close()
    report, live = _with_snapshot(report, settings.data_dir / SNAPSHOT)
    if not live:
        print(w._("reelbot is not running (GPUs below are as configured, idle)."))
    print(status_text(w, report))
    return 0


def snapshot(report: StatusReport) -> str:
    """The live GPUs and backends, as `reelbot status` in another shell reads them (:func:`_with_snapshot`)."""
    # Words keep their template, so `reelbot status` shows them in its own language.
    backends = [{**asdict(x), "problem": _said(x.problem), "last_error": _said(x.last_error)} for x in report.backends]
    return json.dumps({"written": time.time(), "lanes": [asdict(x) for x in report.lanes], "backends": backends})


def _said(words: Text | str | None) -> object:
    return words.to_json() if isinstance(words, Text) else words


def _words_of(stored: object) -> Text | str | None:
    return Text.from_json(stored) if stored else None


def _with_snapshot(report: StatusReport, path: Path) -> tuple[StatusReport, bool]:
    """Use the running engine's live GPU and backend view if it wrote one recently."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        data = json.loads(path.read_text())
        if time.time() - data["written"] < 3 * SNAPSHOT_EVERY_S:
            lanes = tuple(
                LaneStatus(**{**x, "warm_models": tuple(x["warm_models"]),
                              "stats": GpuStats(**x["stats"]) if x.get("stats") else None})
                for x in data["lanes"]
            )
            backends = tuple(
                BackendHealth(**{**x, "kinds": tuple(x["kinds"]), "problem": _words_of(x["problem"]),
                                 "last_error": _words_of(x["last_error"])})
                for x in data["backends"]
            )
            return replace(report, lanes=lanes, backends=backends), True
    return report, False


async def cmd_doctor(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    from reelbot.doctor import render_checks, run_checks

    checks = await asyncio.to_thread(run_checks, settings)
    print(render_checks(w, checks))
    return 1 if any(c.ok is False for c in checks) else 0


async def cmd_setup(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    from reelbot.setup import setup

    return await asyncio.to_thread(setup, settings, w, args.env, write=args.write)


async def cmd_make_tiny(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    from engine.local.tiny import FAMILIES, make_tiny

    for name in FAMILIES:
        folder = await asyncio.to_thread(make_tiny, name, args.dir / name, seed=args.seed)
        print(f"{folder}  ({name})")
    command = f"GPUS=cpu reelbot generate --image photo.png --model {args.dir / 'svd-xt'} --out tiny.mp4"
    print(w._("Try: {command}", command=command))
    return 0


async def cmd_models_list(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    from reelbot.models import cmd_list

    return await cmd_list(settings, w)


async def cmd_models_pull(settings: Settings, args: argparse.Namespace, w: Words) -> int:
    from reelbot.models import cmd_pull

    return await cmd_pull(settings, args.name, w)


def _settings_error(w: Words, exc: ValidationError) -> str:
    """What is wrong with the settings: each setting's name and pydantic's own (English) reason, in words
    of the terminal's language around them."""
    lines = ["reelbot: " + w._("the settings (environment or .env) have problems:")]
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]).upper()
        lines.append(f"  {name}: {err['msg']}")
    lines.append(w._("See .env.example for every setting and its meaning."))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
