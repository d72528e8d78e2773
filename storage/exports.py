"""`videobot export`: every job since a moment, one row each, read in batches along an index.

Keyset pagination over jobs_created (created_at, arrival): each batch starts after the last row of the one
before, so a batch costs the same at the start of a year as at its end (no OFFSET to skip over), and the
caller holds one batch at a time whatever the range. The pair is unique (arrival is), so no row is read
twice or skipped, even among jobs stored in the same instant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

from bot.domain.job import JobState
from storage.base import StoreBase
from storage.engine import Row

EXPORT_BATCH_ROWS = 1_000
_COLUMNS = (
    "id, created_at, arrival, channel_id, user_id, model, duration_seconds, resolution, state,"
    " estimated_cost_micros, perf_cost_micros, team_id"
)
EXPORT_FIRST_SQL = f"SELECT {_COLUMNS} FROM jobs WHERE created_at >= ? ORDER BY created_at, arrival LIMIT ?"
# Row values: both engines compare (created_at, arrival) as a pair and start the index search at it. (No
# `created_at >= since` beside it: SQLite could start the search there instead, and every batch would read
# the range again from its start; rows after the last one are within the range anyway.)
EXPORT_NEXT_SQL = (
    f"SELECT {_COLUMNS} FROM jobs WHERE (created_at, arrival) > (?, ?) ORDER BY created_at, arrival LIMIT ?"
)
# One workspace's jobs, the same way along jobs_team_created (team_id, created_at, arrival).
TEAM_EXPORT_FIRST_SQL = (
    f"SELECT {_COLUMNS} FROM jobs WHERE team_id = ? AND created_at >= ? ORDER BY created_at, arrival LIMIT ?"
)
TEAM_EXPORT_NEXT_SQL = (
    f"SELECT {_COLUMNS} FROM jobs WHERE team_id = ? AND (created_at, arrival) > (?, ?) "
    "ORDER BY created_at, arrival LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One job as finance reads it: no prompt, nothing Slack-side."""

    job_id: str
    created_at: float
    channel_id: str
    user_id: str
    model: str
    duration_seconds: Decimal
    resolution: str
    state: JobState
    estimated_cost_micros: int
    charged_cost_micros: int | None
    team_id: str = ""


class ExportQueries(StoreBase):
    async def export_batches(
        self, since: float | None, batch_rows: int = EXPORT_BATCH_ROWS, *, team_id: str | None = None
    ) -> AsyncIterator[list[ExportRow]]:
        """The jobs stored at or after `since` (None: all), in arrival order, `batch_rows` at a time: one
        workspace's with `team_id`, every workspace's without (the operator's export)."""
        start = since if since is not None else float("-inf")
        team = () if team_id is None else (team_id,)
        first, after = (
            (EXPORT_FIRST_SQL, EXPORT_NEXT_SQL) if team_id is None else (TEAM_EXPORT_FIRST_SQL, TEAM_EXPORT_NEXT_SQL)
        )
        rows = await self._db.fetch(first, *team, start, batch_rows)
        while rows:
            yield [_export_row(row) for row in rows]
            if len(rows) < batch_rows:
                return
            last = rows[-1]
            rows = await self._db.fetch(after, *team, last[1], last[2], batch_rows)


def _export_row(row: Row) -> ExportRow:
    return ExportRow(
        job_id=str(row[0]),
        created_at=float(row[1]),
        channel_id=str(row[3]),
        user_id=str(row[4]),
        model=str(row[5]),
        duration_seconds=Decimal(row[6]),
        resolution=str(row[7]),
        state=JobState(row[8]),
        estimated_cost_micros=int(row[9]),
        charged_cost_micros=None if row[10] is None else int(row[10]),
        team_id=str(row[11]),
    )
