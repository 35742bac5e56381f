"""Sign-in to the web console with the chat accounts people already have, verified here on the server.

A person is the same person on the console as in chat: signing in with Discord or Telegram gives the
console the account id their jobs, quota and admin rights are kept under (``UserRef``), so nothing is
trusted that the page could make up.

- **Discord**: the OAuth2 authorization-code grant. The page sends the browser to :meth:`DiscordOAuth.
  authorize_url` with a fresh ``state`` kept in the session; Discord sends it back to the redirect URI with
  a code; :meth:`DiscordOAuth.code_from` checks the state, :meth:`DiscordOAuth.sign_in` trades the code for
  a token (the client secret never leaves the server) and asks Discord who it belongs to. The token is
  used once and not kept.
- **Telegram**: the Login Widget's data, signed by Telegram with a key made from the bot's token.
  :meth:`TelegramLogin.login_url` is Telegram's own sign-in page (no telegram.org script on ours), which
  sends the browser back with ``#tgAuthResult=...``; :meth:`TelegramLogin.verify_result` checks the
  signature and the age. The bot's domain must be set with @BotFather (``/setdomain``) for Telegram to
  agree to send anyone back to it.

Everything that comes back is untrusted until checked, field by field. Failures are :class:`SignInFailed`,
worded for the person signing in (and their ``detail`` in English for the log).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from engine.errors import ReelbotError
from engine.types import UserRef
from engine.words import N_, Seconds, Text

__all__ = ["ChatAccount", "DiscordOAuth", "SignInFailed", "TelegramLogin", "new_state", "parse_tg_auth_result"]

log = logging.getLogger(__name__)

DISCORD = "discord"
TELEGRAM = "telegram"
REQUEST_TIMEOUT_S = 15.0
MAX_ANSWER_BYTES = 64 * 1024  # a token or a user is a few hundred bytes
MAX_NAME_CHARS = 64
MAX_TG_RESULT_CHARS = 4096
CLOCK_SKEW_S = 60.0  # how far in the future a Telegram auth_date may be before our clock is suspect
SIGN_IN_AGAIN = N_("Sign in again.")


class SignInFailed(ReelbotError):
    """Signing in did not happen. ``platform``: "discord" or "telegram". ``reason``: "declined" (the person
    said no), "state" (the answer is not for this sign-in), "invalid_grant" (a code used already or
    expired), "invalid_client" (the console's client id or secret is wrong: for the admin),
    "unreachable", "rate_limited" (with ``retry_after``), "bad_answer" (the platform answered something
    unusable), "bad_signature", "expired", "clock" (dated in the future), "malformed" (Telegram data
    incomplete or damaged), "misconfigured" (the bot token cannot sign Telegram logins). ``detail``: what
    exactly, in English, for the log."""

    code = "sign_in_failed"

    def __init__(self, platform: str, reason: str, message: Text | str, *, hint: Text | str | None = SIGN_IN_AGAIN,
                 detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.platform = platform
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ChatAccount:
    """Who signed in, as their chat platform knows them: the same ``platform:user_id`` their chat jobs
    are kept under. ``locale``: their app's language where the platform says it (Discord does)."""

    platform: str
    user_id: str
    name: str
    locale: str | None = None

    @property
    def user(self) -> UserRef:
        return UserRef(self.platform, self.user_id, self.name)


def new_state() -> str:
    """A fresh, unguessable OAuth2 ``state``: keep it in the session before sending the browser away."""
    return secrets.token_urlsafe(32)


# --- Discord ------------------------------------------------------------------------------------------------

# A snowflake: a 64-bit unsigned number in decimal, as the API spec writes ids (^(0|[1-9][0-9]*)$).
Snowflake = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,19}$")]


class _Token(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    # Printable ASCII without spaces: it goes into a header.
    access_token: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,512}$")]
    token_type: str
    scope: str
    expires_in: int = Field(default=0, ge=0)

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError(f"token_type is {value!r}, not Bearer")
        return value

    @field_validator("scope")
    @classmethod
    def _identify(cls, value: str) -> str:
        if "identify" not in value.split():
            raise ValueError(f"the token's scope {value!r} lacks identify")
        return value


class _DiscordUser(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    id: Snowflake
    username: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    global_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    locale: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None = None
    bot: bool = False

    @field_validator("id")
    @classmethod
    def _fits_64_bits(cls, value: str) -> str:
        if int(value) >= 1 << 64:
            raise ValueError("the id does not fit in 64 bits")
        return value

    @field_validator("bot")
    @classmethod
    def _a_person(cls, value: bool) -> bool:
        if value:
            raise ValueError("a bot account cannot sign in")
        return value


class _DiscordError(BaseModel):
    """An OAuth2 error answer (RFC 6749 5.2), as far as it can be read."""

    model_config = ConfigDict(extra="ignore")

    error: str = ""
    error_description: str = ""


@dataclass(frozen=True, slots=True)
class DiscordOAuth:
    """The console as a Discord OAuth2 application (the bot's own application: its id is the client id).
    ``redirect_uri`` must be listed under OAuth2 → Redirects in the Developer Portal, exactly."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    api_base_url: str = "https://discord.com/api/v10"  # DISCORD_API_BASE_URL
    oauth_base_url: str = "https://discord.com"  # where people approve: {oauth_base_url}/oauth2/authorize
    timeout_s: float = REQUEST_TIMEOUT_S

    def authorize_url(self, state: str) -> str:
        """Where to send the browser. ``prompt=none``: someone who approved before is sent straight back."""
        query = urlencode({"response_type": "code", "client_id": self.client_id, "scope": "identify",
                           "redirect_uri": self.redirect_uri, "state": state, "prompt": "none"})
        return f"{self.oauth_base_url.rstrip('/')}/oauth2/authorize?{query}"

    def code_from(self, query: Mapping[str, str], expected_state: str | None) -> str:
        """The code of the redirect back (its query parameters), once its ``state`` is the one this
        browser's session was given (``expected_state``; None when the session has none)."""
        received = query.get("state") or ""
        if not expected_state or not hmac.compare_digest(received.encode(), expected_state.encode()):
            raise SignInFailed(DISCORD, "state", N_("This sign-in did not start on this page, or it is too old."),
                               detail="the state of the redirect is not the session's")
        if query.get("error"):
            if query["error"] == "access_denied":
                raise SignInFailed(
                    DISCORD, "declined",
                    N_("You did not allow reelbot to see your Discord account, so you are not signed in."),
                    hint=N_("Sign in again and choose Authorize."), detail="access_denied")
            raise self._bad_answer(f"the redirect says {query['error']}: {query.get('error_description', '')}")
        code = query.get("code") or ""
        if not 1 <= len(code) <= 512 or not code.isascii() or not code.isprintable():
            raise self._bad_answer("the redirect carries no usable code")
        return code

    async def sign_in(self, http: aiohttp.ClientSession, code: str) -> ChatAccount:
        """Who the code's Discord account is: the code traded for a token, the token for the user."""
        return await self.user(http, await self.exchange(http, code))

    async def exchange(self, http: aiohttp.ClientSession, code: str) -> str:
        """The access token for ``code`` (the token endpoint; the client id and secret as HTTP Basic auth)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        # RFC 6749 2.3.1: each part form-encoded, then "id:secret" in base64.
        basic = base64.b64encode(f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}".encode())
        status, answer, headers = await self._call(
            http, "POST", "/oauth2/token", data=form, headers={"Authorization": f"Basic {basic.decode()}"})
        if status != 200:
            raise self._refused("token", status, answer, headers)
        try:
            return _Token.model_validate(answer).access_token
        except ValidationError as exc:
            raise self._bad_answer(f"token: {_problems(exc)}") from None

    async def user(self, http: aiohttp.ClientSession, access_token: str) -> ChatAccount:
        """The Discord account an access token (scope identify) belongs to (``/users/@me``)."""
        status, answer, headers = await self._call(
            http, "GET", "/users/@me", headers={"Authorization": f"Bearer {access_token}"})
        if status != 200:
            raise self._refused("user", status, answer, headers)
        try:
            user = _DiscordUser.model_validate(answer)
        except ValidationError as exc:
            raise self._bad_answer(f"user: {_problems(exc)}") from None
        name = _clean_name(user.global_name or "") or _clean_name(user.username) or user.id
        return ChatAccount(DISCORD, user.id, name, user.locale)

    async def _call(self, http: aiohttp.ClientSession, method: str, path: str,
                    **kwargs: Any) -> tuple[int, Any, Mapping[str, str]]:
        url = self.api_base_url.rstrip("/") + path
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        try:
            async with http.request(method, url, headers=headers, allow_redirects=False,
                                    timeout=aiohttp.ClientTimeout(total=self.timeout_s), **kwargs) as response:
                body = await response.content.read(MAX_ANSWER_BYTES + 1)
                status, answer_headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            raise SignInFailed(DISCORD, "unreachable",
                               N_("Could not reach {platform} to sign you in: {error}.", platform="Discord",
                                  error=error),
                               hint=N_("Try again in a few minutes."), detail=error) from None
        if len(body) > MAX_ANSWER_BYTES:
            raise self._bad_answer(f"{method} {path} answered more than {MAX_ANSWER_BYTES} bytes")
        try:
            answer = json.loads(body) if body.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            if status == 200:
                raise self._bad_answer(f"{method} {path} answered {status} with no JSON") from None
            answer = {}
        return status, answer, answer_headers

    def _refused(self, step: str, status: int, answer: Any, headers: Mapping[str, str]) -> SignInFailed:
        """What a refusal of the token exchange (``step`` "token") or of the user lookup ("user") means."""
        try:
            error = _DiscordError.model_validate(answer) if isinstance(answer, dict) else _DiscordError()
        except ValidationError:
            error = _DiscordError()
        detail = f"{step}: {status} {error.error} {error.error_description}".strip()[:300]
        if status == 429:
            retry_after = _seconds(headers.get("Retry-After"))
            if retry_after is None and isinstance(answer, dict):
                retry_after = _seconds(answer.get("retry_after"))
            return SignInFailed(DISCORD, "rate_limited",
                                N_("{platform} is busy with too many sign-ins.", platform="Discord"),
                                hint=N_("Try again in {wait}.", wait=Seconds(retry_after or 5.0)),
                                detail=detail, retry_after=retry_after)
        if step == "token" and (error.error == "invalid_client" or status == 401):
            log.error("Discord refused the console's client id or secret: %s", detail)
            return SignInFailed(DISCORD, "invalid_client", N_("Discord refused the web console's client ID or secret."),
                                hint=N_("An admin must copy them again from the Developer Portal "
                                        "(your app → OAuth2)."), detail=detail)
        if error.error == "invalid_grant" or (step == "user" and status == 401):
            return SignInFailed(DISCORD, "invalid_grant",
                                N_("Discord did not accept this sign-in: it was already used or has expired."),
                                detail=detail)
        return self._bad_answer(detail)

    @staticmethod
    def _bad_answer(detail: str) -> SignInFailed:
        log.warning("Discord sign-in: %s", detail)
        return SignInFailed(DISCORD, "bad_answer",
                            N_("{platform} answered the sign-in with something reelbot cannot use.", platform="Discord"),
                            hint=N_("Try again in a few minutes."), detail=detail)


# --- Telegram -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TelegramLogin:
    """Telegram's Login Widget, checked as https://core.telegram.org/widgets/login#checking-authorization
    says: the fields but ``hash``, sorted, ``key=value`` a line, signed with HMAC-SHA256 under the SHA-256 of
    the bot's token; and recent (``max_age_s``)."""

    bot_token: str = field(repr=False)
    oauth_base_url: str = "https://oauth.telegram.org"
    max_age_s: float = 24 * 3600.0
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        bot_id, _, secret = self.bot_token.partition(":")
        if not (bot_id.isascii() and bot_id.isdigit() and secret):
            raise SignInFailed(TELEGRAM, "misconfigured",
                               N_("TELEGRAM_TOKEN is not a bot token, so Telegram sign-in cannot work."),
                               hint=N_("Copy the bot's token from @BotFather into .env."),
                               detail="the token is not <bot id>:<secret>")

    @property
    def bot_id(self) -> str:
        return self.bot_token.partition(":")[0]

    def login_url(self, return_to: str, *, lang: str | None = None) -> str:
        """Telegram's sign-in page, which sends the browser back to ``return_to`` (on the bot's domain) with
        ``#tgAuthResult=...``. ``request_access=write``: the bot may then message the person."""
        parts = urlsplit(return_to)
        params = {"bot_id": self.bot_id, "origin": f"{parts.scheme}://{parts.netloc}", "request_access": "write",
                  "return_to": return_to, **({"lang": lang} if lang else {})}
        return f"{self.oauth_base_url.rstrip('/')}/auth?{urlencode(params)}"

    def verify_result(self, tg_auth_result: str) -> ChatAccount:
        """The account of the ``tgAuthResult`` Telegram's sign-in page returned, once verified."""
        return self.verify(parse_tg_auth_result(tg_auth_result))

    def verify(self, data: Mapping[str, Any]) -> ChatAccount:
        """The account of the widget's fields, once signed by Telegram for this bot and recent: decoded
        JSON (numbers and strings) from ``tgAuthResult``, or the query parameters (all strings) the widget's
        ``data-auth-url`` redirect carries."""
        fields: dict[str, str] = {}
        for key, value in data.items():
            if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, str | int) \
                    or len(str(value)) > 1024:
                raise _malformed(f"the field {key!r} is not a string or a whole number")
            fields[key] = str(value)
        received = fields.pop("hash", "")
        check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
        secret_key = hashlib.sha256(self.bot_token.encode()).digest()
        expected = hmac.new(secret_key, check.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), received.lower().encode()):
            raise SignInFailed(TELEGRAM, "bad_signature",
                               N_("This Telegram sign-in is not signed by Telegram for this bot."),
                               detail="the hash does not match the fields" if received else "no hash")
        user_id, auth_date = fields.get("id", ""), fields.get("auth_date", "")
        if not (user_id.isascii() and user_id.isdigit() and 0 < int(user_id) < 1 << 63):
            raise _malformed("the id is not a Telegram user id")
        if not (auth_date.isascii() and auth_date.isdigit()):
            raise _malformed("auth_date is not a time")
        age = self.clock() - int(auth_date)
        if age > self.max_age_s:
            raise SignInFailed(TELEGRAM, "expired", N_("This Telegram sign-in is too old ({age} ago).", age=Seconds(age)),
                               detail=f"auth_date is {age:.0f} s old; at most {self.max_age_s:.0f} s")
        if age < -CLOCK_SKEW_S:
            raise SignInFailed(TELEGRAM, "clock",
                               N_("This Telegram sign-in is dated {ahead} in the future: this server's clock may "
                                  "be wrong.", ahead=Seconds(-age)),
                               hint=N_("An admin should check the server's clock."),
                               detail=f"auth_date is {-age:.0f} s ahead of this clock")
        name = _clean_name(f"{fields.get('first_name', '')} {fields.get('last_name', '')}") \
            or _clean_name(fields.get("username", "")) or user_id
        return ChatAccount(TELEGRAM, str(int(user_id)), name)


def parse_tg_auth_result(value: str) -> dict[str, Any]:
    """The fields in the ``#tgAuthResult=`` Telegram's sign-in page appends to ``return_to``: JSON in
    base64url (padding optional). Not verified: pass them to :meth:`TelegramLogin.verify`."""
    value = value.strip()
    if value in ("", "false"):
        raise SignInFailed(TELEGRAM, "declined", N_("You did not allow the sign-in in Telegram."),
                           detail="tgAuthResult is empty or false")
    if len(value) > MAX_TG_RESULT_CHARS:
        raise _malformed("tgAuthResult is too long")
    try:
        raw = base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_") + "=" * (-len(value) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as exc:
        raise _malformed(f"tgAuthResult is not base64 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _malformed("tgAuthResult is not an object")
    return data


def _malformed(detail: str) -> SignInFailed:
    return SignInFailed(TELEGRAM, "malformed", N_("The Telegram sign-in data is incomplete or damaged."), detail=detail)


# --- helpers ------------------------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    """A display name fit to show: control and format characters (a right-to-left override turns the rest
    of a line around) dropped, runs of spaces made one, at most ``MAX_NAME_CHARS``."""
    kept = "".join(" " if char.isspace() else char for char in name
                   if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return " ".join(kept.split())[:MAX_NAME_CHARS].strip()


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors())


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 < seconds < 3600 else None

