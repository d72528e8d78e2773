"""What a /metrics scrape reads: the jobs by state and those Perf accepted, from the summary table kept
beside the jobs (migration 12), and today's cost per channel, from the day's own rows.

All of it on the engine's side connection: on SQLite a reader of its own, so an ack never waits behind a
scrape. A scrape costs a read of job_counts (one row a state) and of the day's jobs through jobs_created:
the same with a year of history as with none.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.base import StoreBase
from storage.jobs import COUNTS_SQL
from storage.usage import DAY_COST_SQL


@dataclass(frozen=True)
class Counts:
    by_state: dict[str, int]
    submitted: int
    cost_today: dict[str, int]  # channel → micro-dollars of the day's jobs that hold quota


class CountQueries(StoreBase):
    async def scrape_counts(self, day: tuple[float, float]) -> Counts:
        counts, cost = await self._engine.side_reads.batch((COUNTS_SQL, ()), (DAY_COST_SQL, day))
        return Counts(
            by_state={r[0]: int(r[1]) for r in counts.rows if r[1]},
            submitted=sum(int(r[2]) for r in counts.rows),
            cost_today={r[0]: int(r[2] or 0) for r in cost.rows},
        )
