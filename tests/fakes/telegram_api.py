"""A faithful local fake of the Telegram Bot API, for running the real python-telegram-bot client in tests.

It speaks the wire protocol PTB uses (``POST /bot<token>/<method>`` with form, multipart or JSON bodies;
``GET /file/bot<token>/<path>``), checks every request against the published spec
(``shared/specs/telegram-bot-api.json``: method, required and unknown fields, each value's type, nested
objects, and the documented limits), and answers the way Telegram does, errors included: flood control
(429 with ``retry_after``), "message is not modified", "file is too big", 413 for uploads over 50 MB,
409 for getUpdates while a webhook is set. Tests play the users: :meth:`FakeTelegram.send` and
:meth:`FakeTelegram.press` queue updates, which the bot takes by long polling or receives on its webhook.
A request that breaks the spec is refused with 400, as Telegram would, and listed in ``spec_errors``.

It also plays oauth.telegram.org for the Login Widget (the web console's sign-in): ``/auth?bot_id=...
&origin=...&return_to=...``, for the domain set with @BotFather (``login_domain``), sends the browser back
to ``return_to`` with ``#tgAuthResult=`` and the fields of the person signed in (``login_user``), signed the
way https://core.telegram.org/widgets/login#checking-authorization says (:meth:`FakeTelegram.login_data`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.fakes.server import serve

# A copy of shared/specs/telegram-bot-api.json (Bot API 10.1), kept here so a fresh clone tests alone.
SPEC_PATH = Path(__file__).with_name("specs") / "telegram-bot-api.json"
MB = 1024 * 1024


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float
    filenames: dict[str, str] = field(default_factory=dict)  # part name -> the file name the upload gave


@dataclass
class FakeMessage:
    """A message the bot sent, as the chat shows it now (``edits``: every text it has shown, in order)."""

    chat_id: int
    message_id: int
    text: str | None = None
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    video: bytes | None = None
    photo: bytes | None = None
    document: bytes | None = None
    supports_streaming: bool = False
    reply_to_message_id: int | None = None
    edits: list[str] = field(default_factory=list)
    deleted: bool = False


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


# The account Telegram shows as the sender of every anonymous group admin's message (@GroupAnonymousBot).
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


class FakeTelegram:
    def __init__(
        self, *, bot_id: int = 4242, bot_username: str = "reelbot_test_bot",
        max_upload_bytes: int = 50 * MB, max_download_bytes: int = 20 * MB,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.token = f"{bot_id}:AAH-fake-token-for-tests-0123456789"
        self.max_upload_bytes = max_upload_bytes
        self.max_download_bytes = max_download_bytes
        self.bot_user = {"id": bot_id, "is_bot": True, "first_name": "Reelbot", "username": bot_username,
                         "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.spec_errors: list[str] = []
        self.messages: dict[tuple[int, int], FakeMessage] = {}
        self.answered: dict[str, dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        self.webhook_deliveries: list[int] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}  # the command menus by language_code ("": default)
        self._chats: dict[int, dict[str, Any]] = {}
        self._user_messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._next_id: dict[int, itertools.count[int]] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._queries = itertools.count(1)
        self._pending_queries: set[str] = set()
        self._files: dict[str, tuple[bytes, int, str]] = {}
        self._failures: dict[str, list[ApiError]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        # The Login Widget: the bot's domain (@BotFather's /setdomain) and who is signed in to Telegram in the
        # browser, approving; the sign-in pages visited.
        self.login_domain: str | None = None
        self.login_user: dict[str, Any] | None = None
        self.login_visits: list[dict[str, str]] = []

    # --- life cycle ---

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * MB)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_get("/auth", self._login)
        self._runner, self.port = await serve(app)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def oauth_url(self) -> str:
        """Where oauth.telegram.org is (its ``/auth`` sign-in page)."""
        return f"http://127.0.0.1:{self.port}"

    # --- playing the users ---

    def user(self, user_id: int, first_name: str = "Ann", username: str | None = None,
             language_code: str | None = None) -> dict[str, Any]:
        """A person; ``language_code`` is their Telegram app's language ("ko", "en-US"), sent with each update."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self._chats[chat["id"]] = chat
        return chat

    def group_chat(self, chat_id: int, title: str = "Makers", kind: str = "group") -> dict[str, Any]:
        chat = {"id": chat_id, "type": kind, "title": title}
        self._chats[chat_id] = chat
        return chat

    def add_file(self, data: bytes, *, file_size: int | None = None, suffix: str = "jpg") -> str:
        number = len(self._files) + 1
        file_id = f"FILE{number:04d}AgADBAAD"
        self._files[file_id] = (data, file_size if file_size is not None else len(data), f"photos/file_{number}.{suffix}")
        return file_id

    def send(
        self, chat: dict[str, Any], user: dict[str, Any], text: str | None = None, *, photo: bytes | None = None,
        document: tuple[bytes, str, str] | None = None, caption: str | None = None, reply_to: int | None = None,
        document_size: int | None = None, sender_chat: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user's message arrives in a chat: queue it as an update and return it. A group's anonymous admin
        writes as ``user=ANONYMOUS_ADMIN`` with ``sender_chat`` the group, as Telegram sends it."""
        message: dict[str, Any] = {"message_id": self._message_id(chat["id"]), "date": int(time.time()),
                                   "chat": chat, "from": user}
        if sender_chat is not None:
            message["sender_chat"] = sender_chat
        if text is not None:
            message["text"] = text
            if entities := _entities(text, self.bot_username):
                message["entities"] = entities
        if caption is not None:
            message["caption"] = caption
            if entities := _entities(caption, self.bot_username):
                message["caption_entities"] = entities
        if photo is not None:
            big = self.add_file(photo)
            small = self.add_file(photo[: max(1, len(photo) // 4)])
            message["photo"] = [
                {"file_id": small, "file_unique_id": small[:8] + "s", "width": 90, "height": 68,
                 "file_size": len(photo) // 4},
                {"file_id": big, "file_unique_id": big[:8] + "b", "width": 1280, "height": 960,
                 "file_size": len(photo)},
            ]
        if document is not None:
            data, mime, name = document
            size = document_size if document_size is not None else len(data)
            file_id = self.add_file(data, file_size=size, suffix=name.rsplit(".", 1)[-1])
            message["document"] = {"file_id": file_id, "file_unique_id": file_id[:8] + "d", "file_name": name,
                                   "mime_type": mime, "file_size": size}
        if reply_to is not None:  # to one of the bot's messages, or to another person's
            key = (chat["id"], reply_to)
            replied = self._user_messages.get(key)
            message["reply_to_message"] = ({k: v for k, v in replied.items() if k != "reply_to_message"}
                                           if replied is not None else self._message_json(self.messages[key]))
        self._user_messages[(chat["id"], message["message_id"])] = message
        self._queue({"message": message})
        return message

    def press(self, chat: dict[str, Any], user: dict[str, Any], message_id: int, data: str) -> str:
        """A user presses an inline button under one of the bot's messages."""
        query_id = str(next(self._queries) + 9_000_000)
        self._pending_queries.add(query_id)
        self._queue({"callback_query": {
            "id": query_id, "from": user, "chat_instance": str(chat["id"]), "data": data,
            "message": self._message_json(self.messages[(chat["id"], message_id)]),
        }})
        return query_id

    def login_data(self, user: dict[str, Any], *, auth_date: int | None = None,
                   photo_url: str | None = None) -> dict[str, Any]:
        """What the Login Widget hands the site for ``user``, signed by Telegram for this bot: every field
        but ``hash`` sorted, ``key=value`` a line, HMAC-SHA256 under the SHA-256 of the bot's token, in hex."""
        data: dict[str, Any] = {"id": user["id"], "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if user.get(key):
                data[key] = user[key]
        if photo_url:
            data["photo_url"] = photo_url
        data["auth_date"] = int(time.time()) if auth_date is None else auth_date
        check = "\n".join(f"{key}={data[key]}" for key in sorted(data))
        secret = hashlib.sha256(self.token.encode()).digest()
        data["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
        return data

    # --- scripting and observing ---

    def fail_next(
        self, method: str, times: int = 1, *, error_code: int = 429, description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        if error_code == 429:
            retry_after = retry_after or 1
            description = description or f"Too Many Requests: retry after {retry_after}"
        self._failures.setdefault(method, []).extend(
            [ApiError(error_code, description or "Internal Server Error", retry_after)] * times
        )

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not (result := predicate()):
                left = deadline - time.monotonic()
                if left <= 0:
                    recent = "\n".join(f"  {c.method} {c.params}" for c in self.calls[-15:])
                    raise AssertionError(f"timed out after {timeout} s; the bot's last calls:\n{recent}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.1))
        return result

    # --- the HTTP side ---

    async def _login(self, request: web.Request) -> web.Response:
        """oauth.telegram.org/auth: for this bot, from the domain set with @BotFather, a person signed in
        approves, and the browser goes back to ``return_to`` with their signed fields in the fragment."""
        query = dict(request.query)
        self.login_visits.append(query)
        await self._notify()
        origin, return_to = query.get("origin", ""), query.get("return_to", "")
        if query.get("bot_id") != str(self.bot_id):
            return web.Response(status=400, text="Bot invalid")
        if self.login_domain is None or urlsplit(origin).hostname != self.login_domain:
            return web.Response(status=400, text="Bot domain invalid")
        if not return_to.startswith(origin + "/") or self.login_user is None:
            return web.Response(status=400, text="Invalid return_to")
        result = base64.urlsafe_b64encode(json.dumps(self.login_data(self.login_user)).encode()).rstrip(b"=")
        return web.Response(status=302, headers={"Location": f"{return_to.split('#')[0]}#tgAuthResult={result.decode()}"})

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        method_spec = spec()["methods"].get(method)
        if method_spec is None:
            return _error(ApiError(404, "Not Found"))
        raw, files, filenames = await _read_body(request)
        problems: list[str] = []
        params = _check_method(method_spec, raw, files, problems)
        self.calls.append(Call(method, params, {k: v for k, v in files.items()}, time.monotonic(), filenames))
        try:
            if problems:
                self.spec_errors.extend(f"{method}: {p}" for p in problems)
                raise ApiError(400, f"Bad Request: {problems[0]}")
            if self._failures.get(method):
                raise self._failures[method].pop(0)
            result = await self._answer(method, params, files)
        except ApiError as exc:
            return _error(exc)
        finally:
            await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for data, _, path in self._files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404, text="Not Found")

    async def _answer(self, method: str, p: dict[str, Any], files: dict[str, bytes]) -> Any:
        if method == "getMe":
            return self.bot_user
        if method == "getUpdates":
            return await self._get_updates(p)
        if method == "setWebhook":
            self.webhook = {"url": p["url"], "secret_token": p.get("secret_token")}
            if p.get("drop_pending_updates"):
                self._updates.clear()
            for update in self._updates:
                self._post_to_webhook(update)
            self._updates.clear()
            return True
        if method == "deleteWebhook":
            self.webhook = None
            return True
        if method == "getWebhookInfo":
            return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}
        if method in ("setMyCommands", "deleteMyCommands"):
            self.commands[p.get("language_code") or ""] = list(p.get("commands", []))
            return True
        if method == "getMyCommands":
            return self.commands.get(p.get("language_code") or "", [])
        if method in ("close", "logOut", "sendChatAction"):
            return True
        if method == "answerCallbackQuery":
            query_id = p["callback_query_id"]
            if query_id not in self._pending_queries:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
            self._pending_queries.discard(query_id)
            self.answered[query_id] = {"text": p.get("text", ""), "show_alert": bool(p.get("show_alert", False))}
            return True
        if method == "getFile":
            return self._get_file(p["file_id"])
        if method in ("sendMessage", "sendVideo", "sendPhoto", "sendDocument"):
            return self._send(method, p, files)
        if method in ("editMessageText", "editMessageCaption", "editMessageReplyMarkup"):
            return self._edit(method, p)
        if method == "deleteMessage":
            self._message(p)[1].deleted = True
            return True
        raise ApiError(400, f"Bad Request: the fake does not implement {method}")

    async def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = p.get("offset")
        if offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + float(p.get("timeout", 0))
        async with self._changed:
            while not self._updates and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
        return self._updates[: int(p.get("limit", 100))]

    def _get_file(self, file_id: str) -> dict[str, Any]:
        if file_id not in self._files:
            raise ApiError(400, "Bad Request: invalid file_id")
        _, size, path = self._files[file_id]
        if size > self.max_download_bytes:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": file_id[:8], "file_size": size, "file_path": path}

    def _send(self, method: str, p: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        if chat_id not in self._chats:
            raise ApiError(400, "Bad Request: chat not found")
        kind = {"sendVideo": "video", "sendPhoto": "photo", "sendDocument": "document"}.get(method)
        upload = None
        if kind is not None:
            upload = files.get(kind) or files.get(str(p.get(kind, "")).removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, f"Bad Request: the fake expects the {kind} as an upload")
            if len(upload) > self.max_upload_bytes:
                raise ApiError(413, "Request Entity Too Large")
        reply = p.get("reply_parameters") or {}
        message = FakeMessage(chat_id, self._message_id(chat_id), text=p.get("text"), caption=p.get("caption"),
                              reply_markup=p.get("reply_markup"), supports_streaming=bool(p.get("supports_streaming")),
                              reply_to_message_id=reply.get("message_id"))
        if kind is not None:
            setattr(message, kind, upload)
        message.edits.append(message.text or message.caption or "")
        self.messages[(chat_id, message.message_id)] = message
        return self._message_json(message)

    def _edit(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        _, message = self._message(p, "message to edit not found")
        text = p.get("text", message.text) if method == "editMessageText" else message.text
        caption = p.get("caption", message.caption) if method == "editMessageCaption" else message.caption
        markup = p.get("reply_markup")
        if (text, caption, markup) == (message.text, message.caption, message.reply_markup):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        message.text, message.caption, message.reply_markup = text, caption, markup
        message.edits.append(text or caption or "")
        return self._message_json(message)

    def _message(self, p: dict[str, Any], missing: str = "message to delete not found") -> tuple[int, FakeMessage]:
        key = (int(p.get("chat_id", 0)), int(p.get("message_id", 0)))
        message = self.messages.get(key)
        if message is None or message.deleted:
            raise ApiError(400, f"Bad Request: {missing}")
        return key[0], message

    def _message_json(self, message: FakeMessage) -> dict[str, Any]:
        out: dict[str, Any] = {"message_id": message.message_id, "date": int(time.time()),
                               "chat": self._chats[message.chat_id], "from": self.bot_user}
        if message.text is not None:
            out["text"] = message.text
        if message.caption is not None:
            out["caption"] = message.caption
        if message.reply_markup is not None:
            out["reply_markup"] = message.reply_markup
        if message.video is not None:
            out["video"] = {"file_id": f"VID{message.message_id}", "file_unique_id": f"V{message.message_id}",
                            "width": 64, "height": 64, "duration": 1, "mime_type": "video/mp4",
                            "file_size": len(message.video)}
        if message.photo is not None:
            out["photo"] = [{"file_id": f"PH{message.message_id}", "file_unique_id": f"P{message.message_id}",
                             "width": 64, "height": 64, "file_size": len(message.photo)}]
        return out

    def _message_id(self, chat_id: int) -> int:
        return next(self._next_id.setdefault(chat_id, itertools.count(1)))

    def _queue(self, update: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), **update}
        if self.webhook is not None:
            self._post_to_webhook(update)
        else:
            self._updates.append(update)
        task = asyncio.get_running_loop().create_task(self._notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _post_to_webhook(self, update: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, update: dict[str, Any]) -> None:
        """Telegram posts each update to the webhook and retries while the bot does not answer 200."""
        assert self.webhook is not None
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        async with aiohttp.ClientSession() as http:
            for _ in range(5):
                try:
                    async with http.post(self.webhook["url"], json=update, headers=headers) as resp:
                        self.webhook_deliveries.append(resp.status)
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    self.webhook_deliveries.append(0)
                await asyncio.sleep(0.2)  # paced: Telegram waits before posting an update again

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


# --- reading requests the way Telegram does ---


async def _read_body(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    """Form fields as strings (JSON bodies keep their types), uploaded files and their file names by part
    name."""
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body), {}, {}
    if request.method == "GET" or not request.can_read_body:
        return dict(request.query), {}, {}
    form = await request.post()
    raw: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    filenames: dict[str, str] = {}
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = value.file.read()
            filenames[name] = value.filename
        else:
            raw[name] = value
    return raw, files, filenames


def _check_method(
    method_spec: dict[str, Any], raw: dict[str, Any], files: dict[str, bytes], problems: list[str]
) -> dict[str, Any]:
    fields = {f["name"]: f for f in method_spec.get("fields", [])}
    attached = {str(v).removeprefix("attach://") for v in raw.values() if str(v).startswith("attach://")}
    for name in files:
        if name not in fields and name not in attached:
            problems.append(f"unexpected file part {name!r}")
    for name in raw:
        if name not in fields:
            problems.append(f"unknown field {name!r}")
    params: dict[str, Any] = {}
    for name, field_spec in fields.items():
        if name in raw:
            params[name] = _decode(raw[name], field_spec["types"], files, f"{name}", problems)
        elif name in files and "InputFile" in field_spec["types"]:
            params[name] = f"<upload {len(files[name])} bytes>"
        elif field_spec["required"]:
            problems.append(f"required field {name!r} is missing")
    _limits(method_spec["name"], params, problems)
    return params


def _decode(value: Any, types: list[str], files: dict[str, bytes], path: str, problems: list[str]) -> Any:
    """A form value (a string, JSON-encoded unless it is a plain string) as the spec's type says."""
    if isinstance(value, str):
        if "InputFile" in types and value.startswith("attach://"):
            if value.removeprefix("attach://") not in files:
                problems.append(f"{path}: {value} names no uploaded part")
            return value
        for kind in types:
            if kind == "String":
                continue
            with contextlib.suppress(ValueError):
                decoded = json.loads(value)
                if not _type_errors(decoded, kind, path):
                    return decoded
        if "String" in types or "InputFile" in types:
            return value
        decoded_any: Any = value
        with contextlib.suppress(ValueError):
            decoded_any = json.loads(value)
        errors = _type_errors(decoded_any, types[0], path)
        problems.extend(errors or [f"{path}: {value!r} is not {' or '.join(types)}"])
        return decoded_any
    errors = [e for kind in types for e in _type_errors(value, kind, path)]
    if all(_type_errors(value, kind, path) for kind in types):
        problems.append(errors[0] if errors else f"{path}: not {' or '.join(types)}")
    return value


def _type_errors(value: Any, kind: str, path: str) -> list[str]:
    if kind.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: expected {kind}"]
        return [e for i, item in enumerate(value) for e in _type_errors(item, kind[9:], f"{path}[{i}]")]
    simple = {"Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
              "String": lambda v: isinstance(v, str), "Boolean": lambda v: isinstance(v, bool),
              "True": lambda v: v is True, "InputFile": lambda v: isinstance(v, str)}
    if kind in simple:
        return [] if simple[kind](value) else [f"{path}: expected {kind}, got {value!r}"]
    type_spec = spec()["types"].get(kind)
    if type_spec is None:
        return [f"{path}: unknown type {kind}"]
    if "subtypes" in type_spec:
        tries = [_type_errors(value, sub, path) for sub in type_spec["subtypes"]]
        return [] if any(not t for t in tries) else [f"{path}: matches no kind of {kind}"]
    if not isinstance(value, dict):
        return [f"{path}: expected a {kind} object"]
    fields = {f["name"]: f for f in type_spec.get("fields", [])}
    errors = [f"{path}.{name}: {kind} has no such field" for name in value if name not in fields]
    for name, field_spec in fields.items():
        if name not in value:
            if field_spec["required"]:
                errors.append(f"{path}.{name}: required in {kind}")
            continue
        tries = [_type_errors(value[name], t, f"{path}.{name}") for t in field_spec["types"]]
        if all(tries):
            errors.append(tries[0][0])
    errors.extend(_object_limits(kind, value, path))
    return errors


def _object_limits(kind: str, value: dict[str, Any], path: str) -> list[str]:
    errors = []
    if kind == "InlineKeyboardButton" and "callback_data" in value:
        if not 1 <= len(str(value["callback_data"]).encode()) <= 64:
            errors.append(f"{path}.callback_data: must be 1-64 bytes")
    if kind == "BotCommand":
        if not re.fullmatch(r"[a-z0-9_]{1,32}", str(value.get("command", ""))):
            errors.append(f"{path}.command: 1-32 characters of a-z, 0-9 and _")
        if not 1 <= len(str(value.get("description", ""))) <= 256:
            errors.append(f"{path}.description: 1-256 characters")
    return errors


def _limits(method: str, params: dict[str, Any], problems: list[str]) -> None:
    """Telegram's length limits, counted as Telegram counts them: in UTF-16 code units (an emoji outside the
    BMP is two), like its entity offsets."""
    text = params.get("text")
    if method in ("sendMessage", "editMessageText") and isinstance(text, str) and not 1 <= _utf16(text) <= 4096:
        problems.append("message text must be 1-4096 characters" if text else "message text is empty")
    caption = params.get("caption")
    if isinstance(caption, str) and _utf16(caption) > 1024:
        problems.append("message caption is too long (over 1024 characters)")
    if any(isinstance(v, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in v) for v in (text, caption)):
        problems.append("strings must be encoded in UTF-8")  # half an emoji: a lone surrogate
    answer = params.get("text")
    if method == "answerCallbackQuery" and isinstance(answer, str) and _utf16(answer) > 200:
        problems.append("callback answer text is over 200 characters")
    code = params.get("language_code")
    if method in ("setMyCommands", "getMyCommands", "deleteMyCommands") and code and not re.fullmatch(
            r"[a-z]{2}", str(code)):
        problems.append("language_code must be a two-letter ISO 639-1 code")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _entities(text: str, bot_username: str) -> list[dict[str, Any]]:
    """The entities Telegram adds: a leading /command and @mentions (offsets in UTF-16 code units)."""
    utf16 = _utf16
    entities = []
    command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16(command.group(0))})
    for mention in re.finditer(r"(?<![\w/])@[A-Za-z0-9_]{5,32}", text):
        entities.append({"type": "mention", "offset": utf16(text[: mention.start()]),
                         "length": utf16(mention.group(0))})
    return entities


def _error(exc: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.retry_after is not None:
        body["parameters"] = {"retry_after": exc.retry_after}
    return web.json_response(body, status=exc.code)
