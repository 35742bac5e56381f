"""Typed settings, read once from the environment and `.env` at start-up.

Tests build ``Settings(...)`` directly (``_env_file=None``) instead of patching the environment. Every field
here is documented in `.env.example` (a test checks that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False,
        env_ignore_empty=True,
    )

    # --- where things live ---
    data_dir: Path = Path("data")
    # "ko", "en": the language of chat users whose app names none reelbot speaks, of messages to a server or
    # group, and of the CLI (empty: the terminal's LANG, else English). Users pick their own with /settings.
    default_language: str = ""
    database_url: str = ""  # empty: sqlite file data_dir/reelbot.db
    log_level: str = "INFO"
    # The community's time zone (IANA name): when "today" and "this month" start for quotas, the budget and
    # spend, and the clock times shown. Stored times stay UTC.
    timezone: str = "UTC"

    # --- one process, or many GPU workers on PostgreSQL ---
    queue: str = "embedded"  # or "procrastinate" (needs DATABASE_URL on PostgreSQL; run `reelbot worker`s)
    worker_heartbeat_s: float = Field(5.0, gt=0)
    worker_stalled_s: float = Field(30.0, gt=0)  # no heartbeat for this long: the worker's job runs elsewhere
    metrics_port: int = Field(0, ge=0, le=65535)  # Prometheus /metrics on this port (0: off)
    metrics_host: str = "127.0.0.1"  # the address it listens on; 0.0.0.0 only behind a firewall or a token
    metrics_token: SecretStr | None = None  # if set, scrapers must send "Authorization: Bearer <token>"

    # --- chat front ends ---
    discord_token: SecretStr | None = None
    telegram_token: SecretStr | None = None
    discord_admin_ids: CommaList = []
    telegram_admin_ids: CommaList = []

    # --- the web console (starts with `reelbot run`) ---
    web_enabled: bool = True
    web_host: str = "127.0.0.1"  # this machine only; 0.0.0.0 to reach it from others (then sign-in is required)
    web_port: int = Field(8765, ge=0, le=65535)
    web_public_url: str = ""  # how browsers reach it (https://bot.example.com), for sign-in redirects and cookies
    web_password: SecretStr | None = None  # the operator's password for signing in from another computer
    web_secret_key: SecretStr | None = None  # signs session cookies; empty: one is made and kept in DATA_DIR
    web_session_days: float = Field(14.0, gt=0)
    discord_client_id: str = ""  # Discord sign-in on the console (the application's OAuth2 page)
    discord_client_secret: SecretStr | None = None
    discord_oauth_url: str = "https://discord.com"  # where Discord's authorize page is
    telegram_login_url: str = "https://oauth.telegram.org"  # where Telegram's sign-in page is

    # --- Discord ---
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_command_guilds: CommaList = []  # guild ids: commands appear there at once; empty: global
    discord_edit_interval_s: float = Field(1.5, ge=0)  # least time between two edits of a job's message
    discord_max_upload_mb: float = Field(10, gt=0)  # Discord's limit for servers without boosts

    # --- Telegram ---
    telegram_api_base_url: str = "https://api.telegram.org/bot"  # a self-hosted Bot API server: its /bot
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_mode: str = "polling"  # or "webhook"
    telegram_poll_timeout_s: int = Field(10, ge=1, le=50)  # one long poll; a stop waits for the current one
    telegram_webhook_url: str = ""  # public https address Telegram posts updates to (webhook mode)
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = Field(8443, ge=1, le=65535)
    telegram_webhook_secret: SecretStr | None = None  # empty: a random one per start
    telegram_max_upload_mb: float = Field(50, gt=0)  # Telegram's cap for bots; up to 2000 on your own server
    telegram_max_download_mb: float = Field(20, gt=0)  # what bots may download; no cap on your own server
    telegram_edit_interval_private_s: float = Field(1.0, ge=0)
    telegram_edit_interval_group_s: float = Field(3.0, ge=0)

    # --- the /status chart ---
    chart_font: Path | None = None  # a .ttf/.otf/.ttc with Hangul; empty: found on the system (bot/fonts.py)

    # --- per-user quotas (admins are exempt, except from the global budget) ---
    max_running_per_user: int = Field(1, ge=0)
    max_queued_per_user: int = Field(3, ge=0)
    max_jobs_per_day: int = Field(20, ge=0)
    max_usd_per_month: float = Field(2.0, ge=0)
    global_monthly_budget_usd: float = Field(50.0, ge=0)
    max_queue: int = Field(500, ge=1)
    rate_limit_per_minute: int = Field(6, ge=0)  # requests per user per minute, every front end (0: off)

    # --- jobs ---
    max_prompt_chars: int = Field(1000, ge=1)
    # Words no prompt may contain, comma-separated; admins add more from chat (/admin block) or the web console.
    blocked_words: CommaList = []
    max_frames: int = Field(129, ge=1)
    max_fps: int = Field(60, ge=1)
    max_steps: int = Field(100, ge=1)
    max_video_pixels: int = Field(1280 * 720, ge=64 * 64)
    max_image_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=256)
    job_timeout_s: float = Field(900.0, gt=0)
    max_interruptions: int = Field(2, ge=0)  # crashes a job may survive before it is failed and refunded
    keep_files_days: float = Field(7.0, ge=0)  # videos and pictures of finished jobs (0: keep for ever)

    # --- routing ---
    chain_text_to_video: CommaList = ["local", "replicate", "huggingface", "fal", "runway", "veo"]
    chain_image_to_video: CommaList = ["local", "replicate", "stability", "runway", "fal", "huggingface", "veo"]
    local_max_wait_s: float = Field(600.0, ge=0)  # longer local wait than this: go to the cloud if affordable
    allowed_fails: int = Field(3, ge=1)
    cooldown_s: float = Field(60.0, ge=0)
    affinity_max_skips: int = Field(4, ge=0)

    # --- local GPUs ---
    local_backend: str = "diffusers"  # or "simulated"
    gpus: str = "auto"  # "auto", "none", "cpu", or a comma list of CUDA indices
    local_models: str = ""  # JSON: extra or changed entries of the model registry
    hf_home: Path | None = None  # where downloaded weights are cached (default: Hugging Face's own)
    hf_hub_offline: bool = False  # never contact the Hub: use only weights already downloaded
    local_compile: bool = True  # torch.compile the denoiser on CUDA lanes, at start (engine/local/compiled.py)
    local_usd_per_gpu_second: float = Field(0.0, ge=0)
    default_text_model: str = "zeroscope"
    default_image_model: str = "svd-xt"
    model_cache_dir: Path | None = None  # compiled kernels' caches (default: HF_HOME, else DATA_DIR/cache)
    simulated_gpus: int = Field(1, ge=0)
    simulated_seconds: float = Field(2.0, ge=0)
    simulated_load_seconds: float = Field(0.0, ge=0)
    simulated_steps: int = Field(10, ge=1)
    simulated_fail_every: int = Field(0, ge=0)  # every Nth run raises a transient error (0: never)
    simulated_oom_every: int = Field(0, ge=0)
    simulated_frames: bool = True  # render real frames (False: instant backend for benchmarks)

    # --- prompts in languages a model does not understand (CLIP-based models read English) ---
    prompt_translation: str = "auto"  # "auto": translate them to English first; "off": send them as written
    prompt_translation_model: str = "Helsinki-NLP/opus-mt-ko-en"  # a repo id or folder, translating to English
    prompt_translation_device: str = "cpu"  # where it runs: "cpu", or a GPU ("cuda:0")

    # --- cloud providers: a provider without a key is simply not in the chain ---
    hf_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("hf_token", "huggingface_hub_token")
    )
    # HF_TOKEN is also what gated downloads (SVD-XT) need: paid Hugging Face inference needs this as well.
    hf_inference: bool = False
    replicate_api_token: SecretStr | None = None
    stability_api_key: SecretStr | None = None
    runwayml_api_secret: SecretStr | None = None
    gemini_api_key: SecretStr | None = None
    fal_key: SecretStr | None = None
    replicate_base_url: str = "https://api.replicate.com"  # the client adds /v1
    hf_inference_base_url: str = "https://router.huggingface.co"
    stability_base_url: str = "https://api.stability.ai"
    runwayml_base_url: str = "https://api.dev.runwayml.com"
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    fal_base_url: str = "https://queue.fal.run"
    cloud_models: str = ""  # JSON: change or add cloud models, their inputs and prices (see README)
    cloud_poll_interval_s: float = Field(2.0, gt=0)
    cloud_timeout_s: float = Field(600.0, gt=0)  # a provider that has not finished by then is left
    cloud_max_download_mb: float = Field(200.0, gt=0)

    @field_validator(
        "discord_admin_ids", "telegram_admin_ids", "chain_text_to_video", "chain_image_to_video",
        "discord_command_guilds", "blocked_words",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Asia" names a folder
            raise ValueError(
                f"TIMEZONE={value!r} is not a time zone this machine knows: use an IANA name such as "
                "Asia/Seoul, Europe/Berlin or America/New_York (or UTC)"
            ) from None
        return value

    @field_validator("chart_font")
    @classmethod
    def _chart_font_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(
                f"CHART_FONT={str(value)!r} is not a file: give the path of a font with Hangul, for example "
                "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc, or leave it empty to find one"
            )
        return value
    @field_validator("default_language")
    @classmethod
    def _spoken_language(cls, value: str) -> str:
        from bot.i18n import languages, supported

        if value and supported(value) is None:
            raise ValueError(f"DEFAULT_LANGUAGE must be one of {', '.join(languages())} (or empty: the terminal's)")
        return supported(value) or ""

    @field_validator("local_backend")
    @classmethod
    def _known_local_backend(cls, value: str) -> str:
        if value not in ("diffusers", "simulated"):
            raise ValueError("LOCAL_BACKEND must be 'diffusers' or 'simulated'")
        return value

    @field_validator("cloud_models")
    @classmethod
    def _cloud_models_parse(cls, value: str) -> str:
        from engine.cloud.catalog import load_catalog

        load_catalog(value)  # its ValueError says which entry is wrong and how
        return value

    @field_validator("prompt_translation")
    @classmethod
    def _known_translation(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("auto", "off"):
            raise ValueError("PROMPT_TRANSLATION must be 'auto' (translate prompts a model cannot read) or 'off'")
        return value

    @field_validator("queue")
    @classmethod
    def _known_queue(cls, value: str) -> str:
        if value not in ("embedded", "procrastinate"):
            raise ValueError("QUEUE must be 'embedded' (one process) or 'procrastinate' (GPU workers on PostgreSQL)")
        return value

    @field_validator("telegram_mode")
    @classmethod
    def _known_telegram_mode(cls, value: str) -> str:
        if value not in ("polling", "webhook"):
            raise ValueError("TELEGRAM_MODE must be 'polling' or 'webhook'")
        return value

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> Settings:
        if self.telegram_mode == "webhook" and not self.telegram_webhook_url:
            raise ValueError(
                "TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL, the public https address that Telegram "
                "should send updates to (for example https://bot.example.org/telegram)"
            )
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'reelbot.db').as_posix()}"
        if self.queue == "procrastinate" and not self.database_url.startswith("postgresql"):
            raise ValueError(
                "QUEUE=procrastinate runs GPU workers on PostgreSQL: set DATABASE_URL to a postgresql:// URL "
                "that every host can reach (or QUEUE=embedded for one process)"
            )
        return self

    @property
    def distributed(self) -> bool:
        return self.queue == "procrastinate"

    @property
    def zone(self) -> ZoneInfo:
        """TIMEZONE as a zone (checked when the settings were read)."""
        return ZoneInfo(self.timezone)

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def compile_cache_dir(self) -> Path:
        """Where torch.compile's caches (TorchInductor, Triton, the per-model mega-cache) are kept."""
        return (self.model_cache_dir or self.hf_home or self.data_dir / "cache") / "torch-compile"

    def admin_ids(self, platform: str) -> frozenset[str]:
        ids = {"discord": self.discord_admin_ids, "telegram": self.telegram_admin_ids}.get(platform, [])
        return frozenset(ids)
