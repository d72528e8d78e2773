"""Fair shares of one paid account: which channels may use the bot, and daily limits per channel and person.

The day runs in VIDEOBOT_TIMEZONE. Checking a limit and reserving the job are one transaction in
storage (`Store.insert_job(check=...)`); this module decides what the limits are and whether a day's
usage leaves room. It is pure apart from reading a channel's own limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from bot.domain import catalogue
from bot.runtime.config import Settings
from storage.db import ChannelLimits, Store, Usage


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


class QuotaExceeded(Exception):
    """`which` is channel_jobs, channel_budget or user_jobs; amounts are jobs or micro-dollars."""

    def __init__(self, which: str, used: int, allowed: int, resets_at: float, asked: int = 1) -> None:
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
        raise QuotaExceeded("channel_jobs", usage.channel_jobs, limits.daily_jobs, day.end)
    if limits.daily_budget_micros and usage.channel_cost_micros + cost_micros > limits.daily_budget_micros:
        raise QuotaExceeded(
            "channel_budget", usage.channel_cost_micros, limits.daily_budget_micros, day.end, asked=cost_micros
        )
    if limits.daily_jobs_per_user and usage.user_jobs + 1 > limits.daily_jobs_per_user:
        raise QuotaExceeded("user_jobs", usage.user_jobs, limits.daily_jobs_per_user, day.end)


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


class Quotas:
    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def ensure_allowed(self, channel_id: str) -> None:
        allowed = self._settings.allowed_channels
        if allowed and channel_id not in allowed:
            raise ChannelNotAllowed(channel_id)

    def today(self, now: float) -> Day:
        return day_of(now, self._settings.timezone)

    async def limits(self, channel_id: str) -> Limits:
        return self.limits_with(await self._store.channel_limits(channel_id))

    def limits_with(self, own: ChannelLimits | None) -> Limits:
        """The limits that hold in a channel whose own settings are `own` (None: it has none)."""
        jobs = self._settings.daily_jobs_per_channel
        budget = self._settings.daily_budget_micros_per_channel
        if own is not None:
            jobs = own.daily_jobs if own.daily_jobs is not None else jobs
            budget = own.daily_budget_micros if own.daily_budget_micros is not None else budget
        return Limits(jobs, budget, self._settings.daily_jobs_per_user, channel_has_own=own is not None)

    async def change(self, channel_id: str, change: LimitChange, by: str, now: float) -> Limits:
        current = await self._store.channel_limits(channel_id)
        if change.default:
            new = ChannelLimits(None, None, by, now)
        elif change.off:
            new = ChannelLimits(0, 0, by, now)
        else:
            jobs = change.daily_jobs if change.daily_jobs is not None else (current.daily_jobs if current else None)
            budget = (
                change.daily_budget_micros
                if change.daily_budget_micros is not None
                else (current.daily_budget_micros if current else None)
            )
            new = ChannelLimits(jobs, budget, by, now)
        await self._store.set_channel_limits(channel_id, new)
        return await self.limits(channel_id)
