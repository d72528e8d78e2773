"""The limits that apply to a channel today: the configured defaults, or the channel's own from storage.

The rules themselves (a day, whether usage leaves room) are pure, in `bot.domain.quotas`; checking a limit
and reserving the job are one transaction in storage (`Store.insert_job(check=...)`).
"""

from __future__ import annotations

from bot.domain.quotas import ChannelLimits, ChannelNotAllowed, Day, LimitChange, Limits, day_of
from bot.domain.settings import Settings
from storage.db import Store


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
