"""The write path with a year of history: what the commands' writes cost SQLite, counted, not timed.

A burst's acknowledgements wait on the admissions' transactions, and what such a transaction costs is
mostly the pages it dirties: each one read into the cache if it is not there, and each one appended to the
write-ahead log at the commit (and later checkpointed into the file). Those counts do not depend on how busy
the shared machine is, so this bench counts them, with the same code on the same workspace's last two days
alone and on a year of 1,000,000 jobs (bench/history_db.py's databases, ids spelt like the bot's):

- WAL pages a group of 50 admissions writes (50 `/video` commands at the same moment share one transaction);
- WAL pages the steps after the admission write for those 50 jobs (each step its own transaction);
- and, for reference, the median time of a group's transaction (noisy on a shared machine).

    python -m bench.write_path                  # 1M jobs; PostgreSQL too when VIDEOBOT_BENCH_POSTGRES_URL
                                                # (or VIDEOBOT_TEST_POSTGRES_URL) is set
    python -m bench.write_path --jobs 100000    # a quicker run on a smaller history

Goal: the year within max(1.5x, +20 pages) of the two days.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Protocol

import asyncpg

from bench.history_db import (
    CHANNELS,
    DAYS,
    PEOPLE,
    build_postgres,
    build_sqlite,
    fill_postgres,
    fill_sqlite,
    postgres_admin,
    postgres_end,
    sqlite_end,
)
from bot.domain.job import Job, JobState
from bot.domain.request import VideoRequest
from bot.domain.settings import Settings
from bot.jobs.admission import Admission
from bot.jobs.quotas import Quotas
from storage.db import Store

GROUP = 50
RECENT_DAYS = 2
# What a delivered job's steps write after its admission, in order (bot/jobs/machine.py's path).
STEPS: tuple[JobState, ...] = (
    JobState.QUEUED,
    JobState.SUBMITTING,
    JobState.PENDING,
    JobState.PROCESSING,
    JobState.COMPLETE,
    JobState.DELIVERED,
)


@dataclasses.dataclass
class Clock:
    t: float

    def now(self) -> float:
        self.t += 0.001
        return self.t


@dataclasses.dataclass(frozen=True)
class Counts:
    admission_pages: float  # median WAL pages of one group's admission transaction
    step_pages: float  # median WAL pages of all the steps of a group's 50 jobs
    admission_ms: float


class Meter(Protocol):
    """How much the database's log has taken since `reset`."""

    async def reset(self) -> None: ...

    async def read(self) -> float: ...


class SQLiteLog:
    """Pages appended to the WAL file: emptied by a TRUNCATE checkpoint, then read off its size."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._side = sqlite3.connect(path)

    async def reset(self) -> None:
        busy, _, _ = self._side.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise RuntimeError("the log could not be checkpointed: a reader holds it")

    async def read(self) -> float:
        return float(max(0, self._log_size() - 32) // (4096 + 24))

    def _log_size(self) -> int:
        wal = Path(f"{self._path}-wal")
        return wal.stat().st_size if wal.exists() else 0

    async def close(self) -> None:
        self._side.close()


class PostgresLog:
    """8 kB pages of WAL written since a CHECKPOINT: the first change of each page after a checkpoint logs
    the whole page, so the bytes are close to the distinct pages dirtied, as SQLite's count is."""

    def __init__(self, side: asyncpg.Connection) -> None:
        self._side = side
        self._from = 0

    async def reset(self) -> None:
        await self._side.execute("CHECKPOINT")
        self._from = await self._position()

    async def read(self) -> float:
        return (await self._position() - self._from) / 8192

    async def _position(self) -> int:
        # asyncpg reads a pg_lsn as the integer offset into the log
        return int(await self._side.fetchval("SELECT pg_current_wal_insert_lsn()"))

    async def close(self) -> None:
        await self._side.close()


async def _count(url: str, log: Meter, end: float, groups: int) -> Counts:
    store = await Store.open(url)
    settings = Settings(slack_bot_token="xoxb-bench", perf_api_key="bench", daily_jobs_per_channel=0)
    clock = Clock(end + 60)
    admission = Admission(store, clock, Quotas(store, settings))
    people = random.Random(7)
    admitted, stepped, times = [], [], []
    try:
        for group in range(groups + 1):  # the first group warms the caches, as a running bot has them
            await log.reset()
            started = time.perf_counter()
            jobs = await asyncio.gather(
                *(
                    admission.start(
                        VideoRequest(prompt=f"write path {group} {n}", model="pika"),
                        team_id="T0001",
                        channel_id=f"C{people.randrange(1, CHANNELS):03d}",
                        user_id=f"U{people.randrange(PEOPLE):04d}",
                        response_url="",
                    )
                    for n in range(GROUP)
                )
            )
            elapsed = time.perf_counter() - started
            pages = await log.read()
            steps_pages = await _steps(store, log, list(jobs))
            if group:
                admitted.append(pages)
                stepped.append(steps_pages)
                times.append(elapsed)
        return Counts(statistics.median(admitted), statistics.median(stepped), statistics.median(times) * 1000)
    finally:
        await store.close()


async def _steps(store: Store, log: Meter, jobs: list[Job]) -> float:
    """The log's pages for each job through its steps, the 50 jobs interleaved as the poller interleaves
    them; measured a step at a time, so that SQLite's own checkpoint (at 1,000 pages) never resets it."""
    pages = 0.0
    for state in STEPS:
        await log.reset()
        jobs = list(await asyncio.gather(*(store.update_job(job, state=state, event=state.value) for job in jobs)))
        pages += await log.read()
    return pages


def _row(name: str, empty: float, full: float, unit: str, goal: float | None) -> str:
    met = "-" if goal is None else ("yes" if full <= goal else "NO")
    limit = "-" if goal is None else f"≤ {goal:.0f} {unit}"
    return f"| {name} | {empty:.0f} {unit} | {full:.0f} {unit} | {limit} | {met} |"


async def sqlite_counts(jobs: int, groups: int) -> tuple[Counts, Counts]:
    full_cached = await build_sqlite(jobs)
    end = sqlite_end(full_cached)
    workdir = Path(tempfile.mkdtemp(prefix="videobot-bench-writes-"))
    try:
        recent = workdir / "recent.db"
        await fill_sqlite(recent, round(jobs * RECENT_DAYS / DAYS), end, RECENT_DAYS)
        full = workdir / "full.db"
        shutil.copyfile(full_cached, full)  # the groups add jobs: the cached year stays as it was built
        counts = []
        for path in (recent, full):
            log = SQLiteLog(path)
            try:
                counts.append(await _count(f"sqlite:///{path}", log, end, groups))
            finally:
                await log.close()
        return counts[0], counts[1]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def postgres_counts(base_url: str, jobs: int, groups: int) -> tuple[Counts, Counts]:
    cached_url = await build_postgres(base_url, jobs)
    end = await postgres_end(cached_url)
    root, _, cached = cached_url.rpartition("/")
    recent, full = "videobot_writes_recent", "videobot_writes_full"
    await fill_postgres(base_url, recent, round(jobs * RECENT_DAYS / DAYS), end, RECENT_DAYS)
    await postgres_admin(base_url, f'DROP DATABASE IF EXISTS "{full}"', f'CREATE DATABASE "{full}" TEMPLATE "{cached}"')
    try:
        counts = []
        for name in (recent, full):
            log = PostgresLog(await asyncpg.connect(f"{root}/{name}"))
            try:
                counts.append(await _count(f"{root}/{name}", log, end, groups))
            finally:
                await log.close()
        return counts[0], counts[1]
    finally:
        await postgres_admin(base_url, *(f'DROP DATABASE IF EXISTS "{name}"' for name in (recent, full)))


def table(title: str, unit: str, empty: Counts, full: Counts) -> str:
    def goal(value: float) -> float:
        return max(value * 1.5, value + 20)

    return "\n".join(
        [
            f"### {title}",
            "",
            "| figure | no history | a year of history | goal max(1.5x, +20) | ok |",
            "|---|---|---|---|---|",
            _row(
                f"{unit}, one group of {GROUP} admissions",
                empty.admission_pages,
                full.admission_pages,
                "pages",
                goal(empty.admission_pages),
            ),
            _row(
                f"{unit}, the {len(STEPS)} later steps of those {GROUP} jobs",
                empty.step_pages,
                full.step_pages,
                "pages",
                goal(empty.step_pages),
            ),
            _row("admission transaction (median, noisy)", empty.admission_ms, full.admission_ms, "ms", None),
        ]
    )


async def run(jobs: int, groups: int, postgres_url: str) -> str:
    tables = [
        table(
            f"The write path, SQLite: {jobs:,} jobs of history against the last {RECENT_DAYS} days alone",
            "WAL pages",
            *await sqlite_counts(jobs, groups),
        )
    ]
    if postgres_url:
        tables.append(
            table(
                f"The write path, PostgreSQL: {jobs:,} jobs of history against the last {RECENT_DAYS} days alone",
                "WAL after a checkpoint, in 8 kB pages",
                *await postgres_counts(postgres_url, jobs, groups),
            )
        )
    return "\n\n".join(tables)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=9)
    args = parser.parse_args()
    postgres_url = os.environ.get("VIDEOBOT_BENCH_POSTGRES_URL") or os.environ.get("VIDEOBOT_TEST_POSTGRES_URL", "")
    print(asyncio.run(run(args.jobs, args.groups, postgres_url)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
