"""Retention and space: old detail deleted in small batches, and the file's free pages given back.

What is deleted is only what no quota, report or export reads: per-step event detail, replay signatures,
App Home viewers and daily report claims. A job's row is never deleted here.

A workspace with a shorter window of its own (issue 25) has its detail deleted by team as well: its jobs'
events through its jobs (found through jobs_team_created, from where the last run stopped: its
retention_marks row), its viewers and report claims by their team_id. Also here: when a workspace removed
videobot (workspace_departures), so its history goes once its retention period has passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.base import StoreBase

# One statement per table, each deleting at most `limit` rows older than the cutoff. Every one reads at
# most `limit` rows however large the table: a batch holds the write lock only for that.
_FORGET = {
    # Events are written in time order, so id order is age order: the oldest `limit` rows, of which those
    # past the cutoff go (job_events has no index on `at`, and a scan for old rows among young ones would
    # read the whole table under the write lock).
    "job_events": "DELETE FROM job_events WHERE id IN (SELECT id FROM job_events ORDER BY id LIMIT ?) AND at < ?",
    # seen_requests_at orders them by age.
    "seen_requests": (
        "DELETE FROM seen_requests WHERE signature IN "
        "(SELECT signature FROM seen_requests WHERE at < ? ORDER BY at LIMIT ?)"
    ),
    # One row per person who opened the tab, and per report and day: small tables, read whole.
    "home_viewers": (
        "DELETE FROM home_viewers WHERE (team_id, user_id) IN "
        "(SELECT team_id, user_id FROM home_viewers WHERE opened_at < ? LIMIT ?)"
    ),
    "daily_reports": (
        "DELETE FROM daily_reports WHERE (team_id, scope, channel_id, day) IN "
        "(SELECT team_id, scope, channel_id, day FROM daily_reports WHERE claimed_at < ? LIMIT ?)"
    ),
}
RETAINED_TABLES = tuple(_FORGET)
# The tables a workspace's own window deletes from (replay signatures belong to no workspace).
TEAM_RETAINED_TABLES = ("job_events", "home_viewers", "daily_reports")

# A workspace's jobs created in [after, before), in creation order from a (created_at, arrival) past the last
# batch's: through jobs_team_created, `limit` rows of the workspace's alone however long its history.
TEAM_OLD_JOBS_SQL = (
    "SELECT id, created_at, arrival, finalized FROM jobs WHERE team_id = ? AND (created_at, arrival) > (?, ?)"
    " AND created_at < ? ORDER BY created_at, arrival LIMIT ?"
)
# Up to `limit` events older than the cutoff of some jobs (through job_events_job).
JOBS_EVENTS_SQL = (
    "DELETE FROM job_events WHERE id IN (SELECT id FROM job_events WHERE job_id IN ({jobs}) AND at < ? LIMIT ?)"
)


def jobs_events_sql(jobs: int) -> str:
    return JOBS_EVENTS_SQL.format(jobs=", ".join("?" for _ in range(jobs)))


# A workspace's viewers and report claims: their primary keys lead with team_id.
TEAM_FORGET_SQL = {
    "home_viewers": (
        "DELETE FROM home_viewers WHERE (team_id, user_id) IN "
        "(SELECT team_id, user_id FROM home_viewers WHERE team_id = ? AND opened_at < ? LIMIT ?)"
    ),
    "daily_reports": (
        "DELETE FROM daily_reports WHERE (team_id, scope, channel_id, day) IN "
        "(SELECT team_id, scope, channel_id, day FROM daily_reports WHERE team_id = ? AND claimed_at < ? LIMIT ?)"
    ),
}
_SET_MARK_SQL = (
    "INSERT INTO retention_marks (team_id, cleared_before) VALUES (?, ?) ON CONFLICT (team_id) DO UPDATE SET"
    " cleared_before = excluded.cleared_before"
)
_DEPARTED_SQL = (
    "INSERT INTO workspace_departures (enterprise_id, team_id, left_at) VALUES (?, ?, ?)"
    " ON CONFLICT (enterprise_id, team_id) DO UPDATE SET left_at = excluded.left_at"
)

_SQLITE_INCREMENTAL = 2  # PRAGMA auto_vacuum's answer when free pages can be given back live


@dataclass(frozen=True)
class OldJob:
    """A job of a workspace's, as its own window's walk reads it."""

    id: str
    created_at: float
    arrival: int
    finalized: bool


@dataclass(frozen=True)
class Departure:
    """A workspace that removed videobot ('' for an absent enterprise or team), and when."""

    enterprise_id: str
    team_id: str
    left_at: float


@dataclass(frozen=True)
class Space:
    """What `vacuum` found and did."""

    engine: str
    incremental: bool  # SQLite: free pages can be given back while the bot runs
    free_bytes: int  # inside the file, before (SQLite)
    reclaimed_bytes: int


class MaintenanceQueries(StoreBase):
    async def forget_older(self, table: str, before: float, limit: int) -> int:
        """Delete up to `limit` rows of `table` older than `before`, in one transaction; how many went."""
        sql = _FORGET[table]
        params = (limit, before) if table == "job_events" else (before, limit)
        async with self._engine.transaction() as db:
            return await db.execute(sql, *params)

    # --- a workspace's own window ----------------------------------------------------------------------

    async def own_setting(self, name: str) -> dict[str, str]:
        """Every workspace's own value of the setting `name`, by team (a handful of rows)."""
        rows = await self._db.fetch(
            "SELECT team_id, value FROM workspace_settings WHERE name = ? AND team_id <> ''", name
        )
        return {str(row[0]): str(row[1]) for row in rows}

    async def retention_mark(self, team_id: str) -> float:
        """Before when the team's jobs' events are already cleared (0: nothing cleared yet)."""
        found = await self._db.fetchval("SELECT cleared_before FROM retention_marks WHERE team_id = ?", team_id)
        return float(found or 0.0)

    async def set_retention_mark(self, team_id: str, cleared_before: float) -> None:
        async with self._engine.transaction() as db:
            await db.execute(_SET_MARK_SQL, team_id, cleared_before)

    async def team_old_jobs(self, team_id: str, after: tuple[float, int], before: float, limit: int) -> list[OldJob]:
        """Up to `limit` of the team's jobs created before `before`, past (created_at, arrival) `after`."""
        rows = await self._db.fetch(TEAM_OLD_JOBS_SQL, team_id, after[0], after[1], before, limit)
        return [OldJob(str(r[0]), float(r[1]), int(r[2]), bool(r[3])) for r in rows]

    async def forget_events_of(self, job_ids: list[str], before: float, limit: int) -> int:
        """Delete up to `limit` events older than `before` of these jobs, in one transaction; how many went."""
        sql = jobs_events_sql(len(job_ids))
        async with self._engine.transaction() as db:
            return await db.execute(sql, *job_ids, before, limit)

    async def forget_team_older(self, table: str, team_id: str, before: float, limit: int) -> int:
        """Delete up to `limit` of the team's rows of `table` (home_viewers, daily_reports) older than `before`."""
        async with self._engine.transaction() as db:
            return await db.execute(TEAM_FORGET_SQL[table], team_id, before, limit)

    # --- a workspace that left -------------------------------------------------------------------------

    async def workspace_left(self, enterprise_id: str | None, team_id: str | None, at: float) -> None:
        """Record that the workspace removed videobot at `at` (again: the later time holds)."""
        async with self._engine.transaction() as db:
            await db.execute(_DEPARTED_SQL, enterprise_id or "", team_id or "", at)

    async def departures(self) -> list[Departure]:
        rows = await self._db.fetch("SELECT enterprise_id, team_id, left_at FROM workspace_departures")
        return [Departure(str(r[0]), str(r[1]), float(r[2])) for r in rows]

    async def departure_done(self, departure: Departure) -> None:
        """The departure is settled (its history deleted, or the workspace came back): forget it."""
        async with self._engine.transaction() as db:
            await db.execute(
                "DELETE FROM workspace_departures WHERE enterprise_id = ? AND team_id = ? AND left_at = ?",
                departure.enterprise_id,
                departure.team_id,
                departure.left_at,
            )

    async def installed_again(self, departure: Departure) -> bool:
        """Whether the workspace that left has an installation now (a team's own, or its org's org-wide one)."""
        if departure.team_id:
            sql, params = "SELECT 1 FROM slack_bots WHERE team_id = ? LIMIT 1", [departure.team_id]
        else:
            sql, params = (
                "SELECT 1 FROM slack_bots WHERE enterprise_id = ? AND team_id = '' LIMIT 1",
                [departure.enterprise_id],
            )
        return await self._db.fetchval(sql, *params) is not None

    async def teams_of_org(self, enterprise_id: str) -> list[str]:
        """The teams whose jobs an org-wide install served (read once, when the org's history goes)."""
        rows = await self._db.fetch(
            "SELECT DISTINCT team_id FROM jobs WHERE enterprise_id = ? AND team_id <> ''", enterprise_id
        )
        return sorted(str(row[0]) for row in rows)

    async def reclaim_space(self, pages_per_step: int = 1000) -> int:
        """SQLite with incremental auto-vacuum: give the file's free pages back to the disk, a step at a time
        (each its own short write), and say how many bytes. Elsewhere nothing to do here: 0."""
        if not await self._incremental():
            return 0
        page_size, freed = await self._pragma("page_size"), 0
        while (free := await self._pragma("freelist_count")) > 0:
            await self._engine.outside_transaction(f"PRAGMA incremental_vacuum({pages_per_step})")
            now_free = await self._pragma("freelist_count")
            freed += free - now_free
            if now_free >= free:
                break  # nothing moved: another writer holds the pages, the next run takes them
        return freed * page_size

    async def vacuum(self, *, full: bool = False) -> Space:
        """PostgreSQL: VACUUM the tables retention deletes from. SQLite: `reclaim_space` where incremental,
        or with `full` a VACUUM that rewrites the file and turns incremental auto-vacuum on."""
        if self._engine.name != "sqlite":
            await self._engine.outside_transaction(f"VACUUM (ANALYZE) {', '.join(RETAINED_TABLES)}")
            return Space(self._engine.name, True, 0, 0)
        free = await self._pragma("freelist_count") * await self._pragma("page_size")
        incremental = await self._incremental()
        if incremental:
            return Space("sqlite", True, free, await self.reclaim_space())
        if not full:
            return Space("sqlite", False, free, 0)
        before = await self._file_bytes()
        await self._engine.outside_transaction("PRAGMA auto_vacuum = INCREMENTAL")
        await self._engine.outside_transaction("VACUUM")
        return Space("sqlite", await self._incremental(), free, before - await self._file_bytes())

    async def _incremental(self) -> bool:
        return self._engine.name == "sqlite" and await self._pragma("auto_vacuum") == _SQLITE_INCREMENTAL

    async def _pragma(self, name: str) -> int:
        return int((await self._engine.outside_transaction(f"PRAGMA {name}"))[0][0])

    async def _file_bytes(self) -> int:
        return await self._pragma("page_count") * await self._pragma("page_size")
