"""Upgrading from schema 7 (before arrival numbers) to today's, at 20k, 100k and 1M jobs: seconds per size.

    python -m bench.migrations                     # SQLite, and PostgreSQL when VIDEOBOT_TEST_POSTGRES_URL is set
    python -m bench.migrations --jobs 20000 --shipped 5000

The old database is built in one bulk INSERT (tests/fakes/old_schema.py), then `Store.migrate` is timed, as
`videobot migrate` runs it. The last column is seconds per 100k jobs: flat when the upgrade is linear.
`--shipped N` also times migration 8's numbering as it shipped (a correlated COUNT(*) per job) at N jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from storage.db import Store
from tests.fakes.databases import fresh_database
from tests.fakes.old_schema import SHIPPED_ARRIVALS, schema_7_with_jobs


async def upgrade_seconds(engine: str, jobs: int, workdir: Path) -> tuple[float, float]:
    """(seconds to build the old database, seconds to migrate it)."""
    async with fresh_database(engine, workdir) as url:
        store = await Store.open(url, migrate=False)
        try:
            started = time.perf_counter()
            await schema_7_with_jobs(store._engine, jobs)
            built = time.perf_counter()
            await store.migrate()
            return built - started, time.perf_counter() - built
        finally:
            await store.close()


async def shipped_seconds(engine: str, jobs: int, workdir: Path) -> float:
    async with fresh_database(engine, workdir) as url:
        store = await Store.open(url, migrate=False)
        try:
            await schema_7_with_jobs(store._engine, jobs)
            started = time.perf_counter()
            await store._engine.reads.fetch(SHIPPED_ARRIVALS)
            return time.perf_counter() - started
        finally:
            await store.close()


async def run(sizes: list[int], shipped: int | None) -> None:
    engines = ["sqlite"] + (["postgresql"] if os.environ.get("VIDEOBOT_TEST_POSTGRES_URL") else [])
    print("| engine | jobs | build s | migrate s | migrate s per 100k jobs |")
    print("|---|---:|---:|---:|---:|")
    for engine in engines:
        for jobs in sizes:
            with tempfile.TemporaryDirectory() as workdir:
                build, migrate = await upgrade_seconds(engine, jobs, Path(workdir))
            print(f"| {engine} | {jobs:,} | {build:.2f} | {migrate:.2f} | {migrate / jobs * 100_000:.2f} |", flush=True)
        if shipped:
            with tempfile.TemporaryDirectory() as workdir:
                seconds = await shipped_seconds(engine, shipped, Path(workdir))
            print(f"| {engine}, migration 8 as shipped | {shipped:,} | | {seconds:.2f} | |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[20_000, 100_000, 1_000_000])
    parser.add_argument("--shipped", type=int, help="also time the shipped numbering at this many jobs")
    args = parser.parse_args()
    asyncio.run(run(args.jobs, args.shipped))


if __name__ == "__main__":
    main()
