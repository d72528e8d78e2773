"""The account's line: the jobs waiting for one of its concurrent slots at Perf, and who gets the next one."""

from __future__ import annotations

from typing import Any

from bot.domain.job import IN_FLIGHT_STATES, WAITING_STATES, Job, JobState
from storage.base import StoreBase
from storage.sql import count_changes, state_literal, states_list

_WAITING = states_list(WAITING_STATES)
_IN_FLIGHT = states_list(IN_FLIGHT_STATES)
_QUEUED = state_literal(JobState.QUEUED)
_SUBMITTING = state_literal(JobState.SUBMITTING)
_SUBMITTING_EVENT = f"INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, {_SUBMITTING}, 'submitting')"

# The line and the slots, each through its partial index (jobs_waiting, jobs_in_flight): what is waiting
# or running, never the history.
IN_FLIGHT_SQL = f"SELECT COUNT(*) FROM jobs WHERE state IN {_IN_FLIGHT}"
AHEAD_SQL = (
    f"SELECT COUNT(*) FROM jobs AS w WHERE w.state IN {_WAITING} "
    "AND w.arrival < (SELECT arrival FROM jobs WHERE id = ?)"
)
# Only jobs parked in line (no next_poll_at) need waking; announced jobs are due already. The redundant IN
# is what lets SQLite use the partial index jobs_waiting (checked with EXPLAIN QUERY PLAN): without it
# this is a scan of every job, on every tick.
PARKED_SQL = f"SELECT 1 FROM jobs WHERE state IN {_WAITING} AND state = {_QUEUED} AND next_poll_at IS NULL LIMIT 1"
WAKE_SQL = (
    "UPDATE jobs SET next_poll_at = ? WHERE id IN ("
    "  SELECT id FROM ("
    "    SELECT id, queue_position, next_poll_at, ROW_NUMBER() OVER (ORDER BY arrival) AS place"
    f"    FROM jobs WHERE state IN {_WAITING}) AS line"
    "  WHERE next_poll_at IS NULL"
    "    AND (place <= ? OR (place <= ? AND place != COALESCE(queue_position, 0))))"
)


class QueueQueries(StoreBase):
    async def claim_slot(self, job: Job, limit: int, now: float) -> bool:
        """Move `job` to submitting if it is within the first free slots in line; one admission.

        The line is every job not yet submitted (accepted or queued), in arrival order. Fenced by the state
        `job` was read in, as `update_job` is: that is the state job_counts takes it from."""
        params: list[Any] = [now, now, job.id, job.state.value]
        condition = ""
        if limit > 0:
            condition = f" AND ({IN_FLIGHT_SQL}) + ({AHEAD_SQL}) < ?"
            params += [job.id, limit]
        async with self._engine.transaction(admission=True) as db:
            claimed = (
                await db.execute(
                    f"UPDATE jobs SET state = {_SUBMITTING}, submitted_at = ?, updated_at = ? "
                    f"WHERE id = ? AND state = ? AND state IN {_WAITING}{condition}",
                    *params,
                )
                == 1
            )
            if claimed:
                submitted = int(job.perf_job_id is not None)
                moved = [(job.state.value, -1, -submitted), (JobState.SUBMITTING.value, 1, submitted)]
                await db.batch((_SUBMITTING_EVENT, (job.id, now)), *count_changes(moved))
        if claimed:
            job.state, job.submitted_at, job.updated_at = JobState.SUBMITTING, now, now
        return claimed

    async def queue_position(self, job: Job) -> int:
        """1 for the head of the line. Jobs still being announced count: they arrived first."""
        ahead = await self._db.fetchval(AHEAD_SQL, job.id)
        return int(ahead or 0) + 1

    async def wake_queue(self, limit: int, now: float, shown: int) -> int:
        """Make due the waiting jobs that may now get a slot, and those among the first `shown` whose place
        in line changed (so their thread shows it). Costs one indexed lookup when nobody waits."""
        parked = await self._db.fetchval(PARKED_SQL)
        if parked is None:
            return 0
        running = int(await self._db.fetchval(IN_FLIGHT_SQL) or 0)
        free = max(0, limit - running) if limit > 0 else 1_000_000
        async with self._engine.transaction() as db:
            return await db.execute(
                WAKE_SQL,
                now,
                free,
                shown,
            )
