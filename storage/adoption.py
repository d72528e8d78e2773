"""Rows stored before the workspace was in every key (migration 23), given to their workspace.

The migration gives each row tied to a job its job's team, and every other row (a channel's limits or
defaults, a person's presets, App Home's viewers, the reports' and notices' claims) the deployment's one
workspace when the jobs name exactly one. Where they named none (no job yet) or several (people of a
Slack Connect channel's other workspace), those rows keep the team '' until `adopt_rows` is given the
workspace: at the next start in single-workspace mode, the bot token's team (auth.test), or at once
from the jobs when by then they name exactly one.
"""

from __future__ import annotations

import logging

from storage.base import StoreBase

log = logging.getLogger("videobot.storage")

# Each table whose rows may wait for their workspace, and the rest of its key (after team_id).
ADOPTED_TABLES: dict[str, tuple[str, ...]] = {
    "channel_limits": ("channel_id",),
    "daily_reports": ("scope", "channel_id", "day"),
    "home_viewers": ("user_id",),
    "budget_notices": ("budget", "scope_id", "period"),
    "video_defaults": ("scope", "owner_id"),
    "video_presets": ("scope", "owner_id", "name"),
}
# Through jobs_team_created, which leads with team_id: two index probes however many jobs.
_TEAMS_SQL = "SELECT MIN(team_id), MAX(team_id) FROM jobs"


class AdoptionQueries(StoreBase):
    async def unadopted_rows(self) -> int:
        """How many rows still wait for their workspace (team '')."""
        total = 0
        for table in ADOPTED_TABLES:
            total += int(await self._db.fetchval(f"SELECT COUNT(*) FROM {table} WHERE team_id = ''") or 0)
        return total

    async def adopt_rows(self, team_id: str) -> int:
        """Give the rows waiting for their workspace to `team_id`; how many. A row whose key the workspace
        already has (set again since the upgrade) stays behind, unread: the newer one wins."""
        if not team_id:
            return 0
        adopted = 0
        async with self._engine.transaction() as db:
            for table, key in ADOPTED_TABLES.items():
                same = " AND ".join(f"o.{column} = {table}.{column}" for column in key)
                adopted += await db.execute(
                    f"UPDATE {table} SET team_id = ? WHERE team_id = '' "
                    f"AND NOT EXISTS (SELECT 1 FROM {table} AS o WHERE o.team_id = ? AND {same})",
                    team_id,
                    team_id,
                )
        if adopted:
            log.info("event=rows_adopted team=%s rows=%d", team_id, adopted)
        return adopted

    async def adopt_rows_from_jobs(self) -> int:
        """`adopt_rows` for the one workspace the jobs name, if they name exactly one (else nothing)."""
        if not await self.unadopted_rows():
            return 0
        row = await self._db.fetchrow(_TEAMS_SQL)
        if row is None or row[0] is None or row[0] != row[1]:
            return 0
        return await self.adopt_rows(str(row[0]))
