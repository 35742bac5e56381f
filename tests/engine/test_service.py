"""The engine through its one API, as the front ends use it: submit, wait, cancel, status, events, outbox."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text

from bot.i18n import words
from engine.backends.simulated import SimulatedBackend
from engine.errors import (
    AlreadyFinished,
    BudgetExhausted,
    InvalidInput,
    Moderated,
    NotAllowed,
    OutOfMemory,
    QuotaExceeded,
    TransientError,
)
from engine.events import Ended, Event, Progress, Queued, Retrying, Started
from engine.types import JobKind, JobState, Options, Origin, Outcome, SubmitRequest, UserRef
from engine.video import probe
from tests.conftest import RecordingDeliverer, make_settings, open_app


def req(user: str = "u1", prompt: str = "a cat surfing", *, admin: bool = False,
        image: bytes | None = None, **options: Any) -> SubmitRequest:
    return SubmitRequest(
        UserRef("cli" if admin else "test", user, f"name-{user}"), prompt, Origin("test", chat_id="chat-1"),
        Options(**options), image,
    )


def cloud(name: str, usd: float, **kwargs: Any) -> SimulatedBackend:
    return SimulatedBackend(name, local=False, usd_per_run=usd, seconds=0.02, steps=2, **kwargs)


async def rows(app: Any, sql: str) -> list[tuple]:
    def query() -> list[tuple]:
        with app.db.transaction() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    return await asyncio.to_thread(query)


async def test_text_job_end_to_end_gives_an_mp4_one_delivery_and_balanced_books(app_factory):
    deliverer = RecordingDeliverer()
    app = await app_factory(deliverer=deliverer)
    view = await app.service.submit(req(frames=10, fps=5))
    assert view.state is JobState.QUEUED and view.kind is JobKind.TEXT_TO_VIDEO
    done = await app.service.wait(view.id)
    assert done.state is JobState.SUCCEEDED
    info = probe(done.result_path)
    assert (info.codec, info.pix_fmt, info.frames, info.fps) == ("h264", "yuv420p", 10, 5)
    assert [a.outcome for a in done.attempts] == [Outcome.SUCCEEDED]
    assert done.attempts[0].gpu_seconds > 0 and done.backend == "local" and done.model == "zeroscope"
    assert [j.id for j in deliverer.delivered] == [view.id]
    assert await app.repo.ledger_balance() == {view.id: 0}
    assert await app.repo.delivery_states([view.id]) == {view.id: ("delivered", 1)}


async def test_image_job_stores_the_upload_and_uses_the_image_model(app_factory):
    buf = io.BytesIO()
    Image.new("RGB", (640, 360), (200, 30, 30)).save(buf, format="JPEG")
    app = await app_factory()
    view = await app.service.submit(req(prompt="", image=buf.getvalue(), frames=6))
    done = await app.service.wait(view.id)
    assert done.kind is JobKind.IMAGE_TO_VIDEO and done.state is JobState.SUCCEEDED
    assert done.model == "svd-xt"
    with Image.open(app.settings.uploads_dir / f"{view.id}.png") as stored:
        assert stored.size == (640, 360) and stored.mode == "RGB"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_100_concurrent_submits_from_a_user_with_room_for_3_admit_exactly_3(
    database, tmp_path, request
):
    url = request.getfixturevalue("pg_url") if database == "postgresql" else ""
    settings = make_settings(tmp_path, database_url=url, max_queued_per_user=3, simulated_seconds=30)
    app = await open_app(settings)
    try:
        results = await asyncio.gather(*(app.service.submit(req()) for _ in range(100)),
                                       return_exceptions=True)
        admitted = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, QuotaExceeded)]
        assert len(admitted) == 3 and len(refused) == 97
        assert all(r.limit == "max_queued" and "limit is 3" in r.message for r in refused)
        assert await rows(app, "SELECT count(*) FROM jobs") == [(3,)]
        assert await rows(app, "SELECT count(*) FROM ledger WHERE kind = 'reserve'") == [(3,)]
    finally:
        await app.close()


async def test_daily_limit_says_when_the_user_can_try_again(app_factory):
    app = await app_factory(settings={"max_jobs_per_day": 2})
    for _ in range(2):
        await app.service.wait((await app.service.submit(req())).id)
    with pytest.raises(QuotaExceeded) as err:
        await app.service.submit(req())
    assert err.value.limit == "max_jobs_per_day" and "2 videos today" in err.value.message
    assert 0 < err.value.retry_after <= 86400 and "You can make more in" in err.value.hint
    usage = await app.service.usage(UserRef("test", "u1"))
    assert (usage.jobs_today, usage.max_jobs_per_day) == (2, 2)


async def test_refusals_carry_their_numbers_and_no_chat_commands(app_factory):
    """The engine serves the CLI and a web console too: it gives codes and numbers, the chat words them."""
    app = await app_factory(settings={"max_queued_per_user": 1}, backends={"local": SimulatedBackend("local", seconds=5)})
    await app.service.submit(req())
    with pytest.raises(QuotaExceeded) as full:
        await app.service.submit(req())
    with pytest.raises(InvalidInput) as empty:
        await app.service.submit(req(prompt=""))
    with pytest.raises(NotAllowed) as status:
        await app.service.status(UserRef("test", "u1"))
    assert (full.value.limit, full.value.used, full.value.allowed) == ("max_queued", 1, 1)
    assert (empty.value.field, empty.value.reason) == ("prompt", "missing")
    assert status.value.reason == "admins_only"
    for refused in (full.value, empty.value, status.value):
        assert "/" not in str(refused), str(refused)


async def test_monthly_dollars_are_reserved_charged_and_enforced(app_factory):
    app = await app_factory(
        backends={"runway": cloud("runway", 0.75)},
        settings={"chain_text_to_video": ["runway"], "max_usd_per_month": 2.0},
    )
    for _ in range(2):
        done = await app.service.wait((await app.service.submit(req())).id)
        assert (done.state, done.reserved_usd, done.charged_usd) == (JobState.SUCCEEDED, 0.75, 0.75)
    with pytest.raises(QuotaExceeded) as err:
        await app.service.submit(req())
    assert err.value.limit == "max_usd_per_month"
    assert "$0.75" in err.value.message and "$0.50" in err.value.message
    assert (await app.service.usage(UserRef("test", "u1"))).month_usd == pytest.approx(1.5)


async def test_a_user_who_cannot_afford_the_cloud_still_gets_the_free_local_gpu(app_factory):
    app = await app_factory(
        backends={
            "local": SimulatedBackend("local", seconds=0.02, failure=lambda n, job: OutOfMemory("CUDA OOM")),
            "runway": cloud("runway", 0.75),
        },
        settings={"chain_text_to_video": ["local", "runway"], "max_usd_per_month": 0.5},
        gpus=1,
    )
    view = await app.service.submit(req())
    assert view.reserved_usd == 0
    done = await app.service.wait(view.id)
    assert done.state is JobState.FAILED and [a.backend for a in done.attempts] == ["local"]
    assert done.charged_usd == 0


async def test_global_budget_stops_everyone_including_admins(app_factory):
    app = await app_factory(
        backends={"runway": cloud("runway", 0.75)},
        settings={"chain_text_to_video": ["runway"], "global_monthly_budget_usd": 1.0},
    )
    await app.service.wait((await app.service.submit(req("a"))).id)
    with pytest.raises(BudgetExhausted) as err:
        await app.service.submit(req("b", admin=True))
    assert "$1.00" in err.value.message and err.value.retry_after > 0


async def test_oom_then_429_then_success_three_attempts_one_charge_one_delivery(app_factory):
    deliverer = RecordingDeliverer()
    events: list[Event] = []
    app = await app_factory(
        backends={
            "local": SimulatedBackend("local", seconds=0.02, failure=lambda n, job: OutOfMemory(
                "CUDA out of memory.")),
            "replicate": cloud("replicate", 0.10, failure=lambda n, job: TransientError(
                "Replicate is rate limiting (429).", retry_after=30)),
            "runway": cloud("runway", 0.25),
        },
        settings={"chain_text_to_video": ["local", "replicate", "runway"]},
        gpus=1,
        deliverer=deliverer,
    )

    async def record(event: Event) -> None:
        events.append(event)

    app.service.subscribe(record)
    view = await app.service.submit(req())
    assert view.reserved_usd == 0.25  # the dearest backend the chain may reach
    done = await app.service.wait(view.id)
    assert done.state is JobState.SUCCEEDED and done.backend == "runway"
    assert [(a.backend, a.outcome, a.error_code) for a in done.attempts] == [
        ("local", Outcome.FAILED, "out_of_memory"),
        ("replicate", Outcome.FAILED, "transient"),
        ("runway", Outcome.SUCCEEDED, None),
    ]
    assert done.charged_usd == 0.25
    assert await rows(app, f"SELECT kind, amount_micros FROM ledger WHERE job_id = '{view.id}' ORDER BY id") == [
        ("reserve", 250000), ("settle", 250000)]
    assert [j.id for j in deliverer.delivered] == [view.id]
    await app.service.events.drain()
    retries = [(e.failed_backend, e.next_backend) for e in events if isinstance(e, Retrying)]
    assert retries == [("local", "replicate"), ("replicate", "runway")]
    # Replicate asked for 30 s of rest: the next job goes straight past it.
    health = {h.name: h for h in (await app.service.report()).backends}
    assert health["replicate"].cooling_s > 20
    second = await app.service.wait((await app.service.submit(req("u2"))).id)
    assert [a.backend for a in second.attempts] == ["local", "runway"]


async def test_moderation_is_explained_and_not_retried_elsewhere(app_factory):
    app = await app_factory(
        backends={
            "replicate": cloud("replicate", 0.1, failure=lambda n, job: Moderated(
                "Replicate's safety filter refused this prompt.")),
            "runway": cloud("runway", 0.25),
        },
        settings={"chain_text_to_video": ["replicate", "runway"]},
    )
    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.state is JobState.FAILED and done.error_code == "moderated"
    assert "safety filter" in done.error_message
    assert [a.backend for a in done.attempts] == ["replicate"] and done.charged_usd == 0
    assert await app.repo.ledger_balance() == {done.id: 0}


async def test_a_backend_that_keeps_failing_cools_down(app_factory):
    app = await app_factory(
        backends={
            "local": SimulatedBackend("local", seconds=0.01, failure=lambda n, job: TransientError("GPU fell off the bus")),
            "runway": cloud("runway", 0.0),
        },
        settings={"chain_text_to_video": ["local", "runway"], "allowed_fails": 2, "cooldown_s": 120},
        gpus=1,
    )
    tried = []
    for user in ("a", "b", "c"):
        done = await app.service.wait((await app.service.submit(req(user))).id)
        assert done.state is JobState.SUCCEEDED
        tried.append([a.backend for a in done.attempts])
    assert tried == [["local", "runway"], ["local", "runway"], ["runway"]]
    local = next(h for h in (await app.service.report()).backends if h.name == "local")
    assert local.cooling_s > 100 and str(local.last_error) == "GPU fell off the bus"


async def test_cancel_a_queued_job_refunds_it_and_tells_the_front_end(app_factory):
    deliverer = RecordingDeliverer()
    app = await app_factory(
        backends={"local": SimulatedBackend("local", seconds=30, steps=300, usd_per_run=0.0)},
        gpus=1, deliverer=deliverer,
    )
    first = await app.service.submit(req("a"))
    second = await app.service.submit(req("b"))
    assert second.position == 1
    cancelled = await app.service.cancel(UserRef("test", "b"), second.id)
    assert cancelled.state is JobState.CANCELLED and cancelled.position is None
    assert await app.repo.ledger_balance() == {second.id: 0}
    await app.service.outbox.idle()
    assert [(j.id, j.state) for j in deliverer.delivered] == [(second.id, JobState.CANCELLED)]
    assert (await app.service.get(first.id)).state is JobState.RUNNING


async def test_cancel_a_running_job_interrupts_the_pipeline_and_frees_the_gpu(app_factory):
    backend = SimulatedBackend("local", seconds=60, steps=600)
    app = await app_factory(backends={"local": backend}, gpus=1)
    started = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, Progress):
            started.set()

    app.service.subscribe(on_event)
    running = await app.service.submit(req("a"))
    waiting = await app.service.submit(req("b"))
    await asyncio.wait_for(started.wait(), 10)
    done = await app.service.cancel(UserRef("test", "a"), None)  # "/cancel" with no id: the latest one
    assert done.id == running.id and done.state is JobState.CANCELLED
    assert [a.outcome for a in done.attempts] == [Outcome.CANCELLED]
    assert done.attempts[0].gpu_seconds == 0 and done.charged_usd == 0
    status = await app.service.report()
    assert status.lanes[0].current_job == waiting.id  # the GPU went straight to the next job
    await app.service.cancel(UserRef("test", "b"), waiting.id)


async def test_only_the_owner_or_an_admin_may_cancel_and_finished_jobs_cannot_be(app_factory):
    app = await app_factory(backends={"local": SimulatedBackend("local", seconds=30, steps=300)}, gpus=1)
    view = await app.service.submit(req("owner"))
    with pytest.raises(NotAllowed):
        await app.service.cancel(UserRef("test", "stranger"), view.id)
    done = await app.service.cancel(UserRef("cli", "boss"), view.id)
    assert done.state is JobState.CANCELLED
    with pytest.raises(AlreadyFinished) as err:
        await app.service.cancel(UserRef("test", "owner"), view.id)
    assert "already ended" in err.value.message


async def test_an_attempt_past_the_timeout_is_stopped_and_the_next_backend_runs(app_factory):
    app = await app_factory(
        backends={"local": SimulatedBackend("local", seconds=30, steps=300), "runway": cloud("runway", 0.0)},
        settings={"chain_text_to_video": ["local", "runway"], "job_timeout_s": 0.3},
        gpus=1,
    )
    done = await app.service.wait((await app.service.submit(req())).id)
    assert done.state is JobState.SUCCEEDED and done.backend == "runway"
    assert [(a.outcome, a.error_code) for a in done.attempts] == [
        (Outcome.TIMEOUT, "timeout"), (Outcome.SUCCEEDED, None)]
    assert done.attempts[0].error_message == "local did not finish within 0 s."


async def test_admins_go_first_and_positions_and_etas_are_given(app_factory):
    app = await app_factory(backends={"local": SimulatedBackend("local", seconds=30, steps=300)}, gpus=1)
    await app.service.submit(req("blocker"))
    a = await app.service.submit(req("a"))
    b = await app.service.submit(req("b"))
    boss = await app.service.submit(req("boss", admin=True))
    assert (a.position, b.position, boss.position) == (1, 2, 1)
    assert (await app.service.get(a.id)).position == 2
    assert (await app.service.get(b.id)).eta_s > (await app.service.get(a.id)).eta_s > 0
    for job_id in (a.id, b.id, boss.id):
        await app.service.cancel(UserRef("cli", "x"), job_id)


async def test_a_long_local_queue_sends_the_job_to_the_cloud_when_affordable(app_factory):
    app = await app_factory(
        backends={"local": SimulatedBackend("local", seconds=5, steps=50), "runway": cloud("runway", 0.25)},
        settings={"chain_text_to_video": ["local", "runway"], "local_max_wait_s": 1},
        gpus=1,
    )
    first = await app.service.submit(req("a"))
    second = await app.service.submit(req("b"))
    assert second.position is None
    done = await app.service.wait(second.id)
    assert (done.backend, done.charged_usd) == ("runway", 0.25)
    await app.service.cancel(UserRef("test", "a"), first.id)


async def test_a_slow_subscriber_does_not_hold_up_jobs_or_other_subscribers(app_factory):
    app = await app_factory()
    fast: list[Event] = []
    slow_calls = 0

    async def slow(event: Event) -> None:
        nonlocal slow_calls
        slow_calls += 1
        await asyncio.sleep(5)

    ended = asyncio.Event()

    async def quick(event: Event) -> None:
        fast.append(event)
        if isinstance(event, Ended):
            ended.set()

    app.service.subscribe(slow)
    app.service.subscribe(quick)
    done = await app.service.wait((await app.service.submit(req())).id)
    await asyncio.wait_for(ended.wait(), 10)  # the quick one has it all while the slow one still sleeps
    assert done.state is JobState.SUCCEEDED and slow_calls == 1
    kinds = [type(e) for e in fast if e.job_id == done.id]
    assert kinds[0] is not Ended and Started in kinds and Progress in kinds and kinds[-1] is Ended


async def test_a_delivery_that_fails_is_retried_until_the_front_end_takes_it(app_factory):
    deliverer = RecordingDeliverer(fail_times=2)
    app = await app_factory(deliverer=deliverer)
    app.service.outbox.retry_base_s = 0.01
    view = await app.service.submit(req())
    await app.service.wait(view.id)
    assert [j.id for j in deliverer.delivered] == [view.id]
    assert await app.repo.delivery_states([view.id]) == {view.id: ("delivered", 3)}


async def test_results_wait_for_their_front_end_and_are_delivered_once_after_a_restart(tmp_path):
    settings = make_settings(tmp_path)
    first = await open_app(settings)  # no deliverer: the front end is not running
    view = await first.service.submit(req())
    await first.service.wait(view.id)
    assert await first.repo.delivery_states([view.id]) == {view.id: ("pending", 0)}
    await first.close()
    for _ in range(2):
        deliverer = RecordingDeliverer()
        app = await open_app(settings, deliverer=deliverer)
        await app.service.outbox.idle()
        await app.close()
        if _ == 0:
            assert [j.id for j in deliverer.delivered] == [view.id]
        else:
            assert deliverer.delivered == []


async def test_status_reports_gpus_backends_spend_and_top_users(app_factory):
    app = await app_factory(
        backends={"local": SimulatedBackend("local", seconds=0.02), "runway": cloud("runway", 0.30)},
        settings={"chain_text_to_video": ["runway", "local"], "global_monthly_budget_usd": 10},
        gpus=2,
    )
    await app.service.wait((await app.service.submit(req("alice"))).id)
    await app.service.wait((await app.service.submit(req("alice"))).id)
    await app.service.wait((await app.service.submit(req("bob", provider="local"))).id)
    report = await app.service.report()
    assert [lane.name for lane in report.lanes] == ["gpu0", "gpu1"]
    assert report.jobs_by_state == {"succeeded": 3}
    spend = {line.backend: line for line in report.spend}
    assert spend["runway"].month_usd == pytest.approx(0.60) and spend["local"].gpu_seconds_today > 0
    assert report.committed_usd == pytest.approx(0.60) and report.budget_left_usd == pytest.approx(9.40)
    assert [(u.name, u.jobs) for u in report.top_users] == [("name-alice", 2), ("name-bob", 1)]


async def test_postgresql_runs_the_same_job_end_to_end(tmp_path, pg_url):
    deliverer = RecordingDeliverer()
    app = await open_app(make_settings(tmp_path, database_url=pg_url), deliverer=deliverer)
    try:
        done = await app.service.wait((await app.service.submit(req(frames=6))).id)
        assert done.state is JobState.SUCCEEDED and probe(done.result_path).frames == 6
        assert await app.repo.ledger_balance() == {done.id: 0}
        assert [j.id for j in deliverer.delivered] == [done.id]
    finally:
        await app.close()


async def test_each_front_end_gets_a_video_that_fits_its_upload_limit(tmp_path):
    big, small = RecordingDeliverer(), RecordingDeliverer()
    settings = make_settings(tmp_path)
    app = await open_app(settings)
    app.service.register_deliverer("roomy", big)
    app.service.register_deliverer("tight", small, max_video_bytes=12_000)
    try:
        noisy = Options(frames=48, fps=8, width=320, height=192, seed=3)
        jobs = []
        for platform in ("roomy", "tight"):
            request = SubmitRequest(UserRef(platform, "u"), "noise", Origin(platform), noisy)
            jobs.append(await app.service.wait((await app.service.submit(request)).id))
        original = jobs[0].result_path.stat().st_size
        assert original > 12_000  # the simulated render is big enough to need fitting
        fitted = small.delivered[0].result_path
        assert fitted.stat().st_size <= 12_000 and probe(fitted).frames == 48
        assert big.delivered[0].result_path.stat().st_size == original
    finally:
        await app.close()


async def test_a_video_that_cannot_fit_is_delivered_as_a_plain_explanation(app_factory):
    deliverer = RecordingDeliverer()
    app = await app_factory()
    app.service.register_deliverer("test", deliverer, max_video_bytes=1_000)
    done = await app.service.wait((await app.service.submit(req(frames=20))).id)
    sent = deliverer.delivered[0]
    assert done.state is JobState.SUCCEEDED and sent.result_path is None
    assert sent.error_code == "video_too_large" and "this chat accepts" in sent.error_message
    said = words("ko").text(sent.error_text)  # the user reads it in their language, with what to do
    assert said.startswith("가장 낮은 화질로도 영상이 ") and said.endswith(
        "이 채팅에서 받을 수 있는 1.0 KB를 넘어요. 더 짧거나 작은 영상으로 해 보세요.")


async def test_run_on_cloud_now_takes_a_waiting_job_out_of_the_gpu_queue(app_factory):
    app = await app_factory(
        backends={"local": SimulatedBackend("local", seconds=30, steps=300), "runway": cloud("runway", 0.25)},
        settings={"chain_text_to_video": ["local", "runway"]},
        gpus=1,
    )
    running = await app.service.submit(req("a"))
    waiting = await app.service.submit(req("b"))
    assert waiting.position == 1
    with pytest.raises(NotAllowed):
        await app.service.run_on_cloud(UserRef("test", "a"), waiting.id)
    assert await app.service.run_on_cloud(UserRef("test", "b"), waiting.id)
    done = await app.service.wait(waiting.id)
    assert (done.state, done.backend, done.charged_usd) == (JobState.SUCCEEDED, "runway", 0.25)
    assert [a.backend for a in done.attempts] == ["runway"]
    assert not await app.service.run_on_cloud(UserRef("test", "a"), running.id)  # already on the GPU
    await app.service.cancel(UserRef("test", "a"), running.id)


async def test_a_clean_stop_mid_job_requeues_it_without_counting_a_crash(tmp_path):
    settings = make_settings(tmp_path, simulated_seconds=30, simulated_steps=300)
    first = await open_app(settings)
    started = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, Progress):
            started.set()

    first.service.subscribe(on_event)
    view = await first.service.submit(req())
    await asyncio.wait_for(started.wait(), 10)
    await first.close()
    assert await rows(first, f"SELECT state, interruptions FROM jobs WHERE id = '{view.id}'") == [("queued", 0)]
    second = await open_app(make_settings(tmp_path, simulated_seconds=0.05))
    try:
        done = await second.service.wait(view.id)
        assert done.state is JobState.SUCCEEDED
        assert [a.outcome for a in done.attempts] == [Outcome.INTERRUPTED, Outcome.SUCCEEDED]
    finally:
        await second.close()


async def test_waiting_jobs_are_told_when_their_place_in_the_queue_changes(app_factory):
    app = await app_factory(backends={"local": SimulatedBackend("local", seconds=30, steps=300)}, gpus=1)
    app.service.config = replace(app.service.config, position_interval_s=0.05)
    places: dict[str, list[int]] = {}
    moved = asyncio.Event()

    async def watch(event: Event) -> None:
        if isinstance(event, Queued):
            places.setdefault(event.job_id, []).append(event.position)
            if places.get(second.id, [])[-1:] == [1]:
                moved.set()

    app.service.subscribe(watch)
    running = await app.service.submit(req("a"))
    first = await app.service.submit(req("b"))
    second = await app.service.submit(req("c"))
    assert (first.position, second.position) == (1, 2)
    await app.service.cancel(UserRef("test", "b"), first.id)
    await asyncio.wait_for(moved.wait(), 5)  # c moves up to #1 without asking
    assert places[second.id][0] == 2 and places[second.id][-1] == 1
    for job in (running, second):
        await app.service.cancel(UserRef("cli", "x"), job.id)
