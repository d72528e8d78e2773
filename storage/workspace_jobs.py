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


class WorkspaceJobQueries(StoreBase):
    async def unfinished_jobs_of_teams(self, team_ids: Sequence[str]) -> list[Job]:
        """Every job of these workspaces not yet finalized, oldest first."""
        if not team_ids:
            return []
        sql, params = in_list(_UNFINISHED_OF_TEAMS_SQL, list(team_ids))
        return [job_from_row(row) for row in await self._db.fetch(sql, *params)]
