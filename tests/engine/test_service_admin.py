"""The admins' pages through the engine's API, as the web console will use them: every job and every user a
page at a time, bans and per-user limits; and everyone's own history. Each as the story an admin, a user
or a stranger lives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.backends.simulated import SimulatedBackend
from engine.errors import InvalidInput, NotAllowed, NotFound, QuotaExceeded
from engine.events import Event, Started
from engine.types import JobState, Options, Origin, SubmitRequest, UserRef
from tests.conftest import make_settings, open_app

ADMIN = UserRef("discord", "1001", "ada")
ANN, BOB, EVE = UserRef("discord", "2002", "ann"), UserRef("telegram", "3003", "bob"), UserRef("discord", "1666", "eve")
ADMINS = {"discord_admin_ids": "1001"}


def req(user: UserRef, prompt: str = "a heron", origin: str | None = None) -> SubmitRequest:
    return SubmitRequest(user, prompt, Origin(origin or user.platform, "chan"), Options(frames=4))


async def made(app: Any, user: UserRef, prompt: str = "a heron", origin: str | None = None) -> str:
    """A video asked for and made (the simulated GPU takes a few hundredths of a second)."""
    return (await app.service.wait((await app.service.submit(req(user, prompt, origin))).id)).id


# --- bans -------------------------------------------------------------------------------------------------


async def test_an_admin_bans_a_user_whose_next_video_is_refused_until_the_ban_is_lifted(app_factory) -> None:
    app = await app_factory(settings={**ADMINS, "simulated_seconds": 30},
                            backends={"local": SimulatedBackend("local", seconds=30, steps=300)}, gpus=1)
    service = app.service
    waiting = await service.submit(req(EVE))

    banned = await service.ban(ADMIN, "discord:1666")
    assert (banned.key, banned.user.name, banned.banned, banned.is_admin) == ("discord:1666", "eve", True, False)
    with pytest.raises(NotAllowed, match="You are not allowed to make videos with this bot") as refused:
        await service.submit(req(EVE, "another heron"))
    assert refused.value.reason == "banned"
    # What she had waiting is left to run (an admin may cancel it like anyone's job).
    assert (await service.get(waiting.id)).state in (JobState.QUEUED, JobState.RUNNING)
    await service.submit(req(ANN))  # nobody else is touched

    lifted = await service.unban(ADMIN, "discord:1666")
    assert not lifted.banned
    assert (await service.submit(req(EVE, "a heron again"))).state is JobState.QUEUED


async def test_a_user_banned_before_they_ever_came_is_refused_at_their_first_video(app_factory) -> None:
    app = await app_factory(settings=ADMINS)
    early = await app.service.ban(ADMIN, " telegram:424242 ")  # typed with spaces around it
    assert (early.banned, early.total_jobs, early.user.name) == (True, 0, "")
    with pytest.raises(NotAllowed, match="not allowed to make videos"):
        await app.service.submit(req(UserRef("telegram", "424242", "mallory")))
    assert (await app.service.users(ADMIN)).total == 1


async def test_an_admin_cannot_be_banned_the_settings_make_admins(app_factory) -> None:
    app = await app_factory(settings={"discord_admin_ids": "1001,1002"})
    for key in ("discord:1002", "discord:1001", "cli:operator"):  # another admin, oneself, the machine's operator
        with pytest.raises(NotAllowed, match="is an admin of this bot and cannot be banned") as refused:
            await app.service.ban(ADMIN, key)
        assert refused.value.reason == "admin" and "DISCORD_ADMIN_IDS" in refused.value.hint
    assert (await app.service.users(ADMIN)).total == 0  # nothing was stored


async def test_a_stranger_gets_no_list_and_no_power_over_anyone(app_factory) -> None:
    app = await app_factory(settings=ADMINS)
    await made(app, ANN)
    service = app.service
    attempts = {
        "jobs": service.jobs(EVE), "users": service.users(EVE), "ban": service.ban(EVE, "discord:2002"),
        "unban": service.unban(EVE, "discord:1666"), "limits": service.set_limits(EVE, "discord:1666",
                                                                                  max_jobs_per_day=500),
        "user": service.user(EVE, "discord:2002"),
        "by filter": service.jobs(EVE, user="discord:2002"),  # a filter does not open it either
        "a manager": service.jobs(UserRef("discord", "1666", "eve", manages="discord:guild:1")),
    }
    said = []
    for name, attempt in attempts.items():
        with pytest.raises(NotAllowed) as refused:
            await attempt
        assert refused.value.reason == "admins_only", name
        said.append(refused.value.message)
    assert said[:2] == ["Only the bot's admins can see every job.", "Only the bot's admins can see the users."]
    assert said[2:5] == ["Only the bot's admins can ban users."] * 2 + [
        "Only the bot's admins can change a user's limits."]
    ann = await service.user(ADMIN, "discord:2002")
    assert not ann.banned and ann.overrides.max_jobs_per_day is None  # unchanged


# --- limits -----------------------------------------------------------------------------------------------


async def test_a_limit_of_one_video_a_day_for_one_user_overrides_the_setting_of_500(app_factory) -> None:
    app = await app_factory(settings={**ADMINS, "max_jobs_per_day": 500, "max_usd_per_month": 2.0})
    service = app.service
    summary = await service.set_limits(ADMIN, "discord:1666", max_jobs_per_day=1)
    assert (summary.overrides.max_jobs_per_day, summary.limits.max_jobs_per_day) == (1, 1)
    assert (summary.overrides.max_usd_per_month, summary.limits.max_usd_per_month) == (None, 2.0)  # the setting

    await made(app, EVE)
    with pytest.raises(QuotaExceeded, match="You have made 1 videos today; the limit is 1 a day") as refused:
        await service.submit(req(EVE, "a second heron"))
    assert refused.value.limit == "max_jobs_per_day"
    await made(app, ANN)
    await made(app, ANN)  # the setting still applies to everyone else
    assert (await service.usage(EVE)).max_jobs_per_day == 1  # /usage tells her so

    back = await service.set_limits(ADMIN, "discord:1666")  # every limit back to the setting
    assert (back.overrides.max_jobs_per_day, back.limits.max_jobs_per_day) == (None, 500)
    await made(app, EVE, "a second heron")


async def test_limits_shown_are_the_users_own_else_the_setting_and_none_for_admins(app_factory) -> None:
    app = await app_factory(settings={**ADMINS, "max_jobs_per_day": 20, "max_queued_per_user": 3,
                                      "max_running_per_user": 1, "max_usd_per_month": 2.0})
    await app.service.set_limits(ADMIN, "discord:2002", max_queued=0, max_usd_per_month=7.5, max_running=2)
    await app.service.set_limits(ADMIN, "discord:1001", max_jobs_per_day=1)  # kept, not applied to an admin
    ann = await app.service.user(ADMIN, "discord:2002")
    assert ann.limits == type(ann.limits)(max_running=2, max_queued=0, max_jobs_per_day=20, max_usd_per_month=7.5)
    ada = await app.service.user(ADMIN, "discord:1001")
    assert ada.is_admin and ada.overrides.max_jobs_per_day == 1
    assert ada.limits == type(ada.limits)(None, None, None, None)
    await made(app, ADMIN)
    await made(app, ADMIN)  # the admin's stored limit does not apply
    with pytest.raises(QuotaExceeded, match="the limit is 0 at a time"):  # nor can Ann queue anything now
        await app.service.submit(req(ANN))


async def test_bad_limits_user_keys_filters_and_pages_are_refused_naming_the_problem(app_factory) -> None:
    app = await app_factory(settings=ADMINS)
    service = app.service
    refusals = [
        (service.set_limits(ADMIN, "discord:2002", max_jobs_per_day=-1), "max_jobs_per_day",
         "The limit of videos a day must be a whole number from 0 to 1,000,000; got -1."),
        (service.set_limits(ADMIN, "discord:2002", max_queued=2.5), "max_queued",
         "The limit of videos waiting or in progress must be a whole number from 0 to 1,000,000; got 2.5."),
        (service.set_limits(ADMIN, "discord:2002", max_running=True), "max_running",
         "The limit of videos in progress at a time must be a whole number from 0 to 1,000,000; got True."),
        (service.set_limits(ADMIN, "discord:2002", max_usd_per_month=-0.01), "max_usd_per_month",
         "The monthly allowance must be from $0 to $1,000,000; got -0.01."),
        (service.set_limits(ADMIN, "discord:2002", max_usd_per_month=float("nan")), "max_usd_per_month",
         "The monthly allowance must be from $0 to $1,000,000; got nan."),
        (service.ban(ADMIN, "2002"), "user", "'2002' is not a user; write it as platform:id, like discord:123456."),
        (service.ban(ADMIN, "myspace:2002"), "user",
         "'myspace' is not a platform here; use one of: discord, telegram, web, cli."),
        (service.ban(ADMIN, "discord:ann"), "user", "'ann' is not a user id on discord."),
        (service.ban(ADMIN, "web:a%' OR 1=1"), "user", "\"a%' OR 1=1\" is not a user id on web."),
        (service.jobs(ADMIN, state="done"), "state",
         "'done' is not a job state; use one of: queued, running, succeeded, failed, cancelled."),
        (service.jobs(ADMIN, backend="local; drop"), "backend", "'local; drop' is not a backend name."),
        (service.jobs(ADMIN, origin="irc"), "origin",
         "'irc' is not a platform here; use one of: discord, telegram, web, cli."),
        (service.jobs(ADMIN, user="discord:"), "user",
         "'discord:' is not a user; write it as platform:id, like discord:123456."),
        (service.jobs(ADMIN, limit=0), "limit", "A page holds 1 to 100 rows, not 0."),
        (service.users(ADMIN, limit=101), "limit", "A page holds 1 to 100 rows, not 101."),
        (service.history(ANN, offset=-1), "offset", "A page starts at row 0 or later, not -1."),
        (service.users(ADMIN, search="x" * 101), "search",
         "The search is 101 characters long; the limit is 100."),
    ]
    for attempt, field, message in refusals:
        with pytest.raises(InvalidInput) as refused:
            await attempt
        assert (refused.value.field, refused.value.message) == (field, message)
    assert (await service.users(ADMIN)).total == 0  # nothing was stored
    with pytest.raises(NotFound, match="This bot has never seen discord:2002"):
        await service.user(ADMIN, "discord:2002")


# --- history and every job --------------------------------------------------------------------------------


async def test_my_history_shows_only_my_jobs_newest_first_a_page_at_a_time(app_factory) -> None:
    app = await app_factory(settings=ADMINS)
    mine = [await made(app, ANN, f"heron {n}", origin="web" if n % 3 == 0 else None) for n in range(7)]
    await made(app, BOB)
    await made(app, UserRef("telegram", "2002", "not ann"))  # the same id on another platform: someone else
    newest_first = mine[::-1]

    first = await app.service.history(ANN, limit=3)
    assert [v.id for v in first.items] == newest_first[:3]
    assert (first.total, first.offset, first.limit, first.has_prev, first.has_next) == (7, 0, 3, False, True)
    second = await app.service.history(ANN, offset=first.next_offset, limit=3)
    last = await app.service.history(ANN, offset=second.next_offset, limit=3)
    assert [v.id for v in second.items + last.items] == newest_first[3:]
    assert (last.has_prev, last.has_next, last.prev_offset) == (True, False, 3)
    assert {v.user.key for v in first.items + second.items + last.items} == {"discord:2002"}
    assert {v.origin.platform for v in first.items + second.items + last.items} == {"discord", "web"}
    shown = first.items[0]
    assert (shown.prompt, shown.state, shown.backend, len(shown.attempts)) == ("heron 6", JobState.SUCCEEDED,
                                                                               "local", 1)
    assert (await app.service.history(EVE)).total == 0  # nothing of hers yet, and nobody else's


async def test_admins_filter_every_job_by_state_backend_origin_and_user(app_factory) -> None:
    app = await app_factory(settings={**ADMINS, "simulated_seconds": 30},
                            backends={"local": SimulatedBackend("local", seconds=30, steps=300)}, gpus=1)
    service = app.service
    started = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, Started):
            started.set()

    service.subscribe(on_event)
    running = await service.submit(req(ANN))
    await asyncio.wait_for(started.wait(), 10)
    cancelled = await service.submit(req(BOB))
    await service.cancel(BOB, cancelled.id)
    waiting = await service.submit(req(ANN, "a heron from the console", origin="web"))

    async def ids(**filters: Any) -> tuple[list[str], int]:
        page = await service.jobs(ADMIN, **filters)
        return [v.id for v in page.items], page.total

    assert await ids() == ([waiting.id, cancelled.id, running.id], 3)
    assert await ids(state="running") == ([running.id], 1)
    assert await ids(state="cancelled") == ([cancelled.id], 1)
    assert await ids(backend="local") == ([running.id], 1)
    assert await ids(origin="telegram") == ([cancelled.id], 1)
    assert await ids(origin="web") == ([waiting.id], 1)
    assert await ids(user="discord:2002") == ([waiting.id, running.id], 2)
    assert await ids(user="discord:2002", state="queued", origin="web") == ([waiting.id], 1)
    assert await ids(user="discord:9999") == ([], 0)
    assert await ids(limit=1, offset=1) == ([cancelled.id], 3)
    live = (await service.jobs(ADMIN, state="queued")).items[0]
    assert live.position == 1  # where it waits, as /job would show it


# --- users ------------------------------------------------------------------------------------------------


async def test_admins_see_users_most_recently_active_first_with_their_numbers(tmp_path) -> None:
    app = await open_app(make_settings(tmp_path, **ADMINS))
    try:
        await made(app, ANN)
        await made(app, ANN)
        await made(app, BOB)
        await app.service.set_limits(ADMIN, "discord:1666", max_usd_per_month=0.5)  # seen, no video yet

        page = await app.service.users(ADMIN)
        assert [s.key for s in page.items] == ["discord:1666", "telegram:3003", "discord:2002"]
        assert (page.total, page.has_next) == (3, False)
        ann = page.items[2]
        assert (ann.user.name, ann.jobs_today, ann.jobs_month, ann.total_jobs) == ("ann", 2, 2, 2)
        assert ann.month_usd == (await app.service.usage(ANN)).month_usd
        assert ann.last_job_at is not None and ann.first_seen <= ann.last_job_at
        eve = page.items[0]
        assert (eve.total_jobs, eve.last_job_at, eve.limits.max_usd_per_month) == (0, None, 0.5)

        assert [s.key for s in (await app.service.users(ADMIN, search="BO")).items] == ["telegram:3003"]
        assert [s.key for s in (await app.service.users(ADMIN, search="166")).items] == ["discord:1666"]
        assert (await app.service.users(ADMIN, search="%")).total == 0  # a percent sign is no wildcard
        assert (await app.service.users(ADMIN, search="   ")).total == 3  # nothing to look for: everyone
        two = await app.service.users(ADMIN, offset=1, limit=1)
        assert ([s.key for s in two.items], two.has_prev, two.has_next) == (["telegram:3003"], True, True)
    finally:
        await app.close()
