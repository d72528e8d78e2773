"""What was spent, a day at a time (issue 19): the summary table `spend_days` (migration 13), kept in the
transactions that store a job or change what it costs, and the reads of budgets, warnings, App Home and
`/video report month`.

A job counts where it holds quota (`Job.holds_quota`), for its charged cost where Perf reported one and
its estimate until then (`Job.cost_micros`), in the day it was admitted (`jobs.spend_day`, the start of
that day in VIDEOBOT_TIMEZONE). Each job adds to four rows of its day: the workspace's (`scope_id` ''),
its channel's, its person's and its model's. A month is then at most 31 rows of one scope, however busy
the workspace: an admission reads a month's budget through the primary key instead of the month's jobs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.job import TERMINAL_STATES, Job, JobChanges, JobState
from storage.base import StoreBase
from storage.claims import ClaimKey, claim_once, record_post
from storage.engine import Statement
from storage.sql import in_list, insert_rows, state_literal, states_list

WORKSPACE, CHANNEL, USER, MODEL = "workspace", "channel", "user", "model"

# The spend of some channels (people, models) between two day starts, through the primary key; bound as
# the scope, the first day's start, the end, then the IN list.
SPEND_SQL = (
    "SELECT scope_id, COALESCE(SUM(jobs), 0), COALESCE(SUM(cost_micros), 0) FROM spend_days "
    "WHERE team_id = ? AND scope = ? AND day >= ? AND day < ? AND scope_id IN ({}) GROUP BY scope_id"
)
# One scope's rows of a period, per day or per id: App Home's chart, the month's report.
SPEND_BY_DAY_SQL = (
    "SELECT day, jobs, cost_micros FROM spend_days WHERE team_id = ? AND scope = ? AND scope_id = ? AND day >= ? "
    "AND day < ? ORDER BY day"
)
SPEND_BY_ID_SQL = (
    "SELECT scope_id, SUM(jobs), SUM(cost_micros) FROM spend_days WHERE team_id = ? AND scope = ? AND day >= ? "
    "AND day < ? GROUP BY scope_id ORDER BY SUM(cost_micros) DESC, scope_id"
)
# The estimates held by jobs awaiting approval during a period (bound as its day starts), the workspace's;
# with CHANNEL_AWAITING_APPROVAL_SQL one channel's. A handful of jobs, read through the partial index
# jobs_open, whose states the redundant IN repeats word for word (SQLite uses it only then).
AWAITING_APPROVAL_SQL = (
    "SELECT COALESCE(SUM(estimated_cost_micros), 0) FROM jobs "
    f"WHERE state IN {states_list(s for s in JobState if s not in TERMINAL_STATES)} "
    # `team_id || ''`: the open jobs through jobs_open, not the workspace's every job through jobs_team_created
    # (3.3 s on a year of a million jobs, for each budget check).
    f"AND state = {state_literal(JobState.AWAITING_APPROVAL)} AND team_id || '' = ? "
    "AND spend_day >= ? AND spend_day < ?"
)
CHANNEL_AWAITING_APPROVAL_SQL = AWAITING_APPROVAL_SQL + " AND channel_id = ?"

# (team, scope, scope_id, day, jobs, cost in micro-dollars): what a write adds to spend_days, negative to take away.
SpendChange = tuple[str, str, str, float, int, int]


@dataclass(frozen=True)
class Spent:
    jobs: int
    cost_micros: int


def spend_of(job: Job, jobs: int, cost_micros: int) -> list[SpendChange]:
    """`jobs` and `cost_micros` added to each of the four rows `job` counts in (none before it has a day)."""
    if job.spend_day is None or (jobs == 0 and cost_micros == 0):
        return []
    day, team = job.spend_day, job.team_id
    return [
        (team, WORKSPACE, "", day, jobs, cost_micros),
        (team, CHANNEL, job.channel_id, day, jobs, cost_micros),
        (team, USER, job.user_id, day, jobs, cost_micros),
        (team, MODEL, job.model, day, jobs, cost_micros),
    ]


def spend_changed(job: Job, changes: JobChanges) -> list[SpendChange]:
    """What writing `changes` to `job` changes in spend_days: it may stop holding quota (failed or cancelled
    before Perf), or Perf may report what it charged. Fenced by the job's state, like job_counts."""
    before = job.cost_micros if job.holds_quota else 0
    after_job = dataclasses.replace(job, **changes)
    after_job.state = JobState(after_job.state)
    after = after_job.cost_micros if after_job.holds_quota else 0
    return spend_of(job, int(after_job.holds_quota) - int(job.holds_quota), after - before)


def spend_statements(changes: Iterable[SpendChange]) -> list[Statement]:
    """The statement applying `changes` to spend_days, summed a row, in the rows' order: two transactions
    touching the same rows lock them in the same order on PostgreSQL, so they never deadlock."""
    summed: dict[tuple[str, str, str, float], list[int]] = {}
    for team, scope, scope_id, day, jobs, cost in changes:
        total = summed.setdefault((team, scope, scope_id, day), [0, 0])
        total[0] += jobs
        total[1] += cost
    rows = [(*key, jobs, cost) for key, (jobs, cost) in sorted(summed.items()) if jobs or cost]
    if not rows:
        return []
    return insert_rows(
        "spend_days",
        ("team_id", "scope", "scope_id", "day", "jobs", "cost_micros"),
        rows,
        " ON CONFLICT (team_id, scope, scope_id, day) DO UPDATE SET jobs = spend_days.jobs + excluded.jobs,"
        " cost_micros = spend_days.cost_micros + excluded.cost_micros",
    )


def spend_read(team_id: str, scope: str, ids: Sequence[str], period: tuple[float, float]) -> Statement:
    return in_list(SPEND_SQL, list(dict.fromkeys(ids)), team_id, scope, *period)


class SpendQueries(StoreBase):
    async def spent(self, team_id: str, scope: str, scope_id: str, period: tuple[float, float]) -> Spent:
        """What one workspace (scope_id ''), or one of its channels, people or models, spent during `period`
        (day starts)."""
        sql, params = spend_read(team_id, scope, [scope_id], period)
        rows = await self._db.fetch(sql, *params)
        return Spent(int(rows[0][1]), int(rows[0][2])) if rows else Spent(0, 0)

    async def spent_by_day(
        self, team_id: str, scope: str, scope_id: str, period: tuple[float, float]
    ) -> dict[float, Spent]:
        """Each day start of `period` that had spending → what was spent that day."""
        rows = await self._db.fetch(SPEND_BY_DAY_SQL, team_id, scope, scope_id, *period)
        return {float(r[0]): Spent(int(r[1]), int(r[2])) for r in rows}

    async def spent_by_id(self, team_id: str, scope: str, period: tuple[float, float]) -> list[tuple[str, Spent]]:
        """Each of the workspace's channels (people, models) that spent during `period`, most first."""
        rows = await self._db.fetch(SPEND_BY_ID_SQL, team_id, scope, *period)
        return [(str(r[0]), Spent(int(r[1]), int(r[2]))) for r in rows if int(r[1]) or int(r[2])]

    async def awaiting_approval_micros(self, team_id: str, channel_id: str | None, period: tuple[float, float]) -> int:
        """What the jobs awaiting approval hold of `period`'s spend: the channel's, or with None the workspace's."""
        if channel_id is None:
            held = await self._db.fetchval(AWAITING_APPROVAL_SQL, team_id, *period)
        else:
            held = await self._db.fetchval(CHANNEL_AWAITING_APPROVAL_SQL, team_id, *period, channel_id)
        return int(held or 0)

    async def claim_notice(self, team_id: str, budget: str, scope_id: str, period: str, now: float) -> bool:
        """True for the one caller that may post this budget's 80% notice for `period`; every later call,
        restarts and other replicas included, gets False."""
        return await claim_once(self._engine, "budget_notices", _notice(team_id, budget, scope_id, period), now)

    async def notice_posted(self, team_id: str, budget: str, scope_id: str, period: str, message_ts: str) -> None:
        key = _notice(team_id, budget, scope_id, period)
        await record_post(self._engine, "budget_notices", key, message_ts)


def _notice(team_id: str, budget: str, scope_id: str, period: str) -> ClaimKey:
    return (("team_id", team_id), ("budget", budget), ("scope_id", scope_id), ("period", period))
