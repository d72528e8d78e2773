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

from storage.base import StoreBase

# Either the cell is taken (`taken` returns its row) or the row is left as it was, and the outer SELECT
# (which sees the row as it was when the statement began) says how long until a cell would be granted.
# The CTE names the parameters once; `excluded.tat` is now + cell.
TAKE_CELL_SQL = """
WITH p AS (
    SELECT CAST(? AS TEXT) AS bucket, CAST(? AS DOUBLE PRECISION) AS cell,
           CAST(? AS DOUBLE PRECISION) AS room, CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION) AS now
), taken AS (
    INSERT INTO slack_buckets (bucket, tat, held_until)
    SELECT bucket, now + cell, 0 FROM p
    ON CONFLICT (bucket) DO UPDATE SET tat = GREATEST(slack_buckets.tat, (SELECT now FROM p)) + (SELECT cell FROM p)
    WHERE slack_buckets.held_until <= (SELECT now FROM p)
      AND GREATEST(slack_buckets.tat, (SELECT now FROM p)) + (SELECT cell FROM p) <= (SELECT now + room FROM p)
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM taken) AS granted,
       GREATEST(b.held_until - p.now, GREATEST(b.tat, p.now) + p.cell - p.now - p.room, 0) AS wait
FROM p LEFT JOIN slack_buckets AS b ON b.bucket = p.bucket
"""
HOLD_SQL = (
    "INSERT INTO slack_buckets (bucket, tat, held_until) "
    "SELECT CAST(? AS TEXT), 0, EXTRACT(EPOCH FROM clock_timestamp()) + CAST(? AS DOUBLE PRECISION) "
    "ON CONFLICT (bucket) DO UPDATE SET held_until = GREATEST(slack_buckets.held_until, excluded.held_until)"
)
# A refusal whose row was created by another replica after this statement began reads no row: ask again soon.
MIN_WAIT_SECONDS = 0.005


class SlackBucketQueries(StoreBase):
    async def take_slack_cell(self, bucket: str, cell_seconds: float, room_seconds: float) -> float:
        """Take one cell of `bucket` (a call every `cell_seconds`, `room_seconds` of burst): 0.0 when taken,
        else the seconds to wait before asking again. One round trip; PostgreSQL only."""
        row = await self._db.fetchrow(TAKE_CELL_SQL, bucket, cell_seconds, room_seconds)
        assert row is not None  # the SELECT reads from `p`, which always has its one row
        if int(row["granted"]):
            return 0.0
        return max(float(row["wait"] or 0.0), MIN_WAIT_SECONDS)

    async def hold_slack_bucket(self, bucket: str, seconds: float) -> None:
        """Slack answered 429 with Retry-After `seconds`: no replica takes a cell of `bucket` until then."""
        await self._db.execute(HOLD_SQL, bucket, seconds)
