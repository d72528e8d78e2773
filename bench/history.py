"""A year of history costs nothing: each read the bot makes while it serves, on a database without
history and on one of 1,000,000 finished jobs (bench/history_db.py builds and caches it), same code.

"Without history" is the same workspace's last two days alone (7,500 jobs for a million a year), ending
at the same moment as the year: both sides then hold the same yesterday and today, so a daily summary,
which reads the whole of its day, reads as much on both, and what differs is only the history before.

    python -m bench.history                 # SQLite; and PostgreSQL when VIDEOBOT_BENCH_POSTGRES_URL
                                            # (or VIDEOBOT_TEST_POSTGRES_URL) is set
    python -m bench.history --jobs 100000   # a quicker run on a smaller history
    python -m bench.history --no-acks       # the queries only, not the bot under a burst

The queries are timed in this process through `Store`, each the median of many runs; the acks are a
`videobot run` against the fakes (bench/run.py's helpers), 200 signed `/video` commands 50 at a time, with
and without `/metrics` scraped back to back meanwhile, on a copy of the database. Goal for each figure:
full within max(1.5x, +20 ms) of empty.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.history_db import (
    DAYS,
    build_postgres,
    build_sqlite,
    fill_postgres,
    fill_sqlite,
    postgres_admin,
    postgres_end,
    sqlite_end,
)
from bench.run import Fakes, bot_env, p99, send_commands, started_bot, until_idle
from bot.domain.job import TERMINAL_STATES, JobState
from bot.domain.quotas import day_of
from bot.runtime.metrics import Metrics
from storage.db import Store
from storage.spend import USER
from tests.fakes.process import wait_for

HEAVY_CHANNEL = "C000"  # 18.6% of the history: the channel whose /video status used to read 186k rows
PERSON = "U0001"
OPEN = [state for state in JobState if state not in TERMINAL_STATES]
Query = Callable[[Store, float], Awaitable[object]]


@dataclass
class Figure:
    name: str
    empty: float  # seconds
    full: float

    @property
    def goal(self) -> float:
        return max(1.5 * self.empty, self.empty + 0.020)

    @property
    def ok(self) -> bool:
        return self.full <= self.goal


async def _home_of_an_admin(store: Store, now: float) -> object:
    """What bot/features/home.py reads to publish an admin's tab."""
    today = day_of(now, "UTC")
    await store.recent_jobs_of("T0001", PERSON, 10)
    await store.spent("T0001", USER, PERSON, today.bounds)
    await store.spent("T0001", USER, PERSON, (today.start - 30 * 86400, today.end))
    usage = await store.channel_usage("T0001", today.bounds)
    return await store.channels_limits("T0001", list(usage))


async def _daily_summary(store: Store, now: float) -> object:
    """What bot/features/reports.py reads for yesterday's workspace report (the catch-up at start)."""
    day = day_of(now - 86400, "UTC")
    await store.channels_used("T0001", day.bounds)
    return await store.jobs(since=day.start, until=day.end)


async def _poller_tick(store: Store, now: float) -> object:
    await store.claim_due(now, 10, "bench", 30.0)
    await store.wake_queue(4, now, 5)
    return await store.next_due_at()


QUERIES: dict[str, Query] = {
    "`/metrics` render": lambda store, now: Metrics().render(store, day_of(now, "UTC").bounds),
    "`/video status` (heaviest channel)": lambda store, now: store.jobs(states=OPEN, channel_id=HEAVY_CHANNEL),
    "admission usage reads (channel, person)": lambda store, now: store.usage(
        "T0001", HEAVY_CHANNEL, PERSON, day_of(now, "UTC").bounds
    ),
    "App Home of an admin": _home_of_an_admin,
    "daily summary (yesterday, workspace)": _daily_summary,
    "`videobot check` open jobs": lambda store, now: store.jobs(states=OPEN),
    "`videobot jobs --since 1d`": lambda store, now: store.jobs(since=now - 86400, limit=200),
    "poller tick (due, line, next due)": _poller_tick,
}


RECENT_DAYS = 2


def recent_jobs(jobs: int) -> int:
    return round(jobs * RECENT_DAYS / DAYS)


async def time_query(store: Store, query: Query, runs: int, now: float) -> float:
    await query(store, now)  # warm the caches, as a running bot has them
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await query(store, now)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def time_queries(url: str, runs: int, now: float) -> dict[str, float]:
    """Each query's median time, as if it were `now`: the moment the history ends, plus a minute."""
    store = await Store.open(url)
    try:
        return {name: await time_query(store, query, runs, now) for name, query in QUERIES.items()}
    finally:
        await store.close()


async def _scrape_forever(url: str) -> int:
    scrapes = 0
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}/metrics") as response:
                await response.read()
            scrapes += 1


async def ack_p99s(fakes: Fakes, database: str, workdir: Path, rounds: int) -> tuple[float, float]:
    """p99 of a burst's acks, alone and with /metrics scraped back to back (median of `rounds` each)."""
    bot = await started_bot(bot_env(fakes, workdir, database, VIDEOBOT_METRICS="1"), workdir)
    try:
        await send_commands(bot.url, 20, 20, "Warm-up")
        await until_idle(bot.pid)
        quiet: list[float] = []
        scraped: list[float] = []
        for n in range(rounds):
            for samples, scrape in ((quiet, False), (scraped, True)):
                before = fakes.videos_shared()
                scraper = asyncio.create_task(_scrape_forever(bot.health_url)) if scrape else None
                samples.append(p99(await send_commands(bot.url, 200, 50, f"History {n} {scrape}", warm_up=True)))
                if scraper is not None:
                    scraper.cancel()
                scraped_or_not = "scraped" if scrape else "quiet"
                print(f"  {database}: burst {n} {scraped_or_not}: p99 {samples[-1] * 1000:.0f} ms", file=sys.stderr)

                def burst_shared(b: int = before) -> bool:
                    return fakes.videos_shared() >= b + 250  # the burst's 200 and its 50 warm-ups

                await wait_for(burst_shared, within=180, what="the burst's videos")
                await until_idle(bot.pid)
        return statistics.median(quiet), statistics.median(scraped)
    finally:
        await bot.terminate()


def table(title: str, figures: list[Figure]) -> str:
    header = "| figure | no history (last 2 days) | a year of history | goal max(1.5x, +20 ms) | ok |"
    lines = [f"### {title}", "", header, "|---|---|---|---|---|"]
    lines += [
        f"| {f.name} | {f.empty * 1000:.1f} ms | {f.full * 1000:.1f} ms | ≤ {f.goal * 1000:.1f} ms | "
        f"{'yes' if f.ok else 'NO'} |"
        for f in figures
    ]
    return "\n".join(lines)


async def engine_figures(empty_url: str, full_url: str, runs: int, end: float) -> list[Figure]:
    empty, full = await time_queries(empty_url, runs, end + 60), await time_queries(full_url, runs, end + 60)
    return [Figure(name, empty[name], full[name]) for name in QUERIES]


async def sqlite_run(jobs: int, runs: int, acks: bool, rounds: int) -> list[Figure]:
    full_path = await build_sqlite(jobs)
    end = sqlite_end(full_path)
    workdir = Path(tempfile.mkdtemp(prefix="videobot-bench-history-"))
    try:
        await fill_sqlite(workdir / "recent.db", recent_jobs(jobs), end, RECENT_DAYS)
        empty_url = f"sqlite:///{workdir / 'recent.db'}"
        figures = await engine_figures(empty_url, f"sqlite:///{full_path}", runs, end)
        if acks:
            # The bursts add jobs: they go to a copy, so the cached history stays what it was built as.
            copy = workdir / "full.db"
            shutil.copyfile(full_path, copy)
            with Fakes() as fakes:
                empty_acks = await ack_p99s(fakes, empty_url, workdir, rounds)
                full_acks = await ack_p99s(fakes, f"sqlite:///{copy}", workdir, rounds)
            figures.append(Figure("ack p99, 200 `/video` 50 at a time", empty_acks[0], full_acks[0]))
            figures.append(Figure("ack p99, same, `/metrics` scraped back to back", empty_acks[1], full_acks[1]))
        return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def postgres_run(base_url: str, jobs: int, runs: int) -> list[Figure]:
    full_url = await build_postgres(base_url, jobs)
    end = await postgres_end(full_url)
    try:
        recent_url = await fill_postgres(base_url, "videobot_history_recent", recent_jobs(jobs), end, RECENT_DAYS)
        return await engine_figures(recent_url, full_url, runs, end)
    finally:
        await postgres_admin(base_url, 'DROP DATABASE IF EXISTS "videobot_history_recent"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="finished jobs in the history (1,000,000)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each query (median)")
    parser.add_argument("--rounds", type=int, default=3, help="bursts of each kind (median of their p99s)")
    parser.add_argument("--no-acks", action="store_true", help="the queries only")
    args = parser.parse_args()
    figures = asyncio.run(sqlite_run(args.jobs, args.runs, not args.no_acks, args.rounds))
    print(table(f"SQLite, {args.jobs:,} finished jobs", figures))
    all_figures = list(figures)
    postgres = os.environ.get("VIDEOBOT_BENCH_POSTGRES_URL") or os.environ.get("VIDEOBOT_TEST_POSTGRES_URL")
    if postgres:
        pg_figures = asyncio.run(postgres_run(postgres, args.jobs, args.runs))
        print()
        print(table(f"PostgreSQL, {args.jobs:,} finished jobs", pg_figures))
        all_figures += pg_figures
    else:
        print("\n(PostgreSQL not measured: set VIDEOBOT_BENCH_POSTGRES_URL)", file=sys.stderr)
    if not all(f.ok for f in all_figures):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
