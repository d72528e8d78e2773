"""A year of history costs nothing: each read the bot makes while it serves, on a database without
history and on one of 1,000,000 finished jobs (bench/history_db.py builds and caches it), same code.

"Without history" is the same workspace's last two days alone (7,500 jobs for a million a year), ending
at the same moment as the year: both sides then hold the same yesterday and today, so a daily summary,
which reads the whole of its day, reads as much on both, and what differs is only the history before.

    python -m bench.history                 # SQLite; and PostgreSQL when VIDEOBOT_BENCH_POSTGRES_URL
                                            # (or VIDEOBOT_TEST_POSTGRES_URL) is set
    python -m bench.history --jobs 100000   # a quicker run on a smaller history
    python -m bench.history --no-acks       # the queries only, not the bot under a burst

The queries are timed in this process through `Store`, each the median of many runs. Then two `videobot run`
against the fakes (bench/run.py's helpers), one on each side (a copy of the year), both up at once, take
turns round after round: a burst of 200 signed `/video` 50 at a time (its acks' p99), the same with
`/metrics` scraped every 0.25 s, the admin's App Home (event to `views.publish`), `/video status` and
`/metrics` (median of `--reads`), and the bot's CPU over a quiet burst and its jobs. Goal for each figure:
full within max(1.5x, +20 ms) of empty, in every round (exit 1 otherwise). bench/history_probe.py counts
why.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
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
from bench.run import Fakes, bot_env, cpu_seconds, p99, send_commands, started_bot, until_idle
from bot.domain.job import TERMINAL_STATES, JobState
from bot.domain.quotas import day_of
from bot.runtime.metrics import Metrics
from storage.db import Store
from storage.spend import USER
from tests.conftest import event_callback, signed_headers, slash_command_body
from tests.fakes.process import BotProcess, wait_for

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


# What a person sees, measured on the bot as a process: (name, kind). Each round measures each figure on
# both sides in turn (the side that goes first alternates), and a side's figure for the round is the median
# of its samples in that round.
ACK_FIGURES = (
    "ack p99, 200 `/video` 50 at a time",
    "ack p99, same, `/metrics` scraped every 0.25 s",
    "the admin's App Home, published",
    "`/video status` (heaviest channel), ack",
    "`/metrics`, answered",
    "the bot's CPU a quiet burst (its acks and jobs)",
)
SCRAPE_EVERY = 0.25  # seconds, as a Prometheus set to scrape often would


async def _scrape_every(url: str, every: float) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}/metrics") as response:
                await response.read()
            await asyncio.sleep(every)


@dataclass
class Side:
    """One bot, on one database, measured by one round after another."""

    name: str
    bot: BotProcess
    events: itertools.count[int] = dataclasses.field(default_factory=itertools.count)
    cpu: list[float] = dataclasses.field(default_factory=list)  # CPU seconds of each quiet burst, jobs and all

    async def burst(self, fakes: Fakes, label: str, scrape: bool) -> float:
        """The burst's ack p99; its CPU (a count the machine's load barely moves: the work it took) noted."""
        before, cpu_before = fakes.videos_shared(), cpu_seconds(self.bot.pid)
        scraper = asyncio.create_task(_scrape_every(self.bot.health_url, SCRAPE_EVERY)) if scrape else None
        try:
            latencies = await send_commands(self.bot.url, 200, 50, label, warm_up=True)
        finally:
            if scraper is not None:
                scraper.cancel()
        # The next figure must not share the machine with this burst's jobs (and their 50 warm-ups).
        await wait_for(shared(fakes, before + 250), within=300, what="the burst's videos")
        await until_idle(self.bot.pid, within=120)
        if not scrape:
            self.cpu.append(cpu_seconds(self.bot.pid) - cpu_before)
        return p99(latencies)

    async def home(self, fakes: Fakes, session: aiohttp.ClientSession) -> float:
        """From the event sent to the view published to Slack (the fake's clock is this process's)."""
        calls = len(fakes.slack.calls)
        body = event_callback(
            {"type": "app_home_opened", "user": PERSON, "channel": "D0HOME", "tab": "home"},
            f"EvBenchHome{self.name}{next(self.events)}",
        )
        started = time.monotonic()
        async with session.post(f"{self.bot.url}/slack/events", data=body, headers=signed_headers(body)) as response:
            await response.read()

        def published() -> float | None:
            for (method, params), at in zip(fakes.slack.calls[calls:], fakes.slack.call_times[calls:], strict=False):
                if method == "views.publish" and params.get("user_id") == PERSON:
                    return at
            return None

        await wait_for(lambda: published() is not None, within=30, what="the App Home published")
        at = published()
        assert at is not None
        return at - started

    async def status(self, fakes: Fakes, session: aiohttp.ClientSession) -> float:
        # Each its own response_url: the same body twice in the same second is a replay, and refused.
        where = fakes.slack.response_url(f"bench-status-{self.name}-{next(self.events)}")
        body = slash_command_body("status", user=PERSON, channel=HEAVY_CHANNEL, response_url=where)
        started = time.monotonic()
        async with session.post(f"{self.bot.url}/slack/events", data=body, headers=signed_headers(body)) as response:
            text = await response.text()
        if response.status != 200:
            raise RuntimeError(f"/video status refused: {response.status} {text[:200]}")
        return time.monotonic() - started

    async def metrics(self, session: aiohttp.ClientSession) -> float:
        started = time.monotonic()
        async with session.get(f"{self.bot.health_url}/metrics") as response:
            await response.read()
        return time.monotonic() - started


def shared(fakes: Fakes, videos: int) -> Callable[[], bool]:
    """Whether `videos` have reached their threads, counting every bench's before."""
    return lambda: fakes.videos_shared() >= videos


async def _samples(measure: Callable[[], Awaitable[float]], count: int) -> float:
    return statistics.median([await measure() for _ in range(count)])


async def ack_round(fakes: Fakes, sides: list[Side], n: int, bursts: int, reads: int) -> dict[str, list[float]]:
    """One round: every figure on each side in turn; each side's median of its samples in the round."""
    order = sides if n % 2 == 0 else sides[::-1]
    figures: dict[str, list[float]] = {}
    for figure, scrape in ((ACK_FIGURES[0], False), (ACK_FIGURES[1], True)):
        samples: dict[str, list[float]] = {side.name: [] for side in sides}
        for b in range(bursts):
            for side in order:
                samples[side.name].append(await side.burst(fakes, f"A harbour {n}.{b} {side.name} {scrape}", scrape))
        figures[figure] = [statistics.median(samples[side.name]) for side in sides]
    async with aiohttp.ClientSession() as session:
        for figure, kind in zip(ACK_FIGURES[2:5], ("home", "status", "metrics"), strict=True):
            medians = {}
            for side in order:

                async def measure(side: Side = side, kind: str = kind) -> float:
                    if kind == "home":
                        return await side.home(fakes, session)
                    return await (side.status(fakes, session) if kind == "status" else side.metrics(session))

                medians[side.name] = await _samples(measure, reads)
            figures[figure] = [medians[side.name] for side in sides]
    figures[ACK_FIGURES[-1]] = [statistics.median(side.cpu[-bursts:]) for side in sides]
    return figures


async def ack_rounds(
    fakes: Fakes, databases: tuple[str, str], workdir: Path, rounds: int, bursts: int, reads: int, engine: str
) -> list[list[Figure]]:
    """Both bots run at once, one on each database, and take turns: a busy moment of the shared machine
    weighs on both sides of the round it falls in, not on whichever side ran then."""
    fakes.slack.add_user(PERSON, is_admin=True)
    sides = []
    try:
        for name, database in zip(("empty", "full"), databases, strict=True):
            bot = await started_bot(bot_env(fakes, workdir, database, VIDEOBOT_METRICS="1"), workdir)
            sides.append(Side(name, bot))
        for side in sides:
            before = fakes.videos_shared()
            await send_commands(side.bot.url, 20, 20, f"Warm-up {side.name}")
            await wait_for(shared(fakes, before + 20), within=120, what="the warm-up videos")
            await until_idle(side.bot.pid, within=120)
        results = []
        for n in range(rounds):
            figures = await ack_round(fakes, sides, n, bursts, reads)
            round_figures = [Figure(name, empty, full) for name, (empty, full) in figures.items()]
            results.append(round_figures)
            print(f"{engine}, round {n + 1} of {rounds} (load {_load()}):", file=sys.stderr)
            for f in round_figures:
                print(
                    f"  {f.name}: {f.empty * 1000:.0f} ms / {f.full * 1000:.0f} ms {'ok' if f.ok else 'NO'}",
                    file=sys.stderr,
                )
        return results
    finally:
        for side in sides:
            await side.bot.terminate()


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def table(title: str, figures: list[Figure]) -> str:
    header = "| figure | no history (last 2 days) | a year of history | goal max(1.5x, +20 ms) | ok |"
    lines = [f"### {title}", "", header, "|---|---|---|---|---|"]
    lines += [
        f"| {f.name} | {f.empty * 1000:.1f} ms | {f.full * 1000:.1f} ms | ≤ {f.goal * 1000:.1f} ms | "
        f"{'yes' if f.ok else 'NO'} |"
        for f in figures
    ]
    return "\n".join(lines)


def rounds_table(title: str, rounds: list[list[Figure]]) -> str:
    """Each figure's sides in every round (empty / full, ms), and the rounds it held in."""
    header = "| figure | " + " | ".join(f"round {n + 1}" for n in range(len(rounds))) + " | held |"
    lines = [f"### {title}", "", header, "|---|" + "---|" * (len(rounds) + 1)]
    for i, name in enumerate(ACK_FIGURES):
        cells = [f"{r[i].empty * 1000:.0f} / {r[i].full * 1000:.0f}{'' if r[i].ok else ' NO'}" for r in rounds]
        held = sum(r[i].ok for r in rounds)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {held} of {len(rounds)} |")
    return "\n".join(lines)


async def engine_figures(empty_url: str, full_url: str, runs: int, end: float) -> list[Figure]:
    empty, full = await time_queries(empty_url, runs, end + 60), await time_queries(full_url, runs, end + 60)
    return [Figure(name, empty[name], full[name]) for name in QUERIES]


@dataclass
class Options:
    jobs: int
    runs: int  # timed runs of each query
    queries: bool
    acks: bool
    rounds: int
    bursts: int  # bursts of each kind a side, a round
    reads: int  # App Home, /video status and /metrics samples a side, a round


@dataclass
class EngineResult:
    queries: list[Figure]
    rounds: list[list[Figure]]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.queries) and all(f.ok for r in self.rounds for f in r)


async def sqlite_run(options: Options) -> EngineResult:
    full_path = await build_sqlite(options.jobs)
    end = sqlite_end(full_path)
    workdir = Path(tempfile.mkdtemp(prefix="videobot-bench-history-"))
    try:
        await fill_sqlite(workdir / "recent.db", recent_jobs(options.jobs), end, RECENT_DAYS)
        empty_url = f"sqlite:///{workdir / 'recent.db'}"
        queries = (
            await engine_figures(empty_url, f"sqlite:///{full_path}", options.runs, end) if options.queries else []
        )
        rounds: list[list[Figure]] = []
        if options.acks:
            # The bursts add jobs: they go to a copy, so the cached history stays what it was built as.
            copy = workdir / "full.db"
            _copied(full_path, copy)
            with Fakes() as fakes:
                rounds = await ack_rounds(
                    fakes,
                    (empty_url, f"sqlite:///{copy}"),
                    workdir,
                    options.rounds,
                    options.bursts,
                    options.reads,
                    "SQLite",
                )
        return EngineResult(queries, rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def postgres_run(base_url: str, options: Options) -> EngineResult:
    full_url = await build_postgres(base_url, options.jobs)
    end = await postgres_end(full_url)
    root, _, cached = full_url.rpartition("/")
    workdir = Path(tempfile.mkdtemp(prefix="videobot-bench-history-"))
    try:
        recent_url = await fill_postgres(
            base_url, "videobot_history_recent", recent_jobs(options.jobs), end, RECENT_DAYS
        )
        queries = await engine_figures(recent_url, full_url, options.runs, end) if options.queries else []
        rounds: list[list[Figure]] = []
        if options.acks:
            # A copy of the cached year for the bursts' jobs, as on SQLite.
            await postgres_admin(
                base_url, f'DROP DATABASE IF EXISTS "{COPY}"', f'CREATE DATABASE "{COPY}" TEMPLATE "{cached}"'
            )
            await postgres_admin(f"{root}/{COPY}", "ANALYZE")
            with Fakes() as fakes:
                rounds = await ack_rounds(
                    fakes,
                    (recent_url, f"{root}/{COPY}"),
                    workdir,
                    options.rounds,
                    options.bursts,
                    options.reads,
                    "PostgreSQL",
                )
        return EngineResult(queries, rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        await postgres_admin(
            base_url, 'DROP DATABASE IF EXISTS "videobot_history_recent"', f'DROP DATABASE IF EXISTS "{COPY}"'
        )


COPY = "videobot_history_bursts"


def _copied(source: Path, copy: Path) -> None:
    """`source` copied and on disk: a fresh copy is 1.3 GB of dirty pages in the kernel, which its first
    checkpoint's fsync, or the kernel's writeback 30 s on, writes out in the middle of some side's burst."""
    shutil.copyfile(source, copy)
    fd = os.open(copy, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def report(engine: str, options: Options, result: EngineResult) -> None:
    if result.queries:
        print(table(f"{engine}, {options.jobs:,} finished jobs: the reads, in this process", result.queries))
        print()
    if result.rounds:
        title = f"{engine}, {options.jobs:,} finished jobs: the bot as a process, empty / full in ms, each round"
        print(rounds_table(title, result.rounds))
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="finished jobs in the history (1,000,000)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each query (median)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the bot's figures (each must hold)")
    parser.add_argument("--bursts", type=int, default=1, help="bursts of each kind a side in a round (median)")
    parser.add_argument("--reads", type=int, default=20, help="App Home, status and /metrics samples (median)")
    parser.add_argument("--no-acks", action="store_true", help="the queries only")
    parser.add_argument("--no-queries", action="store_true", help="the bot's figures only")
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    options = Options(args.jobs, args.runs, not args.no_queries, not args.no_acks, args.rounds, args.bursts, args.reads)
    print(f"load before: {_load()}", file=sys.stderr)
    ok = True
    if args.engine in ("sqlite", "both"):
        result = asyncio.run(sqlite_run(options))
        report("SQLite", options, result)
        ok &= result.ok
    postgres = os.environ.get("VIDEOBOT_BENCH_POSTGRES_URL") or os.environ.get("VIDEOBOT_TEST_POSTGRES_URL")
    if args.engine in ("postgres", "both") and postgres:
        result = asyncio.run(postgres_run(postgres, options))
        report("PostgreSQL", options, result)
        ok &= result.ok
    elif args.engine != "sqlite":
        print("(PostgreSQL not measured: set VIDEOBOT_BENCH_POSTGRES_URL)", file=sys.stderr)
    print(f"load after: {_load()}", file=sys.stderr)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
