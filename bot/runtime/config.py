"""Settings: read once from the environment (and an optional `.env`), checked, then frozen."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypedDict, TypeVar
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import messages
from bot.domain.settings import (
    DEFAULT_DATABASE_URL,
    DEFAULT_MEDIA_HOSTS,
    DEFAULT_PERF_API_URL,
    DEFAULT_SLACK_API_URL,
    MIN_RETENTION_DAYS,
    Settings,
)
from bot.runtime.logs import redact

_Num = TypeVar("_Num", int, float)
_T = TypeVar("_T")

# A lease must span this many poller ticks (see _check_timings).
LEASE_TICKS = 5


def _shown(value: str) -> str:
    """A value quoted in a problem, with anything shaped like a credential (a token pasted into the wrong
    setting) replaced: the lines go to a terminal, a supervisor's log, a CI job's output."""
    return repr(redact(value))


class ConfigError(Exception):
    """Missing or malformed settings; each problem names its variable (never its value) and how to fix it.

    `problems` lists every one found in one reading, so a person fixes them all in one go; the message is
    them, one a line."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems: tuple[str, ...] = problems


class _Problems:
    """Collects every setting's problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, read: Callable[[], _T], fallback: _T) -> _T:
        """`read()`, or `fallback` (never used: the settings are refused) with its problem noted."""
        try:
            return read()
        except ConfigError as exc:
            self.found.extend(exc.problems)
            return fallback

    def raise_any(self) -> None:
        if self.found:
            raise ConfigError(*dict.fromkeys(self.found))


def _environment(environ: Mapping[str, str] | None, dotenv_path: str | None) -> dict[str, str]:
    if environ is None:
        env = dict(os.environ)
        if dotenv_path and Path(dotenv_path).is_file():
            for key, value in _dotenv(dotenv_path).items():
                if value is not None:
                    env.setdefault(key, value)
    else:
        env = dict(environ)

    return env


def _dotenv(path: str) -> dict[str, str | None]:
    """`.env`'s settings; a file saved in another encoding than UTF-8 (a Windows editor's) or unreadable is
    one problem naming its line, not a traceback."""
    from dotenv import dotenv_values

    try:
        raw = Path(path).read_bytes()
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path} is not UTF-8 text (line {line} has a character in another encoding): save it as UTF-8, "
            "or type that line again"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror or type(exc).__name__})") from None
    return dotenv_values(path)


def load_database_url(environ: Mapping[str, str] | None = None, dotenv_path: str | None = ".env") -> str:
    """DATABASE_URL alone: `videobot migrate`, `jobs`, `export`, `backup`… run without Slack or Perf secrets."""
    env = _environment(environ, dotenv_path)
    return _database_url(env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL)


def load_settings(environ: Mapping[str, str] | None = None, dotenv_path: str | None = ".env") -> Settings:
    """Build Settings from `environ` (default: the process environment plus `.env`, which never overrides).

    Every setting is read before any is refused: ConfigError lists all the problems found at once."""
    env = _environment(environ, dotenv_path)
    problems = _Problems()

    def get(name: str, default: str = "") -> str:
        return env.get(name, default).strip() or default

    def number(name: str, default: str, kind: type[_Num], low: float, high: float) -> _Num:
        return problems.check(lambda: _number(name, get(name, default), kind, low, high), kind(default))

    client_id, client_secret, encryption_key = _many_workspaces(get, problems)
    bot_token, app_token, signing_secret = _slack_credentials(get, problems, many_workspaces=bool(client_id))
    settings = Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_redirect_uri=problems.check(
            lambda: _http_url("SLACK_REDIRECT_URI", get("SLACK_REDIRECT_URI")) if get("SLACK_REDIRECT_URI") else "",
            "",
        ),
        encryption_key=encryption_key,
        perf_api_key=problems.check(lambda: _perf_api_key(get("PERF_API_KEY"), many_workspaces=bool(client_id)), ""),
        perf_api_url=problems.check(
            lambda: _http_url("PERF_API_URL", get("PERF_API_URL", DEFAULT_PERF_API_URL)).rstrip("/"),
            DEFAULT_PERF_API_URL,
        ),
        slack_api_url=problems.check(
            lambda: _http_url("SLACK_API_URL", get("SLACK_API_URL", DEFAULT_SLACK_API_URL)).rstrip("/") + "/",
            DEFAULT_SLACK_API_URL,
        ),
        database_url=problems.check(
            lambda: _database_url(get("DATABASE_URL", DEFAULT_DATABASE_URL)), DEFAULT_DATABASE_URL
        ),
        lease_seconds=number("VIDEOBOT_LEASE_SECONDS", "30", float, 1, 3600),
        media_hosts=problems.check(lambda: _media_hosts(get("VIDEOBOT_MEDIA_HOSTS", DEFAULT_MEDIA_HOSTS)), ()),
        host=get("HOST", "0.0.0.0"),
        port=number("PORT", "3000", int, 0, 65535),
        **_http_settings(get, problems),
        poll_tick_seconds=number("VIDEOBOT_POLL_TICK_SECONDS", "1", float, 0.05, 60),
        poll_min_seconds=number("VIDEOBOT_POLL_MIN_SECONDS", "2", float, 0.05, 300),
        poll_max_seconds=number("VIDEOBOT_POLL_MAX_SECONDS", "15", float, 0.05, 600),
        poll_concurrency=number("VIDEOBOT_POLL_CONCURRENCY", "8", int, 1, 256),
        job_timeout_seconds=60 * number("VIDEOBOT_JOB_TIMEOUT_MINUTES", "30", float, 0.01, 24 * 60),
        slack_pace=number("VIDEOBOT_SLACK_PACE", "1", float, 0.01, 1000),
        max_video_mb=number("VIDEOBOT_MAX_VIDEO_MB", "1000", int, 1, 1000),
        max_spool_mb=number("VIDEOBOT_MAX_SPOOL_MB", "200", int, 1, 1000),
        delivery_timeout_seconds=number("VIDEOBOT_DELIVERY_TIMEOUT_SECONDS", "600", float, 1, 24 * 3600),
        log_level=problems.check(lambda: _log_level(get("VIDEOBOT_LOG_LEVEL", "INFO")), "INFO"),
        rerun_emoji=problems.check(lambda: _emoji_names(get("VIDEOBOT_RERUN_EMOJI", "repeat")), ()),
        max_concurrent_jobs=number("VIDEOBOT_MAX_CONCURRENT_JOBS", "5", int, 0, 10_000),
        max_running_per_person=number("VIDEOBOT_MAX_RUNNING_PER_PERSON", "0", int, 0, 10_000),
        daily_jobs_per_channel=number("VIDEOBOT_DAILY_JOBS_PER_CHANNEL", "20", int, 0, 1_000_000),
        daily_budget_micros_per_channel=problems.check(
            lambda: _dollars(
                "VIDEOBOT_DAILY_BUDGET_USD_PER_CHANNEL", get("VIDEOBOT_DAILY_BUDGET_USD_PER_CHANNEL", "0")
            ),
            0,
        ),
        daily_jobs_per_user=number("VIDEOBOT_DAILY_JOBS_PER_USER", "0", int, 0, 1_000_000),
        timezone=problems.check(lambda: _timezone(get("VIDEOBOT_TIMEZONE", "UTC")), "UTC"),
        language=problems.check(lambda: _language(get("VIDEOBOT_LANGUAGE", "en")), "en"),
        allowed_channels=problems.check(
            lambda: _channel_ids("VIDEOBOT_ALLOWED_CHANNELS", get("VIDEOBOT_ALLOWED_CHANNELS")), ()
        ),
        report_time=problems.check(
            lambda: _clock_time("VIDEOBOT_REPORT_TIME", get("VIDEOBOT_REPORT_TIME", "09:00")), (9, 0)
        ),
        report_channel=problems.check(lambda: _report_channel(get("VIDEOBOT_REPORT_CHANNEL")), ""),
        log_format=problems.check(
            lambda: _choice("VIDEOBOT_LOG_FORMAT", get("VIDEOBOT_LOG_FORMAT", "plain").lower(), ("plain", "json")),
            "plain",
        ),
        showcase_channel=problems.check(
            lambda: _one_channel_id("VIDEOBOT_SHOWCASE_CHANNEL", get("VIDEOBOT_SHOWCASE_CHANNEL")), ""
        ),
        metrics_enabled=problems.check(
            lambda: _choice("VIDEOBOT_METRICS", get("VIDEOBOT_METRICS", "0"), ("0", "1")), "0"
        )
        == "1",
        retention_days=problems.check(lambda: _retention_days(get("VIDEOBOT_RETENTION_DAYS", "400")), 400),
        db_connect_timeout_seconds=number("VIDEOBOT_DB_CONNECT_TIMEOUT_SECONDS", "10", float, 0.1, 600),
        db_acquire_timeout_seconds=number("VIDEOBOT_DB_ACQUIRE_TIMEOUT_SECONDS", "10", float, 0.1, 600),
        **_budgets(get, problems),
        **_approval_settings(get, problems),
    )
    problems.raise_any()
    _check_timings(settings)
    return settings


class _Budgets(TypedDict):
    monthly_budget_micros: int
    daily_budget_micros_per_user: int
    account_daily_jobs: int


def _budgets(get: Callable[[str, str], str], problems: _Problems) -> _Budgets:
    """Budgets in money and the Perf account's daily jobs (issue 19), each 0 for none."""
    return {
        "monthly_budget_micros": problems.check(
            lambda: _dollars("VIDEOBOT_MONTHLY_BUDGET_USD", get("VIDEOBOT_MONTHLY_BUDGET_USD", "0")), 0
        ),
        "daily_budget_micros_per_user": problems.check(
            lambda: _dollars("VIDEOBOT_DAILY_BUDGET_USD_PER_USER", get("VIDEOBOT_DAILY_BUDGET_USD_PER_USER", "0")), 0
        ),
        "account_daily_jobs": problems.check(
            lambda: _number("VIDEOBOT_ACCOUNT_DAILY_JOBS", get("VIDEOBOT_ACCOUNT_DAILY_JOBS", "0"), int, 0, 1_000_000),
            0,
        ),
    }


# What a copied example leaves in a secret: "xoxb-…", "<your token>", "changeme", "xoxb-your-bot-token".
_PLACEHOLDER_ANYWHERE = re.compile(r"\.\.\.|…|<|>|\{|\}")
_PLACEHOLDER_WHOLE = re.compile(
    r"^(?:|x+|\*+|your.*|changeme|change[-_]?me.*|replace[-_]?me.*|placeholder.*|todo|fixme|secret|token|key|none|null)$"
)
_SECRET_PREFIXES = ("xoxb-", "xapp-1-", "xapp-", "pk_live_", "pk_test_")
_INLINE_COMMENT = re.compile(r"\s#|^#")


def _secret(name: str, value: str, what: str) -> str:
    """A token, key or secret as pasted, refused when it cannot be one; the message never shows the value."""
    if not value:
        raise ConfigError(f"{name} is not set: {what}")
    rest = value.lower()
    for prefix in _SECRET_PREFIXES:
        rest = rest.removeprefix(prefix)
    if _PLACEHOLDER_ANYWHERE.search(value) or _PLACEHOLDER_WHOLE.match(rest):
        raise ConfigError(f"{name} is still a placeholder from an example: {what}")
    if "#" in value:  # no token, key or secret has one
        raise ConfigError(
            f"{name} has a # comment after its value: put comments on a line of their own (a value runs to the "
            "end of its line)"
        )
    if not value.isascii():
        raise ConfigError(
            f"{name} contains a non-ASCII character (a typographic dash, quote or ellipsis from a web page or "
            "document?): copy it again from where Slack or Perf shows it"
        )
    if any(c.isspace() for c in value):
        raise ConfigError(f"{name} contains a space: copy it again as one unbroken string")
    return value


def _perf_api_key(value: str, many_workspaces: bool = False) -> str:
    """Required with one workspace; optional with many (issue 25): without it each workspace pays with the
    key its admins add, and a workspace without one is told how to add it."""
    if many_workspaces and not value:
        return ""
    return _secret("PERF_API_KEY", value, "set it to your Perf API key (pk_live_… or pk_test_…)")


_CLIENT_ID = re.compile(r"^[0-9]+\.[0-9]+$")


def _many_workspaces(get: Callable[[str], str], problems: _Problems) -> tuple[str, str, str]:
    """SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (both, or neither: many workspaces, or one), and
    VIDEOBOT_ENCRYPTION_KEY, which many workspaces need (the tokens they store are sealed with it)."""
    raw_id, raw_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")

    def client_id() -> str:
        if not raw_id:
            if raw_secret:
                raise ConfigError(
                    "SLACK_CLIENT_ID is not set but SLACK_CLIENT_SECRET is: many workspaces need both (Basic "
                    "Information → App Credentials); remove SLACK_CLIENT_SECRET for one workspace"
                )
            return ""
        if not _CLIENT_ID.match(raw_id):
            raise ConfigError(
                f"SLACK_CLIENT_ID must be the app's Client ID such as 1234567890.1234567890 (Basic Information → "
                f"App Credentials), not {_shown(raw_id)}"
            )
        return raw_id

    def client_secret() -> str:
        if not raw_secret:
            if raw_id:
                raise ConfigError(
                    "SLACK_CLIENT_SECRET is not set but SLACK_CLIENT_ID is: many workspaces need both (Basic "
                    "Information → App Credentials); remove SLACK_CLIENT_ID for one workspace"
                )
            return ""
        return _secret(
            "SLACK_CLIENT_SECRET", raw_secret, "set it to the app's Client Secret (Basic Information → App Credentials)"
        )

    def encryption_key() -> str:
        from storage.secrets import EncryptionKeyError, KeyRing

        value = get("VIDEOBOT_ENCRYPTION_KEY")
        if not value and not (raw_id or raw_secret):
            return ""  # one workspace: nothing is stored that needs it
        try:
            KeyRing.parse(value)
        except EncryptionKeyError as exc:
            raise ConfigError(str(exc)) from None
        return value

    ident = problems.check(client_id, "")
    secret = problems.check(client_secret, "")
    return (ident if secret else ""), (secret if ident else ""), problems.check(encryption_key, "")


def _slack_credentials(
    get: Callable[[str], str], problems: _Problems, *, many_workspaces: bool = False
) -> tuple[str, str, str]:
    """The bot token, and the app token (Socket Mode) or the signing secret (HTTP): one of them is needed.

    With many workspaces each workspace's bot token comes from its install: SLACK_BOT_TOKEN is not read."""

    def bot() -> str:
        if many_workspaces:
            return ""
        token = _secret(
            "SLACK_BOT_TOKEN",
            get("SLACK_BOT_TOKEN"),
            "set it to the app's Bot User OAuth Token (xoxb-…, on the OAuth & Permissions page)",
        )
        if not token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb- (OAuth & Permissions page)")
        return token

    def app() -> str:
        token = get("SLACK_APP_TOKEN")
        if not token:
            return ""
        _secret(
            "SLACK_APP_TOKEN",
            token,
            "set it to an app-level token (xapp-…, Basic Information → App-Level Tokens), or remove it for HTTP mode",
        )
        if not token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp- (Basic Information page)")
        return token

    def signing() -> str:
        secret = get("SLACK_SIGNING_SECRET")
        if secret:
            _secret(
                "SLACK_SIGNING_SECRET",
                secret,
                "set it to the app's Signing Secret (Basic Information → App Credentials)",
            )
        elif not get("SLACK_APP_TOKEN"):
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify requests "
                "(or set SLACK_APP_TOKEN to use Socket Mode)"
            )
        return secret

    return problems.check(bot, ""), problems.check(app, ""), problems.check(signing, "")


class _Http(TypedDict):
    health_host: str
    health_port: int
    http_max_connections: int
    http_read_timeout_seconds: float


def _http_settings(get: Callable[[str, str], str], problems: _Problems) -> _Http:
    """Where health and metrics are served, and the limits of both ports (issue 29)."""
    host, port = problems.check(
        lambda: _address("VIDEOBOT_HEALTH_ADDRESS", get("VIDEOBOT_HEALTH_ADDRESS", "127.0.0.1:8081")),
        ("127.0.0.1", 8081),
    )
    return {
        "health_host": host,
        "health_port": port,
        "http_max_connections": problems.check(
            lambda: _number(
                "VIDEOBOT_HTTP_MAX_CONNECTIONS", get("VIDEOBOT_HTTP_MAX_CONNECTIONS", "256"), int, 8, 100_000
            ),
            256,
        ),
        "http_read_timeout_seconds": problems.check(
            lambda: _number(
                "VIDEOBOT_HTTP_READ_TIMEOUT_SECONDS", get("VIDEOBOT_HTTP_READ_TIMEOUT_SECONDS", "10"), float, 0.1, 300
            ),
            10.0,
        ),
    }


def _address(name: str, value: str) -> tuple[str, int]:
    """HOST:PORT, or [IPv6]:PORT."""
    found = re.match(r"^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$", value.strip())
    if not found or int(found.group(3)) > 65535:
        raise ConfigError(
            f"{name} must be HOST:PORT such as 127.0.0.1:8081 (0.0.0.0:8081 to be reached from outside), "
            f"not {_shown(value)}"
        )
    return found.group(1) or found.group(2), int(found.group(3))


def _check_timings(settings: Settings) -> None:
    """Settings that are each in range but do not fit together."""
    if settings.poll_min_seconds > settings.poll_max_seconds:
        raise ConfigError(
            f"VIDEOBOT_POLL_MIN_SECONDS ({settings.poll_min_seconds:g}) must not be above "
            f"VIDEOBOT_POLL_MAX_SECONDS ({settings.poll_max_seconds:g})"
        )
    # Leases past half their length are renewed on a tick every quarter lease, so a running step keeps its
    # lease only while ticks come less than a quarter lease apart (a fifth leaves room for a late tick).
    # Otherwise the lease runs out under a replica still working, and another step of the job starts.
    shortest_lease = LEASE_TICKS * settings.poll_tick_seconds
    if settings.lease_seconds < shortest_lease:
        raise ConfigError(
            f"VIDEOBOT_LEASE_SECONDS ({settings.lease_seconds:g}) must be at least {LEASE_TICKS} times "
            f"VIDEOBOT_POLL_TICK_SECONDS ({settings.poll_tick_seconds:g}), since leases are renewed on ticks: "
            f"raise it to {shortest_lease:g} or more, or tick more often"
        )


def _split(name: str, value: str, shape: str) -> SplitResult:
    """urlsplit, with what it refuses (an unclosed "[" of an IPv6 host) as a problem naming the setting."""
    try:
        return urlsplit(value)
    except ValueError:
        raise ConfigError(f"{shape}; {name} is not a well-formed URL (an unclosed [ around an IPv6 host?)") from None


def _http_url(name: str, value: str) -> str:
    parts = _split(name, value, f"{name} must be an http(s) URL such as https://example.com")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL such as https://example.com, not {_shown(value)}")
    return value


def _database_url(url: str) -> str:
    """SQLite for one process, PostgreSQL for several replicas; nothing else, and never echo a password."""
    shape = (
        "DATABASE_URL must look like sqlite:///videobot.db (relative), sqlite:////data/videobot.db (absolute) "
        "or postgresql://user:password@host:5432/database"
    )
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if _INLINE_COMMENT.search(url) or "<" in url or "…" in url:
        raise ConfigError(
            "DATABASE_URL has a # comment or a placeholder (<…>) left in it: put comments on a line of their own "
            "and fill in the real values"
        )
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
            raise ConfigError(f"{shape}; got sqlite://… without a file path")
        return url
    if scheme in ("postgresql", "postgres"):
        parts = _split("DATABASE_URL", url, shape)
        if not parts.hostname or not parts.path.strip("/"):
            raise ConfigError(f"{shape}; got {scheme}://… without a host or a database name")
        try:
            parts.port  # noqa: B018 (urllib checks the port only when asked for it)
        except ValueError:
            raise ConfigError(f"{shape}; the port after the host is not a number from 0 to 65535") from None
        return url
    raise ConfigError(f"{shape}; got {scheme or 'no scheme'}://…")


def _media_hosts(value: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    for host in hosts:
        if "/" in host or "@" in host or " " in host:
            raise ConfigError(
                f"VIDEOBOT_MEDIA_HOSTS takes host or host:port entries separated by commas; {_shown(host)} is not one"
            )
    if not hosts:
        raise ConfigError("VIDEOBOT_MEDIA_HOSTS is empty: list at least one host videos may be downloaded from")
    return hosts


_EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]{1,100}$")


def _emoji_names(value: str) -> tuple[str, ...]:
    # People copy names from Slack's picker with the colons (":repeat:"); both spellings work.
    names = tuple(dict.fromkeys(n.strip().strip(":").lower() for n in value.split(",") if n.strip(" :")))
    for name in names:
        if not _EMOJI_NAME.match(name):
            raise ConfigError(
                f"VIDEOBOT_RERUN_EMOJI takes emoji names separated by commas, such as repeat,arrows_counterclockwise; "
                f"{_shown(name)} is not one"
            )
    if not names:
        raise ConfigError("VIDEOBOT_RERUN_EMOJI is empty: name at least one emoji, such as repeat")
    return names


_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def _channel_ids(name: str, value: str) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(c.strip() for c in value.split(",") if c.strip()))
    for channel in ids:
        if not _CHANNEL_ID.match(channel):
            raise ConfigError(
                f"{name} takes channel IDs such as C0123ABCD (channel details → About, at the bottom), "
                f"separated by commas; {_shown(channel)} is not one"
            )
    return ids


def _one_channel_id(name: str, value: str) -> str:
    """A setting naming one channel ("" when unset): a list would silently use only its first."""
    ids = _channel_ids(name, value)
    if len(ids) > 1:
        raise ConfigError(f"{name} takes one channel ID such as C0123ABCD, not {len(ids)} ({_shown(value)})")
    return ids[0] if ids else ""


def _report_channel(value: str) -> str:
    return _one_channel_id("VIDEOBOT_REPORT_CHANNEL", value)


def _dollars(name: str, value: str) -> int:
    text = value.strip().lstrip("$").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"{name} must be an amount in dollars such as 25 or 12.50, not {_shown(value)}") from None
    if not amount.is_finite() or amount < 0 or amount > 1_000_000:
        raise ConfigError(f"{name} must be between 0 (no limit) and 1000000 dollars, not {value}")
    return int(amount * 1_000_000)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"VIDEOBOT_TIMEZONE must be an IANA time zone name such as Europe/Berlin or UTC, not {_shown(value)}"
        ) from None
    return value


def _language(value: str) -> str:
    """The workspace's language: one videobot has a catalogue for (or its region's: `de-AT` is served by `de`)."""
    found = messages.supported(value.strip())
    if found is None:
        spoken = ", ".join(messages.shipped())
        raise ConfigError(f"VIDEOBOT_LANGUAGE must be a language videobot speaks ({spoken}), not {_shown(value)}")
    return found


def _clock_time(name: str, value: str) -> tuple[int, int]:
    found = re.match(r"^(\d{1,2}):(\d{2})$", value.strip())
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise ConfigError(f"{name} must be a time of day as HH:MM (24-hour), such as 09:00, not {_shown(value)}")
    return int(found.group(1)), int(found.group(2))


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be {' or '.join(choices)}, not {_shown(value)}")
    return value


def _number(name: str, value: str, kind: type[_Num], low: float, high: float) -> _Num:
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"{name} must be a {'whole ' if kind is int else ''}number, not {_shown(value)}") from None
    if not low <= number <= high:
        # .10g: 1000000 as written, not 1e+06
        raise ConfigError(f"{name} must be between {low:.10g} and {high:.10g}, not {value}")
    return number


def _retention_days(value: str) -> int:
    days = _number("VIDEOBOT_RETENTION_DAYS", value, int, 0, 100_000)
    if 0 < days < MIN_RETENTION_DAYS:
        raise ConfigError(
            f"VIDEOBOT_RETENTION_DAYS must be 0 (keep everything) or at least {MIN_RETENTION_DAYS}, not {value}: "
            "a daily report's claim must outlive any day a catch-up could still post"
        )
    return days


# --- approval for expensive jobs (issue 19) --------------------------------------------------------

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def _approval_settings(get: Callable[[str, str], str], problems: _Problems) -> dict[str, Any]:
    """VIDEOBOT_APPROVAL_* and VIDEOBOT_APPROVERS, checked together: a limit needs someone to ask."""
    over = problems.check(lambda: _dollars("VIDEOBOT_APPROVAL_OVER_USD", get("VIDEOBOT_APPROVAL_OVER_USD", "0")), 0)
    no_one: tuple[str, ...] = ()
    approvers = problems.check(lambda: _approvers(get("VIDEOBOT_APPROVERS", "")), no_one)
    channel = problems.check(
        lambda: _one_channel_id("VIDEOBOT_APPROVAL_CHANNEL", get("VIDEOBOT_APPROVAL_CHANNEL", "")), ""
    )
    # Only when neither is given at all: a malformed one is reported on its own line already.
    someone_named = bool(get("VIDEOBOT_APPROVERS", "") or get("VIDEOBOT_APPROVAL_CHANNEL", ""))
    if over and not someone_named:
        problems.found.append(
            "VIDEOBOT_APPROVAL_OVER_USD is set but nobody would be asked: set VIDEOBOT_APPROVAL_CHANNEL to a "
            "channel ID where approvers see the requests, or VIDEOBOT_APPROVERS to the user IDs to ask by "
            "direct message"
        )
    return {
        "approval_over_micros": over,
        "approvers": approvers,
        "approval_channel": channel,
        "approve_own": problems.check(
            lambda: _choice("VIDEOBOT_APPROVE_OWN", get("VIDEOBOT_APPROVE_OWN", "1"), ("0", "1")), "1"
        )
        == "1",
        "approval_hours": problems.check(
            lambda: _number("VIDEOBOT_APPROVAL_HOURS", get("VIDEOBOT_APPROVAL_HOURS", "24"), float, 0.1, 720), 24.0
        ),
    }


def _approvers(value: str) -> tuple[str, ...]:
    approvers = tuple(dict.fromkeys(u.strip() for u in value.split(",") if u.strip()))
    for user in approvers:
        if not _USER_ID.match(user):
            raise ConfigError(
                "VIDEOBOT_APPROVERS takes Slack user IDs such as U0123ABCD (profile → ⋯ → Copy member ID), "
                f"separated by commas; {_shown(user)} is not one"
            )
    return approvers


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"VIDEOBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {_shown(value)}")
    return level
