"""A local Discord: enough of the gateway and the REST API for the real discord.py client to run reelbot.

Gateway (``/gateway``, plain-text JSON frames): HELLO, heartbeats and their ACKs, IDENTIFY checked against
the token, READY, one GUILD_CREATE per guild, then whatever the test dispatches (INTERACTION_CREATE).
REST (``/api/v10``): the bot's user and application, command sync, interaction callbacks (with
``?with_response=1``), webhook follow-ups and edits with files, channel messages and DMs. Every REST request
is checked against the published OpenAPI spec (``specs/discord-openapi.json``); what it does not allow is
collected in ``spec_errors``. Uploaded pictures are served back from ``/attachments/...`` like Discord's CDN.
OAuth2 sign-in (the web console): ``/oauth2/authorize`` as a person signed in to Discord who approves
(``sign_in_as``), sending the browser back to a registered redirect URI (``redirect_uris``) with a code and
the same state; ``/api/v10/oauth2/token`` trades a code once for a Bearer token, for the application's id
and ``client_secret`` only (OAuth2's own endpoint, RFC 6749: not in the OpenAPI document);
``/users/@me`` with that token answers the person.

Tests drive it like users do: ``slash("video", user, options=...)``, ``context_menu(...)``, ``press(...)``,
and read what users would see: ``messages`` (each with every version it had), ``callbacks``, ``requests``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

from aiohttp import WSMsgType, web

from tests.fakes.forms import form_parts
from tests.fakes.openapi import check, load
from tests.fakes.server import serve

API = "/api/v10"

EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5
EVERYONE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 15) | (1 << 31)  # view, send, attach, use commands
_counter = itertools.count()
DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake(age_s: float = 0.0) -> str:
    """A Discord id: the time it was made (discord.py reads an interaction's age from it), then a counter."""
    return str(((int((time.time() - age_s) * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_counter) % 4096))


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Sent:
    """A message as users see it, with every version it had (first as sent, then each edit)."""

    id: str
    channel_id: str
    author: dict[str, Any]
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # filename -> bytes
    flags: int = 0
    interaction_token: str | None = None
    versions: list[str] = field(default_factory=list)
    loading: bool = False
    pings: set[str] = field(default_factory=set)  # who this message notified: "everyone", "user:1", "role:2"

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    def buttons(self) -> list[tuple[str, str]]:
        return [(c.get("label", ""), c.get("custom_id", "")) for row in self.components
                for c in row.get("components", [])]

    def payload(self, fake: FakeDiscord) -> dict[str, Any]:
        return {
            "id": self.id, "channel_id": self.channel_id, "author": self.author, "content": self.content,
            "timestamp": _now(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "pinned": False, "type": 0, "flags": self.flags,
            "embeds": self.embeds, "components": self.components,
            "attachments": [fake.attachment(self.channel_id, name, data) for name, data in self.files.items()],
            **({"application_id": fake.app_id, "webhook_id": fake.app_id} if self.interaction_token else {}),
        }


@dataclass
class Interaction:
    id: str
    token: str
    user: dict[str, Any]
    channel_id: str
    guild_id: str | None
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # the bodies of its callbacks, in order
    acked_at: float | None = None  # monotonic time of the first callback
    created_at: float = field(default_factory=time.monotonic)
    original: str | None = None  # message id of the original response
    dispatched_at: float = 0.0  # monotonic time INTERACTION_CREATE went out on the gateway
    locale: str = "en-US"  # the language of the user's Discord app


class FakeDiscord:
    token = "MTA.fake.discord-bot-token"

    def __init__(self, *, filesize_limit: int = 10 * 1024 * 1024) -> None:
        self.app_id = snowflake()
        self.bot = {"id": self.app_id, "username": "reelbot", "discriminator": "0", "global_name": "reelbot",
                    "avatar": None, "bot": True, "flags": 0}
        self.filesize_limit = filesize_limit
        self.guilds: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, Sent] = {}
        self.deleted: dict[str, Sent] = {}
        self.interactions: dict[str, Interaction] = {}  # token -> interaction
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id -> synced commands
        self.uploads: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.request_times: list[float] = []  # monotonic time each request arrived, in step with requests
        self.spec_errors: list[str] = []
        self.identified = 0
        self.heartbeats = 0
        self.fail_next: list[tuple[str, int, dict[str, Any]]] = []  # (path part, status, body)
        self._sockets: list[tuple[web.WebSocketResponse, list[int]]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        # OAuth2: the application's secret and registered redirects (Developer Portal → OAuth2), who is signed
        # in to Discord in the browser, the authorize pages visited, the codes and tokens given out.
        self.client_secret = "fake-oauth2-client-secret"
        self.redirect_uris: list[str] = []
        self.signed_in: dict[str, Any] | None = None
        self.approves = True
        self.authorize_visits: list[dict[str, str]] = []
        self._codes: dict[str, tuple[dict[str, Any], str]] = {}  # code -> (user, redirect_uri)
        self._bearers: dict[str, dict[str, Any]] = {}  # access token -> user
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/oauth2/authorize", self._authorize)
        app.router.add_get("/attachments/{channel}/{id}/{name}", self._cdn)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self.app = app

    # --- life cycle ---

    async def start(self) -> FakeDiscord:
        self._runner, port = await serve(self.app)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for ws, _ in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.url + API

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/gateway"

    # --- the world ---

    def user(self, user_id: int, name: str = "ann") -> dict[str, Any]:
        return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name.title(),
                "avatar": None, "bot": False, "flags": 0}

    def dm_channel(self, user_id: str) -> str:
        """The id of the private channel between the bot and a user."""
        return str(int(user_id) + 77)

    def sign_in_as(self, user: dict[str, Any], *, locale: str = "en-US", approves: bool = True) -> None:
        """The person signed in to Discord in the browser that will visit the authorize page, as ``/users/@me``
        shows them to an app with the identify scope; ``approves=False``: they press Cancel."""
        self.signed_in = {**user, "public_flags": 0, "flags": 0, "mfa_enabled": False, "locale": locale,
                          "banner": None, "accent_color": None, "premium_type": 0}
        self.approves = approves

    def guild(self, guild_id: int, name: str = "Makers", channel_id: int | None = None, *, locale: str = "en-US",
              community: bool = False) -> dict[str, Any]:
        """A server with one text channel. Only a Community server chooses its language (``locale``, Discord's
        ``preferred_locale``); every other one reports en-US."""
        gid = str(guild_id)
        channel = {"id": str(channel_id or guild_id + 1), "type": 0, "name": "videos", "position": 0,
                   "permission_overwrites": [], "nsfw": False, "parent_id": None, "guild_id": gid}
        self.guilds[gid] = {
            "id": gid, "name": name, "icon": None, "owner_id": "1", "afk_channel_id": None, "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "roles": [{"id": gid, "name": "@everyone", "permissions": str(EVERYONE_PERMISSIONS), "position": 0,
                       "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}],
            "emojis": [], "stickers": [], "features": ["COMMUNITY"] if community else [], "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None, "description": None,
            "banner": None, "premium_tier": 0, "premium_subscription_count": 0,
            "preferred_locale": locale if community else "en-US",
            "public_updates_channel_id": None, "nsfw_level": 0, "premium_progress_bar_enabled": False,
            "joined_at": _now(), "large": False, "unavailable": False, "member_count": 2,
            "members": [{"user": self.bot, "roles": [], "joined_at": _now(), "deaf": False, "mute": False,
                         "flags": 0}],
            "channels": [channel], "threads": [], "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }
        return channel

    def attachment(self, channel_id: str, name: str, data: bytes, content_type: str | None = None) -> dict[str, Any]:
        key = f"{channel_id}/{abs(hash((name, len(data))))}/{name}"
        self.uploads[key] = data
        return {"id": key.split("/")[1], "filename": name, "size": len(data), "url": f"{self.url}/attachments/{key}",
                "proxy_url": f"{self.url}/attachments/{key}",
                "content_type": content_type or ("video/mp4" if name.endswith(".mp4") else "image/png")}

    # --- users acting ---

    def slash(self, name: str, user: dict[str, Any], *, guild_id: int | None = None,
              options: dict[str, Any] | None = None, image: tuple[str, bytes, str] | None = None,
              manage_guild: bool = False, age_s: float = 0.0, locale: str = "en-US",
              subcommand: str | None = None) -> Interaction:
        """A user runs /name with options (an image as (filename, bytes, content type)); in a guild or a DM.
        ``age_s`` makes the interaction that old (its token expires 15 minutes after it was made); ``locale``
        is the language of the user's Discord app. A user option is given as a user object (``fake.user(...)``);
        ``subcommand`` runs /name subcommand with the options."""
        inter = self._interaction(user, guild_id, manage_guild, age_s=age_s, locale=locale)
        opts: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for key, value in (options or {}).items():
            if isinstance(value, dict):  # a user option: its id, and the user in "resolved"
                opts.append({"name": key, "type": 6, "value": value["id"]})
                resolved.setdefault("users", {})[value["id"]] = value
                continue
            kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
            opts.append({"name": key, "type": kind, "value": value})
        if image is not None:
            attachment = self.attachment(inter.channel_id, image[0], image[1], image[2])
            opts.append({"name": "image", "type": 11, "value": attachment["id"]})
            resolved["attachments"] = {attachment["id"]: attachment}
        if subcommand is not None:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        data = {"id": snowflake(), "name": name, "type": 1, "options": opts,
                **({"resolved": resolved} if resolved else {}), **({"guild_id": str(guild_id)} if guild_id else {})}
        self._dispatch_interaction(inter, 2, data)
        return inter

    def autocomplete(self, name: str, user: dict[str, Any], *, focused: str, options: dict[str, Any],
                     guild_id: int | None = None, locale: str = "en-US") -> Interaction:
        """A user types into option ``focused`` of /name: Discord asks the bot for suggestions (an
        APPLICATION_COMMAND_AUTOCOMPLETE interaction, type 4); the bot answers with a type 8 callback, whose
        choices tests read from ``inter.callbacks``."""
        inter = self._interaction(user, guild_id, False, locale=locale)
        opts = [{"name": key, "type": 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3,
                 "value": value, **({"focused": True} if key == focused else {})} for key, value in options.items()]
        data = {"id": snowflake(), "name": name, "type": 1, "options": opts,
                **({"guild_id": str(guild_id)} if guild_id else {})}
        self._dispatch_interaction(inter, 4, data)
        return inter

    def context_menu(self, name: str, user: dict[str, Any], target: Sent, *, guild_id: int | None = None,
                     locale: str = "en-US") -> Interaction:
        inter = self._interaction(user, guild_id, False, channel_id=target.channel_id, locale=locale)
        data = {"id": snowflake(), "name": name, "type": 3, "target_id": target.id,
                "resolved": {"messages": {target.id: target.payload(self)}}}
        self._dispatch_interaction(inter, 2, data)
        return inter

    def post(self, user: dict[str, Any], channel_id: str, content: str = "",
             files: dict[str, bytes] | None = None) -> Sent:
        """A user's own message in a channel (for the context menu to point at)."""
        message = Sent(snowflake(), channel_id, user, content, files=dict(files or {}))
        self.messages[message.id] = message
        return message

    def press(self, message: Sent, custom_id: str, user: dict[str, Any], *, guild_id: int | None = None,
              manage_guild: bool = False, locale: str = "en-US") -> Interaction:
        inter = self._interaction(user, guild_id, manage_guild, channel_id=message.channel_id, locale=locale)
        self._dispatch_interaction(inter, 3, {"custom_id": custom_id, "component_type": 2},
                                   message=message.payload(self))
        return inter

    # --- what tests read ---

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not (result := predicate()):
                left = deadline - time.monotonic()
                if left <= 0:
                    recent = "\n".join(f"  {m} {p}" for m, p, _ in self.requests[-12:])
                    raise AssertionError(f"timed out waiting; the last requests were:\n{recent}")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    pass
        return result

    def original(self, inter: Interaction) -> Sent | None:
        return self.messages.get(inter.original) if inter.original else None

    def ephemeral(self, inter: Interaction) -> list[str]:
        """What only the user saw: ephemeral replies and follow-ups of this interaction, in order."""
        return [m.content for m in self.messages.values()
                if m.interaction_token == inter.token and m.ephemeral and not m.loading]

    def in_channel(self, channel_id: str) -> list[Sent]:
        return [m for m in self.messages.values() if m.channel_id == channel_id]

    # --- gateway ---

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        seq = [0]
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:
                self.heartbeats += 1
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                if payload["d"].get("token") != self.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                self.identified += 1
                ready = {"v": 10, "user": self.bot, "session_id": snowflake(), "resume_gateway_url": self.gateway_url,
                         "guilds": [{"id": g, "unavailable": True} for g in self.guilds], "shard": [0, 1],
                         "application": {"id": self.app_id, "flags": 0}, "private_channels": [],
                         "relationships": [], "presences": [], "geo_ordered_rtc_regions": []}
                await self._send(ws, seq, "READY", ready)
                for guild in self.guilds.values():
                    await self._send(ws, seq, "GUILD_CREATE", guild)
                self._sockets.append((ws, seq))
                await self._notify()
        self._sockets = [(s, q) for s, q in self._sockets if s is not ws]
        return ws

    async def _send(self, ws: web.WebSocketResponse, seq: list[int], event: str, data: dict[str, Any]) -> None:
        seq[0] += 1
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": seq[0], "d": data}))

    def _interaction(self, user: dict[str, Any], guild_id: int | None, manage_guild: bool,
                     channel_id: str | None = None, age_s: float = 0.0, locale: str = "en-US") -> Interaction:
        if guild_id is not None:
            gid = str(guild_id)
            channel = channel_id or self.guilds[gid]["channels"][0]["id"]
        else:
            gid, channel = None, channel_id or self.dm_channel(user["id"])
        inter = Interaction(snowflake(age_s), f"itoken-{snowflake()}", user, channel, gid,
                            created_at=time.monotonic() - age_s, locale=locale)
        inter.manage_guild = manage_guild  # type: ignore[attr-defined]
        self.interactions[inter.token] = inter
        return inter

    def _dispatch_interaction(self, inter: Interaction, kind: int, data: dict[str, Any],
                              message: dict[str, Any] | None = None) -> None:
        permissions = EVERYONE_PERMISSIONS | (MANAGE_GUILD if getattr(inter, "manage_guild", False) else 0)
        payload: dict[str, Any] = {
            "id": inter.id, "application_id": self.app_id, "type": kind, "token": inter.token, "version": 1,
            "data": data, "channel_id": inter.channel_id, "app_permissions": str(EVERYONE_PERMISSIONS),
            "locale": inter.locale, "entitlements": [],
            "attachment_size_limit": self.filesize_limit,
        }
        if inter.guild_id is not None:
            guild = self.guilds[inter.guild_id]
            payload.update(
                guild_id=inter.guild_id, guild_locale=guild["preferred_locale"], context=0,
                guild={"id": inter.guild_id, "locale": guild["preferred_locale"], "features": guild["features"]},
                channel={"id": inter.channel_id, "type": 0, "guild_id": inter.guild_id, "name": "videos",
                         "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None},
                member={"user": inter.user, "roles": [], "joined_at": _now(), "deaf": False, "mute": False,
                        "flags": 0, "permissions": str(permissions), "pending": False},
                authorizing_integration_owners={"0": inter.guild_id},
            )
        else:
            payload.update(user=inter.user, context=1, authorizing_integration_owners={"1": inter.user["id"]},
                           channel={"id": inter.channel_id, "type": 1, "recipients": [inter.user]})
        if message is not None:
            payload["message"] = message
        inter.dispatched_at = time.monotonic()
        for ws, seq in list(self._sockets):
            asyncio.get_running_loop().create_task(self._send(ws, seq, "INTERACTION_CREATE", payload))

    # --- REST ---

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.path == API + "/oauth2/token":
            return await self._token(request, body)
        form = None
        if request.content_type == "multipart/form-data":
            form = {name: data for name, (_, data) in (await form_parts(request)).items()}
        for problem in check(load("discord-openapi.json"), API, request.method, request.path,
                             _ids_as_strings(body) if form is None else body,
                             request.headers.get("Content-Type", ""), _upload_ids_as_strings(form)):
            self.spec_errors.append(problem)
        tail = request.path[len(API):]
        self.requests.append((request.method, tail, json.loads(body) if body and form is None else form))
        self.request_times.append(time.monotonic())
        try:
            # Interaction callbacks and webhooks are authorised by their token in the path; the rest by the bot's.
            auth = request.headers.get("Authorization", "")
            # A person's Bearer token (OAuth2, scope identify) opens their own user and nothing else.
            person = self._bearers.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
            if person is not None and (request.method, tail) != ("GET", "/users/@me"):
                person = None
            if not tail.startswith(("/webhooks/", "/interactions/")) and auth != f"Bot {self.token}" \
                    and person is None:
                return _error(401, 0, "401: Unauthorized")
            if (failed := self._failing(tail)) is not None:
                return failed
            if person is not None:
                return _json(person)
            return await self._route(request, tail, body, form)
        finally:
            await self._notify()

    def _failing(self, tail: str) -> web.Response | None:
        for i, (part, status, error) in enumerate(self.fail_next):
            if part in tail:
                del self.fail_next[i]
                return _json(error, status=status)
        return None

    # --- OAuth2 ---

    async def _authorize(self, request: web.Request) -> web.Response:
        """The page where a person approves an app. Discord shows its own error page, and sends no one
        anywhere, for an unknown application or a redirect URI the application did not register."""
        query = dict(request.query)
        self.authorize_visits.append(query)
        await self._notify()
        redirect_uri, state = query.get("redirect_uri", ""), query.get("state")
        if query.get("client_id") != self.app_id:
            return web.Response(status=400, text="Unknown Application")
        if redirect_uri not in self.redirect_uris:
            return web.Response(status=400, text="Invalid OAuth2 redirect_uri")
        if query.get("response_type") != "code":
            return _back(redirect_uri, state, error="unsupported_response_type",
                         error_description="The authorization server does not support this response type")
        if "identify" not in query.get("scope", "").split():
            return _back(redirect_uri, state, error="invalid_scope", error_description="The requested scope is invalid")
        if self.signed_in is None or not self.approves:
            return _back(redirect_uri, state, error="access_denied",
                         error_description="The resource owner or authorization server denied the request")
        code = secrets.token_urlsafe(20)
        self._codes[code] = (self.signed_in, redirect_uri)
        return _back(redirect_uri, state, code=code)

    async def _token(self, request: web.Request, body: bytes) -> web.Response:
        """The token endpoint: a form; the client authenticated by HTTP Basic or by client_id and
        client_secret in the form; a code is good once, with the redirect URI it was given for."""
        form = dict(parse_qsl(body.decode("utf-8", "replace"))) \
            if request.content_type == "application/x-www-form-urlencoded" else {}
        self.requests.append((request.method, "/oauth2/token", {k: v for k, v in form.items() if k != "client_secret"}))
        self.request_times.append(time.monotonic())
        try:
            if (failed := self._failing("/oauth2/token")) is not None:
                return failed
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if request.headers.get("Authorization", "").startswith("Basic "):
                try:  # RFC 6749 2.3.1: base64 of "id:secret", each part form-encoded
                    pair = base64.b64decode(request.headers["Authorization"][6:], validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    return _json({"error": "invalid_client"}, status=401)
                client_id, _, secret = (unquote_plus(part) for part in pair.partition(":"))
            if client_id != self.app_id or secret != self.client_secret:
                return _json({"error": "invalid_client"}, status=401)
            if not form:
                return _json({"error": "invalid_request", "error_description": "Invalid request"}, status=400)
            if form.get("grant_type") != "authorization_code":
                return _json({"error": "unsupported_grant_type"}, status=400)
            grant = self._codes.pop(form.get("code", ""), None)
            if grant is None:
                return _json({"error": "invalid_grant", "error_description": 'Invalid "code" in request.'}, status=400)
            if form.get("redirect_uri") != grant[1]:
                return _json({"error": "invalid_grant", "error_description": 'Invalid "redirect_uri" in request.'},
                             status=400)
            token = "fake-access-" + secrets.token_urlsafe(18)
            self._bearers[token] = grant[0]
            return _json({"token_type": "Bearer", "access_token": token, "expires_in": 604800,
                          "refresh_token": "fake-refresh-" + secrets.token_urlsafe(18), "scope": "identify"})
        finally:
            await self._notify()

    async def _route(self, request: web.Request, tail: str, body: bytes, form: dict[str, bytes] | None) -> web.Response:
        method, parts = request.method, tail.strip("/").split("/")
        payload = _payload(body, form)
        if (method, tail) == ("GET", "/users/@me"):
            return _json(self.bot)
        if (method, tail) == ("GET", "/oauth2/applications/@me"):
            return _json({"id": self.app_id, "name": "reelbot", "icon": None, "description": "",
                                      "bot_public": True, "bot_require_code_grant": False, "owner": self.user(1, "owner"),
                                      "team": None, "verify_key": "00" * 32, "flags": 0, "bot": self.bot})
        if (method, tail) == ("GET", "/gateway/bot"):
            return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            scope = parts[3] if len(parts) == 5 else "global"
            synced = [{"description": "", "options": [], "default_member_permissions": None, **c, "id": snowflake(), "application_id": self.app_id, "version": snowflake(),
                       **({"guild_id": scope} if scope != "global" else {})} for c in payload]
            self.commands[scope] = synced
            return _json(synced)
        if method == "POST" and parts[0] == "interactions":
            return self._callback(request, parts[2], payload, form)
        if parts[0] == "webhooks":
            return self._webhook(method, parts, request, payload, form)
        if (method, parts[0], parts[-1]) == ("POST", "channels", "messages"):
            message = self._store(Sent(snowflake(), parts[1], self.bot), payload, form)
            return _json(message.payload(self))
        if (method, parts[0], parts[-2:-1]) == ("DELETE", "channels", ["messages"]) and len(parts) == 4:
            message = self.messages.get(parts[3])
            if message is None or message.channel_id != parts[1]:
                return _error(404, 10008, "Unknown Message")
            if message.author.get("id") != self.bot.get("id"):
                return _error(403, 50003, "Cannot execute action on this channel")  # others' need Manage Messages
            self.deleted[message.id] = self.messages.pop(message.id)
            return web.Response(status=204)
        if method == "GET" and parts[0] == "users" and len(parts) == 2 and parts[1].isdigit():
            return _json(self.user(int(parts[1]), f"user{parts[1][-4:]}"))
        if (method, tail) == ("POST", "/users/@me/channels"):
            uid = payload["recipient_id"]
            return _json({"id": self.dm_channel(uid), "type": 1, "last_message_id": None,
                                      "recipients": [self.user(int(uid))]})
        return _error(404, 0, f"404: Not Found ({method} {tail})")

    def _callback(self, request: web.Request, token: str, payload: dict[str, Any],
                  form: dict[str, bytes] | None) -> web.Response:
        inter = self.interactions.get(token)
        if inter is None:
            return _error(404, 10062, "Unknown interaction")
        if inter.acked_at is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        inter.acked_at = time.monotonic()
        inter.callbacks.append(payload)
        kind, data = payload.get("type"), payload.get("data") or {}
        message: Sent | None = None
        if kind in (4, 5):
            message = Sent(snowflake(), inter.channel_id, self.bot, interaction_token=token,
                           flags=int(data.get("flags") or 0), loading=kind == 5)
            self.messages[message.id] = message
            self._store(message, data, form)
            inter.original = message.id
        elif kind == 8:  # autocomplete suggestions: no message, the choices are in the callback's body
            pass
        elif kind in (6, 7):
            source = next((m for m in self.messages.values() if m.interaction_token and
                           self.interactions.get(m.interaction_token) is not None), None)
            message = source
        if request.query.get("with_response") in ("1", "true", "True"):
            return _json({
                "interaction": {"id": inter.id, "type": 2, "response_message_id": message.id if message else None,
                                "response_message_loading": kind == 5,
                                "response_message_ephemeral": bool(message and message.ephemeral)},
                **({"resource": {"type": kind, "message": message.payload(self)}} if message and kind in (4, 5) else {}),
            })
        return web.Response(status=204)

    def _webhook(self, method: str, parts: list[str], request: web.Request, payload: dict[str, Any],
                 form: dict[str, bytes] | None) -> web.Response:
        token = parts[2]
        inter = self.interactions.get(token)
        if parts[1] != self.app_id or inter is None:
            return _error(404, 10015, "Unknown Webhook")
        if time.monotonic() - inter.created_at > 15 * 60 or getattr(inter, "expired", False):
            return _error(401, 50027, "Invalid Webhook Token")
        if method == "POST" and len(parts) == 3:
            loading = self.messages.get(inter.original or "")
            if loading is not None and loading.loading:
                # The first follow-up after a deferred response takes the place of its "thinking…" message.
                loading.loading = False
                return _json(self._store(loading, payload, form).payload(self))
            message = self._store(Sent(snowflake(), inter.channel_id, self.bot, interaction_token=token,
                                       flags=int(payload.get("flags") or 0)), payload, form)
            return _json(message.payload(self))
        if len(parts) == 5 and parts[3] == "messages":
            target = inter.original if parts[4] == "@original" else parts[4]
            message = self.messages.get(target or "")
            if message is None:
                return _error(404, 10008, "Unknown Message")
            if method == "GET":
                return _json(message.payload(self))
            if method == "PATCH":
                message.loading = False
                self._store(message, payload, form)
                return _json(message.payload(self))
            if method == "DELETE":
                self.deleted[message.id] = self.messages.pop(message.id)
                return web.Response(status=204)
        return _error(405, 0, "405: Method Not Allowed")

    def _store(self, message: Sent, payload: dict[str, Any], form: dict[str, bytes] | None) -> Sent:
        if "content" in payload:
            message.content = payload["content"] or ""
        if "embeds" in payload:
            message.embeds = payload["embeds"] or []
        if "components" in payload:
            message.components = payload["components"] or []
        if "attachments" in payload or form:
            kept = {a.get("filename") for a in payload.get("attachments") or [] if "filename" in a}
            files = {}
            for index, attachment in enumerate(payload.get("attachments") or []):
                data = (form or {}).get(f"files[{attachment.get('id', index)}]")
                if data is not None:
                    files[attachment.get("filename", f"file{index}")] = data
            message.files = {**{k: v for k, v in message.files.items() if k in kept}, **files}
        message.versions.append(message.content)
        if "content" in payload:
            message.pings |= _pings(message.content, payload.get("allowed_mentions"))
        self.messages[message.id] = message
        return message

    async def _cdn(self, request: web.Request) -> web.Response:
        key = f"{request.match_info['channel']}/{request.match_info['id']}/{request.match_info['name']}"
        data = self.uploads.get(key)
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def _payload(body: bytes, form: dict[str, bytes] | None) -> Any:
    if form is not None:
        return json.loads(form.get("payload_json", b"{}"))
    return json.loads(body) if body else {}


def _back(redirect_uri: str, state: str | None, **params: str) -> web.Response:
    """The authorize page sending the browser back to the app, with the state it was given."""
    query = urlencode({**params, **({"state": state} if state is not None else {})})
    return web.Response(status=302, headers={"Location": f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"})


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status=status)


def _json(data: Any, status: int = 200) -> web.Response:
    """JSON the way Discord sends it: discord.py parses a body only when the type is exactly this."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _ids_as_strings(body: bytes) -> bytes:
    """Discord takes an id as a number or a string (snowflakes fit in 64 bits); the spec types them as
    strings only. discord.py sends numbers (``recipient_id``, a new upload's index as its ``id``, the id lists
    ``users``/``roles`` of ``allowed_mentions``), so ids are compared as strings; everything else is checked
    as sent."""
    if not body:
        return body
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return body

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: str(v) if (k == "id" or k.endswith("_id")) and isinstance(v, int) and not isinstance(v, bool)
                    else [str(i) for i in v] if k in ("users", "roles") and isinstance(v, list)
                    else fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return json.dumps(fix(data)).encode()


def _upload_ids_as_strings(form: dict[str, bytes] | None) -> dict[str, bytes] | None:
    """The same for the JSON that travels beside files in a multipart body."""
    if not form or "payload_json" not in form:
        return form
    return {**form, "payload_json": _ids_as_strings(form["payload_json"])}


def _pings(content: str, allowed: dict[str, Any] | None) -> set[str]:
    """Who a message's mentions reach, as Discord decides: without ``allowed_mentions`` every @everyone,
    role and user mention in the text pings; with it, only what its ``parse`` list and id lists allow."""
    everyone = {"everyone"} if re.search(r"@(everyone|here)\b", content) else set()
    users = set(re.findall(r"<@!?(\d+)>", content))
    roles = set(re.findall(r"<@&(\d+)>", content))
    if allowed is None:
        return everyone | {f"user:{u}" for u in users} | {f"role:{r}" for r in roles}
    parse = set(allowed.get("parse") or [])
    named_users, named_roles = set(map(str, allowed.get("users") or [])), set(map(str, allowed.get("roles") or []))
    return ((everyone if "everyone" in parse else set())
            | {f"user:{u}" for u in users if "users" in parse or u in named_users}
            | {f"role:{r}" for r in roles if "roles" in parse or r in named_roles})
