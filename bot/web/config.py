"""What the web console needs from the settings, given by the composition root (bot/ never reads Settings)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.i18n import Languages
from engine.words import Text


class CheckLine(Protocol):
    """One line of the environment check (``reelbot doctor``): what, fine or not, what was found, the fix."""

    @property
    def name(self) -> Text | str: ...
    @property
    def ok(self) -> bool | None: ...
    @property
    def detail(self) -> Text | str: ...
    @property
    def fix(self) -> Text | str: ...


Checkup = Callable[[], Awaitable[Sequence[CheckLine]]]


@dataclass(frozen=True, slots=True)
class DiscordSignIn:
    """Discord OAuth2 (the application's OAuth2 page: client id and secret, and the redirect URL
    ``<WEB_PUBLIC_URL>/auth/discord/callback`` added there)."""

    client_id: str
    client_secret: str
    api_base_url: str = "https://discord.com/api/v10"
    oauth_url: str = "https://discord.com"


@dataclass(frozen=True, slots=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    public_url: str = ""  # how browsers reach the console; empty: http://host:port
    secret_key: str = ""  # signs the session cookies
    password: str | None = None  # the operator's (WEB_PASSWORD)
    session_days: float = 14.0
    languages: Languages = field(default_factory=Languages)
    max_image_bytes: int = 20 * 1024 * 1024
    discord: DiscordSignIn | None = None
    telegram_token: str | None = None  # Telegram Login: the bot that vouches for its users
    telegram_login_url: str = "https://oauth.telegram.org"
    checkup: Checkup | None = None  # the doctor's checks, for the admin's environment page
    chart_font: str | None = None
    demo: Text | None = None  # said on every page when videos come from the simulated GPU

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "[::]") else host
        return f"http://{shown}:{self.port}"

    @property
    def secure(self) -> bool:
        """Cookies only over https when the console is served over https (behind a proxy that says so)."""
        return self.base_url.startswith("https://")

    @property
    def local(self) -> bool:
        """Listening on this machine only: the one-time sign-in link may be used."""
        return self.host in ("127.0.0.1", "localhost", "::1")
