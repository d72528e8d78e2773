"""Every knob of the bot, as one frozen value. Reading and checking them is the runtime's (`bot.runtime.config`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PERF_API_URL = "https://api.withperf.pro"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///videobot.db"
DEFAULT_MEDIA_HOSTS = "storage.withperf.pro"


# A report claim guards its day for as long as a catch-up may still post that day (the last due day only);
# a week keeps every claim well past that, so no shorter retention is taken (the operator's or a workspace's).
MIN_RETENTION_DAYS = 7


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str
    perf_api_key: str
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    # Many workspaces (issue 25): on when both are set; each workspace installs through /slack/install.
    slack_client_id: str = ""
    slack_client_secret: str = ""
    # Where Slack sends the browser back after an install (the app's Redirect URL); empty: the one set in the app.
    slack_redirect_uri: str = ""
    # VIDEOBOT_ENCRYPTION_KEY as given (one or more keys, comma-separated): required with many workspaces.
    encryption_key: str = ""
    perf_api_url: str = DEFAULT_PERF_API_URL
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    # How long a replica's hold on a job lasts unless renewed: how soon another replica finishes a dead one's jobs.
    lease_seconds: float = 30.0
    media_hosts: tuple[str, ...] = (DEFAULT_MEDIA_HOSTS,)
    # Slack's requests, in HTTP mode only (Socket Mode binds no port for them).
    host: str = "0.0.0.0"
    port: int = 3000
    # /healthz with its details, /readyz and /metrics: loopback unless the operator opens it (issue 29).
    health_host: str = "127.0.0.1"
    health_port: int = 8081
    # Each port's open connections, and how long a request (headers and body) may take to arrive.
    http_max_connections: int = 256
    http_read_timeout_seconds: float = 10.0
    poll_tick_seconds: float = 1.0
    poll_min_seconds: float = 2.0
    poll_max_seconds: float = 15.0
    poll_concurrency: int = 8
    job_timeout_seconds: float = 1800.0
    max_video_mb: int = 1000
    # A video whose host does not say its size is spooled to the temporary directory: at most this many MB.
    max_spool_mb: int = 200  # VIDEOBOT_MAX_SPOOL_MB
    # Fetching a video and uploading it to Slack, all told, at most this long (each attempt).
    delivery_timeout_seconds: float = 600.0  # VIDEOBOT_DELIVERY_TIMEOUT_SECONDS
    log_level: str = "INFO"
    rerun_emoji: tuple[str, ...] = ("repeat",)
    max_concurrent_jobs: int = 5  # 0: no limit
    # How many of those slots one person may hold at once (0: no cap); their other jobs wait their turn.
    max_running_per_person: int = 0
    daily_jobs_per_channel: int = 20  # 0: no limit
    daily_budget_micros_per_channel: int = 0  # 0: no limit
    daily_jobs_per_user: int = 0  # 0: no limit
    timezone: str = "UTC"
    language: str = "en"  # VIDEOBOT_LANGUAGE: the workspace's, for channels and people with none of their own
    allowed_channels: tuple[str, ...] = ()  # empty: every channel
    report_time: tuple[int, int] = (9, 0)
    report_channel: str = ""
    log_format: str = "plain"
    metrics_enabled: bool = False
    # Multiplies the rates Slack's calls are paced to (1: Slack's published tiers). Replicas pace
    # separately: N of them share Slack's budget at 1/N each.
    slack_pace: float = 1.0
    # Per-step event detail, replay signatures, App Home viewers and report claims older than this are
    # deleted (never a job's row: quotas, reports and exports read those). 0: keep everything. A workspace may
    # choose a shorter window of its own (`/video admin set retention-days`, bot/domain/workspace_settings.py).
    retention_days: int = 400
    # Budgets in money and the account's own limit (issue 19); 0: none.
    monthly_budget_micros: int = 0  # the workspace's month, VIDEOBOT_MONTHLY_BUDGET_USD
    daily_budget_micros_per_user: int = 0  # VIDEOBOT_DAILY_BUDGET_USD_PER_USER
    account_daily_jobs: int = 0  # VIDEOBOT_ACCOUNT_DAILY_JOBS: Perf's jobs a day (Free: 5, Pro: 100)
    # Approval for expensive jobs (issue 19). A job whose estimate is above approval_over_micros waits for
    # an approver (a workspace admin or one of `approvers`), asked in approval_channel, else by direct
    # message; undecided after approval_hours it ends. approve_own: an approver's own job needs no approval.
    approval_over_micros: int = 0  # 0: no job needs approval
    approvers: tuple[str, ...] = ()
    approval_channel: str = ""
    approve_own: bool = True
    approval_hours: float = 24.0
    # Team practice (issue 28): the channel a starred take is posted to once; "": no showcase.
    showcase_channel: str = ""
    # PostgreSQL: how long opening a connection may take, and how long a query waits for a free one of the pool
    # (seconds); past either, a one-line error instead of a wait without end.
    db_connect_timeout_seconds: float = 10.0  # VIDEOBOT_DB_CONNECT_TIMEOUT_SECONDS
    db_acquire_timeout_seconds: float = 10.0  # VIDEOBOT_DB_ACQUIRE_TIMEOUT_SECONDS

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def many_workspaces(self) -> bool:
        """Installed through Slack's OAuth flow by any workspace; else the one workspace of SLACK_BOT_TOKEN."""
        return bool(self.slack_client_id and self.slack_client_secret)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line."""
        return tuple(
            s
            for s in (
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.slack_client_secret,
                *(key.strip() for key in self.encryption_key.split(",")),
                self.perf_api_key,
                self.database_password,
            )
            if s
        )

    @property
    def database_password(self) -> str:
        try:
            return urlsplit(self.database_url).password or ""
        except ValueError:
            return ""
