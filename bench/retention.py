"""A workspace's own retention window costs a night the same on a year of history as on a month.

A workspace (T1) with `retention-days 7` under the operator's 400, its jobs finished and 9 events each,
`--per-day` jobs a day (300: about a million events a year). Two databases, same code, same run: a year of
history and the last 30 days alone, both ending at the same moment. On each, the maintenance run first
catches up (the year's run deletes almost a million events: timed, not compared), then a night at a time a
day of jobs is added and `Maintenance.run` timed. Goal: the year's median night within 1.5x of the month's
(the workspace's pass walks its jobs from where the last run stopped, so a night reads about a day of them).

    python -m bench.retention                 # SQLite; and PostgreSQL when VIDEOBOT_TEST_POSTGRES_URL is set
    python -m bench.retention --per-day 100   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.jobs.maintenance import DAY_SECONDS, Maintenance
from storage.db import Store
from tests.conftest import FakeClock
from tests.fakes.databases import fresh_database

END = 1_800_000_000.0
NIGHTS = 7
GOAL = 1.5
_STEPS = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(9))


def _jobs_sql(engine: str) -> str:
    """Jobs numbered `first`..`last` (the last two parameters), job n created at `start + n * gap` (the first
    two), finished, with 9 events each."""
    numbers = (
        "generate_series(CAST(? AS bigint), CAST(? AS bigint)) AS n(i)"
        if engine == "postgresql"
        else "(WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?) SELECT i FROM s) AS n"
    )
    return (
        "WITH t(start, gap) AS (SELECT CAST(? AS REAL), CAST(? AS REAL)) "
        "INSERT INTO jobs (id, team_id, channel_id, user_id, prompt, model, duration_seconds, resolution,"
        " aspect_ratio, estimated_cost_micros, state, created_at, updated_at, arrival, finalized)"
        " SELECT 'vb_bench' || n.i, 'T1', 'C1', 'U1', 'a heron', 'm', '4', '720p', '16:9', 1, 'delivered',"
        f" t.start + n.i * t.gap, t.start + n.i * t.gap + 95, n.i, 1 FROM t CROSS JOIN {numbers}"
    )


async def _add_jobs(store: Store, first: int, last: int, start: float, gap: float) -> None:
    events = (
        "INSERT INTO job_events (job_id, at, state, detail) SELECT jobs.id, jobs.created_at + steps.k * 10,"
        f" 'accepted', 'step' FROM jobs CROSS JOIN ({_STEPS}) AS steps WHERE jobs.arrival >= ? AND jobs.arrival <= ?"
        " ORDER BY jobs.arrival, steps.k"
    )
    async with store._engine.transaction() as db:
        await db.execute(_jobs_sql(store._engine.name), start, gap, first, last)
        await db.execute(events, first, last)


async def _show_plans(store: Store, url: str) -> None:
    """How each engine runs a workspace's statements on the year (PostgreSQL with its statistics)."""
    for name in ("retention_team_jobs", "retention_team_events", "retention_team_viewers"):
        if store._engine.name == "sqlite":
            plan = await store.query_plan(name)
        else:
            import asyncpg

            from storage.plans import HOT_QUERIES
            from storage.postgres import _numbered

            sql, params = HOT_QUERIES[name]
            db = await asyncpg.connect(url)
            try:
                plan = [str(row[0]) for row in await db.fetch(f"EXPLAIN {_numbered(sql)}", *params)]
            finally:
                await db.close()
        print(f"  {store._engine.name} {name}: {' / '.join(line.strip() for line in plan)}")


async def _side(
    engine: str, days: int, per_day: int, workdir: Path, operator_days: int = 400
) -> tuple[float, list[float]]:
    """(the catch-up's seconds, each night's seconds) on `days` of history."""
    gap = DAY_SECONDS / per_day
    async with fresh_database(engine, workdir) as url:
        store = await Store.open(url)
        try:
            jobs = days * per_day
            await _add_jobs(store, 1, jobs, END - days * DAY_SECONDS, gap)
            async with store._engine.transaction() as db:
                await db.execute(
                    "INSERT INTO workspace_settings (enterprise_id, team_id, name, value, set_by, set_at)"
                    " VALUES ('', 'T1', 'retention-days', '7', 'U1', 0)"
                )
            clock = FakeClock(END)
            maintenance = Maintenance(store, clock, operator_days)
            started = time.perf_counter()
            await maintenance.run()
            catch_up = time.perf_counter() - started
            # What autovacuum does after a mass delete (PostgreSQL; `videobot vacuum` on demand): the catch-up's
            # dead rows are not what a night is measured on.
            await store.vacuum()
            if days == 365:
                await _show_plans(store, url)
            nights = []
            for night in range(NIGHTS):
                first = jobs + night * per_day + 1
                await _add_jobs(store, first, first + per_day - 1, END + night * DAY_SECONDS - first * gap, gap)
                clock.t = END + (night + 1) * DAY_SECONDS
                started = time.perf_counter()
                deleted = await maintenance.run()
                nights.append(time.perf_counter() - started)
                assert deleted["job_events"] > 0, deleted  # a day of events past the 7 days
        finally:
            await store.close()
    return catch_up, nights


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-day", type=int, default=300)
    parser.add_argument(
        "--operator-days", type=int, default=400, help="VIDEOBOT_RETENTION_DAYS (0: only the workspace's pass runs)"
    )
    args = parser.parse_args(argv)
    engines = ["sqlite"] + (["postgresql"] if os.environ.get("VIDEOBOT_TEST_POSTGRES_URL", "").strip() else [])
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            figures = {}
            for days in (30, 365):
                workdir = Path(tmp) / f"{engine}-{days}"
                (workdir / "data").mkdir(parents=True)
                figures[days] = await _side(engine, days, args.per_day, workdir, args.operator_days)
            month, year = (statistics.median(figures[d][1]) for d in (30, 365))
            ratio = year / month
            failed |= ratio > GOAL
            print(
                f"{engine}: {args.per_day} jobs/day; catch-up {figures[30][0]:.2f} s (month), "
                f"{figures[365][0]:.2f} s (year, {365 * args.per_day * 9:,} events); a night: month "
                f"{month * 1000:.1f} ms, year {year * 1000:.1f} ms, ratio {ratio:.2f} (goal <= {GOAL})"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
