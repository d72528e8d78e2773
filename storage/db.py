"""The schema, its migrations and every query, for SQLite and PostgreSQL alike. Nothing else touches SQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from bot.domain.job import Job, JobState
from bot.domain.quotas import ChannelLimits, Usage
from storage.engine import Connection, Engine, Row, Statement, open_engine
from storage.groups import GroupCommit
from storage.schema import MIGRATIONS, migrate

__all__ = ["MIGRATIONS", "StaleJob", "Store"]

# Jobs that count against quotas: all but those that certainly never reached Perf.
_HOLDS_QUOTA = "(perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled'))"
# A day's usage per channel and per person, counting the jobs that hold quota; bound as the day's start and
# end, then the IN list. One statement each for a whole group of admissions, whatever its size.
_CHANNEL_USAGE_SQL = (
    "SELECT channel_id, COUNT(*), COALESCE(SUM(COALESCE(perf_cost_micros, estimated_cost_micros)), 0) FROM jobs "
    f"WHERE created_at >= ? AND created_at < ? AND {_HOLDS_QUOTA} AND channel_id IN ({{}}) GROUP BY channel_id"
)
_USER_USAGE_SQL = (
    "SELECT user_id, COUNT(*) FROM jobs "
    f"WHERE created_at >= ? AND created_at < ? AND {_HOLDS_QUOTA} AND user_id IN ({{}}) GROUP BY user_id"
)
_CHANNEL_LIMITS_SQL = (
    "SELECT daily_jobs, daily_budget_micros, set_by, set_at, channel_id FROM channel_limits WHERE channel_id IN ({})"
)


def _in(sql: str, values: Sequence[Any], *before: Any) -> Statement:
    """`sql` with its `IN ({})` list filled with one placeholder per value; `before` binds the ones ahead of it."""
    return sql.format(", ".join("?" for _ in values)), (*before, *values)


_IN_FLIGHT = "state IN ('submitting', 'pending', 'processing')"


@dataclasses.dataclass(frozen=True)
class _Admission:
    job: Job
    trigger: str | None
    day: tuple[float, float] | None
    check: Callable[[Usage, ChannelLimits | None], None] | None


def _admission_writes(admitted: Sequence[_Admission], first_arrival: int) -> list[Statement]:
    """A group's admitted jobs, their triggers and first events, as one multi-row INSERT for each table.

    The jobs take their places in line in the group's order, from `first_arrival` on: admissions are
    serialised, so nobody else numbers a job meanwhile (and a unique index would refuse a clash)."""
    jobs, events, triggers = [], [], []
    for arrival, admission in enumerate(admitted, start=first_arrival):
        job, trigger = admission.job, admission.trigger
        jobs.append([*(_to_db(c, getattr(job, c)) for c in _INSERTED_COLUMNS), arrival])
        events.append((job.id, job.created_at, job.state.value, f"stored trigger={trigger}" if trigger else "stored"))
        if trigger is not None:
            triggers.append((trigger, job.id, job.created_at))
    writes = _insert_rows("jobs", (*_INSERTED_COLUMNS, "arrival"), jobs)
    writes += _insert_rows("job_triggers", ("trigger", "job_id", "at"), triggers)
    return writes + _insert_rows("job_events", ("job_id", "at", "state", "detail"), events)


# Well below both engines' limit on bound parameters (32,766 in SQLite's builds since 3.32, 32,767 in PostgreSQL).
_MAX_PARAMETERS = 10_000


def _insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], then: str = "") -> list[Statement]:
    """INSERTs of `rows`, many to a statement: one round trip for a group on PostgreSQL, not one a row.

    `then` ends each statement (an ON CONFLICT or RETURNING clause)."""
    per_statement = max(1, _MAX_PARAMETERS // len(columns))
    placeholders = "(" + ", ".join("?" for _ in columns) + ")"
    statements: list[Statement] = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(placeholders for _ in chunk)}{then}"
        statements.append((sql, [value for row in chunk for value in row]))
    return statements


def _channel_limits(row: Row) -> ChannelLimits:
    return ChannelLimits(row[0], row[1], row[2], row[3])


class StaleJob(Exception):
    """The job's row changed state since it was read; re-read it rather than overwrite."""


_JOB_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Job))
_INSERTED_COLUMNS = tuple(c for c in _JOB_COLUMNS if c != "arrival")
_BOOL_COLUMNS = frozenset(f.name for f in dataclasses.fields(Job) if f.type in ("bool", bool))


def _to_db(column: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, JobState):
        return value.value
    return value


def _row_to_job(row: Row) -> Job:
    values: dict[str, Any] = {}
    for column in _JOB_COLUMNS:
        value = row[column]
        if column == "duration_seconds":
            value = Decimal(value)
        elif column == "state":
            value = JobState(value)
        elif column in _BOOL_COLUMNS:
            value = bool(value)
        values[column] = value
    return Job(**values)


class Store:
    """Every query the bot makes, on either engine. Each write is one transaction, committed at once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._db: Connection = engine.reads
        self._seen_pruned_at = 0.0
        self._admissions: GroupCommit[_Admission, bool] = GroupCommit(self._admit)
        self._sightings: GroupCommit[tuple[str, float, float], bool] = GroupCommit(self._record_sightings)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        """`url` is a DATABASE_URL; a bare path is taken as a SQLite file."""
        engine = await open_engine(url if "://" in url else f"sqlite:///{url}")
        store = cls(engine)
        if migrate:
            await store.migrate()
        return store

    @property
    def engine(self) -> str:
        return self._engine.name

    @property
    def description(self) -> str:
        return self._engine.description

    async def close(self) -> None:
        await self._engine.close()

    async def migrate(self) -> list[int]:
        """Bring the schema up to date; the versions this call applied (none if another did it first)."""
        return await migrate(self._engine)

    async def count_by_state(self) -> dict[str, int]:
        rows = await self._db.fetch("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {r[0]: int(r[1]) for r in rows}

    async def count_submitted(self) -> int:
        return int(await self._db.fetchval("SELECT COUNT(*) FROM jobs WHERE perf_job_id IS NOT NULL"))

    async def schema_version(self) -> int:
        return int(await self._db.fetchval("SELECT MAX(version) FROM schema_version") or 0)

    async def ping(self) -> bool:
        return bool(await self._db.fetchval("SELECT 1") == 1)

    async def insert_job(
        self,
        job: Job,
        *,
        trigger: str | None = None,
        day: tuple[float, float] | None = None,
        check: Callable[[Usage, ChannelLimits | None], None] | None = None,
    ) -> bool:
        """Store a new job. With `trigger`, only if that trigger never started a job: False if it did.

        With `check`, the usage of the job's channel and person during `day`, and the channel's own
        limits, are read in the same transaction and handed to it; if it raises, nothing is stored and
        the error reaches the caller. Check and reservation are one admission, serialised across
        processes, so a burst of commands cannot overshoot a quota, nor slip past a limit changed
        meanwhile. Admissions asked for together share one transaction (group commit).
        """
        if check is not None and day is None:
            raise ValueError("a quota check needs the day it counts")
        return await self._admissions.submit(_Admission(job, trigger, day, check))

    async def _admit(self, group: Sequence[_Admission]) -> list[bool | BaseException]:
        """One transaction for a group of admissions, decided in order as if each had its own.

        Two batches whatever the group's size: what to check, each thing read once (the line's end, the
        triggers, each channel's and person's usage of a day, the channels' own limits), then one multi-row
        INSERT a table. On SQLite that is two hand-overs to the database thread for a whole burst of
        commands; on PostgreSQL a handful of round trips instead of four an admission."""
        checked = [a for a in group if a.check is not None]
        triggers = list(dict.fromkeys(a.trigger for a in group if a.trigger is not None))
        days = list(dict.fromkeys(a.day for a in checked if a.day is not None))
        channels = list(dict.fromkeys(a.job.channel_id for a in checked))
        reads: list[Statement] = [("SELECT COALESCE(MAX(arrival), 0) FROM jobs", ())]
        if triggers:
            reads.append(_in("SELECT trigger FROM job_triggers WHERE trigger IN ({})", triggers))
        usage_at: list[tuple[tuple[float, float], int]] = []  # each day and where its two usage reads start
        for day in days:
            on_day = [a for a in checked if a.day == day]
            usage_at.append((day, len(reads)))
            reads.append(_in(_CHANNEL_USAGE_SQL, list(dict.fromkeys(a.job.channel_id for a in on_day)), *day))
            reads.append(_in(_USER_USAGE_SQL, list(dict.fromkeys(a.job.user_id for a in on_day)), *day))
        if channels:
            reads.append(_in(_CHANNEL_LIMITS_SQL, channels))
        outcomes: list[bool | BaseException] = []
        admitted: list[_Admission] = []
        async with self._engine.transaction(admission=True) as db:
            found = await db.batch(*reads)
            last_arrival = int(found[0].rows[0][0])
            triggers_taken = {row[0] for row in found[1].rows} if triggers else set()
            # Usage as the reads saw it, then with each job this group admits added, so later ones count it.
            channel_used: dict[tuple[str, tuple[float, float]], tuple[int, int]] = {}
            user_used: dict[tuple[str, tuple[float, float]], int] = {}
            for day, at in usage_at:
                channel_used |= {(row[0], day): (int(row[1]), int(row[2])) for row in found[at].rows}
                user_used |= {(row[0], day): int(row[1]) for row in found[at + 1].rows}
            limits = {row[4]: _channel_limits(row) for row in found[-1].rows} if channels else {}
            for admission in group:
                job = admission.job
                if admission.trigger in triggers_taken:
                    outcomes.append(False)
                    continue
                if admission.check is not None:
                    assert admission.day is not None
                    channel_key, user_key = (job.channel_id, admission.day), (job.user_id, admission.day)
                    channel_jobs, channel_cost = channel_used.get(channel_key, (0, 0))
                    usage = Usage(channel_jobs, channel_cost, user_used.get(user_key, 0))
                    try:
                        admission.check(usage, limits.get(job.channel_id))
                    except Exception as exc:
                        outcomes.append(exc)
                        continue
                    channel_used[channel_key] = (channel_jobs + 1, channel_cost + job.estimated_cost_micros)
                    user_used[user_key] = usage.user_jobs + 1
                if admission.trigger is not None:
                    triggers_taken.add(admission.trigger)
                admitted.append(admission)
                outcomes.append(True)
            if not admitted:
                return outcomes
            await db.batch(*_admission_writes(admitted, last_arrival + 1), commit=True)
        for arrival, admission in enumerate(admitted, start=last_arrival + 1):
            admission.job.arrival = arrival
        return outcomes

    async def usage(self, channel_id: str, user_id: str, day: tuple[float, float]) -> Usage:
        channel, user = await self._db.batch(
            _in(_CHANNEL_USAGE_SQL, [channel_id], *day), _in(_USER_USAGE_SQL, [user_id], *day)
        )
        channel_jobs, channel_cost = (int(channel.rows[0][1]), int(channel.rows[0][2])) if channel.rows else (0, 0)
        return Usage(channel_jobs, channel_cost, int(user.rows[0][1]) if user.rows else 0)

    # --- the account's queue ------------------------------------------------------------------------

    async def claim_slot(self, job: Job, limit: int, now: float) -> bool:
        """Move `job` to submitting if it is within the first free slots in line; one admission.

        The line is every job not yet submitted (accepted or queued), in arrival order."""
        params: list[Any] = [now, now, job.id]
        condition = ""
        if limit > 0:
            condition = (
                f" AND (SELECT COUNT(*) FROM jobs WHERE {_IN_FLIGHT}) + "
                "(SELECT COUNT(*) FROM jobs AS w WHERE w.state IN ('accepted', 'queued') "
                "AND w.arrival < (SELECT arrival FROM jobs WHERE id = ?)) < ?"
            )
            params += [job.id, limit]
        async with self._engine.transaction(admission=True) as db:
            claimed = (
                await db.execute(
                    "UPDATE jobs SET state = 'submitting', submitted_at = ?, updated_at = ? "
                    f"WHERE id = ? AND state IN ('accepted', 'queued'){condition}",
                    *params,
                )
                == 1
            )
            if claimed:
                await db.execute(
                    "INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, 'submitting', 'submitting')",
                    job.id,
                    now,
                )
        if claimed:
            job.state, job.submitted_at, job.updated_at = JobState.SUBMITTING, now, now
        return claimed

    async def queue_position(self, job: Job) -> int:
        """1 for the head of the line. Jobs still being announced count: they arrived first."""
        ahead = await self._db.fetchval(
            "SELECT COUNT(*) FROM jobs AS w WHERE w.state IN ('accepted', 'queued') "
            "AND w.arrival < (SELECT arrival FROM jobs WHERE id = ?)",
            job.id,
        )
        return int(ahead or 0) + 1

    async def wake_queue(self, limit: int, now: float, shown: int) -> int:
        """Make due the waiting jobs that may now get a slot, and those among the first `shown` whose place
        in line changed (so their thread shows it). Costs one indexed lookup when nobody waits."""
        # Only jobs parked in line (no next_poll_at) need waking; announced jobs are due already. The
        # redundant IN is what lets SQLite use the partial index jobs_waiting (checked with EXPLAIN QUERY
        # PLAN): without it this is a scan of every job, on every tick.
        parked = await self._db.fetchval(
            "SELECT 1 FROM jobs WHERE state IN ('accepted', 'queued') AND state = 'queued' AND next_poll_at IS NULL "
            "LIMIT 1"
        )
        if parked is None:
            return 0
        running = int(await self._db.fetchval(f"SELECT COUNT(*) FROM jobs WHERE {_IN_FLIGHT}") or 0)
        free = max(0, limit - running) if limit > 0 else 1_000_000
        async with self._engine.transaction() as db:
            return await db.execute(
                "UPDATE jobs SET next_poll_at = ? WHERE id IN ("
                "  SELECT id FROM ("
                "    SELECT id, queue_position, next_poll_at, ROW_NUMBER() OVER (ORDER BY arrival) AS place"
                "    FROM jobs WHERE state IN ('accepted', 'queued')) AS line"
                "  WHERE next_poll_at IS NULL"
                "    AND (place <= ? OR (place <= ? AND place != COALESCE(queue_position, 0))))",
                now,
                free,
                shown,
            )

    # --- leases: which replica advances a job -------------------------------------------------------

    async def claim_due(self, now: float, limit: int, owner: str, lease_seconds: float) -> list[Job]:
        """Lease up to `limit` due jobs that no replica holds (or whose holder's lease ran out) to `owner`.

        PostgreSQL skips rows another replica is claiming this instant; SQLite has one writer at a time.
        """
        # Most ticks find nothing due: a read on the due index spares them a write transaction.
        due = await self._db.fetchval(
            "SELECT 1 FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ? "
            "AND (lease_owner IS NULL OR lease_until <= ?) LIMIT 1",
            now,
            now,
        )
        if due is None:
            return []
        async with self._engine.transaction() as db:
            rows = await db.fetch(
                "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id IN ("
                "  SELECT id FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ?"
                "  AND (lease_owner IS NULL OR lease_until <= ?)"
                f"  ORDER BY next_poll_at, arrival LIMIT ?{self._engine.skip_locked}) "
                "RETURNING *",
                owner,
                now + lease_seconds,
                now,
                now,
                limit,
            )
        jobs = [_row_to_job(r) for r in rows]
        # RETURNING has no order: the steps start in the order the jobs fell due, then arrived.
        jobs.sort(key=lambda j: (j.next_poll_at or 0.0, j.arrival or 0))
        return jobs

    async def renew_leases(self, owner: str, now: float, lease_seconds: float) -> int:
        """Extend every lease `owner` holds that is past half its length: a slow step keeps its job."""
        async with self._engine.transaction() as db:
            return await db.execute(
                "UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND lease_until < ?",
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

    # --- channel limits and daily reports -----------------------------------------------------------

    async def channel_limits(self, channel_id: str) -> ChannelLimits | None:
        sql, params = _in(_CHANNEL_LIMITS_SQL, [channel_id])
        row = await self._db.fetchrow(sql, *params)
        return _channel_limits(row) if row else None

    async def set_channel_limits(self, channel_id: str, limits: ChannelLimits) -> None:
        async with self._engine.transaction() as db:
            await db.execute(
                "INSERT INTO channel_limits (channel_id, daily_jobs, daily_budget_micros, set_by, set_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET daily_jobs = excluded.daily_jobs, "
                "daily_budget_micros = excluded.daily_budget_micros, "
                "set_by = excluded.set_by, set_at = excluded.set_at",
                channel_id,
                limits.daily_jobs,
                limits.daily_budget_micros,
                limits.set_by,
                limits.set_at,
            )

    async def channels_used(self, day: tuple[float, float]) -> list[str]:
        rows = await self._db.fetch(
            "SELECT channel_id FROM jobs WHERE created_at >= ? AND created_at < ? GROUP BY channel_id "
            "ORDER BY MIN(created_at)",
            *day,
        )
        return [r[0] for r in rows]

    async def claim_report(self, scope: str, channel_id: str, day: str, now: float) -> bool:
        """True for the one caller that may post this report; every later call, restarts included, gets False."""
        async with self._engine.transaction() as db:
            return (
                await db.execute(
                    "INSERT INTO daily_reports (scope, channel_id, day, claimed_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    scope,
                    channel_id,
                    day,
                    now,
                )
                == 1
            )

    async def report_posted(self, scope: str, channel_id: str, day: str, message_ts: str) -> None:
        async with self._engine.transaction() as db:
            await db.execute(
                "UPDATE daily_reports SET message_ts = ? WHERE scope = ? AND channel_id = ? AND day = ?",
                message_ts,
                scope,
                channel_id,
                day,
            )

    async def first_sighting(self, signature: str, now: float, keep_seconds: float) -> bool:
        """Record a request's signature; False if it was recorded before (a replay).

        Sightings asked for together share one transaction, like admissions."""
        return await self._sightings.submit((signature, now, keep_seconds))

    async def _record_sightings(self, group: Sequence[tuple[str, float, float]]) -> list[bool | BaseException]:
        rows = [(signature, now) for signature, now, _ in group]
        statements = _insert_rows(
            "seen_requests", ("signature", "at"), rows, " ON CONFLICT DO NOTHING RETURNING signature"
        )
        inserts = len(statements)
        _, now, keep_seconds = group[-1]
        if now - self._seen_pruned_at > keep_seconds / 6:
            # Now and then is enough: old rows only take space, they never match a fresh request.
            self._seen_pruned_at = now
            statements.append(("DELETE FROM seen_requests WHERE at < ?", (now - keep_seconds,)))
        async with self._engine.transaction() as db:
            results = await db.batch(*statements, commit=True)
        # Only the first of a signature's copies is inserted; every other one is a replay.
        fresh = {row[0] for result in results[:inserts] for row in result.rows}
        outcomes: list[bool | BaseException] = []
        for signature, _ in rows:
            outcomes.append(signature in fresh)
            fresh.discard(signature)
        return outcomes

    async def home_opened(self, user_id: str, now: float) -> None:
        async with self._engine.transaction() as db:
            await db.execute(
                "INSERT INTO home_viewers (user_id, opened_at) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET opened_at = excluded.opened_at",
                user_id,
                now,
            )

    async def has_home(self, user_id: str) -> bool:
        return await self._db.fetchval("SELECT 1 FROM home_viewers WHERE user_id = ?", user_id) is not None

    async def recent_jobs_of(self, user_id: str, limit: int) -> list[Job]:
        rows = await self._db.fetch(
            "SELECT * FROM jobs WHERE user_id = ? ORDER BY created_at DESC, arrival DESC LIMIT ?", user_id, limit
        )
        return [_row_to_job(r) for r in rows]

    async def spent_by(self, user_id: str, since: float, until: float) -> int:
        spent = await self._db.fetchval(
            "SELECT COALESCE(SUM(COALESCE(perf_cost_micros, estimated_cost_micros)), 0) FROM jobs "
            f"WHERE user_id = ? AND created_at >= ? AND created_at < ? AND {_HOLDS_QUOTA}",
            user_id,
            since,
            until,
        )
        return int(spent or 0)

    async def channel_usage(self, day: tuple[float, float]) -> dict[str, tuple[int, int]]:
        """channel → (jobs, cost in micro-dollars) during `day`, counting jobs that hold quota."""
        rows = await self._db.fetch(
            "SELECT channel_id, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros)) FROM jobs "
            f"WHERE created_at >= ? AND created_at < ? AND {_HOLDS_QUOTA} GROUP BY channel_id ORDER BY channel_id",
            *day,
        )
        return {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}

    async def job_by_root(self, channel_id: str, root_ts: str) -> Job | None:
        """The job whose root message is `root_ts` in `channel_id` (a channel, or the DM of a private job)."""
        row = await self._db.fetchrow(
            "SELECT * FROM jobs WHERE root_ts = ? AND COALESCE(post_channel_id, channel_id) = ?", root_ts, channel_id
        )
        return _row_to_job(row) if row else None

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._db.fetchrow("SELECT * FROM jobs WHERE id = ?", job_id)
        return _row_to_job(row) if row else None

    async def update_job(self, job: Job, *, event: str = "", lease: str | None = None, **changes: Any) -> Job:
        """Write `changes` to the row and to `job`; a state change is also recorded in job_events.

        Only if the row is still in `job.state` and, with `lease`, still leased to that owner: otherwise
        StaleJob, and nothing is written.
        """
        unknown = set(changes) - set(_JOB_COLUMNS) - {"id"}
        if unknown or "id" in changes:
            raise ValueError(f"not updatable job columns: {sorted(unknown | ({'id'} & set(changes)))}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        fence, fence_params = (" AND lease_owner = ?", [lease]) if lease is not None else ("", [])
        new_state = changes.get("state")
        statements: list[Statement] = [
            (
                f"UPDATE jobs SET {assignments} WHERE id = ? AND state = ?{fence}",
                (*(_to_db(c, v) for c, v in changes.items()), job.id, job.state.value, *fence_params),
            )
        ]
        if (new_state is not None and new_state != job.state) or event:
            statements.append(
                (
                    "INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, ?, ?)",
                    (job.id, changes.get("updated_at", job.updated_at), _to_db("state", new_state or job.state), event),
                )
            )
        async with self._engine.transaction() as db:
            [updated, *_] = await db.batch(*statements)
            if updated.changed == 0:
                # Someone else (`videobot cancel`, another replica after this one's lease ran out) moved it:
                # the event row goes with the rollback.
                raise StaleJob(job.id)
        for column, value in changes.items():
            setattr(job, column, value)
        return job

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
        due = await self._db.fetchval(
            "SELECT MIN(next_poll_at) FROM jobs WHERE next_poll_at IS NOT NULL AND lease_owner IS NULL"
        )
        return float(due) if due is not None else None

    async def jobs(
        self,
        *,
        states: Sequence[JobState] = (),
        channel_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        conditions: list[str] = []
        params: list[Any] = []
        if states:
            conditions.append(f"state IN ({', '.join('?' for _ in states)})")
            params += [s.value for s in states]
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
        rows = await self._db.fetch(f"SELECT * FROM jobs {where} ORDER BY created_at, arrival{tail}", *params)
        return [_row_to_job(r) for r in rows]

    async def job_events(self, job_id: str) -> list[tuple[float, str, str]]:
        rows = await self._db.fetch("SELECT at, state, detail FROM job_events WHERE job_id = ? ORDER BY id", job_id)
        return [(r[0], r[1], r[2]) for r in rows]
