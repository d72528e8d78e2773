"""Leases: which replica advances a job right now, and which one may post its progress message."""

from __future__ import annotations

from bot.domain.job import Job
from storage.base import StoreBase
from storage.rows import job_from_row

# Whether any job is due that no replica holds: through jobs_due, which holds only jobs with a next step.
ANY_DUE_SQL = (
    "SELECT 1 FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ? "
    "AND (lease_owner IS NULL OR lease_until <= ?) LIMIT 1"
)
# Lease the first due jobs; `{}` is the engine's skip_locked.
CLAIM_DUE_SQL = (
    "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id IN ("
    "  SELECT id FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?"
    "  AND (lease_owner IS NULL OR lease_until <= ?)"
    "  ORDER BY next_poll_at, arrival LIMIT ?{}) "
    "RETURNING *"
)
RENEW_LEASES_SQL = "UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND lease_until < ?"
NEXT_DUE_SQL = "SELECT MIN(next_poll_at) FROM jobs WHERE next_poll_at IS NOT NULL AND lease_owner IS NULL"


class LeaseQueries(StoreBase):
    async def claim_due(self, now: float, limit: int, owner: str, lease_seconds: float) -> list[Job]:
        """Lease up to `limit` due jobs that no replica holds (or whose holder's lease ran out) to `owner`.

        PostgreSQL skips rows another replica is claiming this instant; SQLite has one writer at a time.
        """
        # Most ticks find nothing due: a read on the due index spares them a write transaction.
        due = await self._db.fetchval(ANY_DUE_SQL, now, now)
        if due is None:
            return []
        async with self._engine.transaction() as db:
            rows = await db.fetch(
                CLAIM_DUE_SQL.format(self._engine.skip_locked),
                owner,
                now + lease_seconds,
                now,
                now,
                limit,
            )
        jobs = [job_from_row(r) for r in rows]
        # RETURNING has no order: the steps start in the order the jobs fell due, then arrived.
        jobs.sort(key=lambda j: (j.next_poll_at or 0.0, j.arrival or 0))
        return jobs

    async def renew_leases(self, owner: str, now: float, lease_seconds: float) -> int:
        """Extend every lease `owner` holds that is past half its length: a slow step keeps its job."""
        async with self._engine.transaction() as db:
            return await db.execute(
                RENEW_LEASES_SQL,
                now + lease_seconds,
                owner,
                now + lease_seconds / 2,
            )

    async def release_lease(self, job: Job, owner: str) -> bool:
        """Let any replica take the job's next step; False if `owner` had lost the lease meanwhile."""
        async with self._engine.transaction() as db:
            released = await db.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?", job.id, owner
            )
        job.lease_owner, job.lease_until = None, None
        return released == 1

    async def release_all_leases(self, owner: str | None) -> int:
        """Release `owner`'s leases (on a clean shutdown: the other replicas need not wait for them to run
        out), or with None every lease (SQLite at start: its one process is the only one that could hold any).
        """
        match, params = ("lease_owner = ?", [owner]) if owner is not None else ("lease_owner IS NOT NULL", [])
        async with self._engine.transaction() as db:
            released = await db.execute(
                f"UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE {match}", *params
            )
            if owner is None:
                # Claims to post a progress message are held the same way: by the one process that died.
                await db.execute(
                    "UPDATE jobs SET progress_post_claimed_until = NULL WHERE progress_post_claimed_until IS NOT NULL"
                )
            return released

    async def claim_progress_post(self, job_id: str, now: float, until: float) -> bool:
        """The right to post the job's progress message until `until`, unless it exists or is claimed."""
        async with self._engine.transaction() as db:
            claimed = await db.execute(
                "UPDATE jobs SET progress_post_claimed_until = ? WHERE id = ? AND progress_ts IS NULL"
                " AND (progress_post_claimed_until IS NULL OR progress_post_claimed_until < ?)",
                until,
                job_id,
                now,
            )
        return claimed == 1

    async def record_progress_post(self, job_id: str, ts: str | None) -> bool:
        """The progress message was posted as `ts` (None: it was not, and another try may claim it)."""
        async with self._engine.transaction() as db:
            changed = await db.execute(
                "UPDATE jobs SET progress_ts = ?, progress_post_claimed_until = NULL"
                " WHERE id = ? AND progress_ts IS NULL",
                ts,
                job_id,
            )
        return changed == 1

    async def next_due_at(self) -> float | None:
        """When the next job that no replica holds is due (a held job's holder wakes itself)."""
        due = await self._db.fetchval(NEXT_DUE_SQL)
        return float(due) if due is not None else None
