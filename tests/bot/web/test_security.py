"""A stranger's stories: nothing without a session, no forged form, no one else's video, no admin page for
a non-admin, and sign-in that cannot be got around."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from starlette.requests import Request
from starlette.routing import Route

from bot.web.auth import from_this_machine
from engine.types import UserRef
from tests.bot.web.conftest import PASSWORD, Web, close_web, csrf_of, open_web
from tests.bot.web.test_make import make

ALICE = UserRef("discord", "222222222222222222", "alice")
MALLORY = UserRef("telegram", "333333", "mallory")
WEB_DIR = Path(__file__).resolve().parents[3] / "bot" / "web"


def routes(web: Web) -> list[tuple[str, str]]:
    found = []
    for route in web.frontend.server.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route):
            path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: {"ext": "mp4", "action": "cancel"}.get(m[1], "abcdefgh"),
                          route.path)
            found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


async def test_without_a_session_every_page_and_action_is_refused(web: Web) -> None:
    stranger = web.client()
    open_to_all = {"/login", "/login/link/abcdefgh", "/auth/discord", "/auth/discord/callback", "/auth/telegram"}

    for method, path in routes(web):
        if path in open_to_all:
            continue
        answer = await stranger.request(method, path, headers={"Accept": "text/html"},
                                        data={"csrf": "x", "user": ALICE.key, "prompt": "x"})
        if method == "GET":
            assert answer.status_code in (303, 401), (method, path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"] == "/login"
        else:
            assert answer.status_code in (401, 403), (method, path, answer.status_code)
    assert (await web.app.service.history(ALICE)).total == 0


async def test_a_forged_csrf_token_is_refused_and_nothing_is_made(web: Web) -> None:
    alice = web.person(ALICE)
    await csrf_of(alice)

    forged = await make(alice, "not-the-token", prompt="a cat")
    missing = await alice.post("/make", data={"prompt": "a cat"})

    assert forged.status_code == missing.status_code == 403
    assert "did not come from this page" in forged.text
    assert (await web.app.service.history(ALICE)).total == 0


async def test_a_non_admin_reaches_no_admin_page_and_no_one_elses_video(web: Web) -> None:
    alice, mallory = web.person(ALICE), web.person(MALLORY)
    job_id = (await make(alice, await csrf_of(alice), prompt="my holiday", frames="8")).json()["job"]
    await web.wait(job_id)
    csrf = await csrf_of(mallory)

    for path in ("/admin", "/admin/jobs", "/admin/users", "/admin/doctor", "/admin/chart.png",
                 "/admin/status/events"):
        answer = await mallory.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 403, path
        assert "Only the bot's admins can see this page." in unescape(answer.text)
    banned = await mallory.post("/admin/users/ban", data={"csrf": csrf, "user": ALICE.key})
    assert banned.status_code == 403
    for path in (f"/jobs/{job_id}", f"/videos/{job_id}.mp4", f"/videos/{job_id}.jpg", f"/jobs/{job_id}/events"):
        answer = await mallory.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 403, path
        assert "my holiday" not in answer.text and answer.headers["content-type"].startswith("text/html")
    assert web.frontend.console.live.following == 0  # the refused progress stream left nothing behind
    retried = await mallory.post(f"/jobs/{job_id}/retry", data={"csrf": csrf})
    assert retried.status_code == 403
    assert (await web.app.service.history(MALLORY)).total == 0
    assert (await make(alice, await csrf_of(alice), prompt="still allowed", frames="8")).status_code == 200


async def test_the_one_time_link_works_once_and_only_for_this_machine(web: Web) -> None:
    token = web.frontend.console.links.new()
    first, second = web.client(), web.client()

    assert (await first.get(f"/login/link/{token}")).status_code == 303
    again = await second.get(f"/login/link/{token}")

    assert again.status_code == 403 and "This sign-in link is not valid" in again.text
    assert (await second.get("/admin", headers={"Accept": "text/html"})).headers["location"] == "/login"
    assert (await first.get("/admin")).status_code == 200
    far = Request({"type": "http", "client": ("203.0.113.5", 50000), "headers": []})
    near = Request({"type": "http", "client": ("127.0.0.1", 50000), "headers": []})
    assert not from_this_machine(far) and from_this_machine(near)


async def test_a_console_open_to_the_network_takes_no_link_only_a_password(tmp_path: Path) -> None:
    web = await open_web(tmp_path, web_host="0.0.0.0")
    try:
        token = web.frontend.console.links.new()
        person = web.client()
        refused = await person.get(f"/login/link/{token}")
        assert refused.status_code == 403
        page = await person.get("/login")
        assert "Operator password" in page.text and "one-time link" not in page.text
        csrf = await csrf_of(person, "/login")
        wrong = await person.post("/login", data={"csrf": csrf, "password": "guess"})
        assert wrong.status_code == 403 and "That password is not right." in wrong.text
        right = await person.post("/login", data={"csrf": csrf, "password": PASSWORD})
        assert right.status_code == 303
        assert (await person.get("/admin")).status_code == 200
    finally:
        await close_web(web)


async def test_password_guessing_is_slowed_down(web: Web) -> None:
    guesser = web.client()
    csrf = await csrf_of(guesser, "/login")
    answers = [await guesser.post("/login", data={"csrf": csrf, "password": f"guess{i}"}) for i in range(6)]

    assert [a.status_code for a in answers] == [403] * 5 + [429]
    assert "Too many tries" in answers[-1].text
    late = await guesser.post("/login", data={"csrf": csrf, "password": PASSWORD})
    assert late.status_code == 429  # even the right one waits its turn


async def test_a_session_cookie_signed_with_another_key_signs_no_one_in(web: Web) -> None:
    forger = web.client()
    from itsdangerous import TimestampSigner

    forger.cookies.set("reelbot_session", TimestampSigner("guessed").sign(
        b"eyJ3aG8iOiAid2ViOm9wZXJhdG9yIn0=").decode(), domain="127.0.0.1")  # {"who": "web:operator"}

    answer = await forger.get("/admin", headers={"Accept": "text/html"})

    assert answer.status_code == 303 and answer.headers["location"] == "/login"


async def test_cookies_and_headers_keep_the_session_to_this_site(web: Web, tmp_path: Path) -> None:
    answer = await web.client().get("/login")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    https = await open_web(tmp_path / "https", web_public_url="https://bot.example.com")
    try:
        assert "secure" in (await https.client().get("/login")).headers["set-cookie"].lower()
    finally:
        await close_web(https)


async def test_a_body_too_large_is_refused_before_it_is_read(web: Web) -> None:
    alice = web.person(ALICE)
    csrf = await csrf_of(alice)
    most = web.app.settings.max_image_bytes + 1024 * 1024

    answer = await alice.post("/make", content=b"x" * (most + 1), headers={
        "X-CSRF-Token": csrf, "Content-Type": "multipart/form-data; boundary=zzz"})

    assert answer.status_code == 413 and "too large" in answer.text
    assert (await web.app.service.history(ALICE)).total == 0


def test_every_asset_is_in_the_package_nothing_from_a_cdn() -> None:
    for path in [*WEB_DIR.glob("templates/*.html"), *WEB_DIR.glob("static/*")]:
        text = path.read_text(errors="ignore")
        for url in re.findall(r"""(?:src|href)=["']([^"']+)""", text):
            assert url.startswith(("/", "?", "{{", "#")), (path.name, url)
        assert "cdn" not in text.lower() and "googleapis" not in text, path.name

