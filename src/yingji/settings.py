"""One validated Settings object, read once from ``YINGJI_`` environment variables."""

from __future__ import annotations

import hashlib
import hmac
import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_SECRET = "local-development-secret-change-me"  # noqa: S105 - refused outside local
MiB = 1024 * 1024
#: the largest batch of reports (``intake.schemas.ReportBatch``) and the most one report's
#: other fields take in JSON when every character is escaped (text 4,000, address 300, name 100
#: characters of 6 bytes each, and the rest): a batch of text-only reports must fit the limit
REPORT_BATCH = 500
REPORT_JSON_BYTES = 28 * 1024
#: a secret with fewer different characters than this is refused outside local/test
SECRET_MIN_DISTINCT = 10

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
    login_free_failures: int = Field(
        default=5, ge=1, description="failed sign-ins of one name from one address before delays"
    )
    login_delay_seconds: int = Field(
        default=2, ge=1, description="the first delay; each further failure doubles it"
    )
    login_delay_max_seconds: int = Field(default=900, ge=1, description="the longest delay")
    login_window_minutes: int = Field(
        default=60, ge=1, description="failures are forgotten this long after the last one"
    )
    login_address_free_failures: int = Field(
        default=100,
        ge=1,
        description="failed sign-ins from one address (any names) before that address is "
        "delayed; names that signed in from it in the last 30 days are not",
    )
    login_alert_failures: int = Field(
        default=20,
        ge=1,
        description="failed sign-ins of one name (any addresses) that alert its administrators",
    )
    ws_recheck_seconds: float = Field(
        default=30, gt=0, description="how often /ws checks that its session is still valid"
    )
    resource_expiry_alert_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="alert a warehouse this many days before a batch expires",
    )
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
    travel_speeds: dict[str, float] = Field(
        default_factory=dict,
        description="JSON object of resource kind → km/h: the straight-line speeds of the "
        'estimated travel times (e.g. {"rescue_team": 45}); other kinds keep their defaults',
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the address people open the console at; links in messages (a warning's "
        "acknowledge link) start with it",
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
    handover_unsigned_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="minutes after a shift change a handover (交接班) may stay unsigned before the "
        "duty leader on duty is told",
    )
    order_read_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="how long after its order ended a linkage unit still reads the incident",
    )
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] = "FULL"
    db_pool_size: int = Field(
        default=20, ge=1, le=500, description="PostgreSQL connections each process keeps open"
    )
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    audit_key: str | None = Field(
        default=None,
        description="key of the audit chain's HMAC (default: derived from YINGJI_SECRET_KEY)",
    )
    audit_anchor_file: Path | None = Field(
        default=None,
        description="append-only file the audit chain's head is published to (default: "
        "audit-anchors.jsonl beside an SQLite database, else var/audit-anchors.jsonl)",
    )
    audit_anchor_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="how often the audit chain's head is published"
    )
    # the edge (core.edge): request body limits, API docs, metrics
    max_json_bytes: int = Field(
        default=1 * MiB, ge=64 * 1024, description="JSON and every other request body"
    )
    max_upload_bytes: int | None = Field(
        default=None, description="multipart uploads; default: attachment_max_bytes + 2 MiB"
    )
    max_report_bytes: int | None = Field(
        default=None,
        description="POST /api/v1/intake/reports and reports:batch (attachments in base64); "
        "default: what a report whose attachments take their whole budget needs",
    )
    docs: bool | None = Field(
        default=None,
        description="serve /docs, /redoc and /openapi.json; default: on in local, test and "
        "drill, off in staging and production",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="/metrics asks for `Authorization: Bearer <token>`; unset: open in local, "
        "test and drill, and only to loopback callers in staging and production",
    )
    # warnings, part A (CAP in and out, the feed poller)
    cap_org_code: str = Field(
        default="00000000",
        pattern=r"^[0-9A-Za-z]{8}$",
        description="the issuing organisation's 8-character code in GB/T 35965.1 identifiers "
        "(DDDUUUXX)",
    )
    cap_sender: str = Field(
        default="yingji@localhost",
        pattern=r"^[^\s,<>&\"']{1,200}$",
        description="CAP <sender> of the warnings this node publishes",
    )
    cap_max_bytes: int = Field(
        default=1 * MiB,
        ge=16 * 1024,
        le=16 * MiB,
        description="the largest CAP message taken (posted or fetched from a feed)",
    )
    cap_feed_max_bytes: int = Field(
        default=4 * MiB, ge=16 * 1024, le=64 * MiB, description="the largest feed document read"
    )
    cap_feed_max_entries: int = Field(
        default=100, ge=1, le=1000, description="feed entries taken per poll (newest first)"
    )
    cap_fetch_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="timeout of each feed and CAP message fetch"
    )
    # --- notify channels (issue 19, part C: deliveries) ---
    smtp_host: str | None = Field(default=None, description="SMTP server of the e-mail channel")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = Field(default="yingji@localhost", max_length=200)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    sms_gateway_url: str | None = Field(
        default=None, description="HTTP SMS gateway: POST JSON with an Idempotency-Key"
    )
    sms_gateway_token: SecretStr | None = None
    voice_gateway_url: str | None = Field(
        default=None, description="HTTP voice gateway (its receipts report the key pressed)"
    )
    voice_gateway_token: SecretStr | None = None
    notify_receipt_secret: SecretStr | None = Field(
        default=None,
        description="the X-Yingji-Receipt-Secret the SMS and voice gateways send with receipts; "
        "unset: receipts are refused",
    )
    mqtt_url: str | None = Field(
        default=None, description="MQTT broker of the loudspeakers and LED boards, mqtt://host:port"
    )
    mqtt_topic_root: str = Field(default="yingji/devices", max_length=100)
    notify_webhook_hosts: list[str] = Field(
        default_factory=lambda: ["oapi.dingtalk.com", "qyapi.weixin.qq.com"],
        description="the hosts DingTalk and WeCom robot webhooks may point at",
    )
    notify_rates: dict[str, float] = Field(
        default_factory=dict,
        description='JSON object of channel → messages per second (e.g. {"sms": 50}); '
        "channels not named are not throttled",
    )
    notify_max_tries: int = Field(default=4, ge=1, le=20, description="tries per channel")
    notify_retry_seconds: float = Field(
        default=30, gt=0, le=3600, description="the first retry's delay; each next one doubles"
    )
    notify_lease_seconds: int = Field(default=120, ge=5, le=3600)
    notify_batch: int = Field(default=500, ge=1, le=10_000)
    notify_app_batch: int = Field(default=5000, ge=1, le=50_000)
    notify_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    notify_send_timeout_seconds: float = Field(default=10, gt=0, le=120)
    # --- end notify channels ---

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.env not in ("local", "test"):
            weakness = secret_weakness(self.secret_key)
            if weakness:
                raise ValueError(f"YINGJI_SECRET_KEY {weakness} (YINGJI_ENV={self.env})")
        self.base_layer_urls()  # refuses a value that is not a JSON list of layers
        if self.upload_body_limit <= self.attachment_max_bytes:
            raise ValueError(
                "YINGJI_MAX_UPLOAD_BYTES must be larger than YINGJI_ATTACHMENT_MAX_BYTES "
                "(a multipart upload carries the file and its headers)"
            )
        if self.clock_rate != 1.0 and self.env not in ("local", "drill", "test"):
            raise ValueError(
                "YINGJI_CLOCK_RATE other than 1 runs business time faster than real time; "
                "it is allowed only when YINGJI_ENV is local or drill"
            )
        return self

    @model_validator(mode="after")
    def _refuse_odd_speeds(self) -> Settings:
        for kind, speed in self.travel_speeds.items():
            if not (0 < speed <= 1000) or not kind.replace("_", "").isalpha():
                raise ValueError(
                    "YINGJI_TRAVEL_SPEEDS maps resource kinds to speeds above 0 and at most "
                    f"1000 km/h; refused: {kind[:30]!r}: {speed}"
                )
        return self

    @model_validator(mode="after")
    def _refuse_weak_audit_key(self) -> Settings:
        key = self.audit_key
        if key is None or self.env in ("local", "test"):
            return self
        if len(key.strip()) < 32 or len(set(key)) < 8 or key == DEFAULT_SECRET:
            raise ValueError(
                "YINGJI_AUDIT_KEY must be a secret of at least 32 characters (not blank, not "
                f"repetitive, not the default) when YINGJI_ENV={self.env}"
            )
        return self

    @property
    def audit_chain_key(self) -> bytes:
        """The audit chain's key: YINGJI_AUDIT_KEY, else one derived from the secret key."""
        if self.audit_key is not None:
            return self.audit_key.encode()
        return hmac.new(self.secret_key.encode(), b"yingji-audit-chain", hashlib.sha256).digest()

    @property
    def audit_anchor_path(self) -> Path:
        if self.audit_anchor_file is not None:
            return self.audit_anchor_file
        database = make_url(self.database_url).database if self.is_sqlite else None
        if database and database != ":memory:":
            return Path(database).parent / "audit-anchors.jsonl"
        return Path("var/audit-anchors.jsonl")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.env not in ("local", "test", "drill")

    @property
    def exposed(self) -> bool:
        """Staging and production: a real deployment, reached over the network."""
        return self.env in ("staging", "production")

    @property
    def upload_body_limit(self) -> int:
        if self.max_upload_bytes is not None:
            return self.max_upload_bytes
        return self.attachment_max_bytes + 2 * MiB

    @property
    def report_body_limit(self) -> int:
        """The larger of: one report whose attachments together take ``attachment_max_bytes``
        (its whole budget, in base64: 4 characters for 3 bytes) with 1 MiB for the rest of it;
        and a full batch of text-only reports."""
        if self.max_report_bytes is not None:
            return self.max_report_bytes
        base64_chars = 4 * -(-self.attachment_max_bytes // 3)
        return max(base64_chars + 1 * MiB, REPORT_BATCH * REPORT_JSON_BYTES + 1 * MiB)

    def base_layer_urls(self) -> list[str]:
        """The tile URLs of ``map_base_layers`` (the browser loads them: CSP allows them)."""
        if not self.map_base_layers:
            return []
        try:
            layers = json.loads(self.map_base_layers)
        except ValueError as exc:
            raise ValueError(f"YINGJI_MAP_BASE_LAYERS is not JSON: {exc}") from None
        if not isinstance(layers, list) or not all(
            isinstance(layer, dict) and isinstance(layer.get("url"), str) for layer in layers
        ):
            raise ValueError('YINGJI_MAP_BASE_LAYERS must be a JSON list of {"url": …} objects')
        return [layer["url"] for layer in layers]

    @property
    def docs_enabled(self) -> bool:
        return self.docs if self.docs is not None else not self.exposed


def secret_weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign sessions outside local and test, or None."""
    if secret == DEFAULT_SECRET:
        return "must be set to a secret of your own, not the local default"
    if secret != secret.strip() or any(c.isspace() for c in secret):
        return "must not contain whitespace"
    if len(secret) < 32:
        return "must be at least 32 characters"
    if len(set(secret)) < SECRET_MIN_DISTINCT:
        return (
            f"has fewer than {SECRET_MIN_DISTINCT} different characters; use a random one "
            "(openssl rand -hex 32)"
        )
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
