"""The rules of fair shares: a day in VIDEOBOT_TIMEZONE, the limits that apply, and whether a day's usage
leaves room for one more job. Pure: storage checks them inside the transaction that reserves the job."""

from __future__ import annotations

import math
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
    # Budgets in money (issue 19): the person's day, the channel's and the workspace's month, and the
    # account's jobs over the last 24 hours (with the oldest of them: when the next one frees up).
    user_cost_micros: int = 0
    channel_month_micros: int = 0
    workspace_month_micros: int = 0
    account_jobs: int = 0
    account_oldest: float = 0.0


@dataclass(frozen=True)
class ChannelLimits:
    daily_jobs: int | None  # None: the configured default; 0: no limit
    daily_budget_micros: int | None
    set_by: str
    set_at: float
    monthly_budget_micros: int | None = None


@dataclass(frozen=True)
class Limits:
    """0 means no limit."""

    daily_jobs: int
    daily_budget_micros: int
    daily_jobs_per_user: int
    channel_has_own: bool = False
    monthly_budget_micros: int = 0  # the channel's month
    workspace_monthly_micros: int = 0
    daily_budget_micros_per_user: int = 0
    account_daily_jobs: int = 0


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
    USER_BUDGET = "user_budget"
    CHANNEL_MONTH_BUDGET = "channel_month_budget"
    WORKSPACE_MONTH_BUDGET = "workspace_month_budget"
    ACCOUNT_JOBS = "account_jobs"


MONEY_LIMITS = frozenset(
    {
        QuotaLimit.CHANNEL_BUDGET,
        QuotaLimit.USER_BUDGET,
        QuotaLimit.CHANNEL_MONTH_BUDGET,
        QuotaLimit.WORKSPACE_MONTH_BUDGET,
    }
)
# Perf's docs give its accounts a number of jobs "per day" without saying when that day starts, so the
# bot counts the last 24 hours: fewer than the limit in any 24 hours is fewer since Perf's reset, whenever it is.
ACCOUNT_WINDOW_SECONDS = 86_400.0


class QuotaExceeded(Exception):
    """Which limit a job would break; amounts are jobs or micro-dollars."""

    def __init__(
        self,
        which: QuotaLimit,
        used: int,
        allowed: int,
        resets_at: float,
        asked: int = 1,
        cheaper: tuple[Setting, ...] = (),
    ) -> None:
        super().__init__(f"{which}: used {used} of {allowed}")
        self.which = which
        self.used = used
        self.allowed = allowed
        self.resets_at = resets_at
        self.asked = asked
        self.cheaper = cheaper  # settings that would fit what is left, for a budget in money

    @property
    def left(self) -> int:
        return max(0, self.allowed - self.used)


@dataclass(frozen=True)
class Setting:
    """A model and a duration: what a refusal offers instead of the job asked for."""

    model: str
    duration_seconds: Decimal
    cost_micros: int


def cheaper_settings(model: str, duration: Decimal, left_micros: int) -> tuple[Setting, ...]:
    """What would fit in `left_micros`: the same model for fewer whole seconds (the longest that fits), and
    the cheapest other model for the same duration; failing both, the cheapest model for as long as fits.
    None if nothing fits."""
    shorter = _longest_fitting(model, math.ceil(duration) - 1, left_micros)
    same_length = sorted(
        (
            Setting(m.name, duration, catalogue.estimated_cost_micros(m.name, duration))
            for m in catalogue.MODELS.values()
            if m.name != model and duration <= m.max_duration_seconds
        ),
        key=lambda s: s.cost_micros,
    )
    found = [s for s in (shorter, *same_length[:1]) if s is not None and s.cost_micros <= left_micros]
    if found:
        return tuple(found)
    cheapest = min(catalogue.MODELS.values(), key=lambda m: m.price_per_second)
    fallback = _longest_fitting(cheapest.name, min(math.ceil(duration) - 1, cheapest.max_duration_seconds), left_micros)
    return (fallback,) if fallback is not None else ()


def _longest_fitting(model: str, at_most: int, left_micros: int) -> Setting | None:
    """`model` for the most whole seconds, up to `at_most`, that cost no more than `left_micros`."""
    if model not in catalogue.MODELS:
        return None
    price = catalogue.MODELS[model].price_per_second * catalogue.MICROS_PER_DOLLAR
    seconds = min(at_most, int(Decimal(left_micros) // price))
    if seconds < 1:
        return None
    return Setting(model, Decimal(seconds), catalogue.estimated_cost_micros(model, Decimal(seconds)))


def day_of(now: float, timezone: str) -> Day:
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Add a calendar day and rebuild the wall time, so days with a DST change are 23 or 25 hours long.
    next_day = (midnight + timedelta(days=1)).date()
    next_midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=zone)
    return Day(midnight.timestamp(), next_midnight.timestamp(), midnight.date().isoformat())


def month_of(now: float, timezone: str) -> Day:
    """The calendar month around `now` in `timezone`, as a Day whose label is `2026-12`: monthly budgets' period."""
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    end = datetime(year, month, 1, tzinfo=zone)
    return Day(start.timestamp(), end.timestamp(), f"{local.year:04d}-{local.month:02d}")


def previous_day(day: Day, timezone: str) -> Day:
    return day_of(day.start - 1, timezone)


def check_usage(
    limits: Limits,
    usage: Usage,
    cost_micros: int,
    day: Day,
    month: Day | None = None,
    asked: Setting | None = None,
    *,
    jobs: int = 1,
) -> None:
    """Raise QuotaExceeded if one more job costing `cost_micros` does not fit today's (and the month's) limits.

    `asked`: the job's model and duration, so a refusal for money can name a cheaper setting that fits.
    `jobs`: how many jobs `cost_micros` pays for, all admitted or none (the takes of a comparison)."""
    if limits.account_daily_jobs and usage.account_jobs + jobs > limits.account_daily_jobs:
        resets = usage.account_oldest + ACCOUNT_WINDOW_SECONDS
        raise QuotaExceeded(QuotaLimit.ACCOUNT_JOBS, usage.account_jobs, limits.account_daily_jobs, resets)
    if limits.daily_jobs and usage.channel_jobs + jobs > limits.daily_jobs:
        raise QuotaExceeded(QuotaLimit.CHANNEL_JOBS, usage.channel_jobs, limits.daily_jobs, day.end)
    if limits.daily_budget_micros and usage.channel_cost_micros + cost_micros > limits.daily_budget_micros:
        left = limits.daily_budget_micros - usage.channel_cost_micros
        cheaper = cheaper_settings(asked.model, asked.duration_seconds, left) if asked else ()
        raise QuotaExceeded(
            QuotaLimit.CHANNEL_BUDGET,
            usage.channel_cost_micros,
            limits.daily_budget_micros,
            day.end,
            asked=cost_micros,
            cheaper=cheaper,
        )
    if limits.daily_jobs_per_user and usage.user_jobs + jobs > limits.daily_jobs_per_user:
        raise QuotaExceeded(QuotaLimit.USER_JOBS, usage.user_jobs, limits.daily_jobs_per_user, day.end)
    _check_money(limits, usage, cost_micros, day, month or day, asked)


def _check_money(limits: Limits, usage: Usage, cost: int, day: Day, month: Day, asked: Setting | None) -> None:
    budgets = (
        (QuotaLimit.USER_BUDGET, usage.user_cost_micros, limits.daily_budget_micros_per_user, day.end),
        (QuotaLimit.CHANNEL_MONTH_BUDGET, usage.channel_month_micros, limits.monthly_budget_micros, month.end),
        (QuotaLimit.WORKSPACE_MONTH_BUDGET, usage.workspace_month_micros, limits.workspace_monthly_micros, month.end),
    )
    for which, used, allowed, resets in budgets:
        if allowed and used + cost > allowed:
            cheaper = cheaper_settings(asked.model, asked.duration_seconds, allowed - used) if asked else ()
            raise QuotaExceeded(which, used, allowed, resets, asked=cost, cheaper=cheaper)


@dataclass(frozen=True)
class LimitChange:
    """What `/video quota set …` asks for: a job count, a dollar budget, `off`, or `default`."""

    daily_jobs: int | None = None
    daily_budget_micros: int | None = None
    off: bool = False
    default: bool = False
    monthly_budget_micros: int | None = None  # `month $200`; 0 (`month off`): none


def parse_limit(value: str) -> LimitChange | None:
    text = value.strip().lower()
    if text.startswith("month"):
        return _parse_month_limit(text.removeprefix("monthly").removeprefix("month").strip())
    if text in ("off", "none", "unlimited"):
        return LimitChange(off=True)
    if text in ("default", "reset"):
        return LimitChange(default=True)
    if text.startswith("$") or text.endswith("$"):
        amount = _dollars(text)
        return LimitChange(daily_budget_micros=amount) if amount is not None else None
    if text.isdigit() and 0 < int(text) <= 1_000_000:
        return LimitChange(daily_jobs=int(text))
    return None


def _dollars(text: str) -> int | None:
    try:
        amount = Decimal(text.strip("$ "))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0 or amount > 1_000_000:
        return None
    return catalogue.dollars_to_micros(amount)


def _parse_month_limit(text: str) -> LimitChange | None:
    if text in ("off", "none", "unlimited"):
        return LimitChange(monthly_budget_micros=0)
    amount = (
        _dollars(text) if text.startswith("$") or text.endswith("$") or text.replace(".", "", 1).isdigit() else None
    )
    return LimitChange(monthly_budget_micros=amount) if amount is not None else None
