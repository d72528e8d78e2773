"""SQLite through aiosqlite: the schema, its migrations and every query. Nothing else touches SQL."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.domain import Job, JobState

log = logging.getLogger("videobot.storage")

# Each entry moves the schema one version forward; never edit one that has shipped, add another.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        team_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        prompt TEXT NOT NULL,
        model TEXT NOT NULL,
        duration_seconds TEXT NOT NULL,
        resolution TEXT NOT NULL,
        aspect_ratio TEXT NOT NULL,
        estimated_cost_micros INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        response_url TEXT NOT NULL DEFAULT '',
        next_poll_at REAL,
        root_ts TEXT,
        progress_ts TEXT,
        perf_job_id TEXT UNIQUE,
        submitted_at REAL,
        progress_percent INTEGER,
        eta_seconds INTEGER,
        poll_failures INTEGER NOT NULL DEFAULT 0,
        video_url TEXT,
        perf_cost_micros INTEGER,
        generation_ms INTEGER,
        completed_at REAL,
        upload_file_id TEXT,
        upload_sent INTEGER NOT NULL DEFAULT 0,
        file_shared INTEGER NOT NULL DEFAULT 0,
        delivered_as_link INTEGER NOT NULL DEFAULT 0,
        delivery_note TEXT,
        delivered_at REAL,
        error_message TEXT,
        finalized INTEGER NOT NULL DEFAULT 0
    );
    -- The poller asks only for due jobs; finished jobs have no next_poll_at and stay out of the index.
    CREATE INDEX jobs_due ON jobs (next_poll_at) WHERE next_poll_at IS NOT NULL;
    CREATE INDEX jobs_channel_created ON jobs (channel_id, created_at);
    CREATE TABLE job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        at REAL NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX job_events_job ON job_events (job_id, id);
    """,
    """
    ALTER TABLE jobs ADD COLUMN rerun_of TEXT REFERENCES jobs (id);
    ALTER TABLE jobs ADD COLUMN rerun_link TEXT;
    -- A reaction or a button click names a message; this finds its job.
    CREATE UNIQUE INDEX jobs_root ON jobs (channel_id, root_ts) WHERE root_ts IS NOT NULL;
    -- What started a job, when something could ask twice (a redelivered event, a re-added reaction).
    -- The key is unique, so one trigger can start at most one job, ever.
    CREATE TABLE job_triggers (
        trigger TEXT PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        at REAL NOT NULL
    );
    """,
    """
    ALTER TABLE jobs ADD COLUMN queue_position INTEGER;
    -- The account's line: who waits, in arrival order, and how many hold a slot at Perf.
    CREATE INDEX jobs_queue ON jobs (created_at) WHERE state IN ('accepted', 'queued');
    CREATE INDEX jobs_in_flight ON jobs (state) WHERE state IN ('submitting', 'pending', 'processing');
    CREATE INDEX jobs_user_created ON jobs (user_id, created_at);
    -- A channel's own limits, set from Slack by an admin. NULL: the configured default; 0: no limit.
    CREATE TABLE channel_limits (
        channel_id TEXT PRIMARY KEY,
        daily_jobs INTEGER,
        daily_budget_micros INTEGER,
        set_by TEXT NOT NULL,
        set_at REAL NOT NULL
    );
    -- One row per report and day, written before it is posted: a day's report goes out once, ever.
    CREATE TABLE daily_reports (
        scope TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        day TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        message_ts TEXT,
        PRIMARY KEY (scope, channel_id, day)
    );
    """,
    """
    -- Signatures of requests already taken: a copy replayed within Slack's 5-minute window is refused.
    CREATE TABLE seen_requests (
        signature TEXT PRIMARY KEY,
        at REAL NOT NULL
    );
    CREATE INDEX seen_requests_at ON seen_requests (at);
    """,
    """
    ALTER TABLE jobs ADD COLUMN progress_at REAL;
    ALTER TABLE jobs ADD COLUMN perf_poll_due REAL;
    """,
    """
    ALTER TABLE jobs ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN post_channel_id TEXT;
    CREATE INDEX jobs_root_ts ON jobs (root_ts) WHERE root_ts IS NOT NULL;
    """,
    """
    -- People who opened the bot's App Home: their tab is republished when one of their jobs moves.
    CREATE TABLE home_viewers (
        user_id TEXT PRIMARY KEY,
        opened_at REAL NOT NULL
    );
    """,
)

# Jobs that count against quotas: all but those that certainly never reached Perf.
_HOLDS_QUOTA = "(perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled'))"
# One statement for a channel's and a person's usage in a day: (user, day start, day end, channel, start, end).
_USAGE_SQL = (
    "SELECT COUNT(*), COALESCE(SUM(COALESCE(perf_cost_micros, estimated_cost_micros)), 0), "
    f"(SELECT COUNT(*) FROM jobs WHERE user_id = ? AND created_at >= ? AND created_at < ? AND {_HOLDS_QUOTA}) "
    f"FROM jobs WHERE channel_id = ? AND created_at >= ? AND created_at < ? AND {_HOLDS_QUOTA}"
)
_T = TypeVar("_T")
_IN_FLIGHT = "state IN ('submitting', 'pending', 'processing')"


class StaleJob(Exception):
    """The job's row changed state since it was read; re-read it rather than overwrite."""


@dataclasses.dataclass(frozen=True)
class Usage:
    """What a channel and a person used in one day, counting only jobs that hold quota."""

    channel_jobs: int = 0
    channel_cost_micros: int = 0
    user_jobs: int = 0


@dataclasses.dataclass(frozen=True)
class ChannelLimits:
    daily_jobs: int | None  # None: the configured default; 0: no limit
    daily_budget_micros: int | None
    set_by: str
    set_at: float


_JOB_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Job))
_INSERT_JOB_SQL = f"INSERT INTO jobs ({', '.join(_JOB_COLUMNS)}) VALUES ({', '.join('?' for _ in _JOB_COLUMNS)})"
_BOOL_COLUMNS = frozenset(f.name for f in dataclasses.fields(Job) if f.type in ("bool", bool))


def _to_db(column: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, JobState):
        return value.value
    return value


def _row_to_job(row: aiosqlite.Row) -> Job:
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
    """One aiosqlite connection in WAL mode; every write commits at once."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        # One connection is shared by every coroutine, and a commit commits whatever is pending on it:
        # writes take this lock so that a transaction's statements are never committed by another's.
        self._write_lock = asyncio.Lock()
        self._seen_pruned_at = 0.0

    @classmethod
    async def open(cls, path: str) -> Store:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path)
        connection.row_factory = aiosqlite.Row
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA busy_timeout=5000")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        store = cls(connection)
        await store.migrate()
        return store

    async def close(self) -> None:
        await self._db.close()

    async def migrate(self) -> int:
        await self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        async with self._db.execute("SELECT MAX(version) FROM schema_version") as cursor:
            row = await cursor.fetchone()
        current = (row[0] if row else None) or 0
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            # executescript commits first, so each migration and its version row go in one transaction.
            await self._db.executescript(
                f"BEGIN; {script}; INSERT INTO schema_version (version) VALUES ({version}); COMMIT;"
            )
            log.info("event=migrated schema_version=%d", version)
        return len(MIGRATIONS)

    async def count_by_state(self) -> dict[str, int]:
        async with self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state") as cursor:
            rows = await cursor.fetchall()
        return {r[0]: r[1] for r in rows}

    async def count_submitted(self) -> int:
        async with self._db.execute("SELECT COUNT(*) FROM jobs WHERE perf_job_id IS NOT NULL") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def schema_version(self) -> int:
        async with self._db.execute("SELECT MAX(version) FROM schema_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0] or 0) if row else 0

    async def ping(self) -> bool:
        async with self._db.execute("SELECT 1") as cursor:
            return (await cursor.fetchone()) is not None

    async def insert_job(
        self,
        job: Job,
        *,
        trigger: str | None = None,
        day: tuple[float, float] | None = None,
        check: Callable[[Usage], None] | None = None,
    ) -> bool:
        """Store a new job. With `trigger`, only if that trigger never started a job: False if it did.

        With `check`, the usage of the job's channel and person during `day` is read in the same
        transaction and handed to it; if it raises, nothing is stored. Check and reservation are one
        atomic step, so a burst of commands cannot overshoot a quota.
        """
        row = [_to_db(c, getattr(job, c)) for c in _JOB_COLUMNS]
        detail = f"stored trigger={trigger}" if trigger else "stored"

        def transaction(db: sqlite3.Connection) -> bool:
            # IMMEDIATE takes SQLite's write lock now: another process cannot slip a job in between.
            db.execute("BEGIN IMMEDIATE")
            try:
                if check is not None:
                    assert day is not None
                    found = db.execute(_USAGE_SQL, (job.user_id, *day, job.channel_id, *day)).fetchone()
                    check(Usage(channel_jobs=found[0], channel_cost_micros=found[1], user_jobs=found[2]))
                db.execute(_INSERT_JOB_SQL, row)
                if trigger is not None:
                    cursor = db.execute(
                        "INSERT INTO job_triggers (trigger, job_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        (trigger, job.id, job.created_at),
                    )
                    if cursor.rowcount == 0:
                        db.rollback()
                        return False
                db.execute(
                    "INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, ?, ?)",
                    (job.id, job.created_at, job.state.value, detail),
                )
                db.commit()
            except BaseException:
                db.rollback()
                raise
            return True

        async with self._write_lock:
            return await self._in_db_thread(transaction)

    async def _in_db_thread(self, transaction: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run a whole transaction in aiosqlite's thread: one hand-over instead of one per statement.

        This is the path of every command's acknowledgement, where each hand-over between the event
        loop and SQLite's thread costs more than the SQL itself. aiosqlite has no public way to do this;
        `_execute` and `_conn` are the private pair its own methods use.
        """
        connection = self._db
        result: _T = await connection._execute(  # type: ignore[no-untyped-call]
            lambda: transaction(connection._conn)
        )
        return result

    async def usage(self, channel_id: str, user_id: str, day: tuple[float, float]) -> Usage:
        rows = await self._db.execute_fetchall(_USAGE_SQL, (user_id, *day, channel_id, *day))
        row = next(iter(rows), None)
        assert row is not None
        return Usage(channel_jobs=row[0], channel_cost_micros=row[1], user_jobs=row[2])

    # --- the account's queue ------------------------------------------------------------------------

    async def claim_slot(self, job: Job, limit: int, now: float) -> bool:
        """Move `job` to submitting if it is within the first free slots in line; one atomic statement.

        The line is every job not yet submitted (accepted or queued), in arrival order."""
        ahead_and_running = (
            f"(SELECT COUNT(*) FROM jobs WHERE {_IN_FLIGHT}) + "
            "(SELECT COUNT(*) FROM jobs AS w WHERE w.state IN ('accepted', 'queued') AND w.id != :id AND "
            "(w.created_at < :created OR "
            "(w.created_at = :created AND w.rowid < (SELECT rowid FROM jobs WHERE id = :id))))"
        )
        condition = "" if limit <= 0 else f" AND {ahead_and_running} < :limit"
        async with self._write_lock:
            try:
                cursor = await self._db.execute(
                    "UPDATE jobs SET state = 'submitting', submitted_at = :now, updated_at = :now "
                    f"WHERE id = :id AND state IN ('accepted', 'queued'){condition}",
                    {"id": job.id, "created": job.created_at, "limit": limit, "now": now},
                )
                claimed = cursor.rowcount == 1
                if claimed:
                    await self._db.execute(
                        "INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, 'submitting', 'submitting')",
                        (job.id, now),
                    )
                await self._db.commit()
            except BaseException:
                await self._db.rollback()
                raise
        if claimed:
            job.state, job.submitted_at, job.updated_at = JobState.SUBMITTING, now, now
        return claimed

    async def queue_position(self, job: Job) -> int:
        """1 for the head of the line. Jobs still being announced count: they arrived first."""
        async with self._db.execute(
            "SELECT COUNT(*) FROM jobs AS w WHERE w.state IN ('accepted', 'queued') AND w.id != ? AND "
            "(w.created_at < ? OR (w.created_at = ? AND w.rowid < (SELECT rowid FROM jobs WHERE id = ?)))",
            (job.id, job.created_at, job.created_at, job.id),
        ) as cursor:
            row = await cursor.fetchone()
        return (row[0] if row else 0) + 1

    async def wake_queue(self, limit: int, now: float, shown: int) -> int:
        """Make due the waiting jobs that may now get a slot, and those among the first `shown` whose place
        in line changed (so their thread shows it). Costs one indexed lookup when nobody waits."""
        # Only jobs parked in line (no next_poll_at) need waking; announced jobs are due already. The
        # redundant IN is what lets SQLite use the partial index jobs_queue (checked with EXPLAIN QUERY
        # PLAN): without it this is a scan of every job, on every tick.
        async with self._db.execute(
            "SELECT 1 FROM jobs WHERE state IN ('accepted', 'queued') AND state = 'queued' AND next_poll_at IS NULL "
            "LIMIT 1"
        ) as cursor:
            if await cursor.fetchone() is None:
                return 0
        async with self._db.execute(f"SELECT COUNT(*) FROM jobs WHERE {_IN_FLIGHT}") as cursor:
            row = await cursor.fetchone()
        free = max(0, limit - (row[0] if row else 0)) if limit > 0 else 1_000_000
        async with self._write_lock:
            cursor = await self._db.execute(
                "UPDATE jobs SET next_poll_at = :now WHERE id IN ("
                "  SELECT id FROM ("
                "    SELECT id, queue_position, next_poll_at,"
                "      ROW_NUMBER() OVER (ORDER BY created_at, rowid) AS place"
                "    FROM jobs WHERE state IN ('accepted', 'queued'))"
                "  WHERE next_poll_at IS NULL"
                "    AND (place <= :free OR (place <= :shown AND place != COALESCE(queue_position, 0))))",
                {"now": now, "free": free, "shown": shown},
            )
            await self._db.commit()
        return cursor.rowcount

    # --- channel limits and daily reports -----------------------------------------------------------

    async def channel_limits(self, channel_id: str) -> ChannelLimits | None:
        rows = await self._db.execute_fetchall(
            "SELECT daily_jobs, daily_budget_micros, set_by, set_at FROM channel_limits WHERE channel_id = ?",
            (channel_id,),
        )
        row = next(iter(rows), None)
        return ChannelLimits(row[0], row[1], row[2], row[3]) if row else None

    async def set_channel_limits(self, channel_id: str, limits: ChannelLimits) -> None:
        async with self._write_lock:
            await self._db.execute(
                "INSERT INTO channel_limits (channel_id, daily_jobs, daily_budget_micros, set_by, set_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET daily_jobs = excluded.daily_jobs, "
                "daily_budget_micros = excluded.daily_budget_micros, "
                "set_by = excluded.set_by, set_at = excluded.set_at",
                (channel_id, limits.daily_jobs, limits.daily_budget_micros, limits.set_by, limits.set_at),
            )
            await self._db.commit()

    async def channels_used(self, day: tuple[float, float]) -> list[str]:
        async with self._db.execute(
            "SELECT channel_id FROM jobs WHERE created_at >= ? AND created_at < ? GROUP BY channel_id "
            "ORDER BY MIN(created_at)",
            day,
        ) as cursor:
            rows = await cursor.fetchall()
        return [r[0] for r in rows]

    async def claim_report(self, scope: str, channel_id: str, day: str, now: float) -> bool:
        """True for the one caller that may post this report; every later call, restarts included, gets False."""
        async with self._write_lock:
            cursor = await self._db.execute(
                "INSERT INTO daily_reports (scope, channel_id, day, claimed_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (scope, channel_id, day, now),
            )
            await self._db.commit()
        return cursor.rowcount == 1

    async def report_posted(self, scope: str, channel_id: str, day: str, message_ts: str) -> None:
        async with self._write_lock:
            await self._db.execute(
                "UPDATE daily_reports SET message_ts = ? WHERE scope = ? AND channel_id = ? AND day = ?",
                (message_ts, scope, channel_id, day),
            )
            await self._db.commit()

    async def first_sighting(self, signature: str, now: float, keep_seconds: float) -> bool:
        """Record a request's signature; False if it was recorded before (a replay)."""
        prune = now - self._seen_pruned_at > keep_seconds / 6
        if prune:
            self._seen_pruned_at = now

        def transaction(db: sqlite3.Connection) -> bool:
            try:
                # Pruning now and then is enough: old rows only take space, they never match a fresh request.
                if prune:
                    db.execute("DELETE FROM seen_requests WHERE at < ?", (now - keep_seconds,))
                cursor = db.execute(
                    "INSERT INTO seen_requests (signature, at) VALUES (?, ?) ON CONFLICT DO NOTHING", (signature, now)
                )
                db.commit()
            except BaseException:
                db.rollback()
                raise
            return cursor.rowcount == 1

        async with self._write_lock:
            return await self._in_db_thread(transaction)

    async def home_opened(self, user_id: str, now: float) -> None:
        async with self._write_lock:
            await self._db.execute(
                "INSERT INTO home_viewers (user_id, opened_at) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET opened_at = excluded.opened_at",
                (user_id, now),
            )
            await self._db.commit()

    async def has_home(self, user_id: str) -> bool:
        rows = await self._db.execute_fetchall("SELECT 1 FROM home_viewers WHERE user_id = ?", (user_id,))
        return bool(list(rows))

    async def recent_jobs_of(self, user_id: str, limit: int) -> list[Job]:
        rows = await self._db.execute_fetchall(
            "SELECT * FROM jobs WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?", (user_id, limit)
        )
        return [_row_to_job(r) for r in rows]

    async def spent_by(self, user_id: str, since: float, until: float) -> int:
        rows = await self._db.execute_fetchall(
            "SELECT COALESCE(SUM(COALESCE(perf_cost_micros, estimated_cost_micros)), 0) FROM jobs "
            f"WHERE user_id = ? AND created_at >= ? AND created_at < ? AND {_HOLDS_QUOTA}",
            (user_id, since, until),
        )
        row = next(iter(rows), None)
        return int(row[0]) if row else 0

    async def channel_usage(self, day: tuple[float, float]) -> dict[str, tuple[int, int]]:
        """channel → (jobs, cost in micro-dollars) during `day`, counting jobs that hold quota."""
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, COUNT(*), SUM(COALESCE(perf_cost_micros, estimated_cost_micros)) FROM jobs "
            f"WHERE created_at >= ? AND created_at < ? AND {_HOLDS_QUOTA} GROUP BY channel_id ORDER BY channel_id",
            day,
        )
        return {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}

    async def job_by_root(self, channel_id: str, root_ts: str) -> Job | None:
        """The job whose root message is `root_ts` in `channel_id` (a channel, or the DM of a private job)."""
        rows = await self._db.execute_fetchall(
            "SELECT * FROM jobs WHERE root_ts = ? AND COALESCE(post_channel_id, channel_id) = ?", (root_ts, channel_id)
        )
        row = next(iter(rows), None)
        return _row_to_job(row) if row else None

    async def get_job(self, job_id: str) -> Job | None:
        async with self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cursor:
            row = await cursor.fetchone()
        return _row_to_job(row) if row else None

    async def update_job(self, job: Job, *, event: str = "", **changes: Any) -> Job:
        """Write `changes` to the row and to `job`; a state change is also recorded in job_events.

        Only if the row is still in `job.state`: otherwise StaleJob, and nothing is written.
        """
        unknown = set(changes) - set(_JOB_COLUMNS) - {"id"}
        if unknown or "id" in changes:
            raise ValueError(f"not updatable job columns: {sorted(unknown | ({'id'} & set(changes)))}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        new_state = changes.get("state")
        async with self._write_lock:
            try:
                cursor = await self._db.execute(
                    f"UPDATE jobs SET {assignments} WHERE id = ? AND state = ?",
                    [*(_to_db(c, v) for c, v in changes.items()), job.id, job.state.value],
                )
                if cursor.rowcount == 0:
                    # Someone else (`videobot cancel`, an operator's retry) moved the job meanwhile.
                    raise StaleJob(job.id)
                if (new_state is not None and new_state != job.state) or event:
                    await self._db.execute(
                        "INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, ?, ?)",
                        (
                            job.id,
                            changes.get("updated_at", job.updated_at),
                            _to_db("state", new_state or job.state),
                            event,
                        ),
                    )
                await self._db.commit()
            except BaseException:
                await self._db.rollback()
                raise
        for column, value in changes.items():
            setattr(job, column, value)
        return job

    async def due_jobs(self, now: float, limit: int, exclude: Iterable[str] = ()) -> list[Job]:
        excluded = list(exclude)
        marks = ", ".join("?" for _ in excluded)
        skip = f"AND id NOT IN ({marks})" if excluded else ""
        async with self._db.execute(
            f"SELECT * FROM jobs WHERE next_poll_at IS NOT NULL AND next_poll_at <= ? {skip} "
            "ORDER BY next_poll_at LIMIT ?",
            [now, *excluded, limit],
        ) as cursor:
            rows = await cursor.fetchall()
        return [_row_to_job(r) for r in rows]

    async def next_due_at(self) -> float | None:
        async with self._db.execute("SELECT MIN(next_poll_at) FROM jobs WHERE next_poll_at IS NOT NULL") as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

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
        async with self._db.execute(f"SELECT * FROM jobs {where} ORDER BY created_at, rowid{tail}", params) as c:
            rows = await c.fetchall()
        return [_row_to_job(r) for r in rows]

    async def job_events(self, job_id: str) -> list[tuple[float, str, str]]:
        async with self._db.execute(
            "SELECT at, state, detail FROM job_events WHERE job_id = ? ORDER BY id", (job_id,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [(r[0], r[1], r[2]) for r in rows]
