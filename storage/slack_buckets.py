"""Slack's pace shared by replicas on PostgreSQL (issue 27): one GCRA bucket per workspace lane.

Each row is one lane of the pacer (`bot/clients/pacing.py`: a method of a workspace, or a channel's posts)
with its theoretical arrival time `tat`: the moment the bucket would be empty again if no call came. A cell
is granted when, after taking it, the bucket is at most `room` seconds ahead of now (the burst, less any
reserve the caller must leave). One statement grants the cell or says how long to wait, in one round trip,
computed with the database's clock (`clock_timestamp()`): the replicas' own clocks never meet. A 429 holds
the lane in the same row, so every replica waits it out. Nothing is stored per replica.

PostgreSQL only: SQLite serves one process, whose in-process lanes are the whole budget.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.base import StoreBase

# All the buckets' cells are taken, or none: `cur` (the rows as they were when the statement began) says
# how long until each has room, and `taken` takes a cell of each only when none has to wait. Its ON CONFLICT
# checks again on the newest row: if another replica took the last cell meanwhile, the cell of that bucket
# is not taken and the caller asks again (a cell of another bucket may then be spent: never too many calls).
# `excluded.tat` is now + cell.
TAKE_CELLS_SQL = """
WITH n AS (
    SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION) AS now
), p AS (
    SELECT x.bucket, x.cell, x.room, n.now
    FROM unnest(CAST(? AS TEXT[]), CAST(? AS DOUBLE PRECISION[]), CAST(? AS DOUBLE PRECISION[]))
        AS x(bucket, cell, room), n
), cur AS (
    SELECT GREATEST(b.held_until - p.now, GREATEST(b.tat, p.now) + p.cell - p.now - p.room, 0) AS wait
    FROM p LEFT JOIN slack_buckets AS b ON b.bucket = p.bucket
), taken AS (
    INSERT INTO slack_buckets (bucket, tat, held_until)
    SELECT bucket, now + cell, 0 FROM p WHERE (SELECT COALESCE(MAX(wait), 0) FROM cur) <= 0
    ON CONFLICT (bucket) DO UPDATE
        SET tat = GREATEST(slack_buckets.tat - (SELECT now FROM n), 0) + excluded.tat
    WHERE slack_buckets.held_until <= (SELECT now FROM n)
      AND GREATEST(slack_buckets.tat - (SELECT now FROM n), 0) + excluded.tat
          <= (SELECT now + room FROM p WHERE p.bucket = excluded.bucket)
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM taken) AS taken, (SELECT COALESCE(MAX(wait), 0) FROM cur) AS wait
"""
HOLD_SQL = (
    "INSERT INTO slack_buckets (bucket, tat, held_until) "
    "SELECT CAST(? AS TEXT), 0, EXTRACT(EPOCH FROM clock_timestamp()) + CAST(? AS DOUBLE PRECISION) "
    "ON CONFLICT (bucket) DO UPDATE SET held_until = GREATEST(slack_buckets.held_until, excluded.held_until)"
)
# A bucket whose last cell was taken this long ago, and not held, is full again: its row says nothing an absent
# row would not (a missing row is a full bucket), so the maintenance run deletes it. Rows are one per
# workspace lane and per channel posted in: without this they would pile up for every channel ever posted in.
IDLE_BUCKET_SECONDS = 3600.0
FORGET_IDLE_SQL = (
    "DELETE FROM slack_buckets WHERE bucket IN (SELECT bucket FROM slack_buckets "
    "WHERE tat < EXTRACT(EPOCH FROM clock_timestamp()) - CAST(? AS DOUBLE PRECISION) "
    "AND held_until < EXTRACT(EPOCH FROM clock_timestamp()) LIMIT ?)"
)
# A cell lost to another replica between the statement's start and its take: ask again soon.
MIN_WAIT_SECONDS = 0.005


class SlackBucketQueries(StoreBase):
    async def take_slack_cells(self, cells: Sequence[tuple[str, float, float]]) -> float:
        """Take one cell of each bucket named, all or none: (bucket, seconds between calls, seconds of burst
        the call may use). 0.0 when taken, else the seconds to wait before asking again. One round trip;
        PostgreSQL only."""
        buckets, steps, rooms = (list(column) for column in zip(*cells, strict=True))
        row = await self._db.fetchrow(TAKE_CELLS_SQL, buckets, steps, rooms)
        assert row is not None  # an aggregate's one row
        if int(row["taken"]) == len(cells):
            return 0.0
        return max(float(row["wait"]), MIN_WAIT_SECONDS)

    async def forget_idle_slack_buckets(self, limit: int, idle_seconds: float = IDLE_BUCKET_SECONDS) -> int:
        """Delete up to `limit` buckets untouched for `idle_seconds` and not held; how many went. SQLite never
        fills the table (its pacer is in-process): 0 there."""
        if self._engine.name == "sqlite":
            return 0
        async with self._engine.transaction() as db:
            return await db.execute(FORGET_IDLE_SQL, idle_seconds, limit)

    async def hold_slack_bucket(self, bucket: str, seconds: float) -> None:
        """Slack answered 429 with Retry-After `seconds`: no replica takes a cell of `bucket` until then."""
        await self._db.execute(HOLD_SQL, bucket, seconds)
