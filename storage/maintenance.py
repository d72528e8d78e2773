"""Retention and space: old detail deleted in small batches, and the file's free pages given back.

What is deleted is only what no quota, report or export reads: per-step event detail, replay signatures,
App Home viewers and daily report claims. A job's row is never deleted here.
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

_SQLITE_INCREMENTAL = 2  # PRAGMA auto_vacuum's answer when free pages can be given back live


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
