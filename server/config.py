"""Settings: one typed object, layered CLI flag > ``IMAGEPIPE_*`` environment > TOML file > default.

Every value is validated at start-up; each bad value yields one line naming the field and the source,
so an operator fixes all of them in one go. Secret fields never appear in ``repr`` or error text.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "IMAGEPIPE_"


class ConfigError(Exception):
    """Raised with every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _secret(default: Any = None) -> Any:
    return field(default=default, repr=False, metadata={"secret": True})


def _cpu_count() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    # Process
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    log_level: str = "info"
    public_base_url: str = ""  # how clients reach this server; default http://host:port
    cdn_base_url: str = ""  # public base of variant URLs; default {public_base_url}/media

    # PostgreSQL: empty means the embedded server in <data_dir>/pg
    database_url: str = _secret("")
    db_pool_min: int = 2
    db_pool_max: int = 10

    # Object storage
    storage: str = "local"  # local | s3
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = ""
    s3_max_attempts: int = 3  # botocore standard retries, first try included
    s3_connect_timeout_s: float = 3.0
    s3_read_timeout_s: float = 30.0

    # Auth
    jwt_secret: str = _secret("")  # empty: generated into <data_dir>/jwt.key on first run
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "imagepipe"
    jwt_audience: str = "imagepipe-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    verify_token_ttl_s: int = 24 * 3600
    bcrypt_rounds: int = 12
    rate_limit_ip_per_min: int = 20
    rate_limit_account_per_min: int = 10
    trust_x_forwarded_for: bool = False  # only behind a proxy that sets it; else clients could spoof their IP

    # Social (server/social): per-account actions per one-minute window, shared by every instance
    # like the auth limits. Unfollow, unlike count with follow, like: toggling is not free.
    rate_limit_follows_per_min: int = 30
    rate_limit_likes_per_min: int = 120
    rate_limit_comments_per_min: int = 20

    # Feed and notifications (server/feed): live notification streams are held per instance, each
    # without a database connection; a browser opens one with a short-lived single-use ticket.
    stream_max_per_account: int = 5  # open streams of one account on one instance (429 beyond)
    stream_max_total: int = 1000  # open streams on one instance (429 beyond)
    stream_ticket_ttl_s: int = 30  # a ticket must be redeemed this soon; it ends up in URLs and logs
    stream_heartbeat_s: float = 15.0  # a comment line this often keeps proxies from closing idle streams
    stream_retry_ms: int = 2000  # the reconnection delay streams are told (and told again on SIGTERM)
    stream_poll_s: float = 1.0  # catch-up poll for notifications nobody announced (a post's status)

    # Mail
    mail_mode: str = "file"  # file | smtp
    mail_from: str = "imagepipe <no-reply@localhost>"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = _secret("")
    smtp_starttls: bool = True

    # Uploads
    max_upload_bytes: int = 50 * 1024 * 1024
    upload_session_ttl_s: int = 900
    max_open_uploads_per_user: int = 20  # a cap on storage one account can claim before completing

    # Pipeline
    workers: int = field(default_factory=_cpu_count)
    worker_start_method: str = "spawn"  # spawn | forkserver (never fork: libvips is threaded)
    worker_recycle_after: int = 200
    vips_concurrency: int = 1
    job_timeout_s: float = 60.0
    job_max_attempts: int = 5
    job_lease_s: float = 30.0
    poll_interval_s: float = 2.0
    backlog_high_water: int = 500
    drain_timeout_s: float = 30.0
    job_retention_days: float = 7.0  # succeeded jobs are deleted after this (their posts stay)
    mailbox_size: int = 0  # 0: twice the worker count
    max_image_pixels: int = 100_000_000
    max_animation_frames: int = 1000
    min_image_side: int = 150
    output_formats: tuple[str, ...] = ("jpeg",)
    store_gps: bool = False
    # name:max_side:quality:max_bytes for each variant the API exposes (DESIGN.md defaults).
    variants: str = "thumbnail:150:80:30000,medium:600:85:100000,original:4000:90:2000000"
    quality_floor: int = 60  # below this a variant over budget is made smaller, not uglier

    # Moderation (server/moderation, actors/moderation)
    moderation: str = "off"  # off | nudenet | package.module:factory (your own classifier)
    moderation_review_score: float = 0.5  # a flagged label scoring this or more holds the post for review
    moderation_reject_score: float = 0.9  # ...and this or more fails it as rejected_by_moderation
    moderation_timeout_s: float = 10.0  # a classifier slower than this holds the post for review
    report_hide_threshold: int = 3  # distinct accounts reporting a published post hide it for review
    reports_per_hour: int = 30  # reports one account may file in an hour

    # Operations: logs, metrics, browsers on other origins
    log_format: str = "text"  # text | json (one object per line, for log shippers)
    metrics_port: int = 0  # 0: /metrics on the API port; else only there, on metrics_host
    metrics_host: str = ""  # default: host
    metrics_token: str = _secret("")  # set: /metrics answers only "Authorization: Bearer <token>"
    cors_origins: tuple[str, ...] = ()  # web app origins allowed to call the API; "*" for any
    # Abuse resistance: accounts
    unverified_account_ttl_s: int = 2 * 24 * 3600  # an unverified sign-up frees its email and username after this
    reset_token_ttl_s: int = 3600  # password-reset links
    account_mails_per_hour: int = 3  # verification/reset/notice mails one address receives per hour, at most
    password_min_score: int = 3  # zxcvbn score 0-4 a new password needs
    jwt_leeway_s: int = 30  # clock skew tolerated between instances on iat/nbf/exp
    login_lockout_window_s: int = 900  # failed-login counters below are per window of this length
    login_failures_per_address: int = 5  # failures on one account from one address without a device token
    login_failures_per_device: int = 5  # failures on one account from one device token
    login_failures_per_account: int = 50  # failures on one account from all untrusted clients together
    # Abuse resistance: uploads
    user_quota_bytes: int = 5 * 1024**3  # sources + variants of an account's posts
    uploads_per_user_per_min: int = 30  # upload/init calls one account may make per minute
    # Abuse resistance: HTTP
    http_header_timeout_s: float = 10.0  # request line + headers must arrive within this (also idle keep-alive)
    http_body_timeout_s: float = 30.0  # a JSON body must arrive within this
    http_max_connections: int = 512  # open client connections; past it the longest-idle one is dropped

    # Where this came from, for messages; not a setting.
    config_file: Path | None = None

    def __repr__(self) -> str:  # never echo secrets, even in a traceback
        shown = ", ".join(
            f"{f.name}={'***' if f.metadata.get('secret') and getattr(self, f.name) else getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"Settings({shown})"

    @property
    def embedded_db(self) -> bool:
        return not self.database_url

    @property
    def effective_public_base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def effective_cdn_base_url(self) -> str:
        return (self.cdn_base_url or f"{self.effective_public_base_url}/media").rstrip("/")

    @property
    def effective_mailbox_size(self) -> int:
        return self.mailbox_size or 2 * self.workers

    def with_overrides(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


_CHOICES: dict[str, tuple[str, ...]] = {
    "storage": ("local", "s3"),
    "mail_mode": ("file", "smtp"),
    "log_level": ("debug", "info", "warning", "error"),
    "jwt_algorithm": ("HS256", "HS384", "HS512"),
    "worker_start_method": ("spawn", "forkserver"),
    "log_format": ("text", "json"),
}
_ALLOWED_FORMATS = ("jpeg", "webp", "avif")
# The HTTP contract names exactly these variants, so a config may tune them but not add or drop one.
VARIANT_NAMES = ("thumbnail", "medium", "original")


def parse_variants(text: str) -> tuple[tuple[str, int, int, int], ...]:
    """``name:max_side:quality:max_bytes,...`` -> tuples, in VARIANT_NAMES order. Pure; raises
    ValueError saying what is wrong."""
    found: dict[str, tuple[str, int, int, int]] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        fields_ = item.split(":")
        if len(fields_) != 4:
            raise ValueError(f"{item!r} is not name:max_side:quality:max_bytes")
        name = fields_[0].strip().lower()
        try:
            max_side, quality, max_bytes = (int(f) for f in fields_[1:])
        except ValueError:
            raise ValueError(f"{item!r}: max_side, quality and max_bytes must be whole numbers") from None
        if name not in VARIANT_NAMES:
            raise ValueError(f"{name!r} is not a variant (expected {', '.join(VARIANT_NAMES)})")
        if name in found:
            raise ValueError(f"{name!r} is given twice")
        if not 16 <= max_side <= 16384 or not 1 <= quality <= 100 or max_bytes < 1024:
            raise ValueError(f"{item!r}: need 16 <= max_side <= 16384, 1 <= quality <= 100, max_bytes >= 1024")
        found[name] = (name, max_side, quality, max_bytes)
    missing = [n for n in VARIANT_NAMES if n not in found]
    if missing:
        raise ValueError(f"missing variant(s) {', '.join(missing)}")
    return tuple(found[n] for n in VARIANT_NAMES)
_POSITIVE = {
    "db_pool_min", "db_pool_max", "access_token_ttl_s", "refresh_token_ttl_s", "verify_token_ttl_s",
    "max_upload_bytes", "upload_session_ttl_s", "max_open_uploads_per_user", "workers", "worker_recycle_after", "vips_concurrency",
    "job_timeout_s", "job_max_attempts", "job_lease_s", "poll_interval_s", "backlog_high_water", "job_retention_days",
    "max_image_pixels", "max_animation_frames", "min_image_side", "rate_limit_ip_per_min",
    "rate_limit_account_per_min", "s3_max_attempts", "s3_connect_timeout_s", "s3_read_timeout_s",
    # social
    "rate_limit_follows_per_min", "rate_limit_likes_per_min", "rate_limit_comments_per_min",
    # feed and notifications
    "stream_max_per_account", "stream_max_total", "stream_ticket_ttl_s", "stream_heartbeat_s",
    "stream_retry_ms", "stream_poll_s",
    # Abuse resistance
    "unverified_account_ttl_s", "reset_token_ttl_s", "account_mails_per_hour", "login_lockout_window_s",
    "login_failures_per_address", "login_failures_per_device", "login_failures_per_account",
    "user_quota_bytes", "uploads_per_user_per_min", "http_header_timeout_s", "http_body_timeout_s",
    "http_max_connections",
    # moderation
    "moderation_timeout_s", "report_hide_threshold", "reports_per_hour",
}


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(Settings) if f.name != "config_file"}


def _convert(name: str, type_name: str, raw: Any) -> Any:
    """Turn a raw value (string from env/CLI, or a TOML value) into the field's type."""
    if type_name == "int":
        if isinstance(raw, bool):
            raise ValueError("expected an integer")
        return int(raw)
    if type_name == "float":
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        return float(raw)
    if type_name == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if type_name == "Path":
        return Path(str(raw)).expanduser()
    if type_name.startswith("tuple"):
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(i).strip().lower() for i in items if str(i).strip())
    if not isinstance(raw, (str, int, float)):
        raise ValueError("expected a string")
    return str(raw)


def _describe(name: str, value: Any, secret: bool) -> str:
    return "(hidden)" if secret else repr(value)


def load_settings(
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge the layers and validate. Raises ConfigError listing every bad value."""
    environ = os.environ if environ is None else environ
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    types = _field_types()
    secrets = {f.name for f in fields(Settings) if f.metadata.get("secret")}
    problems: list[str] = []
    values: dict[str, Any] = {}

    config_path = cli.pop("config", None) or environ.get(f"{ENV_PREFIX}CONFIG") or config_file
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_path:
        config_path = Path(config_path)
        try:
            with open(config_path, "rb") as fh:
                data = tomllib.load(fh)
            layers.append((f"config file {config_path}", data.get("imagepipe", data)))
        except FileNotFoundError:
            problems.append(f"config: file {config_path} does not exist")
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"config: {config_path} is not valid TOML: {exc}")
    env_layer = {
        key[len(ENV_PREFIX):].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key != f"{ENV_PREFIX}CONFIG"
    }
    layers.append(("environment", env_layer))
    layers.append(("command line", cli))

    for source, layer in layers:
        for name, raw in layer.items():
            if name not in types:
                if source != "environment":  # unrelated IMAGEPIPE_* variables are not ours to judge
                    problems.append(f"{name}: unknown setting (from {source})")
                continue
            try:
                values[name] = _convert(name, types[name], raw)
            except (TypeError, ValueError) as exc:
                shown = _describe(name, raw, name in secrets)
                label = f"{ENV_PREFIX}{name.upper()}" if source == "environment" else name
                problems.append(f"{label}: {shown} is not valid ({exc}) (from {source})")

    if problems:
        raise ConfigError(problems)
    settings = Settings(**values, config_file=Path(config_path) if config_path else None)
    problems.extend(validate(settings))
    if problems:
        raise ConfigError(problems)
    return settings


def validate(settings: Settings) -> list[str]:
    """Cross-field and range checks; pure, so it is unit-tested alone."""
    problems: list[str] = []
    for name, choices in _CHOICES.items():
        value = getattr(settings, name)
        if value not in choices:
            problems.append(f"{name}: {value!r} is not one of {', '.join(choices)}")
    for name in sorted(_POSITIVE):
        if getattr(settings, name) <= 0:
            problems.append(f"{name}: must be greater than 0, got {getattr(settings, name)!r}")
    if not 1 <= settings.port <= 65535:
        problems.append(f"port: {settings.port} is not a TCP port (1-65535)")
    if settings.db_pool_min > settings.db_pool_max:
        problems.append("db_pool_min: must not exceed db_pool_max")
    if not 4 <= settings.bcrypt_rounds <= 16:
        problems.append(f"bcrypt_rounds: {settings.bcrypt_rounds} is outside 4-16")
    if settings.storage == "s3" and not settings.s3_bucket:
        problems.append("s3_bucket: required when storage is s3 (IMAGEPIPE_S3_BUCKET)")
    if settings.mail_mode == "smtp" and not settings.smtp_host:
        problems.append("smtp_host: required when mail_mode is smtp (IMAGEPIPE_SMTP_HOST)")
    if settings.jwt_secret and len(settings.jwt_secret) < 32:
        problems.append("jwt_secret: must be at least 32 characters (value hidden)")
    if settings.database_url and not settings.database_url.startswith(("postgres://", "postgresql://")):
        problems.append("database_url: must start with postgresql:// (value hidden)")
    for url_field in ("public_base_url", "cdn_base_url", "s3_endpoint_url"):
        value = getattr(settings, url_field)
        if value and not value.startswith(("http://", "https://")):
            problems.append(f"{url_field}: {value!r} must start with http:// or https://")
    problems.extend(_validate_operations(settings))
    try:
        parse_variants(settings.variants)
    except ValueError as exc:
        problems.append(f"variants: {exc}")
    if not 1 <= settings.quality_floor <= 100:
        problems.append(f"quality_floor: {settings.quality_floor} is outside 1-100")
    problems.extend(_stream_problems(settings))
    problems.extend(_validate_abuse_resistance(settings))
    bad_formats = [f for f in settings.output_formats if f not in _ALLOWED_FORMATS]
    if bad_formats or "jpeg" not in settings.output_formats:
        problems.append(
            f"output_formats: {list(settings.output_formats)!r} must include jpeg and only "
            f"{', '.join(_ALLOWED_FORMATS)}"
        )
    problems.extend(_moderation_problems(settings))
    return problems


def _moderation_problems(settings: Settings) -> list[str]:
    """Moderation settings; the classifier spec is judged by the same rule the worker loads it by."""
    from actors.moderation import is_valid_spec

    problems: list[str] = []
    if settings.moderation != "off" and not is_valid_spec(settings.moderation):
        problems.append(f"moderation: {settings.moderation!r} is not off, nudenet or package.module:factory")
    for name in ("moderation_review_score", "moderation_reject_score"):
        if not 0.0 <= getattr(settings, name) <= 1.0:
            problems.append(f"{name}: {getattr(settings, name)!r} is outside 0-1")
    if settings.moderation_review_score > settings.moderation_reject_score:
        problems.append("moderation_review_score: must not exceed moderation_reject_score")
    if settings.moderation_timeout_s >= settings.job_timeout_s:
        problems.append("moderation_timeout_s: must be less than job_timeout_s (a slow classifier "
                        "would otherwise get its whole worker pool killed)")
    return problems


# scheme://host[:port], what a browser sends in Origin: no path, no trailing slash.
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?$")
METRICS_TOKEN_MIN = 16


def _validate_operations(settings: Settings) -> list[str]:
    """Metrics listener, metrics token and CORS origins."""
    problems: list[str] = []
    if settings.metrics_port and not 1 <= settings.metrics_port <= 65535:
        problems.append(f"metrics_port: {settings.metrics_port} is not a TCP port (1-65535, or 0 for the API port)")
    elif settings.metrics_port == settings.port and (settings.metrics_host or settings.host) == settings.host:
        problems.append(f"metrics_port: {settings.metrics_port} is the API port; use another or 0")
    if settings.metrics_token and len(settings.metrics_token) < METRICS_TOKEN_MIN:
        problems.append(f"metrics_token: must be at least {METRICS_TOKEN_MIN} characters (value hidden)")
    for origin in settings.cors_origins:
        if origin != "*" and not _ORIGIN.match(origin):
            problems.append(
                f"cors_origins: {origin!r} is not an origin like https://app.example.com "
                "(scheme, host and optional port; no path) or *"
            )
    return problems


def _stream_problems(s: Settings) -> list[str]:
    """Feed and notifications: bounds that keep streams useful and tickets short-lived."""
    problems: list[str] = []
    if s.stream_max_per_account > s.stream_max_total:
        problems.append("stream_max_per_account: must not exceed stream_max_total")
    if s.stream_ticket_ttl_s > 300:
        problems.append(f"stream_ticket_ttl_s: {s.stream_ticket_ttl_s} is over 300 (a ticket is for opening a stream now)")
    if not 1 <= s.stream_heartbeat_s <= 300:
        problems.append(f"stream_heartbeat_s: {s.stream_heartbeat_s} is outside 1-300 (proxies close idle streams)")
    if not 100 <= s.stream_retry_ms <= 60_000:
        problems.append(f"stream_retry_ms: {s.stream_retry_ms} is outside 100-60000")
    if s.stream_poll_s > 60:
        problems.append(f"stream_poll_s: {s.stream_poll_s} is over 60")
    return problems


def _validate_abuse_resistance(settings: Settings) -> list[str]:
    """Ranges of the abuse-resistance settings that "greater than 0" does not cover."""
    problems: list[str] = []
    if not 0 <= settings.password_min_score <= 4:
        problems.append(f"password_min_score: {settings.password_min_score} is outside 0-4 (zxcvbn scores)")
    if not 0 <= settings.jwt_leeway_s <= 300:
        problems.append(f"jwt_leeway_s: {settings.jwt_leeway_s} is outside 0-300")
    if settings.unverified_account_ttl_s < settings.verify_token_ttl_s:
        problems.append("unverified_account_ttl_s: must be at least verify_token_ttl_s (a link must not outlive its sign-up)")
    if settings.login_failures_per_account < settings.login_failures_per_address:
        problems.append("login_failures_per_account: must be at least login_failures_per_address")
    if settings.http_max_connections < 16:
        problems.append(f"http_max_connections: {settings.http_max_connections} is below 16")
    return problems
