"""Budgets in money (issue 19): what a month's budget costs an admission, read from the spend_days summary
against summing the month's jobs row by row, on a busy workspace's month.

    python -m bench.budgets                  # 3,000 jobs a day for 31 days (93,000 in the month), SQLite
    python -m bench.budgets --per-day 300    # a quieter workspace

The jobs are made by the database from a recursive CTE at schema 12 (as bench/history_db.py does), then
migration 13 backfills the summary, timed. Each read is the median of many runs through `Store` or the
engine; an admission is `Store.insert_job` with the quota check, the median of 200, on the full month
and on an empty database. The SQL here writes a fixture and states the read the summary replaces; it
only ever runs against a bench database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.domain.job import JobState
from bot.domain.quotas import ChannelLimits, Limits, Usage, check_usage, day_of, month_of
from storage.db import MIGRATIONS, Store
from storage.spend import WORKSPACE
from tests.fakes.jobs import stored_job

END = 1_801_439_000.0  # 2027-01-31 23:43 UTC: the month's last day
DAY_SECONDS = 86_400.0
# The read the summary replaces: the month's jobs that hold quota, summed row by row through jobs_created.
MONTH_BY_ROWS = (
    "SELECT COALESCE(SUM(COALESCE(perf_cost_micros, estimated_cost_micros)), 0) FROM jobs "
    "WHERE created_at >= ? AND created_at < ? AND (perf_job_id IS NOT NULL OR state NOT IN ('failed', 'cancelled'))"
)
_FILL = (
    "INSERT INTO jobs (id, team_id, channel_id, user_id, prompt, model, duration_seconds, resolution, "
    "aspect_ratio, estimated_cost_micros, state, created_at, updated_at, perf_job_id, perf_cost_micros, arrival) "
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :jobs) "
    "SELECT 'vb_m' || printf('%08d', i), 'T0001', 'C' || printf('%03d', i % 50), 'U' || printf('%04d', i % 2000), "
    "'a heron at dawn', 'pika', '4', '1080p', '16:9', 268000, "
    "CASE WHEN i % 100 < 95 THEN 'delivered' ELSE 'failed' END, "
    ":start + i * :span / :jobs, :start + i * :span / :jobs + 60, "
    "CASE WHEN i % 100 < 97 THEN 'perf_' || i END, CASE WHEN i % 100 < 95 THEN 240000 END, i FROM n"
)


async def median_of(runs: int, read: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await read()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def filled(path: Path, jobs: int) -> tuple[Store, float]:
    """A database with `jobs` over the 31 days before END, and how long migration 13's backfill took."""
    store = await Store.open(f"sqlite:///{path}", migrate=False)
    engine = store._engine
    await engine.migrate(MIGRATIONS[:12])
    month = month_of(END, "UTC")
    async with engine.transaction() as db:
        await db.execute(
            _FILL.replace(":jobs", str(jobs))
            .replace(":start", repr(month.start))
            .replace(":span", repr(END - month.start))
        )
    started = time.perf_counter()
    await store.migrate()
    return store, time.perf_counter() - started


async def admissions(store: Store, count: int, count_account: bool = True, first: int = 0) -> float:
    """The median admission with every budget checked: the workspace's month, a channel's, a person's day."""
    budget = 10**12
    limits = Limits(
        0,
        0,
        0,
        monthly_budget_micros=budget,
        workspace_monthly_micros=budget,
        daily_budget_micros_per_user=budget,
        account_daily_jobs=10**6,
    )
    day, month = day_of(END, "UTC"), month_of(END, "UTC")

    def check(usage: Usage, _: ChannelLimits | None) -> None:
        check_usage(limits, usage, 268_000, day, month)

    times = []
    for n in range(first, first + count):
        job = stored_job(
            id=f"vb_b{n:08d}", created_at=END, state=JobState.ACCEPTED, user_id=f"U{n % 7:04d}", spend_day=day.start
        )
        started = time.perf_counter()
        await store.insert_job(job, day=day.bounds, check=check, month=month.bounds, count_account=count_account)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main(per_day: int) -> None:
    jobs = per_day * 31
    month = month_of(END, "UTC")
    with tempfile.TemporaryDirectory() as tmp:
        empty = await Store.open(f"sqlite:///{Path(tmp) / 'empty.db'}")
        store, backfill = await filled(Path(tmp) / "month.db", jobs)
        engine = store._engine
        by_rows = await median_of(50, lambda: engine.reads.fetchval(MONTH_BY_ROWS, *month.bounds))
        by_summary = await median_of(200, lambda: store.spent("T0001", WORKSPACE, "", month.bounds))
        assert (
            await engine.reads.fetchval(MONTH_BY_ROWS, *month.bounds)
            == (await store.spent("T0001", WORKSPACE, "", month.bounds)).cost_micros
        ), "the summary must sum what the rows do"
        admit_full, admit_empty = await admissions(store, 200), await admissions(empty, 200)
        admit_no_account = await admissions(store, 200, count_account=False, first=200)
        await store.close()
        await empty.close()
    print(f"| figure ({jobs:,} jobs in the month, SQLite) | value |")
    print("|---|---|")
    print(f"| month's workspace spend, summed from its jobs | {by_rows * 1000:.2f} ms |")
    print(
        f"| month's workspace spend, from spend_days | {by_summary * 1000:.3f} ms ({by_rows / by_summary:.0f}x less) |"
    )
    print(f"| admission with every budget checked, that month | {admit_full * 1000:.2f} ms |")
    print(f"| admission with every budget checked, empty database | {admit_empty * 1000:.2f} ms |")
    print(f"| admission, that month, without VIDEOBOT_ACCOUNT_DAILY_JOBS | {admit_no_account * 1000:.2f} ms |")
    print(f"| migration 13's backfill of {jobs:,} jobs | {backfill:.2f} s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=3_000)
    asyncio.run(main(parser.parse_args().per_day))
