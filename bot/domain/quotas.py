"""The rules of fair shares: a day in VIDEOBOT_TIMEZONE, the limits that apply, and whether a day's usage
leaves room for one more job. Pure: storage checks them inside the transaction that reserves the job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain import catalogue


@dataclass(frozen=True)
class Usage:
    """What a channel and a person used in one day, counting only jobs that hold quota."""

    channel_jobs: int = 0
    channel_cost_micros: int = 0
    user_jobs: int = 0


@dataclass(frozen=True)
class ChannelLimits:
    daily_jobs: int | None  # None: the configured default; 0: no limit
    daily_budget_micros: int | None
    set_by: str
    set_at: float


@dataclass(frozen=True)
class Limits:
    """0 means no limit."""

    daily_jobs: int
    daily_budget_micros: int
    daily_jobs_per_user: int
    channel_has_own: bool = False


@dataclass(frozen=True)
class Day:
    start: float
    end: float  # when the quotas reset
    label: str  # 2026-11-25

    @property
    def bounds(self) -> tuple[float, float]:
        return self.start, self.end


class ChannelNotAllowed(Exception):
    pass


class QuotaLimit(StrEnum):
    CHANNEL_JOBS = "channel_jobs"
    CHANNEL_BUDGET = "channel_budget"  # micro-dollars
    USER_JOBS = "user_jobs"


class QuotaExceeded(Exception):
    """Which limit a job would break; amounts are jobs or micro-dollars."""

    def __init__(self, which: QuotaLimit, used: int, allowed: int, resets_at: float, asked: int = 1) -> None:
        super().__init__(f"{which}: used {used} of {allowed}")
        self.which = which
        self.used = used
        self.allowed = allowed
        self.resets_at = resets_at
        self.asked = asked


def day_of(now: float, timezone: str) -> Day:
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Add a calendar day and rebuild the wall time, so days with a DST change are 23 or 25 hours long.
    next_day = (midnight + timedelta(days=1)).date()
    next_midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=zone)
    return Day(midnight.timestamp(), next_midnight.timestamp(), midnight.date().isoformat())


def previous_day(day: Day, timezone: str) -> Day:
    return day_of(day.start - 1, timezone)


def check_usage(limits: Limits, usage: Usage, cost_micros: int, day: Day) -> None:
    """Raise QuotaExceeded if one more job costing `cost_micros` does not fit today's limits."""
    if limits.daily_jobs and usage.channel_jobs + 1 > limits.daily_jobs:
        raise QuotaExceeded(QuotaLimit.CHANNEL_JOBS, usage.channel_jobs, limits.daily_jobs, day.end)
    if limits.daily_budget_micros and usage.channel_cost_micros + cost_micros > limits.daily_budget_micros:
        raise QuotaExceeded(
            QuotaLimit.CHANNEL_BUDGET, usage.channel_cost_micros, limits.daily_budget_micros, day.end, asked=cost_micros
        )
    if limits.daily_jobs_per_user and usage.user_jobs + 1 > limits.daily_jobs_per_user:
        raise QuotaExceeded(QuotaLimit.USER_JOBS, usage.user_jobs, limits.daily_jobs_per_user, day.end)


@dataclass(frozen=True)
class LimitChange:
    """What `/video quota set …` asks for: a job count, a dollar budget, `off`, or `default`."""

    daily_jobs: int | None = None
    daily_budget_micros: int | None = None
    off: bool = False
    default: bool = False


def parse_limit(value: str) -> LimitChange | None:
    text = value.strip().lower()
    if text in ("off", "none", "unlimited"):
        return LimitChange(off=True)
    if text in ("default", "reset"):
        return LimitChange(default=True)
    if text.startswith("$") or text.endswith("$"):
        try:
            amount = Decimal(text.strip("$ "))
        except InvalidOperation:
            return None
        if not amount.is_finite() or amount <= 0 or amount > 1_000_000:
            return None
        return LimitChange(daily_budget_micros=catalogue.dollars_to_micros(amount))
    if text.isdigit() and 0 < int(text) <= 1_000_000:
        return LimitChange(daily_jobs=int(text))
    return None
