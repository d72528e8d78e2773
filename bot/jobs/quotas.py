"""The limits that apply to a channel today: the configured defaults, or the channel's own from storage.

The rules themselves (a day, whether usage leaves room) are pure, in `bot.domain.quotas`; checking a limit
and reserving the job are one transaction in storage (`Store.insert_job(check=...)`).
"""

from __future__ import annotations

import dataclasses

from bot.domain.quotas import (
    ACCOUNT_WINDOW_SECONDS,
    ChannelLimits,
    ChannelNotAllowed,
    Day,
    LimitChange,
    Limits,
    Usage,
    day_of,
    month_of,
)
from bot.domain.settings import Settings
from storage.db import Store
from storage.spend import CHANNEL, USER, WORKSPACE


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

    async def limits(self, team_id: str, channel_id: str) -> Limits:
        return self.limits_with(await self._store.channel_limits(team_id, channel_id))

    def limits_with(self, own: ChannelLimits | None) -> Limits:
        """The limits that hold in a channel whose own settings are `own` (None: it has none)."""
        settings = self._settings
        jobs = settings.daily_jobs_per_channel
        budget = settings.daily_budget_micros_per_channel
        monthly = 0  # a channel's month has no default: admins set it with `/video quota set month $200`
        if own is not None:
            jobs = own.daily_jobs if own.daily_jobs is not None else jobs
            budget = own.daily_budget_micros if own.daily_budget_micros is not None else budget
            monthly = own.monthly_budget_micros or 0
        return Limits(
            jobs,
            budget,
            settings.daily_jobs_per_user,
            channel_has_own=own is not None,
            monthly_budget_micros=monthly,
            workspace_monthly_micros=settings.monthly_budget_micros,
            daily_budget_micros_per_user=settings.daily_budget_micros_per_user,
            account_daily_jobs=settings.account_daily_jobs,
        )

    @property
    def counts_account(self) -> bool:
        """Whether admissions count the Perf account's jobs of the last 24 hours (a limit is set)."""
        return bool(self._settings.account_daily_jobs)

    def this_month(self, now: float) -> Day:
        return month_of(now, self._settings.timezone)

    async def usage(self, team_id: str, channel_id: str, user_id: str, now: float, line: str = "") -> Usage:
        """What the channel and the person used today, with the month's spend and the account's last 24 hours:
        what `/video quota` shows (an admission reads the same inside its transaction). `line`: the Perf key
        paying for the workspace's jobs ("": the operator's), whose daily cap is its own."""
        day, month = self.today(now), self.this_month(now)
        base = await self._store.usage(team_id, channel_id, user_id, day.bounds)
        user = await self._store.spent(team_id, USER, user_id, day.bounds)
        channel_month = await self._store.spent(team_id, CHANNEL, channel_id, month.bounds)
        workspace_month = await self._store.spent(team_id, WORKSPACE, "", month.bounds)
        account_jobs, oldest = await self._store.account_usage(now - ACCOUNT_WINDOW_SECONDS, line)
        return dataclasses.replace(
            base,
            user_cost_micros=user.cost_micros,
            channel_month_micros=channel_month.cost_micros,
            workspace_month_micros=workspace_month.cost_micros,
            account_jobs=account_jobs,
            account_oldest=oldest,
        )

    async def change(self, team_id: str, channel_id: str, change: LimitChange, by: str, now: float) -> Limits:
        current = await self._store.channel_limits(team_id, channel_id)
        if change.default:
            new = ChannelLimits(None, None, by, now)
        elif change.off:
            new = ChannelLimits(0, 0, by, now, monthly_budget_micros=0)
        else:
            jobs = change.daily_jobs if change.daily_jobs is not None else (current.daily_jobs if current else None)
            budget = (
                change.daily_budget_micros
                if change.daily_budget_micros is not None
                else (current.daily_budget_micros if current else None)
            )
            monthly = (
                change.monthly_budget_micros
                if change.monthly_budget_micros is not None
                else (current.monthly_budget_micros if current else None)
            )
            new = ChannelLimits(jobs, budget, by, now, monthly_budget_micros=monthly)
        await self._store.set_channel_limits(team_id, channel_id, new)
        return await self.limits(team_id, channel_id)
