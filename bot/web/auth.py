"""Who is signed in, and the checks no request gets around.

A session is a signed cookie (Starlette's ``SessionMiddleware``: HttpOnly, SameSite=Lax, Secure over https)
that holds the signed-in person's user key (``discord:123``, ``telegram:456``, or ``web:operator`` for the
operator) and a CSRF token. Who may do what is never the cookie's to say: every action goes to the engine
with the person's ``UserRef``, and the engine decides (admins come from the settings).

Ways in: the operator's one-time link (printed by ``reelbot run``; accepted only when the console listens on
this machine and the browser is on it too), the operator's password (``WEB_PASSWORD``; a few tries a minute),
or the person's own Discord or Telegram account (``bot.web.oauth``), so their quota and history are the
ones they have in chat.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from starlette.requests import Request

from engine.ratelimit import RateLimiter
from engine.types import WEB, WEB_OPERATOR_ID, UserRef

OPERATOR = UserRef(WEB, WEB_OPERATOR_ID, "operator")
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def signed_in(request: Request) -> UserRef | None:
    who = request.session.get("who")
    if not isinstance(who, str) or ":" not in who:
        return None
    platform, user_id = who.split(":", 1)
    name = request.session.get("name")
    return UserRef(platform, user_id, name if isinstance(name, str) else "")


def sign_in(request: Request, user: UserRef) -> None:
    """A fresh session for ``user`` (a new CSRF token too: nothing from before the sign-in carries over)."""
    request.session.clear()
    request.session.update({"who": user.key, "name": user.name[:80], CSRF_FIELD: secrets.token_urlsafe(32)})


def sign_out(request: Request) -> None:
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, given: str | None) -> bool:
    expected = request.session.get(CSRF_FIELD)
    return isinstance(expected, str) and isinstance(given, str) and hmac.compare_digest(expected, given)


def from_this_machine(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OneTimeLinks:
    """Sign-in links for the operator at this machine: each works once, in this run of reelbot only."""

    def __init__(self) -> None:
        self._unused: set[str] = set()  # sha256 of each link's token

    def new(self) -> str:
        token = secrets.token_urlsafe(32)
        self._unused.add(_digest(token))
        return token

    def use(self, token: str) -> bool:
        digest = _digest(token)
        for kept in list(self._unused):
            if hmac.compare_digest(kept, digest):
                self._unused.discard(kept)
                return True
        return False


class Passwords:
    """The operator's password, compared in constant time; a few tries a minute per address."""

    def __init__(self, password: str | None, *, tries_per_minute: int = 5) -> None:
        self._digest = _digest(password) if password else None
        self.tries = RateLimiter(tries_per_minute)

    @property
    def set(self) -> bool:
        return self._digest is not None

    def wait_before_trying(self, address: str) -> float | None:
        return self.tries.hit(f"password:{address}")

    def check(self, given: str) -> bool:
        return self._digest is not None and hmac.compare_digest(self._digest, _digest(given))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
