"""Reading jobs and writing their changes, each change fenced by the state (and lease) it was read in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from bot.domain.job import Job, JobChanges, JobState
from bot.domain.line import party_of
from storage.base import StoreBase
from storage.engine import Statement
from storage.rows import JOB_COLUMNS, job_from_row, to_db
from storage.spend import spend_changed, spend_statements
from storage.sql import count_changes, party_change, party_changes, states_list

# Jobs by state and how many Perf accepted, from the summary kept beside the jobs (migration 12): a
# handful of rows, whatever the history.
# Summed over the workspaces: /metrics carries no workspace label (their number has no bound).
COUNTS_SQL = "SELECT state, SUM(jobs), SUM(submitted) FROM job_counts GROUP BY state"
# Through jobs_root_ts. `team_id || ''`, not `team_id`: SQLite otherwise searched jobs_team_created by the
# workspace alone, its every job (3.5 s on a year of a million jobs, for each reaction or button on a post).
JOB_BY_ROOT_SQL = (
    "SELECT * FROM jobs WHERE root_ts = ? AND COALESCE(post_channel_id, channel_id) = ? AND team_id || '' = ?"
)
JOB_SQL = "SELECT * FROM jobs WHERE id = ?"
# A job by its id as a person of a workspace names it: another workspace's job is not found.
WORKSPACE_JOB_SQL = "SELECT * FROM jobs WHERE id = ? AND team_id = ?"
EVENTS_SQL = "SELECT at, state, detail FROM job_events WHERE job_id = ? ORDER BY id"


class StaleJob(Exception):
    """The job's row changed state since it was read; re-read it rather than overwrite."""


class JobQueries(StoreBase):
    async def count_by_state(self) -> dict[str, int]:
        rows = await self._db.fetch(COUNTS_SQL)
        return {r[0]: int(r[1]) for r in rows if r[1]}

    async def count_submitted(self) -> int:
        return sum(int(r[2]) for r in await self._db.fetch(COUNTS_SQL))

    async def job_by_root(self, team_id: str, channel_id: str, root_ts: str) -> Job | None:
        """The workspace's job whose root message is `root_ts` in `channel_id` (a channel, or the DM of a
        private job)."""
        row = await self._db.fetchrow(JOB_BY_ROOT_SQL, root_ts, channel_id, team_id)
        return job_from_row(row) if row else None

    async def get_job(self, job_id: str, *, team_id: str | None) -> Job | None:
        """The job `job_id` of workspace `team_id`: None for another workspace's, as for an unknown id.

        `team_id=None` only where no person names the job: the operator's commands, and the bot's own
        steps on a job it already holds (its id came from the job itself)."""
        if team_id is None:
            row = await self._db.fetchrow(JOB_SQL, job_id)
        else:
            row = await self._db.fetchrow(WORKSPACE_JOB_SQL, job_id, team_id)
        return job_from_row(row) if row else None

    async def update_job(
        self, job: Job, *, event: str = "", lease: str | None = None, **changes: Unpack[JobChanges]
    ) -> Job:
        """Write `changes` to the row and to `job`; a state change is also recorded in job_events.

        Only if the row is still in `job.state` and, with `lease`, still leased to that owner: otherwise
        StaleJob, and nothing is written.

        `JobChanges` refuses a misspelt column where mypy sees the call; the check below still refuses
        one at run time, from a caller that passes an untyped dict.
        """
        unknown = set(changes) - set(JOB_COLUMNS) - {"id"}
        if unknown or "id" in changes:
            raise ValueError(f"not updatable job columns: {sorted(unknown | ({'id'} & set(changes)))}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        fence, fence_params = (" AND lease_owner = ?", [lease]) if lease is not None else ("", [])
        new_state = changes.get("state")
        statements: list[Statement] = [
            (
                f"UPDATE jobs SET {assignments} WHERE id = ? AND state = ?{fence}",
                (*(to_db(c, v) for c, v in changes.items()), job.id, job.state.value, *fence_params),
            )
        ]
        statements += count_changes(_counted(job, changes))
        if new_state is not None and new_state != job.state:
            statements += party_changes(party_change(party_of(job), job.arrival, job.state, JobState(new_state)))
        statements += spend_statements(spend_changed(job, changes))
        if (new_state is not None and new_state != job.state) or event:
            statements.append(
                (
                    "INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, ?, ?)",
                    (job.id, changes.get("updated_at", job.updated_at), to_db("state", new_state or job.state), event),
                )
            )
        async with self._engine.transaction() as db:
            # The counters' rows (job_counts, line_parties, spend_days) that every admission also writes are
            # locked only for the one round trip that ends in the commit.
            if not await db.finish_fenced(*statements):
                # Someone else (`videobot cancel`, another replica after this one's lease ran out) moved it:
                # the event row goes with the rollback.
                raise StaleJob(job.id)
        for column, value in changes.items():
            setattr(job, column, value)
        return job

    async def jobs(
        self,
        *,
        team_id: str | None = None,
        states: Sequence[JobState] = (),
        channel_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Jobs in arrival order; a workspace's with `team_id` (None: every workspace's, for the operator)."""
        sql, params = jobs_statement(
            team_id=team_id, states=states, channel_id=channel_id, since=since, until=until, limit=limit
        )
        return [job_from_row(r) for r in await self._db.fetch(sql, *params)]

    async def job_events(self, job_id: str) -> list[tuple[float, str, str]]:
        rows = await self._db.fetch(EVENTS_SQL, job_id)
        return [(r[0], r[1], r[2]) for r in rows]


def _counted(job: Job, changes: JobChanges) -> list[tuple[str, str, int, int]]:
    """What writing `changes` to `job` changes in job_counts: the job leaves its state for the new one.

    The row is fenced by `job.state`, so the state it leaves is that one; perf_job_id is set only on the
    way out of submitting, by the one process holding the job."""
    new_state = changes.get("state", job.state)
    was_submitted = int(job.perf_job_id is not None)
    submitted = int(changes.get("perf_job_id", job.perf_job_id) is not None)
    if new_state == job.state and submitted == was_submitted:
        return []
    return [
        (job.team_id, job.state.value, -1, -was_submitted),
        (job.team_id, JobState(new_state).value, 1, submitted),
    ]


def jobs_statement(
    *,
    team_id: str | None = None,
    states: Sequence[JobState] = (),
    channel_id: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int | None = None,
) -> Statement:
    """Jobs in arrival order, by state, channel and time; what the CLI, `/video status` and the reports list.

    The states are literals in JobState's order (`states_list`): asked for the unfinished states, SQLite
    then reads the partial indexes jobs_open and jobs_open_channel (migration 12), which hold only the
    work in progress, instead of every job of the channel."""
    conditions: list[str] = []
    params: list[Any] = []
    if team_id is not None:
        conditions.append("team_id = ?")
        params.append(team_id)
    if states:
        conditions.append(f"state IN {states_list(states)}")
    if channel_id:
        conditions.append("channel_id = ?")
        params.append(channel_id)
    if since is not None:
        conditions.append("created_at >= ?")
        params.append(since)
    if until is not None:
        conditions.append("created_at < ?")
        params.append(until)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    tail = f" LIMIT {int(limit)}" if limit else ""
    return f"SELECT * FROM jobs {where} ORDER BY created_at, arrival{tail}", params
