"""The migration that puts the workspace in every row (issue 25), alone, on an upgrade with N jobs: seconds.

    python -m bench.workspace_migration                  # SQLite, and PostgreSQL when VIDEOBOT_TEST_POSTGRES_URL is set
    python -m bench.workspace_migration --jobs 100000

The database is built at schema 7 in one bulk INSERT (tests/fakes/old_schema.py) and migrated up to the
migration before it; then that one migration is timed, as `videobot migrate` runs it. It reads every job
once (the per-workspace sums of job_counts and spend_days): the last column, seconds per 100k jobs, stays
flat when it is linear.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from storage.db import Store
from storage.schema import MIGRATIONS
from tests.fakes.databases import fresh_database
from tests.fakes.old_schema import schema_7_with_jobs


def _number() -> int:
    return next(n for n, script in enumerate(MIGRATIONS, start=1) if "Every row belongs to one workspace" in script)


async def migration_seconds(engine: str, jobs: int, workdir: Path) -> float:
    async with fresh_database(engine, workdir) as url:
        store = await Store.open(url, migrate=False)
        try:
            await schema_7_with_jobs(store._engine, jobs)
            await store._engine.migrate(MIGRATIONS[: _number() - 1])
            started = time.perf_counter()
            await store._engine.migrate(MIGRATIONS[: _number()])
            return time.perf_counter() - started
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if os.environ.get("VIDEOBOT_TEST_POSTGRES_URL") else ["sqlite"]
    print(f"{'engine':<11} {'jobs':>9} {'seconds':>8} {'s/100k':>7}")
    for engine in engines:
        for jobs in args.jobs:
            with tempfile.TemporaryDirectory() as directory:
                (Path(directory) / "data").mkdir()
                seconds = asyncio.run(migration_seconds(engine, jobs, Path(directory)))
            print(f"{engine:<11} {jobs:>9,} {seconds:>8.2f} {seconds / jobs * 100_000:>7.2f}")


if __name__ == "__main__":
    main()
