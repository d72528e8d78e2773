"""A workspace's jobs that still have work to do: when the workspace uninstalls videobot (or revokes its
token) they are ended, since nothing of theirs can reach Slack any more (issue 25)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.job import Job
from storage.base import StoreBase
from storage.rows import job_from_row
from storage.sql import in_list

# Not finalized: still to be sent, at Perf, to deliver, or to finalize. Rare (an uninstall), so no index of its own.
_UNFINISHED_OF_TEAMS_SQL = "SELECT * FROM jobs WHERE finalized = 0 AND team_id IN ({}) ORDER BY created_at, id"
# A Grid org's, through jobs_org_unfinished (the repeated conditions are the partial index's).
UNFINISHED_OF_ORG_SQL = (
    "SELECT * FROM jobs WHERE enterprise_id = ? AND enterprise_id <> '' AND finalized = 0 ORDER BY created_at, id"
)
# A workspace's Grid org, as its latest job recorded it (jobs_team_created).
ENTERPRISE_OF_SQL = "SELECT enterprise_id FROM jobs WHERE team_id = ? ORDER BY created_at DESC LIMIT 1"


class WorkspaceJobQueries(StoreBase):
    async def unfinished_jobs_of_teams(self, team_ids: Sequence[str]) -> list[Job]:
        """Every job of these workspaces not yet finalized, oldest first."""
        if not team_ids:
            return []
        sql, params = in_list(_UNFINISHED_OF_TEAMS_SQL, list(team_ids))
        return [job_from_row(row) for row in await self._db.fetch(sql, *params)]

    async def unfinished_jobs_of_org(self, enterprise_id: str) -> list[Job]:
        """Every job of a Grid org's workspaces not yet finalized, oldest first (an org-wide uninstall)."""
        if not enterprise_id:
            return []
        return [job_from_row(row) for row in await self._db.fetch(UNFINISHED_OF_ORG_SQL, enterprise_id)]

    async def enterprise_of(self, team_id: str) -> str:
        """The Grid org `team_id`'s jobs were made in ("" outside Grid, or with no job): what work done off
        any request (a daily report) needs to find an org-wide install's token."""
        return str(await self._db.fetchval(ENTERPRISE_OF_SQL, team_id) or "")
