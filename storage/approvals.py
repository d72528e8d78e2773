"""Approval for expensive jobs: where each copy of a request was posted, so every copy can show who decided.

The decision itself is a change of the job's row like any other (`JobQueries.update_job`): fenced by the
state it was read in, so of two approvers clicking at once, a click Slack delivered twice, or a click and
the request's expiry, exactly one moves the job out of awaiting_approval; the others find it moved.
"""

from __future__ import annotations

from storage.base import StoreBase

COPIES_SQL = "SELECT channel_id, ts FROM approval_copies WHERE team_id = ? AND job_id = ? ORDER BY channel_id"


class ApprovalQueries(StoreBase):
    async def add_approval_copy(self, team_id: str, job_id: str, channel_id: str, ts: str) -> None:
        """Record a posted copy of `job_id`'s request (one per conversation; a second is not recorded)."""
        async with self._engine.transaction() as db:
            await db.batch(
                (
                    "INSERT INTO approval_copies (team_id, job_id, channel_id, ts) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (team_id, job_id, channel_id) DO NOTHING",
                    (team_id, job_id, channel_id, ts),
                ),
                commit=True,
            )

    async def approval_copies(self, team_id: str, job_id: str) -> list[tuple[str, str]]:
        """Each copy of the job's request as (conversation, message ts)."""
        return [(str(r[0]), str(r[1])) for r in await self._db.fetch(COPIES_SQL, team_id, job_id)]

    async def forget_approval_copies(self, team_id: str, job_id: str) -> None:
        """The copies are edited to show the decision: nothing needs them any more."""
        async with self._engine.transaction() as db:
            await db.batch(
                ("DELETE FROM approval_copies WHERE team_id = ? AND job_id = ?", (team_id, job_id)), commit=True
            )
