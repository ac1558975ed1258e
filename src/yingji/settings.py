"""One validated Settings object, read once from ``YINGJI_`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "local-development-secret-change-me"  # noqa: S105 - refused outside local

Environment = Literal["local", "drill", "test", "staging", "production"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YINGJI_", extra="ignore")

    env: Environment = "local"
    database_url: str = "sqlite+aiosqlite:///./var/yingji.db"
    secret_key: str = DEFAULT_SECRET
    clock_rate: float = Field(default=1.0, gt=0, le=3600)
    nats_url: str | None = None
    nats_stream: str = "YINGJI_EVENTS"
    host: str = "127.0.0.1"
    port: int = 8000
    timezone: str = "Asia/Shanghai"
    session_ttl_minutes: int = 12 * 60
    token_ttl_minutes: int = 24 * 60
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_lockout_minutes: int = 15
    timer_max_attempts: int = 6
    timer_lease_seconds: int = 60
    timer_poll_seconds: float = 0.5
    timer_batch: int = 200
    timer_concurrency: int = 8
    log_level: str = "INFO"
    log_json: bool = True
    web_dist: Path | None = None
    map_base_layers: str | None = Field(
        default=None, description="JSON list of {name, type: xyz|wmts, url, attribution}"
    )
    file_store: Path = Path("var/files")
    attachment_max_bytes: int = 10 * 1024 * 1024
    public_reports_per_hour_per_address: int = 10
    public_reports_per_hour_per_phone: int = 3
    report_backdating_hours: int = Field(
        default=7 * 24,
        ge=0,
        le=1_000_000,
        description="how far before the server's now a report's received_at may lie; an earlier "
        "claim is moved to that bound (and kept as received_at_claimed)",
    )
    report_future_minutes: int = Field(
        default=5,
        ge=0,
        le=60_000_000,
        description="how far after the server's now received_at may lie",
    )
    first_report_minutes: int = Field(
        default=60, description="written first report (首报) deadline for level III and above"
    )
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] = "FULL"
    db_pool_size: int = Field(
        default=20, ge=1, le=500, description="PostgreSQL connections each process keeps open"
    )
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1"])

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.env not in ("local", "test") and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                f"YINGJI_SECRET_KEY must be set to a secret of your own when YINGJI_ENV={self.env}"
            )
        if self.env not in ("local", "test") and len(self.secret_key) < 32:
            raise ValueError("YINGJI_SECRET_KEY must be at least 32 characters outside local")
        if self.clock_rate != 1.0 and self.env not in ("local", "drill", "test"):
            raise ValueError(
                "YINGJI_CLOCK_RATE other than 1 runs business time faster than real time; "
                "it is allowed only when YINGJI_ENV is local or drill"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.env not in ("local", "test", "drill")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
