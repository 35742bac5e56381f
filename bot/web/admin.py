"""The admin's pages: the live /status, the environment check, users (ban, limits) and every job.

Each page is for the bot's admins only (``admins_only``: the engine's answer from the settings, on every
request, so removing an id from the settings takes the pages away at once); every change goes through the
engine's service, which checks again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.chart import status_chart
from bot.i18n import Words
from bot.render import describe_error, failure_text, jobs_line, lane_state, status_sections
from bot.web.auth import signed_in
from bot.web.console import Console, admins_only
from bot.web.videos import page_context, page_number, row, state_word
from engine.errors import InvalidInput, ReelbotError
from engine.status import StatusReport
from engine.types import JobState, UserRef
from engine.words import N_

STATUS_EVERY_S = 3.0
JOBS_PAGE = 50
USERS_PAGE = 50


def status_context(console: Console, w: Words, report: StatusReport) -> dict[str, Any]:
    lanes = []
    sections = status_sections(w, report)
    gpu_lines = sections[0][2] if report.lanes else []
    for n, lane in enumerate(report.lanes):
        stats = lane.stats
        lanes.append({
            "name": lane.name, "label": lane.label,
            "state": lane_state(w, lane.broken, lane.current_job, lane.busy_s, lane.warming),
            "broken": bool(lane.broken), "job": lane.current_job, "queued": lane.queued,
            "warm": w.join(lane.warm_models) or w._("none"),
            "util": round(stats.utilization_pct) if stats else None,
            "vram": (w.number(stats.memory_used_mib / 1024, 1), round(stats.memory_total_mib / 1024),
                     round(100 * stats.memory_used_mib / stats.memory_total_mib) if stats.memory_total_mib else 0)
            if stats else None,
            "temp": round(stats.temperature_c) if stats else None,
            "line": gpu_lines[n] if n < len(gpu_lines) else "",  # the same line as /status and `reelbot status`
        })
    budget = None
    if report.budget_usd:
        budget = min(100, round(100 * report.committed_usd / report.budget_usd))
    return {
        "report": report, "jobs_line": jobs_line(w, report), "sections": sections,
        "lanes": lanes, "budget_pct": budget, "at": console.when(report.generated_at),
        "chart_at": int(report.generated_at.timestamp() // 30),
    }


def routes(console: Console) -> list[Route]:
    service = console.service
    config = console.config

    def me(request: Request) -> UserRef:
        user = signed_in(request)
        assert user is not None
        return user

    async def admin_status(user: UserRef) -> StatusReport:
        report = await service.status(user)  # the engine checks again that they may
        assert isinstance(report, StatusReport)  # an admin's: everything, not one place's
        return report

    async def report_for(request: Request) -> tuple[UserRef, Words, StatusReport]:
        """Who asks, in which words, and the admin's /status."""
        user = me(request)
        return user, await console.words(request, user), await admin_status(user)

    @admins_only(console)
    async def status(request: Request) -> Response:
        _, w, report = await report_for(request)
        return await console.page(request, "status.html", w=w, nav="status", **status_context(console, w, report))

    @admins_only(console)
    async def status_events(request: Request) -> Response:
        user, w, report = await report_for(request)
        template = console.templates.get_template("status_live.html")

        async def updates() -> AsyncIterator[str]:
            nonlocal report
            while True:
                html = template.render(_=w._, w=w, **status_context(console, w, report))
                yield f"data: {json.dumps({'html': html}, ensure_ascii=False)}\n\n"
                if await console.closing(STATUS_EVERY_S):  # paced: the server pushes, the browser does not poll
                    return
                report = await admin_status(user)

        return StreamingResponse(updates(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @admins_only(console)
    async def chart(request: Request) -> Response:
        _, w, report = await report_for(request)
        png = await asyncio.to_thread(status_chart, report, words=w, font=config.chart_font)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=30"})

    @admins_only(console)
    async def doctor(request: Request) -> Response:
        user = me(request)
        w = await console.words(request, user)
        checks = list(await config.checkup()) if config.checkup is not None else []
        problems = sum(1 for c in checks if c.ok is False)
        summary = w._("All good.") if problems == 0 else w.n_("{n} problem", "{n} problems", problems)
        return await console.page(request, "doctor.html", w=w, nav="doctor", checks=checks, summary=summary,
                                  problems=problems)

    @admins_only(console)
    async def users(request: Request) -> Response:
        user = me(request)
        w = await console.words(request, user)
        page_no = page_number(request)
        search = request.query_params.get("q", "").strip()[:80] or None
        page = await service.users(user, search=search, offset=(page_no - 1) * USERS_PAGE, limit=USERS_PAGE)
        query = urlencode({"q": search}) + "&" if search else ""
        return await console.page(request, "users.html", w=w, nav="users", rows=page.items, q=search or "",
                                  blocked=await service.blocked_words(user),
                                  message=request.query_params.get("said"), query=query,
                                  **page_context(page, page_no, USERS_PAGE))

    @admins_only(console)
    async def user_action(request: Request) -> Response:
        user = me(request)
        w = await console.words(request, user)
        form = await request.form()
        target = str(form.get("user", ""))
        action = request.path_params["action"]
        try:
            if action == "ban":
                await service.ban(user, target)
                said = w._("{user} is banned: their next request is refused.", user=target)
            elif action == "unban":
                await service.unban(user, target)
                said = w._("{user} may make videos again.", user=target)
            elif action in ("block", "unblock"):
                words = str(form.get("words", ""))
                changed = await (service.block if action == "block" else service.unblock)(user, words)
                said = (w._("Blocked from now on: {words}.", words=w.join(changed)) if action == "block" and changed
                        else w._("No longer blocked: {words}.", words=w.join(changed)) if changed
                        else w._("Nothing changed."))
            elif action == "limits":
                counts = {name: _count(form.get(name), name) for name in ("max_jobs_per_day", "max_queued", "max_running")}
                await service.set_limits(user, target, max_usd_per_month=_dollars(form.get("max_usd_per_month")),
                                         **counts)
                said = w._("Limits of {user} saved.", user=target)
            else:
                return Response(status_code=404)
        except ReelbotError as exc:
            said = describe_error(w, exc)
        back = str(form.get("back", "")) or "/admin/users"
        if not back.startswith("/admin/users"):
            back = "/admin/users"
        joiner = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{joiner}{urlencode({'said': said})}", status_code=303)

    @admins_only(console)
    async def jobs(request: Request) -> Response:
        user = me(request)
        w = await console.words(request, user)
        page_no = page_number(request)
        params = request.query_params
        filters = {key: (params.get(key, "").strip()[:80] or None) for key in ("state", "backend", "user", "origin")}
        try:
            page = await service.jobs(user, offset=(page_no - 1) * JOBS_PAGE, limit=JOBS_PAGE, **filters)
        except ReelbotError as exc:
            return await console.refusal(request, exc)
        rows = []
        for view in page.items:
            item = row(console, w, view)
            item["meta"] = w.join(part for part in (view.id, state_word(w, view.state), view.user.name or view.user.key,
                                                     view.origin.platform, view.backend, item["meta"]) if part)
            item["why"] = failure_text(w, view) if view.state is JobState.FAILED else ""
            rows.append(item)
        query = urlencode({k: v for k, v in filters.items() if v})
        return await console.page(request, "jobs.html", w=w, nav="jobs", rows=rows, filters=filters,
                                  states=[(s.value, state_word(w, s)) for s in JobState],
                                  query=query + "&" if query else "", **page_context(page, page_no, JOBS_PAGE))

    return [
        Route("/admin", status, methods=["GET"]),
        Route("/admin/status/events", status_events, methods=["GET"]),
        Route("/admin/chart.png", chart, methods=["GET"]),
        Route("/admin/doctor", doctor, methods=["GET"]),
        Route("/admin/users", users, methods=["GET"]),
        Route("/admin/users/{action:str}", user_action, methods=["POST"]),
        Route("/admin/jobs", jobs, methods=["GET"]),
    ]


LABELS = {"max_jobs_per_day": N_("videos a day"), "max_usd_per_month": N_("$ a month"),
          "max_queued": N_("waiting at once"), "max_running": N_("running at once")}  # as the form labels them


def _number(value: object, name: str) -> float | None:
    """A limit from the form: empty is the setting's, else a number (the engine checks its range)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(name, N_("{name} must be a number, not {value}.", name=LABELS[name],
                                    value=repr(text[:20]))) from None


def _count(value: object, name: str) -> int | None:
    number = _number(value, name)
    if number is not None and not number.is_integer():
        raise InvalidInput(name, N_("{name} must be a whole number, not {value}.", name=LABELS[name],
                                    value=repr(str(value).strip()[:20])))
    return None if number is None else int(number)


def _dollars(value: object) -> float | None:
    return _number(value, "max_usd_per_month")
