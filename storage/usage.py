"""What a channel and a person used on a day, the channels' own limits, and what the reports sum up.

The usage statements are shared with admissions (`storage/admissions.py`), which read them inside the
transaction that reserves a job."""

from __future__ import annotations

from bot.domain.job import QUOTA_FREED_STATES
from bot.domain.quotas import ChannelLimits, Usage
from storage.base import StoreBase
from storage.engine import Row
from storage.sql import in_list, states_list

# Jobs that count against quotas: all but those that certainly never reached Perf.
HOLDS_QUOTA = f"(perf_job_id IS NOT NULL OR state NOT IN {states_list(QUOTA_FREED_STATES)})"
# A day's usage per channel and per person, counting the jobs that hold quota; bound as the day's start and
# end, then the IN list. One statement each for a whole group of admissions, whatever its size.
CHANNEL_USAGE_SQL = (
    "SELECT channel_id, COUNT(*), COALESCE(SUM(COALESCE(perf_cost_micros, estimated_cost_micros)), 0) FROM jobs "
    f"WHERE team_id = ? AND created_at >= ? AND created_at < ? AND {HOLDS_QUOTA} AND channel_id IN ({{}}) "
    "GROUP BY channel_id"
)
USER_USAGE_SQL = (
    "SELECT user_id, COUNT(*) FROM jobs "
    f"WHERE team_id = ? AND created_at >= ? AND created_at < ? AND {HOLDS_QUOTA} AND user_id IN ({{}}) GROUP BY user_id"
)
# The workspace's channels that had jobs during a day, in the order of their first job that day.
CHANNELS_USED_SQL = (
    "SELECT channel_id FROM jobs WHERE team_id = ? AND created_at >= ? AND created_at < ? GROUP BY channel_id "
    # MIN(arrival) as well: without it SQLite reads the workspace's every job through the covering
    # jobs_channel_created instead of the day's through jobs_team_created.
    "ORDER BY MIN(created_at), MIN(arrival)"
)
# A day's jobs and cost per channel, for /metrics and the admin's App Home: the day's rows through
# jobs_created (migration 12), grouped in a sort of that day alone. Without that index, SQLite walked the
# whole of jobs_channel_created for the grouping's sake (70 ms with a year of history).
DAY_COST_SQL = (
    "SELECT channel_id, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros)) FROM jobs "
    f"WHERE created_at >= ? AND created_at < ? AND {HOLDS_QUOTA} GROUP BY channel_id ORDER BY channel_id"
)
# The same for one workspace (the admin's App Home), through jobs_team_created.
TEAM_DAY_COST_SQL = (
    "SELECT channel_id, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros)) FROM jobs "
    f"WHERE team_id = ? AND created_at >= ? AND created_at < ? AND {HOLDS_QUOTA} GROUP BY channel_id "
    "ORDER BY channel_id"
)
# The workspaces that had jobs during a day (the reports' round), through jobs_created: the day's rows.
WORKSPACES_USED_SQL = "SELECT DISTINCT team_id FROM jobs WHERE created_at >= ? AND created_at < ? ORDER BY team_id"
CHANNEL_LIMITS_SQL = (
    "SELECT daily_jobs, daily_budget_micros, set_by, set_at, channel_id, monthly_budget_micros, team_id "
    "FROM channel_limits WHERE team_id = ? AND channel_id IN ({})"
)
# The jobs of the account that hold quota since a moment (24 hours ago), and the oldest of them: the
# account's own daily limit. Through jobs_created, a day's rows at most.
# One Perf key's jobs (its line: bot.domain.line; issue 25): Perf's daily cap is per key, never over every
# workspace's keys at once.
ACCOUNT_USAGE_SQL = (
    f"SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM jobs WHERE line = ? AND created_at >= ? AND {HOLDS_QUOTA}"
)


def channel_limits_from_row(row: Row) -> ChannelLimits:
    return ChannelLimits(row[0], row[1], row[2], row[3], monthly_budget_micros=row[5])


class UsageQueries(StoreBase):
    async def usage(self, team_id: str, channel_id: str, user_id: str, day: tuple[float, float]) -> Usage:
        channel, user = await self._db.batch(
            in_list(CHANNEL_USAGE_SQL, [channel_id], team_id, *day), in_list(USER_USAGE_SQL, [user_id], team_id, *day)
        )
        channel_jobs, channel_cost = (int(channel.rows[0][1]), int(channel.rows[0][2])) if channel.rows else (0, 0)
        return Usage(channel_jobs, channel_cost, int(user.rows[0][1]) if user.rows else 0)

    async def account_usage(self, since: float, line: str = "") -> tuple[int, float]:
        """The jobs that hold quota made since `since` on one Perf key's `line` ("": the operator's key), and
        when the oldest of them was (0: none)."""
        row = await self._db.fetchrow(ACCOUNT_USAGE_SQL, line, since)
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    async def channel_limits(self, team_id: str, channel_id: str) -> ChannelLimits | None:
        sql, params = in_list(CHANNEL_LIMITS_SQL, [channel_id], team_id)
        row = await self._db.fetchrow(sql, *params)
        return channel_limits_from_row(row) if row else None

    async def channels_limits(self, team_id: str, channel_ids: list[str]) -> dict[str, ChannelLimits]:
        """The own limits of each of the workspace's `channel_ids` that has some, in one read (App Home)."""
        if not channel_ids:
            return {}
        sql, params = in_list(CHANNEL_LIMITS_SQL, channel_ids, team_id)
        return {row[4]: channel_limits_from_row(row) for row in await self._db.fetch(sql, *params)}

    async def set_channel_limits(self, team_id: str, channel_id: str, limits: ChannelLimits) -> None:
        async with self._engine.transaction() as db:
            await db.execute(
                "INSERT INTO channel_limits (team_id, channel_id, daily_jobs, daily_budget_micros, set_by, set_at, "
                "monthly_budget_micros) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, channel_id) DO UPDATE SET "
                "daily_jobs = excluded.daily_jobs, daily_budget_micros = excluded.daily_budget_micros, "
                "set_by = excluded.set_by, set_at = excluded.set_at, "
                "monthly_budget_micros = excluded.monthly_budget_micros",
                team_id,
                channel_id,
                limits.daily_jobs,
                limits.daily_budget_micros,
                limits.set_by,
                limits.set_at,
                limits.monthly_budget_micros,
            )

    async def workspaces_used(self, day: tuple[float, float]) -> list[str]:
        return [str(r[0]) for r in await self._db.fetch(WORKSPACES_USED_SQL, *day)]

    async def channels_used(self, team_id: str, day: tuple[float, float]) -> list[str]:
        rows = await self._db.fetch(CHANNELS_USED_SQL, team_id, *day)
        return [r[0] for r in rows]

    async def channel_usage(self, team_id: str, day: tuple[float, float]) -> dict[str, tuple[int, int]]:
        """The workspace's channel → (jobs, cost in micro-dollars) during `day`, counting jobs that hold quota."""
        rows = await self._db.fetch(TEAM_DAY_COST_SQL, team_id, *day)
        return {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}
