"""Money at the cloud seam: one billed run per job, and what a run that delivered nothing was billed.

A failed look at a remote job is not the end of it (it still runs, and bills): it is looked at again, and a
job we leave is cancelled there first. What the provider billed reaches ``ctx.billed_usd`` for the runner to
book (Replicate's predict_time after a cancel, Runway's own cost figure, the catalog price where a provider
reports nothing but bills started work); the reservation is the worst case of the same capped inputs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.errors import TransientError
from engine.types import JobKind, Options
from tests.engine.cloud.conftest import backend_for
from tests.engine.cloud.conftest import run_once as _run
from tests.fakes.providers.replicate import FakeReplicate
from tests.fakes.providers.runway import FakeRunway
from tests.fakes.providers.stability import FakeStability

T2V, I2V = JobKind.TEXT_TO_VIDEO, JobKind.IMAGE_TO_VIDEO



async def test_a_failed_poll_never_leaves_a_second_billed_run(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeRunway)
    fake.fail_next("task", 429, {"error": "Too many requests"}, {"Retry-After": "40"})
    fake.fail_next("task", 503, {"error": "upstream unavailable"})
    run = make_job(I2V)
    output = await _run(backend_for("runway", fake, tmp_path), run)
    assert len(fake.jobs) == 1 and not next(iter(fake.jobs.values())).cancelled  # the same job, finished
    assert output.cost_usd == pytest.approx(0.25) and run.ctx.billed_usd == pytest.approx(0.25)
    job = next(iter(fake.jobs.values()))
    assert job.data["looks"][0] - job.created_at >= 6 + 40  # the 429's Retry-After was honoured

    # Looks that keep failing: at the deadline the remote job is cancelled before the chain may move on.
    fake.plan("slow")
    for _ in range(50):
        fake.fail_next("task", 502, "<html>Bad Gateway</html>")
    run = make_job(I2V)
    with pytest.raises(TransientError) as caught:
        await _run(backend_for("runway", fake, tmp_path, cloud_timeout_s=120), run)
    assert "502" in str(caught.value)
    left = [job for job in fake.jobs.values() if job.plan.outcome == "slow"]
    assert len(left) == 1 and left[0].cancelled and len(fake.calls("DELETE", "/v1/tasks/")) == 1
    assert not run.ctx.billed_usd  # it never ran: nothing to book


async def test_a_cancelled_replicate_prediction_reports_what_it_billed(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeReplicate)
    fake.plan("slow")
    run = make_job(I2V)
    backend = backend_for("replicate", fake, tmp_path)
    task = asyncio.create_task(backend.run(run.ctx))
    job = await fake.polled(4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await backend.aclose()
    assert job.cancelled and job.ran_s is not None and job.ran_s > 0
    assert run.ctx.billed_usd == pytest.approx(job.ran_s * 0.0014)  # predict_time x the hardware price


async def test_a_failed_replicate_prediction_reports_what_it_billed(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeReplicate)
    fake.plan("failed", polls=3)
    run = make_job(I2V)
    with pytest.raises(TransientError):
        await _run(backend_for("replicate", fake, tmp_path), run)
    job = next(iter(fake.jobs.values()))
    assert run.ctx.billed_usd == pytest.approx(job.ran_s * 0.0014) and run.ctx.billed_usd > 0


async def test_replicate_predictions_carry_cancel_after(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeReplicate)
    await _run(backend_for("replicate", fake, tmp_path), make_job(I2V))
    assert fake.calls("POST", "/v1/predictions")[0].headers["Cancel-After"] == "150s"  # svd-xt's compute cap
    backend = backend_for("replicate", fake, tmp_path, cloud_timeout_s=60)
    assert backend.estimate(I2V, Options()).cost_usd == pytest.approx(60 * 0.0014)  # the worst case it can bill
    fake.plan("slow")
    run = make_job(I2V)
    with pytest.raises(Exception):  # noqa: B017 - timed out here or cancelled there: either way it stops
        await _run(backend, run)
    creates = [c for c in fake.calls("POST") if c.path == "/v1/predictions"]
    assert creates[-1].headers["Cancel-After"] == "60s"  # never past the deadline
    job = [j for j in fake.jobs.values() if j.plan.outcome == "slow"][0]
    assert job.cancelled and job.ran_s is not None and job.ran_s <= 60
    assert run.ctx.billed_usd is not None and run.ctx.billed_usd <= backend.estimate(I2V, Options()).cost_usd


async def test_runway_reports_its_real_cost(served, make_job, tmp_path: Path) -> None:
    fake = await served(FakeRunway)
    # The catalog's price is only the estimate: what Runway reports is what is booked.
    cheap = '{"runway": [{"name": "gen4.5", "kind": "text-to-video", "usd_per_second": 0.01}]}'
    run = make_job(T2V, frames=240, fps=24)
    output = await _run(backend_for("runway", fake, tmp_path, cloud_models=cheap), run)
    assert output.cost_usd == pytest.approx(120 * 0.01)  # 10 s of gen4.5: 120 credits at $0.01
    fake = await served(FakeRunway)
    fake.plan("slow")
    run = make_job(I2V)
    backend = backend_for("runway", fake, tmp_path)
    task = asyncio.create_task(backend.run(run.ctx))
    await fake.polled(3)  # RUNNING by now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await backend.aclose()
    assert run.ctx.billed_usd == pytest.approx(25 * 0.01)  # the fake keeps the charge of a task that ran


async def test_a_provider_that_reports_nothing_books_started_work_at_its_price(served, make_job, tmp_path) -> None:
    fake = await served(FakeStability)
    fake.plan("slow")
    run = make_job(I2V)
    from engine.errors import AttemptTimeout

    with pytest.raises(AttemptTimeout):
        await _run(backend_for("stability", fake, tmp_path, cloud_timeout_s=30), run)
    assert run.ctx.billed_usd == pytest.approx(0.2)  # no cancel call: the job runs on, and is billed


def test_user_inputs_are_capped_so_the_reservation_is_the_worst_case(tmp_path: Path) -> None:
    from engine.cloud.catalog import BUILTIN, pick
    from engine.cloud.replicate import ReplicateBackend

    backend = ReplicateBackend(key="r8_x", base_url="http://127.0.0.1:9", models=BUILTIN["replicate"])
    zeroscope = pick(BUILTIN["replicate"], T2V, "zeroscope")
    greedy = Options(model="zeroscope", frames=129, steps=100, width=1280, height=720, fps=1)
    assert backend.estimate(T2V, greedy).cost_usd == pytest.approx(180 * zeroscope.usd_per_run_second)
    assert backend.cancel_after(zeroscope) == "180s"
